// Plain-TS pool_forward / pool_backward with every geometry of the library's (per-axis window and
// stride, padding, ceil_mode, count_include_pad): the oracle for the WASM kernels and the naive baseline.
// The geometry comes from src/shapes.ts.
import { NDArray } from "../core/ndarray.js";
import { PoolHparameters, poolArgs } from "../core/shapes.js";

export type PoolParams = PoolHparameters;

/** The input rows (or columns) of output row o's window, and the average's divisor factor along the axis. */
function span(o: number, s: number, f: number, lead: number, trail: number, n: number, countPad: boolean) {
  const start = o * s - lead;
  const [lo, hi] = [Math.max(start, 0), Math.min(start + f, n)];
  return { lo, hi, div: countPad ? Math.min(start + f, n + trail) - start : hi - lo };
}

function geometry(A_prev: NDArray, p: PoolParams) {
  const { g } = poolArgs("reference", A_prev, p);
  const { h, w, fh, fw, sh, sw, top, bottom, left, right, countPad } = g;
  return {
    g,
    rows: (oh: number) => span(oh, sh, fh, top, bottom, h, countPad),
    cols: (ow: number) => span(ow, sw, fw, left, right, w, countPad),
  };
}

export function pool_forward(A_prev: NDArray, hparameters: PoolParams, mode: "max" | "average"): NDArray {
  const { g, rows, cols } = geometry(A_prev, hparameters);
  const { m, h, w, c, nH, nW } = g;
  const x = A_prev.toFloat64Array();
  const A = new Float64Array(m * nH * nW * c);
  for (let i = 0; i < m; i++)
    for (let oh = 0; oh < nH; oh++)
      for (let ow = 0; ow < nW; ow++)
        for (let ch = 0; ch < c; ch++) {
          const [R, C] = [rows(oh), cols(ow)];
          let r = mode === "max" ? -Infinity : 0;
          for (let y = R.lo; y < R.hi; y++)
            for (let xw = C.lo; xw < C.hi; xw++) {
              const v = x[((i * h + y) * w + xw) * c + ch];
              // np.max: NaN propagates, and of equal values (±0) the last is kept
              r = mode === "max" ? (v >= r || v !== v ? v : r) : r + v;
            }
          A[((i * nH + oh) * nW + ow) * c + ch] = mode === "max" ? r : r / (R.div * C.div);
        }
  return new NDArray(A, [m, nH, nW, c]);
}

export function pool_backward(dA: NDArray, A_prev: NDArray, hparameters: PoolParams, mode: "max" | "average"): NDArray {
  const { g, rows, cols } = geometry(A_prev, hparameters);
  const { m, h, w, c, nH, nW } = g;
  const x = A_prev.toFloat64Array();
  const dy = dA.toFloat64Array();
  const dx = new Float64Array(x.length);
  const at = (i: number, y: number, xw: number, ch: number) => ((i * h + y) * w + xw) * c + ch;
  for (let i = 0; i < m; i++)
    for (let oh = 0; oh < nH; oh++)
      for (let ow = 0; ow < nW; ow++)
        for (let ch = 0; ch < c; ch++) {
          const grad = dy[((i * nH + oh) * nW + ow) * c + ch];
          const [R, C] = [rows(oh), cols(ow)];
          let max = -Infinity;
          for (let y = R.lo; y < R.hi; y++)
            for (let xw = C.lo; xw < C.hi; xw++) {
              const v = x[at(i, y, xw, ch)];
              max = v >= max || v !== v ? v : max;
            }
          for (let y = R.lo; y < R.hi; y++)
            for (let xw = C.lo; xw < C.hi; xw++) {
              const p = at(i, y, xw, ch);
              dx[p] += mode === "max" ? (x[p] === max ? 1 : 0) * grad : grad / (R.div * C.div);
            }
        }
  return new NDArray(dx, [m, h, w, c]);
}
