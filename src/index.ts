// convwasm: the eight functions of "Convolutional Neural Network: Step by Step", float64, in WebAssembly.
export { init, release, memory } from "./wasm/loader.js";
export { getThreads, setThreads, threading, dispose } from "./wasm/threads.js";
export type { InitOptions, WasmInput } from "./wasm/loader.js";
export { NDArray, array, zeros } from "./ndarray.js";
export type { Nested } from "./ndarray.js";
export { RandomState, random } from "./random.js";
export type { ConvHparameters, PoolHparameters, PoolMode } from "./shapes.js";
export type { ConvCache } from "./ops/conv.js";
export type { PoolCache } from "./ops/pool.js";

import { zero_pad } from "./ops/pad.js";
import { conv_single_step, conv_forward, conv_backward } from "./ops/conv.js";
import { pool_forward, pool_backward, create_mask_from_window, distribute_value } from "./ops/pool.js";

export { zero_pad, conv_single_step, conv_forward, conv_backward };
export { pool_forward, pool_backward, create_mask_from_window, distribute_value };

// the layers around conv and pool, for the whole ConvNet
import { relu, relu_backward } from "./ops/relu.js";
import { flatten, dense_forward, dense_backward } from "./ops/dense.js";
import { softmax, softmax_cross_entropy } from "./ops/softmax.js";

export { relu, relu_backward, flatten, dense_forward, dense_backward, softmax, softmax_cross_entropy };
export type { ReluCache } from "./ops/relu.js";
export type { DenseCache } from "./ops/dense.js";

// a model of those layers: built, trained, run inside WASM memory, saved as .npz
export { Sequential, sequential, layers, digitsLayers } from "./model/model.js";
export type { LayerSpec, Init, EpochLog, FitOptions, Labels, PredictOptions } from "./model/model.js";
export { sgd, adam } from "./model/optimizers.js";
export type { Optimizer } from "./model/optimizers.js";
// numpy's .npz, for weights and data (hostile files refused by name, before anything large is inflated)
export { readNpz, writeNpz } from "./model/npz.js";
export type { ReadNpzOptions } from "./model/npz.js";

// camelCase aliases for TypeScript codebases
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
};
