import { init, sequential, digitsLayers, RandomState, conv_forward, conv_backward, pool_forward } from "convwasm";
import { tuning } from "convwasm/internal";
await init();
const rs = new RandomState(1);
const dig = sequential([28, 28, 1], digitsLayers());
const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1];
async function cold(f: () => unknown) {
  const r: Record<string, number[]> = { alone: [], shared: [] };
  for (let i = 0; i < 80; i++)
    for (const k of ["alone", "shared"]) {
      tuning.minWorkScale = k === "alone" ? Infinity : 1;
      await new Promise((r) => setTimeout(r, 2));
      const t0 = performance.now();
      f();
      r[k].push(performance.now() - t0);
    }
  tuning.minWorkScale = 1;
  return [med(r.alone), med(r.shared)];
}
const show = (l: string, [a, s]: number[]) => console.log(l, a.toFixed(3), s.toFixed(3), (s / a).toFixed(2));
for (const m of [1, 2, 4, 8, 16, 32]) show("digits m " + m, await cold(() => dig.predict(rs.randn(m, 28, 28, 1))));
for (const n of [16, 22, 32, 45, 64, 90]) {
  const A = rs.randn(1, n, n, 16),
    W = rs.randn(3, 3, 16, 16),
    b = rs.randn(16);
  const hp = { stride: 1, pad: 1 };
  const [Z, cache] = conv_forward(A, W, b, hp);
  show(`fwd n ${n} macs ${n * n * 16 * 9 * 16}`, await cold(() => conv_forward(A, W, b, hp)));
  show(`bwd n ${n}`, await cold(() => conv_backward(Z, cache)));
  show(`pool n ${n}`, await cold(() => pool_forward(A, { f: 3, stride: 1 })));
}
process.exit(0);
