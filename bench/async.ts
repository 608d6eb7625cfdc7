// npm run bench:async: convwasm/async under 64 concurrent calls, against the same 64 calls one after
// another on one thread (the synchronous API): time (best of 10 rounds, interleaved), and how late a
// 1 ms interval timer on the calling thread fires meanwhile (p99 and worst over all rounds).
import { readFileSync, writeFileSync } from "node:fs";
import * as A from "convwasm/async";
import * as S from "convwasm";

const CALLS = 64;
const ROUNDS = 10;
await A.init();
await S.init({ threads: 1 });
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
const unbatched = await A.sequential([64, 64, 3], signs(), { batching: { maxBatch: 1 } });
const images = Array.from({ length: CALLS }, () => rs.randn(1, 64, 64, 3));
const W = rs.randn(3, 3, 16, 16);
const b = rs.randn(16);
const maps = Array.from({ length: CALLS }, () => rs.randn(1, 32, 32, 16));
const sharedMaps = maps.map((x) => A.shared(x));
const hp = { stride: 1, pad: 1 };

const cases: [string, () => unknown, () => Promise<unknown>][] = [
  [
    "conv_forward [1,32,32,16] 3×3×16",
    () => maps.forEach((x) => S.conv_forward(x, W, b, hp)),
    () => Promise.all(maps.map((x) => A.conv_forward(x, W, b, hp))),
  ],
  [
    "the same, inputs in shared memory (convwasm/async's shared())",
    () => maps.forEach((x) => S.conv_forward(x, W, b, hp)),
    () => Promise.all(sharedMaps.map((x) => A.conv_forward(x, W, b, hp))),
  ],
  [
    "SIGNS predict, 1 image, unbatched",
    () => images.forEach((x) => model.predict(x)),
    () => Promise.all(images.map((x) => unbatched.predict(x))),
  ],
  [
    "SIGNS predict, 1 image, micro-batched",
    () => images.forEach((x) => model.predict(x)),
    () => Promise.all(images.map((x) => batched.predict(x))),
  ],
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
  "| calls | sequential, 1 thread (ms) | concurrent, convwasm/async (ms) | speed-up | timer lateness p99 / worst (ms) |",
  "|---|---|---|---|---|",
];
const print = (line: string) => {
  lines.push(line);
  console.log(line);
};
console.log(`${CALLS} calls; ${JSON.stringify(await A.threading())}\n`);
lines.slice().forEach((l) => console.log(l));
for (const [name, sequential, concurrent] of cases) {
  // times: best of ROUNDS, the two interleaved
  let [seq, con] = [Infinity, Infinity];
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = performance.now();
    sequential();
    seq = Math.min(seq, performance.now() - t0);
    await new Promise((res) => setTimeout(res, 5));
    t0 = performance.now();
    await concurrent();
    con = Math.min(con, performance.now() - t0);
  }
  // the timer: over 2 s of back-to-back rounds of the concurrent calls alone (the sequential calls
  // would block the loop themselves, and their garbage would be collected in between)
  const until = performance.now() + 2000;
  const late = (
    await lateness(async () => {
      while (performance.now() < until) await concurrent();
    })
  ).sort((x, y) => x - y);
  print(
    `| ${name} | ${seq.toFixed(2)} | ${con.toFixed(2)} | ${(seq / con).toFixed(2)}× | ${pct(late, 0.99).toFixed(2)} / ${late[late.length - 1].toFixed(2)} |`,
  );
}
A.dispose();
const md = new URL("../BENCHMARKS.md", import.meta.url);
const section =
  "<!-- async:start -->\n## convwasm/async: 64 concurrent calls (npm run bench:async)\n\n" +
  `64 calls at once through convwasm/async (${(await import("node:os")).availableParallelism()} cores, 2 workers) beside ` +
  "the same 64 one after another on one thread with the synchronous API: best of 10 rounds, interleaved; the " +
  "lateness of a 1 ms interval timer on the calling thread over 2 s of back-to-back rounds. " +
  `${new Date().toISOString().slice(0, 10)}.\n\n${lines.join("\n")}\n<!-- async:end -->`;
const text = readFileSync(md, "utf8");
writeFileSync(
  md,
  text.includes("<!-- async:start -->")
    ? text.replace(/<!-- async:start -->[\s\S]*<!-- async:end -->/, section)
    : `${text.trimEnd()}\n\n${section}\n`,
);
