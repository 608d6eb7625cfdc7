// softmax and softmax cross-entropy over the last axis of [rows, k] float64 memory.
import { at } from "./mem";

/** The largest of z[0..k] (NaN if any is NaN), which softmax subtracts so that exp never overflows. */
function rowMax(z: usize, k: i32): f64 {
  let m = load<f64>(z);
  for (let j = 1; j < k; j++) {
    const v = load<f64>(at(z, j));
    m = v > m || v != v ? v : m;
  }
  return m;
}

/** y[r,:] = exp(z[r,:] − max) / sum for rows r0..r1 (max-subtracted, so large logits never overflow). */
export function softmax_forward(z: usize, k: i32, y: usize, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const zr = at(z, r * k);
    const yr = at(y, r * k);
    const m = rowMax(zr, k);
    let s: f64 = 0;
    for (let j = 0; j < k; j++) {
      const e = Math.exp(load<f64>(at(zr, j)) - m);
      store<f64>(at(yr, j), e);
      s += e;
    }
    for (let j = 0; j < k; j++) store<f64>(at(yr, j), load<f64>(at(yr, j)) / s);
  }
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
    const m = rowMax(zr, k);
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
