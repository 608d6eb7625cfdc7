// npm run bench:server: examples/server (convwasm/async) beside the same network served with
// TensorFlow.js-WASM (bench/server/tfjs-server.ts), each under load from bench/server/loadgen.ts in a
// process of its own: 2,000 requests at concurrency 16 and at 1, after 200 to warm up. Requests/s,
// latency p50/p99, the server's event-loop delay p99 (perf_hooks.monitorEventLoopDelay, read from its
// /metrics) and a /health probe's latency. Two rounds, the servers alternating; each figure from the
// round with the most requests/s. Writes bench/results/server.json and its table into BENCHMARKS.md.
import { execFile, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";

const REQUESTS = 2000;
const ROUNDS = 2;
const here = (p: string) => new URL(p, import.meta.url).pathname;
const servers = [
  { name: "convwasm/async (examples/server)", file: here("../examples/server/server.ts") },
  { name: "TF.js-WASM (f32), predict per request", file: here("./server/tfjs-server.ts") },
];

interface Row {
  server: string;
  concurrency: number;
  rps: number;
  p50: number;
  p99: number;
  healthP50: number;
  healthP99: number;
  eventLoopP99: number;
}

async function start(file: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ["--import", "tsx", file], {
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /localhost:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`${file} exited (${code}): ${out}`)));
  });
  const stop = () =>
    new Promise<void>((r) => {
      child.once("exit", () => r());
      child.kill("SIGTERM");
    });
  return { url: `http://127.0.0.1:${port}`, stop };
}

async function load(url: string, n: number, concurrency: number) {
  const { stdout } = await promisify(execFile)(process.execPath, [
    "--import",
    "tsx",
    here("./server/loadgen.ts"),
    url,
    String(n),
    String(concurrency),
  ]);
  return JSON.parse(stdout) as Omit<Row, "server" | "concurrency" | "eventLoopP99">;
}

const best = new Map<string, Row>();
for (let round = 0; round < ROUNDS; round++) {
  for (const s of servers) {
    const { url, stop } = await start(s.file);
    await load(url, 200, 16);
    for (const concurrency of [16, 1]) {
      await fetch(`${url}/metrics?reset`);
      const r = await load(url, REQUESTS, concurrency);
      const { eventLoopDelay } = (await (await fetch(`${url}/metrics`)).json()) as { eventLoopDelay: { p99: number } };
      const row: Row = { server: s.name, concurrency, ...r, eventLoopP99: eventLoopDelay.p99 };
      process.stderr.write(`${s.name}, concurrency ${concurrency}: ${JSON.stringify(row)}\n`);
      const key = `${s.name} ${concurrency}`;
      if ((best.get(key)?.rps ?? 0) < row.rps) best.set(key, row);
    }
    await stop();
  }
}

const rows = [...best.values()];
const f = (v: number, d = 2) => v.toFixed(d);
const ours = (c: number) => rows.find((r) => r.server === servers[0].name && r.concurrency === c)!;
const theirs = (c: number) => rows.find((r) => r.server === servers[1].name && r.concurrency === c)!;
const table = [
  "| server | concurrency | requests/s | latency p50 / p99 (ms) | event-loop delay p99 (ms) | /health probe p50 / p99 (ms) |",
  "|---|---|---|---|---|---|",
  ...rows
    .sort((a, b) => b.concurrency - a.concurrency)
    .map(
      (r) =>
        `| ${r.server} | ${r.concurrency} | ${f(r.rps, 0)} | ${f(r.p50)} / ${f(r.p99)} | ${f(r.eventLoopP99)} | ${f(r.healthP50)} / ${f(r.healthP99)} |`,
    ),
  "",
  `Targets (2 cores): event-loop delay p99 ≤ 3 ms under load: ${f(ours(16).eventLoopP99)} ms ` +
    `(${ours(16).eventLoopP99 <= 3 ? "met" : "not met"}); throughput ≥ 1.3× TF.js-WASM's at concurrency 16: ` +
    `${f(ours(16).rps / theirs(16).rps)}× (${ours(16).rps / theirs(16).rps >= 1.3 ? "met" : "not met"}); ` +
    `at concurrency 1: ${f(ours(1).rps / theirs(1).rps)}×.`,
].join("\n");
console.log(table);
writeFileSync(here("./results/server.json"), JSON.stringify({ date: new Date().toISOString(), rows }, null, 2) + "\n");
const md = here("../BENCHMARKS.md");
const text = readFileSync(md, "utf8");
const section =
  "<!-- server:start -->\n## Serving from Node (npm run bench:server)\n\n" +
  "The digits network behind `node:http`: `examples/server` (convwasm/async, micro-batched, 2 workers) beside " +
  "the same network and weights in TF.js-WASM (float32, predict per request on the event loop). 2,000 requests " +
  "from a load generator in its own process, after 200 to warm up; best of two rounds. " +
  `${new Date().toISOString().slice(0, 10)}.\n\n${table}\n<!-- server:end -->`;
writeFileSync(
  md,
  text.includes("<!-- server:start -->")
    ? text.replace(/<!-- server:start -->[\s\S]*<!-- server:end -->/, section)
    : `${text.trimEnd()}\n\n${section}\n`,
);
