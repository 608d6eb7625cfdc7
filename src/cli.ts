#!/usr/bin/env node
// convwasm's command line: `convwasm notebook` replays the notebook (the default).
import { formatChecks, replayNotebook } from "./notebook.js";

const USAGE = `usage: convwasm [notebook]
  notebook   replay every cell of the "Step by Step" notebook, numpy-exact, with ✓/✗ (default)`;

async function main(args: string[]): Promise<number> {
  const [command = "notebook"] = args;
  if (command === "notebook") {
    const checks = await replayNotebook();
    console.log(formatChecks(checks));
    return checks.every((c) => c.ok) ? 0 : 1;
  }
  if (command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return 0;
  }
  console.error(`convwasm: unknown command "${command}"\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exitCode = 1;
  },
);
