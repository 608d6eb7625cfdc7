// TensorFlow.js with its WASM backend (XNNPACK, SIMD, float32 only; no threads in Node).
import * as tf from "@tensorflow/tfjs-core";
import { setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import type { ConvWorkload, PoolWorkload } from "../workloads.js";

export const name = "TF.js-WASM (f32)";

export async function setup(): Promise<string> {
  setThreadsCount(1);
  await tf.setBackend("wasm");
  await tf.ready();
  return `@tensorflow/tfjs-backend-wasm ${tf.version_core}, backend ${tf.getBackend()}`;
}

type Op = (() => void) | null;

/** Runs `f` and frees its outputs: TF.js keeps results on the backend (no read-back to JS, which favours it). */
function tidy(f: () => tf.Tensor): () => void {
  return () => tf.dispose(f());
}

export function conv(w: ConvWorkload, x: Float64Array, filter: Float64Array, dz: Float64Array, zShape: number[]) {
  const depthwise = (w.groups ?? 1) > 1;
  const X = tf.tensor4d(Float32Array.from(x), [w.m, w.h, w.w, w.c]);
  // depthwise filters: [f, f, n_C_prev, multiplier] in TF.js, the same values as convwasm's [f, f, 1, n_C]
  const F = tf.tensor4d(Float32Array.from(filter), depthwise ? [w.f, w.f, w.c, w.k / w.c] : [w.f, w.f, w.c, w.k]);
  const dZ = tf.tensor4d(Float32Array.from(dz), zShape as [number, number, number, number]);
  const pad =
    w.pad === "same"
      ? "same"
      : ([
          [0, 0],
          [w.pad, w.pad],
          [w.pad, w.pad],
          [0, 0],
        ] as [[number, number], [number, number], [number, number], [number, number]]);
  const dilation = w.dilation ?? 1;
  const forward: Op = depthwise
    ? tidy(() => tf.depthwiseConv2d(X, F as tf.Tensor4D, w.stride, pad as "same", "NHWC", dilation))
    : tidy(() => tf.conv2d(X, F, w.stride, pad, "NHWC", dilation));
  // the WASM backend has Conv2DBackpropInput (undilated, ungrouped) but no Conv2DBackpropFilter: dW is
  // "not supported"
  const backwardInput: Op =
    depthwise || dilation > 1
      ? null
      : tidy(() => tf.conv2dTranspose(dZ, F, [w.m, w.h, w.w, w.c], w.stride, pad as never));
  return { forward, backwardInput, dispose: () => tf.dispose([X, F, dZ]) };
}

export function pool(w: PoolWorkload, x: Float64Array, dy: Float64Array, yShape: number[]) {
  const X = tf.tensor4d(Float32Array.from(x), [w.m, w.h, w.w, w.c]);
  const dY = tf.tensor4d(Float32Array.from(dy), yShape as [number, number, number, number]);
  const attrs = { filterSize: w.f, strides: w.stride, pad: "valid" };
  const Ymax = tf.maxPool(X, w.f, w.stride, "valid");
  const ops = {
    max: {
      forward: tidy(() => tf.maxPool(X, w.f, w.stride, "valid")),
      backward: tidy(
        () => tf.engine().runKernel("MaxPoolGrad", { dy: dY, input: X, output: Ymax }, attrs) as tf.Tensor,
      ),
    },
    average: {
      forward: tidy(() => tf.avgPool(X, w.f, w.stride, "valid")),
      backward: tidy(() => tf.engine().runKernel("AvgPoolGrad", { dy: dY, input: X }, attrs) as tf.Tensor),
    },
  };
  return { ops, dispose: () => tf.dispose([X, dY, Ymax]) };
}
