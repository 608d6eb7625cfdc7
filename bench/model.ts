// The digits network of workloads.json (conv 5×5×16 'same' → relu → maxpool 2/2 → conv 5×5×32 'same' →
// relu → maxpool 2/2 → flatten → dense 10 → softmax): predict throughput at batch 1 and 64 beside the same
// network in TF.js-WASM (float32, XNNPACK), and a training step (forward, backward, Adam) beside
// TF.js-CPU (TF.js-WASM cannot train it: it has no Conv2DBackpropFilter). One thread.
// (the tfjs package: tfjs-core with the gradients registered, and the CPU backend)
import * as tf from "@tensorflow/tfjs";
import { NDArray, RandomState, adam, dense_forward, digitsLayers, sequential, sgd } from "convwasm";
import { CEILING_FLOPS } from "./ceiling.js";
import { resnetDigits } from "../examples/resnet/net.js";

export interface ModelRow {
  what: string;
  batch: number;
  /** best ms per call of each side */
  convwasm: number;
  peer: number | null;
  peerName: string;
  /** examples per second of each side */
  convwasmRate: number;
  peerRate: number | null;
  note?: string;
  /** for the GEMM row: GFLOP/s of the op and of the ceiling probe around it */
  gflops?: number;
  ceilingGflops?: number;
}

function best(fn: () => unknown, seconds: number, minCalls = 3): number {
  let b = Infinity;
  const until = performance.now() + seconds * 1000;
  for (let n = 0; n < minCalls || performance.now() < until; n++) {
    const t0 = performance.now();
    fn();
    b = Math.min(b, performance.now() - t0);
  }
  return b;
}

/** The network in TF.js ops, from convwasm's weights (float32). */
function tfNetwork(w: Record<string, NDArray>) {
  const t = (a: NDArray) => tf.tensor(Float32Array.from(a.toFloat64Array()), [...a.shape]);
  const v = Object.fromEntries(Object.entries(w).map(([k, a]) => [k, tf.variable(t(a))]));
  const forward = (x: tf.Tensor4D) =>
    tf.tidy(() => {
      let a = tf.relu(tf.add(tf.conv2d(x, v["conv2d/W"] as tf.Tensor4D, 1, "same"), v["conv2d/b"]));
      a = tf.maxPool(a as tf.Tensor4D, 2, 2, "valid");
      a = tf.relu(tf.add(tf.conv2d(a as tf.Tensor4D, v["conv2d_1/W"] as tf.Tensor4D, 1, "same"), v["conv2d_1/b"]));
      a = tf.maxPool(a as tf.Tensor4D, 2, 2, "valid");
      return tf.add(tf.matMul(tf.reshape(a, [x.shape[0], -1]), v["dense/W"] as tf.Tensor2D), v["dense/b"]);
    });
  return { v, forward };
}

export async function run(rounds: number, ceiling: () => number): Promise<ModelRow[]> {
  const rows: ModelRow[] = [];
  const rs = new RandomState(5);
  // the dense layer's GEMM alone: 256×1024 · 1024×1024, beside the ceiling probe
  {
    const [X, W, b] = [rs.randn(256, 1024), rs.randn(1024, 1024), rs.randn(1024)];
    let ours = Infinity;
    let top = Infinity;
    for (let r = 0; r < rounds; r++) {
      top = Math.min(top, best(ceiling, 0.3));
      ours = Math.min(
        ours,
        best(() => dense_forward(X, W, b), 1),
      );
      top = Math.min(top, best(ceiling, 0.3));
    }
    const gflops = (2 * 256 * 1024 * 1024) / ours / 1e6;
    const ceilingGflops = CEILING_FLOPS / top / 1e6;
    process.stderr.write(
      `dense_forward 256×1024·1024×1024: ${ours.toFixed(2)} ms, ${gflops.toFixed(1)} GFLOP/s, ceiling ${ceilingGflops.toFixed(1)}\n`,
    );
    rows.push({
      what: "dense_forward 256×1024 · 1024×1024",
      batch: 256,
      convwasm: ours,
      peer: null,
      peerName: "—",
      convwasmRate: (1000 * 256) / ours,
      peerRate: null,
      gflops,
      ceilingGflops,
    });
  }
  const model = sequential([28, 28, 1], digitsLayers(), { seed: 1 });
  const X64 = rs.randn(64, 28, 28, 1);
  const X1 = rs.randn(1, 28, 28, 1);
  const labels = Array.from({ length: 64 }, (_, i) => i % 10);

  await tf.setBackend("wasm");
  const wasmNet = tfNetwork(model.weights());
  for (const [X, batch] of [
    [X1, 1],
    [X64, 64],
  ] as const) {
    const xt = tf.tensor4d(Float32Array.from(X.toFloat64Array()), [batch, 28, 28, 1]);
    let ours = Infinity;
    let ours32 = Infinity;
    let theirs = Infinity;
    for (let r = 0; r < rounds; r++) {
      ours = Math.min(
        ours,
        best(() => model.predict(X), 0.5),
      );
      ours32 = Math.min(
        ours32,
        best(() => model.predict(X, { precision: "f32" }), 0.5),
      );
      theirs = Math.min(
        theirs,
        best(() => tf.dispose(tf.softmax(wasmNet.forward(xt)).dataSync()), 0.5),
      );
    }
    process.stderr.write(
      `digits predict batch ${batch}: convwasm ${ours.toFixed(3)} ms (f32 plan ${ours32.toFixed(3)}), TF.js-WASM ${theirs.toFixed(3)} ms\n`,
    );
    for (const [what, ms] of [
      ["predict", ours],
      ["predict, float32 plan", ours32],
    ] as const) {
      rows.push({
        what,
        batch,
        convwasm: ms,
        peer: theirs,
        peerName: "TF.js-WASM (f32)",
        convwasmRate: (1000 * batch) / ms,
        peerRate: (1000 * batch) / theirs,
      });
    }
    xt.dispose();
  }

  // training: TF.js-WASM fails for want of the filter gradient; TF.js-CPU trains
  const step = (net: ReturnType<typeof tfNetwork>, opt: tf.Optimizer, xt: tf.Tensor4D, yt: tf.Tensor2D) =>
    opt.minimize(() => tf.losses.softmaxCrossEntropy(yt, net.forward(xt)) as tf.Scalar, false);
  const yt = tf.oneHot(tf.tensor1d(labels, "int32"), 10) as tf.Tensor2D;
  const xt = tf.tensor4d(Float32Array.from(X64.toFloat64Array()), [64, 28, 28, 1]);
  let wasmNote = "";
  try {
    step(wasmNet, tf.train.adam(1e-3), xt, yt);
  } catch (e) {
    wasmNote = `TF.js-WASM cannot train this network: ${(e as Error).message.split("\n")[0]}`;
  }
  await tf.setBackend("cpu");
  const cpuNet = tfNetwork(model.weights());
  const xc = tf.tensor4d(Float32Array.from(X64.toFloat64Array()), [64, 28, 28, 1]);
  const yc = tf.oneHot(tf.tensor1d(labels, "int32"), 10) as tf.Tensor2D;
  const opt = tf.train.adam(1e-3);
  let ours = Infinity;
  let theirs: number;
  const optimizer = adam();
  for (let r = 0; r < rounds; r++) {
    ours = Math.min(
      ours,
      best(() => model.fit(X64, labels, { epochs: 1, batchSize: 64, optimizer, shuffle: false }), 1),
    );
  }
  // (TF.js-CPU takes tens of seconds a step: two calls of it)
  theirs = best(() => step(cpuNet, opt, xc, yc), 0, 2);
  process.stderr.write(
    `digits training step batch 64: convwasm ${ours.toFixed(1)} ms, TF.js-CPU ${theirs.toFixed(1)} ms\n`,
  );
  rows.push({
    what: "training step (forward, backward, Adam)",
    batch: 64,
    convwasm: ours,
    peer: theirs,
    peerName: "TF.js-CPU (f32)",
    convwasmRate: (1000 * 64) / ours,
    peerRate: (1000 * 64) / theirs,
    note: wasmNote,
  });
  await tf.setBackend("wasm");

  // the small ResNet (example:resnet): a training step of its recipe and predict, beside PyTorch float64
  // on one thread (no PyTorch at bench time: ../shared/workloads.json's figure, 40–57 s per epoch of 250
  // steps with OpenBLAS, and 385 ms a step measured on this machine with Debian's python3-torch)
  const resnet = resnetDigits(1);
  const X32 = rs.randn(32, 28, 28, 1);
  const labels32 = labels.slice(0, 32);
  const recipe = sgd({ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  let step32 = Infinity;
  let predict64 = Infinity;
  for (let r = 0; r < rounds; r++) {
    step32 = Math.min(
      step32,
      best(() => resnet.fit(X32, labels32, { batchSize: 32, optimizer: recipe, shuffle: false }), 1),
    );
    predict64 = Math.min(
      predict64,
      best(() => resnet.predict(X64), 0.5),
    );
  }
  const torchStep = 40_000 / 250;
  process.stderr.write(
    `resnet_digits training step batch 32: convwasm ${step32.toFixed(1)} ms, PyTorch f64 ${torchStep} ms (stored)\n`,
  );
  rows.push({
    what: "resnet_digits training step (forward, backward, Nesterov SGD)",
    batch: 32,
    convwasm: step32,
    peer: torchStep,
    peerName: "PyTorch f64, 1 thread (stored)",
    convwasmRate: (1000 * 32) / step32,
    peerRate: (1000 * 32) / torchStep,
    note:
      "resnet_digits' PyTorch float64 step: 160–228 ms (40–57 s per 250-step epoch, OpenBLAS, ../shared/workloads.json; " +
      "the faster figure is the peer); Debian's python3-torch (generic BLAS) took 385 ms a step on this machine",
  });
  rows.push({
    what: "resnet_digits predict (the plan: BatchNorm folded, ReLU fused)",
    batch: 64,
    convwasm: predict64,
    peer: null,
    peerName: "—",
    convwasmRate: (1000 * 64) / predict64,
    peerRate: null,
  });
  return rows;
}
