// The WASM ABI: kernels on raw pointers, dimensions and element strides. Nothing here allocates.
// src/kernels/kernels.ts lists every export with its arguments; a test checks the two agree.
export { zero_pad } from "./pad";
export {
  conv_pack_filters,
  conv_forward,
  conv_backward_filter,
  conv_backward_bias,
  conv_pack_filters_t,
  conv_backward_input,
  conv_forward_depthwise,
  conv_backward_input_depthwise,
  conv_backward_filter_depthwise,
} from "./conv";
export {
  pool_forward_max,
  pool_forward_average,
  pool_backward_max,
  pool_backward_average,
  transpose_planes,
} from "./pool";
export { winograd_filter, winograd_input, winograd_output, winograd_dz } from "./winograd";
export { winograd4_input, winograd4_output } from "./winograd4";
export { relu_forward, relu_backward } from "./relu";
export { softmax_forward, softmax_cross_entropy } from "./softmax";
export {
  act_forward,
  act_backward,
  add_forward,
  mul_forward,
  channel_moments,
  channel_dots,
  channel_affine,
  channel_affine2,
  channel_fill,
  channel_max,
  copy_channels,
} from "./elementwise";

/** First byte past the module's static data: the TypeScript arena starts here. */
export function heap_base(): usize {
  return __heap_base;
}

/** Bumped whenever a kernel's arguments change (src/kernels/kernels.ts ABI_VERSION must match). */
export function abi_version(): i32 {
  return 13;
}
