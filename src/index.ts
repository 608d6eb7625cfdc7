// convwasm: the eight functions of "Convolutional Neural Network: Step by Step", float64, in WebAssembly.
export { init, release, memory } from "./runtime/loader.js";
export { getThreads, setThreads, threading, dispose } from "./runtime/threads.js";
export type { InitOptions, WasmInput } from "./runtime/loader.js";
export { NDArray, array, zeros } from "./core/ndarray.js";
export type { Nested } from "./core/ndarray.js";
export { RandomState, random } from "./core/random.js";
export type { ConvHparameters, PoolHparameters, PoolMode } from "./core/shapes.js";
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

// the layers of ResNet, MobileNet, SqueezeNet and EfficientNet
import * as A from "./ops/activations.js";
import { batch_norm, batch_norm_backward } from "./ops/batchnorm.js";
import * as M from "./ops/merge.js";
import { dropout, dropout_backward } from "./ops/dropout.js";

export const { relu6, relu6_backward, clip, clip_backward, leaky_relu, leaky_relu_backward } = A;
export const { sigmoid, sigmoid_backward, hard_sigmoid, hard_sigmoid_backward } = A;
export const { hard_swish, hard_swish_backward, swish, swish_backward } = A;
export const { add, concat, concat_backward, multiply, multiply_backward } = M;
export const { global_avg_pool, global_avg_pool_backward, global_max_pool, global_max_pool_backward } = M;
export { batch_norm, batch_norm_backward, dropout, dropout_backward };
export type { ActivationCache } from "./ops/activations.js";
export type { BatchNormCache, BatchNormOptions } from "./ops/batchnorm.js";
export type { ConcatCache, MultiplyCache } from "./ops/merge.js";
export type { DropoutCache } from "./ops/dropout.js";

// models of those layers: sequential or functional graphs, trained, run inside WASM memory, saved as .npz
export { Model, Sequential, SymbolicTensor, input, model, sequential, layers, digitsLayers } from "./model/model.js";
export type { LayerSpec, LayerObject, Init, EpochLog, FitOptions, Labels, PredictOptions } from "./model/model.js";
export { sgd, adam } from "./model/optimizers.js";
export type { Optimizer, Schedule } from "./model/optimizers.js";
// numpy's .npz, for weights and data (hostile files refused by name, before anything large is inflated)
export { readNpz, writeNpz } from "./io/npz.js";
export type { ReadNpzOptions } from "./io/npz.js";

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
  concat_backward as concatBackward,
  multiply_backward as multiplyBackward,
  global_avg_pool as globalAvgPool,
  global_avg_pool_backward as globalAvgPoolBackward,
  global_max_pool as globalMaxPool,
  global_max_pool_backward as globalMaxPoolBackward,
  batch_norm as batchNorm,
  batch_norm_backward as batchNormBackward,
  dropout_backward as dropoutBackward,
};
