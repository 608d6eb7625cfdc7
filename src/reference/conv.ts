// Plain-TS conv_forward / conv_backward, the notebook's loops with its bugs fixed: the oracle for the
// WASM kernels and the naive baseline in benchmarks.
import { NDArray } from "../ndarray.js";
import { zero_pad } from "./pad.js";

export interface ConvParams {
  stride: number;
  pad: number;
}

export function conv_forward(A_prev: NDArray, W: NDArray, b: NDArray, { stride, pad }: ConvParams): NDArray {
  const [m, , , c] = A_prev.shape;
  const [f, , , k] = W.shape;
  const Ap = zero_pad(A_prev, pad);
  const [, hp, wp] = Ap.shape;
  const x = Ap.data;
  const wt = W.toFloat64Array();
  const bias = b.toFloat64Array();
  const nH = Math.floor((hp - f) / stride) + 1;
  const nW = Math.floor((wp - f) / stride) + 1;
  const Z = new Float64Array(m * nH * nW * k);
  for (let i = 0; i < m; i++)
    for (let h = 0; h < nH; h++)
      for (let w = 0; w < nW; w++)
        for (let kk = 0; kk < k; kk++) {
          let s = 0;
          for (let kh = 0; kh < f; kh++)
            for (let kw = 0; kw < f; kw++)
              for (let ch = 0; ch < c; ch++)
                s +=
                  x[((i * hp + h * stride + kh) * wp + w * stride + kw) * c + ch] *
                  wt[((kh * f + kw) * c + ch) * k + kk];
          Z[((i * nH + h) * nW + w) * k + kk] = s + bias[kk];
        }
  return new NDArray(Z, [m, nH, nW, k]);
}

export function conv_backward(
  dZ: NDArray,
  A_prev: NDArray,
  W: NDArray,
  { stride, pad }: ConvParams,
): [NDArray, NDArray, NDArray] {
  const [m, h, width, c] = A_prev.shape;
  const [f, , , k] = W.shape;
  const [, nH, nW] = dZ.shape;
  const Ap = zero_pad(A_prev, pad);
  const [, hp, wp] = Ap.shape;
  const x = Ap.data;
  const wt = W.toFloat64Array();
  const dz = dZ.toFloat64Array();
  const dxp = new Float64Array(x.length);
  const dW = new Float64Array(wt.length);
  const db = new Float64Array(k);
  for (let i = 0; i < m; i++)
    for (let oh = 0; oh < nH; oh++)
      for (let ow = 0; ow < nW; ow++)
        for (let kk = 0; kk < k; kk++) {
          const g = dz[((i * nH + oh) * nW + ow) * k + kk];
          for (let kh = 0; kh < f; kh++)
            for (let kw = 0; kw < f; kw++)
              for (let ch = 0; ch < c; ch++) {
                const p = ((i * hp + oh * stride + kh) * wp + ow * stride + kw) * c + ch;
                const q = ((kh * f + kw) * c + ch) * k + kk;
                dxp[p] += wt[q] * g;
                dW[q] += x[p] * g;
              }
          db[kk] += g;
        }
  const padded = new NDArray(dxp, [m, hp, wp, c]);
  const dA = new NDArray(padded.data, [m, h, width, c], padded.strides, pad * padded.strides[1] + pad * c);
  return [new NDArray(dA.toFloat64Array(), [m, h, width, c]), new NDArray(dW, W.shape), new NDArray(db, [1, 1, 1, k])];
}
