// Plain-TS conv_forward / conv_backward, the notebook's loops with its bugs fixed and every geometry of
// the library's (per-axis stride and window, per-side padding and "same", dilation, groups): the oracle
// for the WASM kernels and the naive baseline in benchmarks. The geometry comes from src/shapes.ts.
import { NDArray } from "../core/ndarray.js";
import { ConvHparameters, convArgs } from "../core/shapes.js";

export type ConvParams = ConvHparameters;

/**
 * The window's input element of output pixel (oh, ow), tap (kh, kw), channel ch of image i, or -1 in
 * the zero padding: A_prev[i, oh*sh + kh*dh - top, ow*sw + kw*dw - left, ch].
 */
function tapIndex(A: NDArray, p: ConvHparameters, W: NDArray, b: NDArray) {
  const { g } = convArgs("reference", A, W, b, p);
  const { h, w, c, sh, sw, dh, dw, top, left } = g;
  const at = (i: number, oh: number, ow: number, kh: number, kw: number, ch: number) => {
    const y = oh * sh + kh * dh - top;
    const x = ow * sw + kw * dw - left;
    return y < 0 || y >= h || x < 0 || x >= w ? -1 : ((i * h + y) * w + x) * c + ch;
  };
  return { g, at };
}

export function conv_forward(A_prev: NDArray, W: NDArray, b: NDArray, hparameters: ConvParams): NDArray {
  const { g, at } = tapIndex(A_prev, hparameters, W, b);
  const { m, c, k, fh, fw, nH, nW, groups } = g;
  const [cg, kg] = [c / groups, k / groups];
  const x = A_prev.toFloat64Array();
  const wt = W.toFloat64Array();
  const bias = b.toFloat64Array();
  const Z = new Float64Array(m * nH * nW * k);
  for (let i = 0; i < m; i++)
    for (let oh = 0; oh < nH; oh++)
      for (let ow = 0; ow < nW; ow++)
        for (let o = 0; o < k; o++) {
          const first = Math.floor(o / kg) * cg; // the group's first input channel
          let s = 0;
          for (let kh = 0; kh < fh; kh++)
            for (let kw = 0; kw < fw; kw++)
              for (let ci = 0; ci < cg; ci++) {
                const p = at(i, oh, ow, kh, kw, first + ci);
                // the padding is zeros, so 0 * Inf is NaN there, as in numpy
                s += (p < 0 ? 0 : x[p]) * wt[((kh * fw + kw) * cg + ci) * k + o];
              }
          Z[((i * nH + oh) * nW + ow) * k + o] = s + bias[o];
        }
  return new NDArray(Z, [m, nH, nW, k]);
}

export function conv_backward(
  dZ: NDArray,
  A_prev: NDArray,
  W: NDArray,
  hparameters: ConvParams,
): [NDArray, NDArray, NDArray] {
  const k = W.shape[3];
  const { g, at } = tapIndex(A_prev, hparameters, W, new NDArray(new Float64Array(k), [k]));
  const { m, h, w, c, fh, fw, nH, nW, groups } = g;
  const [cg, kg] = [c / groups, k / groups];
  const x = A_prev.toFloat64Array();
  const wt = W.toFloat64Array();
  const dz = dZ.toFloat64Array();
  const dx = new Float64Array(x.length);
  const dW = new Float64Array(wt.length);
  const db = new Float64Array(k);
  for (let i = 0; i < m; i++)
    for (let oh = 0; oh < nH; oh++)
      for (let ow = 0; ow < nW; ow++)
        for (let o = 0; o < k; o++) {
          const grad = dz[((i * nH + oh) * nW + ow) * k + o];
          const first = Math.floor(o / kg) * cg;
          for (let kh = 0; kh < fh; kh++)
            for (let kw = 0; kw < fw; kw++)
              for (let ci = 0; ci < cg; ci++) {
                const p = at(i, oh, ow, kh, kw, first + ci);
                const q = ((kh * fw + kw) * cg + ci) * k + o;
                // a tap in the padding still adds 0 * grad to dW (NaN when grad is ±Inf, as numpy's)
                if (p >= 0) dx[p] += wt[q] * grad;
                dW[q] += (p < 0 ? 0 : x[p]) * grad;
              }
          db[o] += grad;
        }
  return [new NDArray(dx, [m, h, w, c]), new NDArray(dW, W.shape), new NDArray(db, [1, 1, 1, k])];
}
