// relu / relu_backward on flat float64 memory, two elements per f64x2.
import { at, atT, lanes, vmax, vsplat } from "./mem";

const ZERO2 = f64x2.splat(0);

/**
 * y[i] = max(0, x[i]) for elements i0..i1 (np.maximum(0, Z): NaN stays NaN, −0 gives +0).
 */
function reluForward<T>(x: usize, y: usize, i0: i32, i1: i32): void {
  let i = i0;
  for (; i + lanes<T>() <= i1; i += lanes<T>())
    v128.store(atT<T>(y, i), vmax<T>(v128.load(atT<T>(x, i)), vsplat<T>(0)));
  // (the tail: up to lanes − 1 elements, 3 in f32)
  for (; i < i1; i++) store<T>(atT<T>(y, i), max<T>(load<T>(atT<T>(x, i)), 0));
}

export function relu_forward(x: usize, y: usize, i0: i32, i1: i32): void {
  reluForward<f64>(x, y, i0, i1);
}

export function relu_forward_f32(x: usize, y: usize, i0: i32, i1: i32): void {
  reluForward<f32>(x, y, i0, i1);
}

/**
 * dz[i] = z[i] > 0 ? da[i] : 0 for elements i0..i1: the gradient is 0 where Z ≤ 0 or NaN (PyTorch's and
 * TensorFlow's rule), even when dA there is NaN or ±Inf.
 */
export function relu_backward(da: usize, z: usize, dz: usize, i0: i32, i1: i32): void {
  let i = i0;
  for (; i + 2 <= i1; i += 2) {
    const keep = f64x2.gt(v128.load(at(z, i)), ZERO2);
    v128.store(at(dz, i), v128.and(v128.load(at(da, i)), keep));
  }
  if (i < i1) store<f64>(at(dz, i), load<f64>(at(z, i)) > 0 ? load<f64>(at(da, i)) : 0);
}
