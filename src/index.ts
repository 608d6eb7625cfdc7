// convwasm: the eight functions of "Convolutional Neural Network: Step by Step", float64, in WebAssembly,
// the layers around them for whole networks, and models of those layers.
export { init, release, memory } from "./runtime/loader.js";
export { getThreads, setThreads, threading, dispose } from "./runtime/threads.js";
export type { InitOptions, WasmInput } from "./runtime/loader.js";
export { NDArray, array, zeros } from "./core/ndarray.js";
export type { Nested } from "./core/ndarray.js";
export { RandomState, random } from "./core/random.js";
export type { ConvHparameters, PoolHparameters, PoolMode } from "./core/shapes.js";

// every op and its camelCase alias, from the registry (src/ops/'s definitions)
// <ops> (written by scripts/gen-ops.mjs from src/ops/'s definitions: npm run gen:ops)
export { zero_pad, zero_pad as zeroPad } from "./ops/pad.js";
export {
  conv_single_step,
  conv_single_step as convSingleStep,
  conv_forward,
  conv_forward as convForward,
  conv_backward,
  conv_backward as convBackward,
} from "./ops/conv.js";
export {
  pool_forward,
  pool_forward as poolForward,
  pool_backward,
  pool_backward as poolBackward,
  create_mask_from_window,
  create_mask_from_window as createMaskFromWindow,
  distribute_value,
  distribute_value as distributeValue,
} from "./ops/pool.js";
export { relu, relu_backward, relu_backward as reluBackward } from "./ops/relu.js";
export {
  flatten,
  dense_forward,
  dense_forward as denseForward,
  dense_backward,
  dense_backward as denseBackward,
} from "./ops/dense.js";
export { softmax, softmax_cross_entropy, softmax_cross_entropy as softmaxCrossEntropy } from "./ops/softmax.js";
export {
  relu6,
  relu6_backward,
  relu6_backward as relu6Backward,
  clip,
  clip_backward,
  clip_backward as clipBackward,
  leaky_relu,
  leaky_relu as leakyRelu,
  leaky_relu_backward,
  leaky_relu_backward as leakyReluBackward,
  sigmoid,
  sigmoid_backward,
  sigmoid_backward as sigmoidBackward,
  hard_sigmoid,
  hard_sigmoid as hardSigmoid,
  hard_sigmoid_backward,
  hard_sigmoid_backward as hardSigmoidBackward,
  hard_swish,
  hard_swish as hardSwish,
  hard_swish_backward,
  hard_swish_backward as hardSwishBackward,
  swish,
  swish_backward,
  swish_backward as swishBackward,
} from "./ops/activations.js";
export {
  batch_norm,
  batch_norm as batchNorm,
  batch_norm_backward,
  batch_norm_backward as batchNormBackward,
} from "./ops/batchnorm.js";
export {
  add,
  concat,
  concat_backward,
  concat_backward as concatBackward,
  multiply,
  multiply_backward,
  multiply_backward as multiplyBackward,
  global_avg_pool,
  global_avg_pool as globalAvgPool,
  global_avg_pool_backward,
  global_avg_pool_backward as globalAvgPoolBackward,
  global_max_pool,
  global_max_pool as globalMaxPool,
  global_max_pool_backward,
  global_max_pool_backward as globalMaxPoolBackward,
} from "./ops/merge.js";
export { dropout, dropout_backward, dropout_backward as dropoutBackward } from "./ops/dropout.js";
// </ops>
export type { ConvCache } from "./ops/conv.js";
export type { PoolCache } from "./ops/pool.js";
export type { ReluCache } from "./ops/relu.js";
export type { DenseCache } from "./ops/dense.js";
export type { ActivationCache } from "./ops/activations.js";
export type { BatchNormCache, BatchNormOptions } from "./ops/batchnorm.js";
export type { ConcatCache, MultiplyCache } from "./ops/merge.js";
export type { DropoutCache } from "./ops/dropout.js";

// models of those layers: sequential or functional graphs, trained, run inside WASM memory, saved as .npz
export { Model, Sequential, SymbolicTensor, input, model, sequential, layers, digitsLayers } from "./model/model.js";
export type {
  LayerSpec,
  LayerObject,
  Init,
  EpochLog,
  FitOptions,
  Labels,
  PredictOptions,
  CompileOptions,
} from "./model/model.js";
export type { Precision } from "./kernels/kernels.js";
export { sgd, adam } from "./model/optimizers.js";
export type { Optimizer, Schedule } from "./model/optimizers.js";
// numpy's .npz, for weights and data (hostile files refused by name, before anything large is inflated)
export { readNpz, writeNpz } from "./io/npz.js";
export type { ReadNpzOptions } from "./io/npz.js";
