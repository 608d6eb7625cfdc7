// softmax and softmax cross-entropy over the last axis of [rows, k] float64 memory.
import { at, atT } from "./mem";

/** The largest of z[0..k] (NaN if any is NaN), which softmax subtracts so that exp never overflows. */
function rowMaxT<T>(z: usize, k: i32): f64 {
  let m = <f64>load<T>(z);
  for (let j = 1; j < k; j++) {
    const v = <f64>load<T>(atT<T>(z, j));
    m = v > m || v != v ? v : m;
  }
  return m;
}

/** y[r,:] = exp(z[r,:] − max) / sum for rows r0..r1 (max-subtracted, so large logits never overflow). */
function softmaxForward<T>(z: usize, k: i32, y: usize, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const zr = atT<T>(z, r * k);
    const yr = atT<T>(y, r * k);
    const m = rowMaxT<T>(zr, k);
    let s: f64 = 0;
    for (let j = 0; j < k; j++) {
      const e = Math.exp(<f64>load<T>(atT<T>(zr, j)) - m);
      store<T>(atT<T>(yr, j), <T>e);
      s += e;
    }
    for (let j = 0; j < k; j++) store<T>(atT<T>(yr, j), <T>(<f64>load<T>(atT<T>(yr, j)) / s));
  }
}

export function softmax_forward(z: usize, k: i32, y: usize, r0: i32, r1: i32): void {
  softmaxForward<f64>(z, k, y, r0, r1);
}

export function softmax_forward_f32(z: usize, k: i32, y: usize, r0: i32, r1: i32): void {
  softmaxForward<f32>(z, k, y, r0, r1);
}

/**
 * For rows r0..r1 of logits z [rows,k] and targets t [rows,k] (one-hot, or any distribution):
 * loss[r] = logsumexp(z[r,:]) − Σ_j t[r,j]·z[r,j] (the cross-entropy of softmax(z[r]) against t[r] when
 * t[r] sums to 1), and dz[r,:] = (softmax(z[r,:]) · Σ_j t[r,j] − t[r,:]) · scale (scale 1 / batch size).
 */
export function softmax_cross_entropy(
  z: usize,
  t: usize,
  k: i32,
  scale: f64,
  loss: usize,
  dz: usize,
  r0: i32,
  r1: i32,
): void {
  for (let r = r0; r < r1; r++) {
    const zr = at(z, r * k);
    const tr = at(t, r * k);
    const dr = at(dz, r * k);
    const m = rowMaxT<f64>(zr, k);
    let s: f64 = 0;
    let dot: f64 = 0;
    let mass: f64 = 0;
    for (let j = 0; j < k; j++) {
      const v = load<f64>(at(zr, j));
      const e = Math.exp(v - m);
      store<f64>(at(dr, j), e);
      s += e;
      const tj = load<f64>(at(tr, j));
      dot += tj * v;
      mass += tj;
    }
    store<f64>(at(loss, r), m + Math.log(s) - dot);
    for (let j = 0; j < k; j++) {
      store<f64>(at(dr, j), ((load<f64>(at(dr, j)) / s) * mass - load<f64>(at(tr, j))) * scale);
    }
  }
}
