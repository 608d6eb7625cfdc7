import { init, RandomState, conv_forward, conv_backward, setThreads } from "convwasm";
import { winogradTuning } from "convwasm/internal";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
await init({ threads: 1 });
setThreadsCount(1); await tf.setBackend("wasm"); await tf.ready();
const rs = new RandomState(2);
const best = (f: () => unknown, n = 15) => { let b = Infinity; for (let i = 0; i < n; i++) { const t = performance.now(); f(); b = Math.min(b, performance.now() - t); } return b; };
for (const [name, m, h, w, c, k] of [["resnet56", 1, 56, 56, 64, 64], ["vgg32", 8, 32, 32, 32, 64], ["small16", 1, 16, 16, 16, 16], ["c8", 1, 32, 32, 8, 8]] as const) {
  const A = rs.randn(m, h, w, c), W = rs.randn(3, 3, c, k), b = rs.randn(k);
  const hp = { stride: 1, pad: 1 };
  const [Z, cache] = conv_forward(A, W, b, hp, { algorithm: "direct" });
  const dZ = rs.randn(...Z.shape);
  const X = tf.tensor4d(Float32Array.from(A.data), [m, h, w, c]), F = tf.tensor4d(Float32Array.from(W.data), [3, 3, c, k]);
  const t = { d: Infinity, w: Infinity, w4: Infinity, tf: Infinity, bd: Infinity, bw: Infinity, bw2: Infinity };
  for (let r = 0; r < 3; r++) {
    t.d = Math.min(t.d, best(() => conv_forward(A, W, b, hp, { algorithm: "direct" })));
    winogradTuning.tile = 2; t.w = Math.min(t.w, best(() => conv_forward(A, W, b, hp, { algorithm: "winograd" })));
    winogradTuning.tile = 4; t.w4 = Math.min(t.w4, best(() => conv_forward(A, W, b, hp, { algorithm: "winograd" })));
    t.tf = Math.min(t.tf, best(() => tf.dispose(tf.conv2d(X, F, 1, "same"))));
    t.bd = Math.min(t.bd, best(() => conv_backward(dZ, cache, { algorithm: "direct" }), 6));
    t.bw = Math.min(t.bw, best(() => conv_backward(dZ, cache, { algorithm: "winograd" }), 6));
    winogradTuning.tile = 2; t.bw2 = Math.min(t.bw2, best(() => conv_backward(dZ, cache, { algorithm: "winograd" }), 6));
  }
  console.log(name, "fwd direct", t.d.toFixed(2), "F2", t.w.toFixed(2), "F4", t.w4.toFixed(2), "tfjs", t.tf.toFixed(2), "| bwd direct", t.bd.toFixed(2), "F4", t.bw.toFixed(2), "F2", t.bw2.toFixed(2));
}
process.exit(0);
