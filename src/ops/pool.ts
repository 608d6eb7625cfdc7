// pool_forward, pool_backward, create_mask_from_window, distribute_value:
// validate -> copy in -> assembly/pool.ts -> copy out.
import { NDArray, allocate, describe, fmtShape, snapshot } from "../ndarray.js";
import {
  PoolGeometry,
  PoolHparameters,
  PoolMode,
  cacheItems,
  checkGradient,
  checkInteger,
  checkMode,
  poolArgs,
} from "../shapes.js";
import { run } from "../wasm/schedule.js";

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
  /** input rows r0..r0+rows that they read */
  r0: number;
  rows: number;
}

/** Output rows per band, how many bands there are, and band j (of every image's, in order; made one at a time: m may be huge). */
function bands({ m, w, c, fh, sh, nH }: PoolGeometry): { rowsOut: number; count: number; band: (j: number) => Band } {
  const rowsOut = Math.max(1, Math.min(nH, Math.floor((BAND_BYTES / (w * c * 8) - fh) / sh) + 1));
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

/**
 * pool_forward(A_prev [m,n_H_prev,n_W_prev,n_C], {f, stride}, mode = "max" | "average")
 * -> [A [m,n_H,n_W,n_C], cache], n_H = floor((n_H_prev - f) / stride) + 1 (no padding).
 */
export function pool_forward(
  A_prev: NDArray,
  hparameters: PoolHparameters,
  mode: PoolMode = "max",
): [NDArray, PoolCache] {
  const fn = "pool_forward";
  const { A_prev: A, g } = poolArgs(fn, A_prev, hparameters);
  const { m, w, c, fh, fw, sh, sw, nH, nW } = g;
  const kernel = checkMode(fn, mode) === "max" ? "pool_forward_max" : "pool_forward_average";
  const out = allocate(fn, "A", m * nH * nW * c);
  run(fn, 0, null, ({ kernels, arena }) => {
    const { rowsOut, count, band } = bands(g);
    const x = arena.alloc(fn, "A_prev band", ((rowsOut - 1) * sh + fh) * w * c * 8);
    const y = arena.alloc(fn, "A band", rowsOut * nW * c * 8);
    for (let j = 0; j < count; j++) {
      const { i, oh0, oh1, r0, rows } = band(j);
      arena.write(x, rowsOf(A, i, r0, rows));
      kernels[kernel](x, rows * w * c, w * c, c, 1, c, fh, fw, sh, sw, y, oh1 - oh0, nW, 0, 1);
      out.set(arena.f64(y, (oh1 - oh0) * nW * c), (i * nH + oh0) * nW * c);
    }
  });
  return [new NDArray(out, [m, nH, nW, c]), [A_prev, hparameters]];
}

/**
 * pool_backward(dA [m,n_H,n_W,n_C], cache, mode = "max" | "average") -> dA_prev [m,n_H_prev,n_W_prev,n_C].
 * max: every tied maximum of a window receives its gradient; average: spread evenly (distribute_value).
 */
export function pool_backward(dA: NDArray, cache: PoolCache, mode: PoolMode = "max"): NDArray {
  const fn = "pool_backward";
  const [A_prev, hparameters] = cacheItems(fn, cache, 2, "pool_forward");
  const { A_prev: A, g } = poolArgs(fn, A_prev, hparameters);
  const { m, h, w, c, fh, fw, sh, sw, nH, nW } = g;
  const dA4 = checkGradient(fn, "dA", dA, [m, nH, nW, c], "shape of pool_forward's A");
  checkMode(fn, mode);
  const row = w * c;
  const out = allocate(fn, "dA_prev", m * h * w * c);
  run(fn, 0, null, ({ kernels, arena }) => {
    const { rowsOut, count, band } = bands(g);
    const bandRows = (rowsOut - 1) * sh + fh;
    const x = mode === "max" ? arena.alloc(fn, "A_prev band", bandRows * row * 8) : 0;
    const dy = arena.alloc(fn, "dA band", rowsOut * nW * c * 8);
    const dx = arena.alloc(fn, "dA_prev band", bandRows * row * 8);
    // when windows overlap (f > stride) a band's last rows also belong to the next band: they are
    // carried to the start of the next band's buffer instead of being written out
    let carried = 0;
    for (let j = 0; j < count; j++) {
      const { i, oh0, oh1, r0, rows } = band(j);
      if (oh0 === 0) carried = 0;
      arena.f64(dx + carried * row * 8, (rows - carried) * row).fill(0);
      arena.write(dy, rowsOf(dA4, i, oh0, oh1 - oh0));
      if (mode === "max") {
        arena.write(x, rowsOf(A, i, r0, rows));
        kernels.pool_backward_max(x, rows * row, row, c, 1, rows, w, c, fh, fw, sh, sw, dy, oh1 - oh0, nW, dx, 0, 1);
      } else {
        kernels.pool_backward_average(rows, w, c, fh, fw, sh, sw, dy, oh1 - oh0, nW, dx, 0, 1);
      }
      const done = oh1 < nH ? Math.min(rows, oh1 * sh - r0) : rows;
      const v = arena.f64(dx, rows * row);
      out.set(v.subarray(0, done * row), (i * h + r0) * row);
      carried = rows - done;
      v.copyWithin(0, done * row, rows * row);
    }
  });
  return new NDArray(out, [m, h, w, c]);
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
