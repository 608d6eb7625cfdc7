// The WASM ABI: kernels on raw pointers, dimensions and element strides. Nothing here allocates. A
// kernel named *_f32 is its f64 namesake's source run on float32 data (inference plans in float32).
// src/kernels/kernels.ts lists every export with its arguments; a test checks the two agree.
export { zero_pad, zero_pad_f32 } from "./pad";
export {
  conv_pack_filters,
  conv_forward,
  conv_forward_f32,
  conv_backward_filter,
  conv_backward_bias,
  conv_pack_filters_t,
  conv_backward_input,
  conv_forward_depthwise,
  conv_forward_depthwise_f32,
  conv_backward_input_depthwise,
  conv_backward_filter_depthwise,
} from "./conv";
export {
  pool_forward_max,
  pool_forward_max_f32,
  pool_forward_average,
  pool_forward_average_f32,
  pool_backward_max,
  pool_backward_average,
  transpose_planes,
  transpose_planes_f32,
} from "./pool";
export {
  winograd_filter,
  winograd_input,
  winograd_input_f32,
  winograd_output,
  winograd_output_f32,
  winograd_dz,
} from "./winograd";
export { winograd4_output } from "./winograd4";
export { winograd4_input, winograd25_conv, winograd25_conv_f32 } from "./winograd25";
export { relu_forward, relu_forward_f32, relu_backward } from "./relu";
export { softmax_forward, softmax_forward_f32, softmax_cross_entropy } from "./softmax";
export {
  act_forward,
  act_forward_f32,
  act_backward,
  add_forward,
  add_forward_f32,
  mul_forward,
  channel_moments,
  channel_moments_f32,
  channel_dots,
  channel_affine,
  channel_affine_f32,
  channel_affine2,
  channel_fill,
  channel_max,
  channel_max_f32,
  copy_channels,
  copy_channels_f32,
} from "./elementwise";

/** First byte past the module's static data: the TypeScript arena starts here. */
export function heap_base(): usize {
  return __heap_base;
}

/** Bumped whenever a kernel's arguments change (src/kernels/kernels.ts ABI_VERSION must match). */
export function abi_version(): i32 {
  return 16;
}
