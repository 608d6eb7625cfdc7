// npm run bench: every op on every workload of workloads.json, beside TF.js-WASM, ConvNetJS, the plain-TS
// reference and the ceiling probe, in one process. Writes bench/results/latest.json and BENCHMARKS.md.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { init } from "convwasm";
import { loadCeiling } from "./ceiling.js";
import * as conv from "./conv.js";
import * as pool from "./pool.js";
import * as digits from "./model.js";
import * as tfjs from "./peers/tfjs.js";
import * as convnetjs from "./peers/convnetjs.js";
import { loadWorkloads } from "./workloads.js";
import { markdown, type Results } from "./report.js";
import { THREADS, oneThread } from "./measure.js";

const only = process.argv[2]; // optional: "conv", "pool", "model", "onnx" or "f32"
if (only === "onnx") {
  await import("./onnx.js");
}
if (only === "f32") {
  await import("./f32.js");
}
const workloads = loadWorkloads();

await init();
oneThread();
const ceiling = await loadCeiling();
const peers = [await tfjs.setup(), convnetjs.setup()];

const cpu = os.cpus();
const machine = {
  cpu: `${cpu[0]?.model ?? "unknown"} × ${cpu.length}`,
  memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  node: process.version,
  v8: process.versions.v8,
  threads: `${THREADS} (the threads column; every other column one thread)`,
  peers,
};
process.stderr.write(`convwasm bench on ${machine.cpu}, Node ${machine.node}\n`);

const convWorkloads = [...workloads.conv, ...workloads.conv_geometry];
const wants = (part: string) => only === undefined || only === part;
if (wants("conv")) conv.plan(convWorkloads);
if (wants("pool")) pool.plan(workloads.pool);
const convRows = wants("conv") ? await conv.run(convWorkloads, ceiling) : [];
const poolRows = wants("pool") ? await pool.run(workloads.pool, ceiling) : [];
// (a peer that fails here must not cost the conv and pooling rows: its error is kept in the report)
let modelRows: Awaited<ReturnType<typeof digits.run>> = [];
if (wants("model")) {
  try {
    modelRows = await digits.run(4, ceiling);
  } catch (e) {
    process.stderr.write(`the digits network's bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
  }
}

process.stderr.write("first calls after init(), in a fresh process…\n");
const firstCall = JSON.parse(
  execFileSync(process.execPath, ["--import", "tsx", new URL("./firstcall.ts", import.meta.url).pathname], {
    encoding: "utf8",
  }),
);

const dir = new URL("./results/", import.meta.url);
mkdirSync(dir, { recursive: true });
// a run of one part keeps the other parts of the last full run
const previous: Partial<Results> =
  only !== undefined && existsSync(new URL("latest.json", dir))
    ? JSON.parse(readFileSync(new URL("latest.json", dir), "utf8"))
    : {};
const results: Results = {
  date: new Date().toISOString(),
  machine,
  conv: wants("conv") ? convRows : (previous.conv ?? []),
  pool: wants("pool") ? poolRows : (previous.pool ?? []),
  model: wants("model") ? modelRows : (previous.model ?? []),
  firstCall,
  threads: THREADS,
};
writeFileSync(new URL("latest.json", dir), JSON.stringify(results, null, 2) + "\n");
// (the sections other benches keep in BENCHMARKS.md between <!-- name:start --> and <!-- name:end --> stay)
const mdFile = new URL("../BENCHMARKS.md", import.meta.url);
const kept = existsSync(mdFile)
  ? (readFileSync(mdFile, "utf8").match(/<!-- (\w+):start -->[\s\S]*?<!-- \1:end -->/g) ?? [])
  : [];
const md = [markdown(results).trimEnd(), ...kept].join("\n\n") + "\n";
writeFileSync(mdFile, md);
console.log(md);
process.exit(0); // TF.js keeps handles open
