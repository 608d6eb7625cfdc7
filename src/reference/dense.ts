// Plain-TS dense_forward / dense_backward: the oracle for the ops built on the conv kernels.
import { NDArray } from "../core/ndarray.js";

export function dense_forward(X: NDArray, W: NDArray, b: NDArray): NDArray {
  const [m, n] = X.shape;
  const k = W.shape[1];
  const [x, w, bias] = [X.toFloat64Array(), W.toFloat64Array(), b.toFloat64Array()];
  const Z = new Float64Array(m * k);
  for (let i = 0; i < m; i++)
    for (let o = 0; o < k; o++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += x[i * n + j] * w[j * k + o];
      Z[i * k + o] = s + bias[o];
    }
  return new NDArray(Z, [m, k]);
}

export function dense_backward(dZ: NDArray, X: NDArray, W: NDArray): [NDArray, NDArray, NDArray] {
  const [m, n] = X.shape;
  const k = W.shape[1];
  const [g, x, w] = [dZ.toFloat64Array(), X.toFloat64Array(), W.toFloat64Array()];
  const dX = new Float64Array(m * n);
  const dW = new Float64Array(n * k);
  const db = new Float64Array(k);
  for (let i = 0; i < m; i++)
    for (let o = 0; o < k; o++) {
      const d = g[i * k + o];
      for (let j = 0; j < n; j++) {
        dX[i * n + j] += w[j * k + o] * d;
        dW[j * k + o] += x[i * n + j] * d;
      }
      db[o] += d;
    }
  return [new NDArray(dX, [m, n]), new NDArray(dW, [n, k]), new NDArray(db, [k])];
}
