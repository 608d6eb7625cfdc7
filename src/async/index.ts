// convwasm/async: the synchronous API's functions, layers and model, returning Promises and computed in
// worker threads (Node's worker_threads or Web Workers), so the calling thread never blocks: it only
// hands arguments over (see wire.ts) and never waits in Atomics.wait. Calls run side by side on the
// workers; a call big enough to be shared out runs alone on the first worker, with its thread pool, when
// no other call waits or runs.
// onnxruntime-web's proxy worker is the model: calls posted to a worker (those started together in one
// message), results moved back, not copied. This file is the entry and its ops; endpoint.ts a worker as
// seen from here, scheduler.ts the queue and the workers' lifecycle, wire.ts the arguments' encoding,
// model.ts the models and their batching, protocol.ts the messages, host.ts a worker's body.
import type * as Sync from "../index.js";
import { OPS, type OpName } from "./protocol.js";
import { send, workOf } from "./scheduler.js";

export { NDArray, array, zeros } from "../core/ndarray.js";
export { RandomState, random } from "../core/random.js";
export { layers, digitsLayers } from "../model/layers.js";
export { input, SymbolicTensor } from "../graph/graph.js";
export { sgd, adam } from "../model/optimizers.js";
export { readNpz, writeNpz } from "../io/npz.js";
export type { LayerSpec, Init } from "../model/layers.js";
export type { ConvHparameters, PoolHparameters, PoolMode } from "../core/shapes.js";
export { shared } from "./endpoint.js";
export { BusyError, TimeoutError, init, dispose, release, threading, memory } from "./scheduler.js";
export type { AsyncInitOptions } from "./scheduler.js";
export { AsyncSequential, sequential, model } from "./model.js";
export type { BatchingOptions, AsyncPredictOptions } from "./model.js";
export { loadOnnx, AsyncOnnxModel } from "./onnx.js";
export type { AsyncLoadOnnxOptions } from "./onnx.js";

type Async<F> = F extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never;

function op<K extends OpName>(fn: K): Async<(typeof Sync)[K]> {
  return ((...args: unknown[]) =>
    send(fn, OPS[fn], args, (_w, id, o) => ({ type: "call", id, fn, args: o.args, buffers: o.buffers, pool: o.pool }), {
      work: (shapes) => workOf(fn, shapes),
    })) as Async<(typeof Sync)[K]>;
}

// <ops> (written by scripts/gen-ops.mjs from src/ops/'s definitions: npm run gen:ops)
export const zero_pad = op("zero_pad");
export const conv_single_step = op("conv_single_step");
export const conv_forward = op("conv_forward");
export const conv_backward = op("conv_backward");
export const pool_forward = op("pool_forward");
export const pool_backward = op("pool_backward");
export const create_mask_from_window = op("create_mask_from_window");
export const distribute_value = op("distribute_value");
export const relu = op("relu");
export const relu_backward = op("relu_backward");
export const flatten = op("flatten");
export const dense_forward = op("dense_forward");
export const dense_backward = op("dense_backward");
export const softmax = op("softmax");
export const softmax_cross_entropy = op("softmax_cross_entropy");
export const relu6 = op("relu6");
export const relu6_backward = op("relu6_backward");
export const clip = op("clip");
export const clip_backward = op("clip_backward");
export const leaky_relu = op("leaky_relu");
export const leaky_relu_backward = op("leaky_relu_backward");
export const sigmoid = op("sigmoid");
export const sigmoid_backward = op("sigmoid_backward");
export const hard_sigmoid = op("hard_sigmoid");
export const hard_sigmoid_backward = op("hard_sigmoid_backward");
export const hard_swish = op("hard_swish");
export const hard_swish_backward = op("hard_swish_backward");
export const swish = op("swish");
export const swish_backward = op("swish_backward");
export const batch_norm = op("batch_norm");
export const batch_norm_backward = op("batch_norm_backward");
export const add = op("add");
export const concat = op("concat");
export const concat_backward = op("concat_backward");
export const multiply = op("multiply");
export const multiply_backward = op("multiply_backward");
export const global_avg_pool = op("global_avg_pool");
export const global_avg_pool_backward = op("global_avg_pool_backward");
export const global_max_pool = op("global_max_pool");
export const global_max_pool_backward = op("global_max_pool_backward");
export const dropout = op("dropout");
export const dropout_backward = op("dropout_backward");
export {
  zero_pad as zeroPad,
  conv_single_step as convSingleStep,
  conv_forward as convForward,
  conv_backward as convBackward,
  pool_forward as poolForward,
  pool_backward as poolBackward,
  create_mask_from_window as createMaskFromWindow,
  distribute_value as distributeValue,
  relu_backward as reluBackward,
  dense_forward as denseForward,
  dense_backward as denseBackward,
  softmax_cross_entropy as softmaxCrossEntropy,
  relu6_backward as relu6Backward,
  clip_backward as clipBackward,
  leaky_relu as leakyRelu,
  leaky_relu_backward as leakyReluBackward,
  sigmoid_backward as sigmoidBackward,
  hard_sigmoid as hardSigmoid,
  hard_sigmoid_backward as hardSigmoidBackward,
  hard_swish as hardSwish,
  hard_swish_backward as hardSwishBackward,
  swish_backward as swishBackward,
  batch_norm as batchNorm,
  batch_norm_backward as batchNormBackward,
  concat_backward as concatBackward,
  multiply_backward as multiplyBackward,
  global_avg_pool as globalAvgPool,
  global_avg_pool_backward as globalAvgPoolBackward,
  global_max_pool as globalMaxPool,
  global_max_pool_backward as globalMaxPoolBackward,
  dropout_backward as dropoutBackward,
};
// </ops>
