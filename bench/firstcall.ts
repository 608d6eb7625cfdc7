// Run in a fresh process (bench/index.ts spawns it): how long init() takes, and the first call of each
// op after it against a warm call. Prints one JSON line.
import { RandomState, init, conv_forward, conv_backward, pool_forward, pool_backward } from "convwasm";

const t0 = performance.now();
await init();
const initMs = performance.now() - t0;

const rs = new RandomState(1);
const A = rs.randn(1, 56, 56, 64);
const W = rs.randn(3, 3, 64, 64);
const b = rs.randn(1, 1, 1, 64);
const hp = { stride: 1, pad: 1 };
const P = rs.randn(8, 56, 56, 64);
const dZ = rs.randn(1, 56, 56, 64);
const dY = rs.randn(8, 27, 27, 64);

const ops: [string, () => unknown][] = [
  ["conv_forward resnet56", () => conv_forward(A, W, b, hp)],
  ["conv_backward resnet56", () => conv_backward(dZ, [A, W, b, hp])],
  ["pool_forward win3s2 max", () => pool_forward(P, { f: 3, stride: 2 })],
  ["pool_backward win3s2 max", () => pool_backward(dY, [P, { f: 3, stride: 2 }])],
];

const time = (f: () => unknown) => {
  const t = performance.now();
  f();
  return performance.now() - t;
};
const rows = ops.map(([name, f]) => {
  const first = time(f);
  const warm = Math.min(...Array.from({ length: 7 }, () => time(f)));
  return { name, firstMs: first, warmMs: warm };
});
console.log(JSON.stringify({ initMs, rows }));
