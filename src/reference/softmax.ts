// Plain-TS softmax / softmax_cross_entropy: the oracle for the WASM kernels (assembly/softmax.ts).
import { NDArray } from "../core/ndarray.js";

export function softmax(Z: NDArray): NDArray {
  const k = Z.shape[Z.ndim - 1];
  const z = Z.toFloat64Array();
  const y = new Float64Array(z.length);
  for (let r = 0; r < z.length / k; r++) {
    const row = z.subarray(r * k, (r + 1) * k);
    const max = row.reduce((a, v) => (v > a || v !== v ? v : a));
    const e = row.map((v) => Math.exp(v - max));
    const s = e.reduce((a, v) => a + v, 0);
    y.set(
      e.map((v) => v / s),
      r * k,
    );
  }
  return new NDArray(y, Z.shape);
}

/** The batch mean of −Σ_j Y[i,j]·log softmax(Z)[i,j], and its gradient (softmax(Z)·ΣY − Y) / m. */
export function softmax_cross_entropy(Z: NDArray, Y: NDArray): [number, NDArray] {
  const [m, k] = Z.shape;
  const p = softmax(Z).toFloat64Array();
  const z = Z.toFloat64Array();
  const y = Y.toFloat64Array();
  let loss = 0;
  const dZ = new Float64Array(m * k);
  for (let i = 0; i < m; i++) {
    const row = z.subarray(i * k, (i + 1) * k);
    const max = row.reduce((a, v) => (v > a || v !== v ? v : a));
    const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
    let mass = 0;
    for (let j = 0; j < k; j++) {
      loss += y[i * k + j] * (lse - row[j]);
      mass += y[i * k + j];
    }
    for (let j = 0; j < k; j++) dZ[i * k + j] = (p[i * k + j] * mass - y[i * k + j]) / m;
  }
  return [loss / m, new NDArray(dZ, [m, k])];
}
