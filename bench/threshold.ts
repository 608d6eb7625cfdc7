// npm run bench:threshold: where sharing a call out to the thread pool starts to pay, per shape. Each call
// runs after a 2 ms quiet spell (the helper threads asleep, as between a server's requests), once on the
// calling thread alone and once shared out by the default rule forced on, interleaved; medians. The
// `shareFrom` figures of src/kernels/kernels.ts and the model's chain rule are set from this table.
import { RandomState, conv_backward, conv_forward, digitsLayers, getThreads, init, sequential } from "convwasm";
import { tuning } from "convwasm/internal";

await init();
const threads = getThreads();
if (threads < 2) {
  console.log("one core here: nothing to measure");
  process.exit(0);
}

const median = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Median ms of `f` alone and shared out (every call big enough to share), each after a quiet spell. */
async function cold(f: () => unknown): Promise<{ alone: number; shared: number }> {
  const t = { alone: [] as number[], shared: [] as number[] };
  for (let i = 0; i < 60; i++) {
    for (const k of ["alone", "shared"] as const) {
      tuning.minWorkScale = k === "alone" ? Infinity : 1e-9;
      await sleep(2);
      const t0 = performance.now();
      f();
      t[k].push(performance.now() - t0);
    }
  }
  tuning.minWorkScale = 1;
  return { alone: median(t.alone), shared: median(t.shared) };
}

const row = (what: string, macs: number, { alone, shared }: { alone: number; shared: number }) =>
  console.log(
    `| ${what} | ${(macs / 1e6).toFixed(2)} | ${alone.toFixed(3)} | ${shared.toFixed(3)} | ${(shared / alone).toFixed(2)} |`,
  );

console.log(`${threads} threads; each call after a 2 ms quiet spell; medians of 60\n`);
console.log("| call | M multiply-adds | calling thread ms | shared out ms | shared ÷ calling |");
console.log("|---|---|---|---|---|");
const rs = new RandomState(1);
for (const n of [16, 32, 45, 64, 90, 128]) {
  const A = rs.randn(1, n, n, 16);
  const W = rs.randn(3, 3, 16, 16);
  const b = rs.randn(16);
  const hp = { stride: 1, pad: 1 };
  const [Z, cache] = conv_forward(A, W, b, hp);
  const macs = n * n * 16 * 9 * 16;
  row(`conv_forward [1,${n},${n},16] 3×3×16`, macs, await cold(() => conv_forward(A, W, b, hp)));
  row(`conv_backward [1,${n},${n},16] 3×3×16`, macs, await cold(() => conv_backward(Z, cache)));
}
const model = sequential([28, 28, 1], digitsLayers());
for (const m of [1, 2, 4, 8, 16, 32]) {
  const x = rs.randn(m, 28, 28, 1);
  row(`digits predict, ${m} image${m > 1 ? "s" : ""}`, m * 2.86e6, await cold(() => model.predict(x)));
}
process.exit(0);
