// Plain-TS pool_forward / pool_backward: the oracle for the WASM kernels and the naive baseline.
import { NDArray } from "../ndarray.js";

export interface PoolParams {
  f: number;
  stride: number;
}

export function pool_forward(A_prev: NDArray, { f, stride }: PoolParams, mode: "max" | "average"): NDArray {
  const [m, h, w, c] = A_prev.shape;
  const x = A_prev.toFloat64Array();
  const nH = Math.floor((h - f) / stride) + 1;
  const nW = Math.floor((w - f) / stride) + 1;
  const A = new Float64Array(m * nH * nW * c);
  for (let i = 0; i < m; i++)
    for (let oh = 0; oh < nH; oh++)
      for (let ow = 0; ow < nW; ow++)
        for (let ch = 0; ch < c; ch++) {
          let r = mode === "max" ? -Infinity : 0;
          for (let kh = 0; kh < f; kh++)
            for (let kw = 0; kw < f; kw++) {
              const v = x[((i * h + oh * stride + kh) * w + ow * stride + kw) * c + ch];
              // np.max: NaN propagates, and of equal values (±0) the last is kept
              r = mode === "max" ? (v >= r || v !== v ? v : r) : r + v;
            }
          A[((i * nH + oh) * nW + ow) * c + ch] = mode === "max" ? r : r / (f * f);
        }
  return new NDArray(A, [m, nH, nW, c]);
}

export function pool_backward(
  dA: NDArray,
  A_prev: NDArray,
  { f, stride }: PoolParams,
  mode: "max" | "average",
): NDArray {
  const [m, h, w, c] = A_prev.shape;
  const [, nH, nW] = dA.shape;
  const x = A_prev.toFloat64Array();
  const dy = dA.toFloat64Array();
  const dx = new Float64Array(x.length);
  const at = (i: number, y: number, xw: number, ch: number) => ((i * h + y) * w + xw) * c + ch;
  for (let i = 0; i < m; i++)
    for (let oh = 0; oh < nH; oh++)
      for (let ow = 0; ow < nW; ow++)
        for (let ch = 0; ch < c; ch++) {
          const g = dy[((i * nH + oh) * nW + ow) * c + ch];
          let max = x[at(i, oh * stride, ow * stride, ch)];
          for (let kh = 0; kh < f; kh++)
            for (let kw = 0; kw < f; kw++) {
              max = Math.max(max, x[at(i, oh * stride + kh, ow * stride + kw, ch)]);
            }
          for (let kh = 0; kh < f; kh++)
            for (let kw = 0; kw < f; kw++) {
              const p = at(i, oh * stride + kh, ow * stride + kw, ch);
              dx[p] += mode === "max" ? (x[p] === max ? 1 : 0) * g : g / (f * f);
            }
        }
  return new NDArray(dx, [m, h, w, c]);
}
