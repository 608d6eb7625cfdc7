// relu / relu_backward on flat float64 memory, two elements per f64x2.
import { at } from "./mem";

const ZERO2 = f64x2.splat(0);

/**
 * y[i] = max(0, x[i]) for elements i0..i1 (np.maximum(0, Z): NaN stays NaN, −0 gives +0). i0 and i1
 * even except at the end of the array.
 */
export function relu_forward(x: usize, y: usize, i0: i32, i1: i32): void {
  let i = i0;
  for (; i + 2 <= i1; i += 2) v128.store(at(y, i), f64x2.max(v128.load(at(x, i)), ZERO2));
  if (i < i1) store<f64>(at(y, i), max<f64>(load<f64>(at(x, i)), 0));
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
