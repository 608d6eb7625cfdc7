// The plain-TS kernels (convwasm/reference): readable twins of the WASM ones, for study and as a baseline.
export { zero_pad } from "./pad.js";
export { conv_forward, conv_backward, type ConvParams } from "./conv.js";
export { pool_forward, pool_backward, type PoolParams } from "./pool.js";
export { relu, relu_backward } from "./relu.js";
export { dense_forward, dense_backward } from "./dense.js";
export { softmax, softmax_cross_entropy } from "./softmax.js";
export {
  activation,
  activation_backward,
  batch_norm,
  batch_norm_backward,
  multiply,
  multiply_backward,
  global_pool,
} from "./layers.js";
