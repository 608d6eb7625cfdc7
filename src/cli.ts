#!/usr/bin/env node
// convwasm's command line: `convwasm notebook` replays the notebook (the default); `convwasm bench`
// measures ops on this machine beside its f64x2 ceiling.
import { bench, formatRecords, parseBenchArgs } from "./bench.js";
import { formatChecks, replayNotebook } from "./notebook.js";
import { benchOnnx } from "./onnx/bench.js";
import { readFileSync } from "node:fs";

const USAGE = `usage: convwasm [notebook]
       convwasm bench [conv A W | pool A | digits] [options]
       convwasm bench model.onnx [--batch N] [--threads 1,2] [--repeat N]

  notebook   replay every cell of the "Step by Step" notebook, numpy-exact, with ✓/✗ (default)
  bench      time ops on this machine: ms (min and median), GFLOP/s, % of the ceiling (f64x2; f32x4 for a
             float32 plan), the speed-up on more threads. With no shape: the notebook's sizes and a few
             real layers, and float32 plans of a 3×3 layer and of the digits network.
               convwasm bench conv 8x56x56x64 3x3x64x64 --stride 1 --pad same --threads 1,2 --backward
               convwasm bench pool 8x112x112x64 --f 2 --stride 2 --mode max
               convwasm bench digits           (the README's ConvNet: predict and one training step, batch 64)
               convwasm bench model.onnx       (load, first and steady predict at batch 1 and N, beside
                                                onnxruntime-web when the project has it)
  bench options:
    --stride S | HxW      --pad P | HxW | same | valid     --dilation D | HxW     --groups G
    --f F | HxW (pool)    --mode max|average (pool)        --backward (time the backward op too)
    --batch N (digits)    --threads 1,2,…                  --algorithm auto|direct|winograd[,…]
    --precision f64|f32 (conv, digits: f32 times the forward by a one-layer model's float32 plan)
    --repeat N (samples per round, default 5)              --seconds S (per op, default 1)
    --json (records as JSON lines, for machines)`;

async function main(args: string[]): Promise<number> {
  const [command = "notebook", ...rest] = args;
  if (command === "notebook") {
    const checks = await replayNotebook();
    console.log(formatChecks(checks));
    return checks.every((c) => c.ok) ? 0 : 1;
  }
  if (command === "bench" && rest[0]?.endsWith(".onnx")) {
    const [file, ...flags] = rest;
    const options: { batch?: number; threads?: number[]; repeat?: number } = {};
    for (let i = 0; i < flags.length; i += 2) {
      const [k, v] = [flags[i], flags[i + 1]];
      const list = (v ?? "").split(",").map(Number);
      if (v === undefined || !list.every((n) => Number.isSafeInteger(n) && n >= 1)) {
        throw new RangeError(`convwasm bench: ${k} expects a count (or a list like 1,2) but got ${v}`);
      }
      if (k === "--batch") options.batch = list[0];
      else if (k === "--threads") options.threads = list;
      else if (k === "--repeat") options.repeat = list[0];
      else throw new RangeError(`convwasm bench: unknown option ${k} for an ONNX file (--batch, --threads, --repeat)`);
    }
    console.log(await benchOnnx(readFileSync(file), options));
    return 0;
  }
  if (command === "bench") {
    const { specs, options, json } = parseBenchArgs(rest);
    const tty = typeof process.stderr.isTTY === "boolean" && process.stderr.isTTY;
    options.onProgress = (line) => process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    const records = await bench(specs, options);
    if (tty) process.stderr.write("\r\x1b[K");
    console.log(json ? records.map((r) => JSON.stringify(r)).join("\n") : formatRecords(records));
    return 0;
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
    // a bad command line is its message and exit code 2; anything else, the stack and 1
    const usage = e instanceof RangeError && e.message.startsWith("convwasm bench:");
    console.error(usage ? e.message : e instanceof Error ? e.stack : e);
    process.exitCode = usage ? 2 : 1;
  },
);
