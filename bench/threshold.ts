// npm run bench:threshold: where handing a conv call to the thread pool starts to pay. Times conv_forward
// and conv_backward on growing layers, always on the calling thread and always shared out (in as many
// tasks as there may be), as a markdown table; MIN_TASK_MACS in src/ops/conv.ts is set from it (calls
// of at least twice that are shared out). Best of many calls, interleaved.
import { RandomState, conv_backward, conv_forward, getThreads, init } from "convwasm";
import { tuning } from "convwasm/internal";

await init();
const threads = getThreads();
if (threads < 2) {
  console.log("one core here: nothing to measure");
  process.exit(0);
}

const best = (f: () => unknown, n: number) => {
  let b = Infinity;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    f();
    b = Math.min(b, performance.now() - t);
  }
  return b;
};

console.log(`${threads} threads; A [1,n,n,16], W [3,3,16,16], stride 1, pad 1\n`);
console.log("| n | MACs | op | calling thread µs | shared out µs | shared ÷ calling |");
console.log("|---|---|---|---|---|---|");
const rs = new RandomState(1);
for (const n of [4, 6, 8, 11, 16, 22, 32, 45, 64]) {
  const A = rs.randn(1, n, n, 16);
  const W = rs.randn(3, 3, 16, 16);
  const b = rs.randn(1, 1, 1, 16);
  const hp = { stride: 1, pad: 1 };
  const [Z, cache] = conv_forward(A, W, b, hp);
  const macs = n * n * 16 * 9 * 16;
  const reps = Math.max(20, Math.round(2e8 / macs));
  for (const [op, f] of [
    ["conv_forward", () => conv_forward(A, W, b, hp)],
    ["conv_backward", () => conv_backward(Z, cache)],
  ] as const) {
    const t = { alone: Infinity, shared: Infinity };
    for (let round = 0; round < 5; round++) {
      tuning.minWorkScale = Infinity;
      t.alone = Math.min(t.alone, best(f, reps));
      tuning.minWorkScale = 1e-9;
      t.shared = Math.min(t.shared, best(f, reps));
    }
    tuning.minWorkScale = 1;
    const us = (v: number) => (v * 1000).toFixed(1);
    console.log(`| ${n} | ${macs} | ${op} | ${us(t.alone)} | ${us(t.shared)} | ${(t.shared / t.alone).toFixed(2)} |`);
  }
}
process.exit(0);
