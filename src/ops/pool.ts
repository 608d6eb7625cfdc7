// pool_forward, pool_backward, create_mask_from_window, distribute_value:
// validate -> copy in -> assembly/pool.ts -> copy out.
import { NDArray, Result, allocate, describe, fmtShape, snapshot, F64_BYTES } from "../core/ndarray.js";
import {
  PoolGeometry,
  PoolHparameters,
  PoolMode,
  cacheItems,
  checkGradient,
  checkInteger,
  checkMode,
  poolArgs,
} from "../core/shapes.js";
import type { Arena } from "../runtime/arena.js";
import { type Kernels, runKernel } from "../kernels/kernels.js";
import { run } from "../runtime/schedule.js";
import { defineOps } from "./registry.js";

/** pool_forward's cache: [A_prev, hparameters], as in the notebook. */
export type PoolCache = [A_prev: NDArray, hparameters: PoolHparameters];

/**
 * Pooling streams each image through the arena in bands of rows sized to stay in L2: the band is
 * copied in, pooled, and its result copied straight into the output array. Pooling does little
 * arithmetic per element, so this (instead of placing whole inputs) is what sets its speed.
 *
 * It runs on the calling thread whatever the thread count: only that thread can read the caller's
 * arrays, V8 copies into shared memory 2-4× slower than into plain memory, and those copies are most
 * of the work; handing bands to other threads (a pipeline: this thread copying, the others pooling)
 * measured 0.6-1.1× the one-thread speed on 2 cores.
 */
const BAND_BYTES = 256 * 1024;

interface Band {
  /** image */
  i: number;
  /** output rows oh0..oh1 (exclusive) */
  oh0: number;
  oh1: number;
  /** rows r0..r0+rows of the padded input that they read */
  r0: number;
  rows: number;
}

/** Output rows per band, how many bands there are, and band j (of every image's, in order; made one at a time: m may be huge). */
function bands({ m, wp, c, fh, sh, nH }: PoolGeometry): { rowsOut: number; count: number; band: (j: number) => Band } {
  const rowsOut = Math.max(1, Math.min(nH, Math.floor((BAND_BYTES / (wp * c * F64_BYTES) - fh) / sh) + 1));
  const perImage = Math.ceil(nH / rowsOut);
  const band = (j: number): Band => {
    const i = Math.floor(j / perImage);
    const oh0 = (j - i * perImage) * rowsOut;
    const oh1 = Math.min(nH, oh0 + rowsOut);
    return { i, oh0, oh1, r0: oh0 * sh, rows: (oh1 - 1 - oh0) * sh + fh };
  };
  return { rowsOut, count: m * perImage, band };
}

/** The view numpy writes a[i, r0:r0+rows]: rows of one image of an NHWC array. */
function rowsOf(a: NDArray, i: number, r0: number, rows: number): NDArray {
  const [s0, s1, s2, s3] = a.strides;
  return new NDArray(a.data, [rows, a.shape[2], a.shape[3]], [s1, s2, s3], a.offset + i * s0 + r0 * s1);
}

/** True when windows never leave the input: no padding, and no ceil_mode window past the edge. */
const unpadded = ({ h, w, hp, wp }: PoolGeometry) => hp === h && wp === w;

/**
 * True for an NCHW buffer seen as NHWC (each channel's rows contiguous): its bands are copied a channel
 * plane at a time and turned into NHWC order in WASM (transpose_planes), instead of gathering every
 * element in JavaScript (3-4× slower than a contiguous input).
 */
const planar = (A: NDArray, g: PoolGeometry) => unpadded(g) && A.strides[2] === 1 && A.strides[1] === g.w && g.c > 1;

/**
 * Writes rows r0..r0+rows of image i of the padded input at ptr: A's rows with `fill` around them (−∞
 * for max, so padding never wins; 0 for average).
 */
function placeBand(
  kernels: Kernels,
  arena: Arena,
  ptr: number,
  A: NDArray,
  g: PoolGeometry,
  i: number,
  r0: number,
  rows: number,
  fill: number,
) {
  if (planar(A, g)) {
    // the planes go to scratch just past the band (allocated twice its size), then into it as NHWC
    const n = rows * g.w;
    const planes = ptr + n * g.c * F64_BYTES;
    const v = arena.f64(planes, n * g.c);
    const [s0, s1, , s3] = A.strides;
    for (let ch = 0; ch < g.c; ch++) {
      const from = A.offset + i * s0 + r0 * s1 + ch * s3;
      v.set(A.data.subarray(from, from + n), ch * n);
    }
    runKernel(kernels, "transpose_planes", { src: planes, c: g.c, n, dst: ptr });
    return;
  }
  if (unpadded(g)) return arena.write(ptr, rowsOf(A, i, r0, rows));
  const { h, w, c, top, left, wp } = g;
  const row = wp * c;
  const v = arena.f64(ptr, rows * row);
  for (let q = 0; q < rows; q++) {
    const r = r0 + q - top;
    const at = q * row;
    if (r < 0 || r >= h) {
      v.fill(fill, at, at + row);
      continue;
    }
    v.fill(fill, at, at + left * c);
    v.fill(fill, at + (left + w) * c, at + row);
    arena.write(ptr + (at + left * c) * F64_BYTES, rowsOf(A, i, r, 1));
  }
}

/**
 * The average's divisors, per output row and per column: the window's rows (columns) that lie in the
 * input, or with count_include_pad in the padded input (PyTorch's rule; a ceil_mode window's part past
 * the padding never counts). Their products divide the windows' sums.
 */
export function divisors(
  fn: string,
  arena: Arena,
  { h, w, fh, fw, sh, sw, top, bottom, left, right, countPad, nH, nW }: PoolGeometry,
) {
  const axis = (n: number, f: number, s: number, lead: number, trail: number, out: number) =>
    Float64Array.from({ length: out }, (_, o) => {
      const start = o * s - lead;
      return countPad ? Math.min(start + f, n + trail) - start : Math.min(start + f, n) - Math.max(start, 0);
    });
  const divH = arena.alloc(fn, "divisors", (nH + nW) * F64_BYTES);
  arena.f64(divH, nH).set(axis(h, fh, sh, top, bottom, nH));
  arena.f64(divH + nH * F64_BYTES, nW).set(axis(w, fw, sw, left, right, nW));
  return { divH, divW: divH + nH * F64_BYTES };
}

/**
 * pool_forward(A_prev [m,n_H_prev,n_W_prev,n_C], {f, stride, pad?, ceil_mode?, count_include_pad?},
 * mode = "max" | "average") -> [A [m,n_H,n_W,n_C], cache], n_H = floor((n_H_prev + top + bottom - f_H) /
 * stride) + 1 (ceil with ceil_mode), the same for W.
 */
export function pool_forward(
  A_prev: NDArray,
  hparameters: PoolHparameters,
  mode: PoolMode = "max",
  options: { out?: NDArray } = {},
): [NDArray, PoolCache] {
  const fn = "pool_forward";
  const { A_prev: A, g } = poolArgs(fn, A_prev, hparameters);
  const { m, wp, c, fh, fw, sh, sw, nH, nW } = g;
  const max = checkMode(fn, mode) === "max";
  const res = new Result(fn, "A", [m, nH, nW, c], options.out, [A]);
  const out = res.data;
  run(fn, false, ({ kernels, arena }) => {
    const { rowsOut, count, band } = bands(g);
    const x = arena.alloc(fn, "A_prev band", ((rowsOut - 1) * sh + fh) * wp * c * F64_BYTES * (planar(A, g) ? 2 : 1));
    const y = arena.alloc(fn, "A band", rowsOut * nW * c * F64_BYTES);
    const { divH, divW } = max ? { divH: 0, divW: 0 } : divisors(fn, arena, g);
    for (let j = 0; j < count; j++) {
      const { i, oh0, oh1, r0, rows } = band(j);
      placeBand(kernels, arena, x, A, g, i, r0, rows, max ? -Infinity : 0);
      // (one set of arguments for both kernels: the max kernel reads no divisors)
      const [sx0, sx1, nH1, at] = [rows * wp * c, wp * c, oh1 - oh0, divH + oh0 * F64_BYTES];
      const args = { x, sx0, sx1, sx2: c, sx3: 1, c, fh, fw, sh, sw, y, nH: nH1, nW, i0: 0, i1: 1, divH: at, divW };
      runKernel(kernels, max ? "pool_forward_max" : "pool_forward_average", args);
      out.set(arena.f64(y, (oh1 - oh0) * nW * c), (i * nH + oh0) * nW * c);
    }
  });
  return [res.array([m, nH, nW, c]), [A_prev, hparameters]];
}

/**
 * pool_backward(dA [m,n_H,n_W,n_C], cache, mode = "max" | "average") -> dA_prev [m,n_H_prev,n_W_prev,n_C].
 * max: every tied maximum of a window receives its gradient; average: spread evenly over the window
 * (distribute_value), with the divisor of the forward pass.
 */
export function pool_backward(
  dA: NDArray,
  cache: PoolCache,
  mode: PoolMode = "max",
  options: { out?: NDArray } = {},
): NDArray {
  const fn = "pool_backward";
  const [A_prev, hparameters] = cacheItems(fn, cache, 2, "pool_forward");
  const { A_prev: A, g } = poolArgs(fn, A_prev, hparameters);
  const { m, h, w, c, fh, fw, sh, sw, top, left, wp, nH, nW } = g;
  const dA4 = checkGradient(fn, "dA", dA, [m, nH, nW, c], "shape of pool_forward's A");
  const max = checkMode(fn, mode) === "max";
  const row = wp * c;
  const res = new Result(fn, "dA_prev", A.shape, options.out, [A, dA4]);
  const out = res.data;
  run(fn, false, ({ kernels, arena }) => {
    const { rowsOut, count, band } = bands(g);
    const bandRows = (rowsOut - 1) * sh + fh;
    const x = max ? arena.alloc(fn, "A_prev band", bandRows * row * F64_BYTES * (planar(A, g) ? 2 : 1)) : 0;
    const dy = arena.alloc(fn, "dA band", rowsOut * nW * c * F64_BYTES);
    const dx = arena.alloc(fn, "dA_prev band", bandRows * row * F64_BYTES);
    const { divH, divW } = max ? { divH: 0, divW: 0 } : divisors(fn, arena, g);
    // when windows overlap (f > stride) a band's last rows also belong to the next band: they are
    // carried to the start of the next band's buffer instead of being written out
    let carried = 0;
    for (let j = 0; j < count; j++) {
      const { i, oh0, oh1, r0, rows } = band(j);
      if (oh0 === 0) carried = 0;
      arena.f64(dx + carried * row * F64_BYTES, (rows - carried) * row).fill(0);
      arena.write(dy, rowsOf(dA4, i, oh0, oh1 - oh0));
      if (max) {
        placeBand(kernels, arena, x, A, g, i, r0, rows, -Infinity);
        runKernel(kernels, "pool_backward_max", {
          x,
          sx0: rows * row,
          sx1: row,
          sx2: c,
          sx3: 1,
          h: rows,
          w: wp,
          c,
          fh,
          fw,
          sh,
          sw,
          dy,
          nH: oh1 - oh0,
          nW,
          dx,
          i0: 0,
          i1: 1,
        });
      } else {
        runKernel(kernels, "pool_backward_average", {
          h: rows,
          w: wp,
          c,
          fh,
          fw,
          sh,
          sw,
          dy,
          nH: oh1 - oh0,
          nW,
          dx,
          i0: 0,
          i1: 1,
          divH: divH + oh0 * F64_BYTES,
          divW,
        });
      }
      // padded rows before the next band's first are final: their input rows are copied out
      const done = oh1 < nH ? Math.min(rows, oh1 * sh - r0) : rows;
      const v = arena.f64(dx, rows * row);
      for (let q = 0; q < done; q++) {
        const r = r0 + q - top;
        if (r < 0 || r >= h) continue;
        const from = q * row + left * c;
        out.set(v.subarray(from, from + w * c), (i * h + r) * w * c);
      }
      carried = rows - done;
      v.copyWithin(0, done * row, rows * row);
    }
  });
  return res.array([m, h, w, c]);
}

/** create_mask_from_window(x) -> 1 where x == max(x) (every tied maximum), else 0; same shape as x. */
export function create_mask_from_window(x: NDArray): NDArray {
  const fn = "create_mask_from_window";
  const a = snapshot(fn, "x", x);
  const v = a.toFloat64Array();
  if (v.length === 0) throw new RangeError(`${fn}: x expects at least one element but got shape ${fmtShape(a.shape)}`);
  // NaN propagates through the max as in np.max, and then nothing equals it
  let max = v[0];
  for (const e of v) max = Number.isNaN(e) || e > max ? e : max;
  return new NDArray(
    v.map((e) => (e === max ? 1 : 0)),
    a.shape,
  );
}

/** distribute_value(dz, [n_H, n_W]) -> an [n_H, n_W] array with dz / (n_H * n_W) everywhere. */
export function distribute_value(dz: number, shape: readonly [number, number] | readonly number[]): NDArray {
  const fn = "distribute_value";
  if (typeof dz !== "number") throw new TypeError(`${fn}: dz expects a number but got ${describe(dz)}`);
  if (!Array.isArray(shape) || shape.length !== 2) {
    throw new RangeError(`${fn}: shape expects [n_H, n_W] but got ${describe(shape)}`);
  }
  const nH = checkInteger(fn, "shape[0] (n_H)", shape[0], 1);
  const nW = checkInteger(fn, "shape[1] (n_W)", shape[1], 1);
  return new NDArray(allocate(fn, "the result", nH * nW).fill(dz / (nH * nW)), [nH, nW]);
}

/** The ops defined here (src/ops/registry.ts). */
export const OPS = defineOps({
  pool_forward: {
    fn: pool_forward,
    keys: ["f", "stride", "pad", "ceil_mode", "count_include_pad", "out"],
    args: ["A_prev", "hparameters", "mode", "options"],
    call: 'pool_forward(A_prev, hparameters, mode = "max")',
    doc: '`A_prev [m,n_H_prev,n_W_prev,n_C]` → `[A [m,n_H,n_W,n_C], cache]`; `hparameters` below; `mode` is `"max"` or `"average"`',
    section: "notebook",
  },
  pool_backward: {
    fn: pool_backward,
    keys: ["f", "stride", "pad", "ceil_mode", "count_include_pad", "out"],
    args: ["dA", "cache", "mode", "options"],
    call: 'pool_backward(dA, cache, mode = "max")',
    doc: "`dA [m,n_H,n_W,n_C]` → `dA_prev [m,n_H_prev,n_W_prev,n_C]`; every tied maximum receives the gradient",
    section: "notebook",
  },
  create_mask_from_window: {
    fn: create_mask_from_window,
    args: ["x"],
    doc: "any shape → same shape, 1 where `x == max(x)`, else 0",
    section: "notebook",
  },
  distribute_value: {
    fn: distribute_value,
    args: ["dz", "shape"],
    call: "distribute_value(dz, [n_H, n_W])",
    doc: "number → `[n_H,n_W]` filled with `dz/(n_H·n_W)`",
    section: "notebook",
  },
});
