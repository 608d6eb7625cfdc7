// npm run bench:async: what a call through convwasm/async costs. (1) 64 concurrent calls against the
// same 64 one after another on one thread with the synchronous API, both keeping their 64 results as a
// caller would: time (best of 10 rounds, interleaved), and how late a 1 ms interval timer on the calling
// thread fires meanwhile (p99 and worst over all rounds). (2) One call at a time, each awaited (a server
// at concurrency 1): a tiny op's round trip, and the digits network's predict against the synchronous
// one (best of 20 interleaved blocks of 100 calls). Targets from issue 24, checked at the end. Beside
// each, the same work through bare worker_threads with no library code (bare.ts): the floor of any
// message-based design on this machine.
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import * as A from "convwasm/async";
import * as S from "convwasm";
import { BareWorkers } from "./bare.js";

const CALLS = 64;
const ROUNDS = 10;
await A.init();
await S.init({ threads: 1 });
const bare = await BareWorkers.start((await A.threading()).workers);
const rs = new S.RandomState(1);

/** The SIGNS-like network of issue 12 (64×64×3 → 6 classes). */
const signs = () => [
  S.layers.conv2d({ filters: 8, size: 4, pad: "same" }),
  S.layers.relu(),
  S.layers.maxPool({ f: 8, stride: 8 }),
  S.layers.conv2d({ filters: 16, size: 2, pad: "same" }),
  S.layers.relu(),
  S.layers.maxPool({ f: 4, stride: 4 }),
  S.layers.flatten(),
  S.layers.dense({ units: 6 }),
  S.layers.softmax(),
];
const model = S.sequential([64, 64, 3], signs());
const batched = await A.sequential([64, 64, 3], signs());
const images = Array.from({ length: CALLS }, () => rs.randn(1, 64, 64, 3));

interface Case {
  name: string;
  sequential: () => unknown;
  concurrent: () => Promise<unknown>;
  /** The sequential calls dropping each result at once (whose pages the next call reuses). */
  dropping?: () => unknown;
  /** Checked against issue 24's target (calls from plain NDArrays). */
  target?: boolean;
  /** The same calls through bare worker_threads (the floor). */
  bare?: () => Promise<unknown>;
}
/**
 * 64 conv_forward calls of one geometry (issue 24's two shapes), from plain NDArrays or, `shared`, from
 * inputs in shared memory (no copy). 64 results alive at once (as the concurrent calls' are) are fresh
 * pages, ~3.4 ms a MB to touch here; the dropping calls show what reusing them saves.
 */
function convCase(x: number[], w: number[], pad: number, shared = false): Case {
  const W = rs.randn(...w);
  const b = rs.randn(w[3]);
  const xs = Array.from({ length: CALLS }, () => rs.randn(...x));
  const inputs = shared ? xs.map((a) => A.shared(a)) : xs;
  const hp = { stride: 1, pad };
  return {
    name: `conv_forward [${x.join(",")}] * ${w.join("×")}${shared ? ", inputs in shared memory (shared())" : ""}`,
    sequential: () => xs.map((a) => S.conv_forward(a, W, b, hp)),
    concurrent: () => Promise.all(inputs.map((a) => A.conv_forward(a, W, b, hp))),
    dropping: () => xs.forEach((a) => S.conv_forward(a, W, b, hp)),
    target: !shared,
    bare: shared ? undefined : () => bare.convs(xs, W, b, hp),
  };
}

const cases: Case[] = [
  convCase([1, 64, 64, 3], [4, 4, 3, 8], 2),
  convCase([1, 64, 64, 3], [4, 4, 3, 8], 2, true),
  convCase([1, 56, 56, 64], [3, 3, 64, 64], 1),
  {
    name: "SIGNS predict, 1 image each, micro-batched",
    sequential: () => images.map((x) => model.predict(x)),
    concurrent: () => Promise.all(images.map((x) => batched.predict(x))),
  },
];

/** How late a 1 ms interval timer fires while `body` runs (ms, each firing). */
async function lateness(body: () => Promise<unknown>): Promise<number[]> {
  const late: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    late.push(Math.max(0, now - last - 1));
    last = now;
  }, 1);
  await body();
  clearInterval(timer);
  return late;
}
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

const lines = [
  "| calls | sequential, 1 thread (ms) | concurrent, convwasm/async (ms) | speed-up | sequential, each result dropped (ms) | timer lateness p99 / worst (ms) | concurrent, bare worker_threads (ms, speed-up) |",
  "|---|---|---|---|---|---|---|",
];
const checks: string[] = [];
const print = (table: string[], line: string) => {
  table.push(line);
  console.log(line);
};
console.log(`${CALLS} calls; ${JSON.stringify(await A.threading())}\n`);
lines.slice().forEach((l) => console.log(l));
/** Milliseconds `f` takes (awaited). */
async function ms(f: () => unknown): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}
const pause = () => new Promise((res) => setTimeout(res, 5));
for (const { name, sequential, concurrent, dropping, target, bare: floor } of cases) {
  // times: best of ROUNDS, interleaved
  let [seq, con, drop] = [Infinity, Infinity, Infinity];
  for (let r = 0; r < ROUNDS; r++) {
    seq = Math.min(seq, await ms(sequential));
    if (dropping) drop = Math.min(drop, await ms(dropping));
    await pause();
    con = Math.min(con, await ms(concurrent));
  }
  // the timer: over 2 s of back-to-back rounds of the concurrent calls alone (the sequential calls
  // would block the loop themselves, and their garbage would be collected in between)
  const until = performance.now() + 2000;
  const late = (
    await lateness(async () => {
      while (performance.now() < until) await concurrent();
    })
  ).sort((x, y) => x - y);
  const p99 = pct(late, 0.99);
  // the floor: the bare calls, interleaved with more sequential calls (each kind's garbage changes what
  // the next round's fresh pages cost; the sequential time is the best of both loops)
  let low = Infinity;
  for (let r = 0; floor && r < ROUNDS; r++) {
    seq = Math.min(seq, await ms(sequential));
    await pause();
    low = Math.min(low, await ms(floor));
  }
  print(
    lines,
    `| ${name} | ${seq.toFixed(2)} | ${con.toFixed(2)} | ${(seq / con).toFixed(2)}× | ` +
      `${dropping ? `${drop.toFixed(2)} (${(drop / con).toFixed(2)}×)` : "–"} | ${p99.toFixed(2)} / ${late[late.length - 1].toFixed(2)} | ` +
      `${floor ? `${low.toFixed(2)} (${(seq / low).toFixed(2)}×)` : "–"} |`,
  );
  if (target) {
    const ok = seq / con >= 1.4 && p99 <= 3;
    checks.push(
      `- ${ok ? "✓" : "✗"} 64 concurrent ${name}: ${(seq / con).toFixed(2)}× the sequential calls' speed (target ≥ 1.4×; ` +
        `${(drop / con).toFixed(2)}× that of sequential calls dropping each result; bare worker_threads with no library ` +
        `code: ${(seq / low).toFixed(2)}×), timer lateness p99 ${p99.toFixed(2)} ms (target ≤ 3 ms)`,
    );
  }
}

// ---- one call at a time ------------------------------------------------------------------------------

const BLOCK = 100;
const BLOCKS = 20;
/** µs a call, over BLOCK calls of `call` one after another (each awaited before the next when `wait`). */
async function perCall(call: () => unknown, wait: boolean): Promise<number> {
  const block = await ms(async () => {
    for (let i = 0; i < BLOCK; i++) {
      if (wait) await call();
      else call();
    }
  });
  return (block * 1000) / BLOCK;
}
/** Best of BLOCKS interleaved blocks: mean µs a call, each block of BLOCK calls (sync, async, bare). */
async function oneAtATime(
  sync: () => unknown,
  async_: () => Promise<unknown>,
  floor: () => Promise<unknown>,
): Promise<[number, number, number]> {
  let [s, a, f] = [Infinity, Infinity, Infinity];
  for (let r = 0; r < BLOCKS; r++) {
    s = Math.min(s, await perCall(sync, false));
    a = Math.min(a, await perCall(async_, true));
    f = Math.min(f, await perCall(floor, true));
  }
  return [s, a, f];
}
const tiny = S.zeros([1, 1, 1, 1]);
const digits = S.sequential([28, 28, 1], S.digitsLayers(), { seed: 1 });
const digit = rs.randn(1, 28, 28, 1);
const single = [
  "| call, awaited one at a time | synchronous, 1 thread (µs) | convwasm/async (µs) | difference (µs) | bare worker_threads (µs) | its difference (µs) |",
  "|---|---|---|---|---|---|",
];
console.log();
single.forEach((l) => console.log(l));
const asyncDigits = await A.sequential([28, 28, 1], S.digitsLayers(), { seed: 1 });
const flatDigit = digit.toFloat64Array();
/** A row: its name, the three calls, and its check from (sync, async, bare) µs. */
type Row = [
  string,
  () => unknown,
  () => Promise<unknown>,
  () => Promise<unknown>,
  (s: number, a: number, f: number) => string,
];
const rows: Row[] = [
  [
    "relu of one value (a tiny op's round trip)",
    () => S.relu(tiny),
    () => A.relu(tiny),
    () => bare.echo(),
    (_s, a, f) =>
      `${a <= 30 ? "✓" : "✗"} a tiny op's round trip: ${a.toFixed(1)} µs (target ≤ 30 µs; ` +
      `a bare message each way, no work: ${f.toFixed(1)} µs)`,
  ],
  ...(["f64", "f32"] as const).map((precision): Row => [
    `the digits network's predict, 1 image, ${precision}`,
    () => digits.predict(digit, { precision }),
    () => asyncDigits.predict(digit, { precision }),
    () => bare.digits(flatDigit, precision),
    (s, a, f) =>
      `${a - s <= 100 ? "✓" : "✗"} the digits network at concurrency 1, ${precision}: ` +
      `${(a - s).toFixed(0)} µs slower than the synchronous predict (${a.toFixed(0)} against ${s.toFixed(0)} µs; ` +
      `target ≤ 100 µs; the same predict in bare worker_threads: ${(f - s).toFixed(0)} µs slower)`,
  ]),
];
for (const [name, sync, async_, floor, check] of rows) {
  await oneAtATime(sync, async_, floor); // (warm-up: the plans made)
  const [s, a, f] = await oneAtATime(sync, async_, floor);
  print(
    single,
    `| ${name} | ${s.toFixed(1)} | ${a.toFixed(1)} | ${(a - s).toFixed(1)} | ${f.toFixed(1)} | ${(f - s).toFixed(1)} |`,
  );
  checks.push(`- ${check(s, a, f)}`);
}
A.dispose();
await bare.close();
console.log(`\n${checks.join("\n")}`);

const md = new URL("../BENCHMARKS.md", import.meta.url);
const section =
  "<!-- async:start -->\n## convwasm/async: the cost of a call (npm run bench:async)\n\n" +
  `${CALLS} calls at once through convwasm/async (${availableParallelism()} cores, 2 workers) beside ` +
  "the same calls one after another on one thread with the synchronous API, from plain NDArrays, both keeping " +
  "their 64 results as a caller would (the column of sequential calls dropping each result at once shows what " +
  "reusing its pages saves: 64 results alive at once are fresh pages, ~3.4 ms a MB to touch here): best of " +
  `${ROUNDS} rounds, interleaved; the lateness of a 1 ms interval timer on the calling thread over 2 s of ` +
  "back-to-back rounds. The last column is the floor: the same calls through bare worker_threads (bench/bare.ts: " +
  "the synchronous library in each worker, and nothing but postMessage on the calling thread: no checks, no " +
  "recycled copies, no ordering), in a loop of its own interleaved with more sequential calls (each kind's " +
  "garbage changes what the next round's fresh pages cost); the sequential time is the best of both loops. " +
  `${new Date().toISOString().slice(0, 10)}.\n\n${lines.join("\n")}\n\n` +
  `Then one call at a time, each awaited before the next (a server at concurrency 1): the mean of a block of ` +
  `${BLOCK} calls, best of ${BLOCKS} blocks, the three interleaved (the last, bare worker_threads as above).\n\n` +
  `${single.join("\n")}\n\n` +
  `${checks.join("\n")}\n<!-- async:end -->`;
const text = readFileSync(md, "utf8");
writeFileSync(
  md,
  text.includes("<!-- async:start -->")
    ? text.replace(/<!-- async:start -->[\s\S]*<!-- async:end -->/, section)
    : `${text.trimEnd()}\n\n${section}\n`,
);
