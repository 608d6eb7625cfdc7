// The WASM ABI: kernels on raw pointers, dimensions and element strides. Nothing here allocates.
export { zero_pad } from "./pad";
export {
  conv_pack_filters,
  conv_forward,
  conv_backward_filter,
  conv_backward_bias,
  conv_pack_filters_t,
  conv_backward_input,
} from "./conv";
export { pool_forward_max, pool_forward_average, pool_backward_max, pool_backward_average } from "./pool";

/** First byte past the module's static data: the TypeScript arena starts here. */
export function heap_base(): usize {
  return __heap_base;
}
