// pool_forward, pool_backward, create_mask_from_window, distribute_value:
// validate -> copy in -> assembly/pool.ts -> copy out.
import { NDArray, fmtShape, sizeOf } from "../ndarray.js";
import { PoolHparameters, PoolMode, checkCache, checkGradient, checkInteger, checkMode, poolInfo } from "../shapes.js";
import { wasm } from "../wasm/module.js";

/** pool_forward's cache: [A_prev, hparameters], as in the notebook. */
export type PoolCache = [A_prev: NDArray, hparameters: PoolHparameters];

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
  const { m, c, f, stride, nH, nW } = poolInfo(fn, A_prev, hparameters);
  const kernel = checkMode(fn, mode) === "max" ? "pool_forward_max" : "pool_forward_average";
  const { kernels, arena } = wasm(fn);
  const A = arena.scope(() => {
    const x = arena.copyInStrided(fn, "A_prev", A_prev);
    const y = arena.alloc(fn, "A", m * nH * nW * c * 8);
    const [s0, s1, s2, s3] = x.strides;
    kernels[kernel](x.ptr, s0, s1, s2, s3, c, f, stride, y, nH, nW, 0, m);
    return arena.copyOut(y, [m, nH, nW, c]);
  });
  return [A, [A_prev, hparameters]];
}

/**
 * pool_backward(dA [m,n_H,n_W,n_C], cache, mode = "max" | "average") -> dA_prev [m,n_H_prev,n_W_prev,n_C].
 * max: every tied maximum of a window receives its gradient; average: spread evenly (distribute_value).
 */
export function pool_backward(dA: NDArray, cache: PoolCache, mode: PoolMode = "max"): NDArray {
  const fn = "pool_backward";
  const [A_prev, hparameters] = checkCache(fn, cache, 2, "pool_forward");
  const { m, h, w, c, f, stride, nH, nW } = poolInfo(fn, A_prev, hparameters);
  checkGradient(fn, "dA", dA, [m, nH, nW, c], "shape of pool_forward's A");
  checkMode(fn, mode);
  const { kernels, arena } = wasm(fn);
  return arena.scope(() => {
    const dy = arena.copyIn(fn, "dA", dA);
    const dx = arena.zeros(fn, "dA_prev", m * h * w * c);
    if (mode === "max") {
      const x = arena.copyInStrided(fn, "A_prev", A_prev as NDArray);
      const [s0, s1, s2, s3] = x.strides;
      kernels.pool_backward_max(x.ptr, s0, s1, s2, s3, h, w, c, f, stride, dy, nH, nW, dx, 0, m);
    } else {
      kernels.pool_backward_average(h, w, c, f, stride, dy, nH, nW, dx, 0, m);
    }
    return arena.copyOut(dx, [m, h, w, c]);
  });
}

/** create_mask_from_window(x) -> 1 where x == max(x) (every tied maximum), else 0; same shape as x. */
export function create_mask_from_window(x: NDArray): NDArray {
  const fn = "create_mask_from_window";
  if (!(x instanceof NDArray)) throw new TypeError(`${fn}: x expects an NDArray but got ${typeof x}`);
  const v = x.toFloat64Array();
  if (v.length === 0) throw new RangeError(`${fn}: x expects at least one element but got shape ${fmtShape(x.shape)}`);
  // NaN propagates through the max as in np.max, and then nothing equals it
  let max = v[0];
  for (const e of v) max = Number.isNaN(e) || e > max ? e : max;
  return new NDArray(
    v.map((e) => (e === max ? 1 : 0)),
    x.shape,
  );
}

/** distribute_value(dz, [n_H, n_W]) -> an [n_H, n_W] array with dz / (n_H * n_W) everywhere. */
export function distribute_value(dz: number, shape: readonly [number, number] | readonly number[]): NDArray {
  const fn = "distribute_value";
  if (typeof dz !== "number") throw new TypeError(`${fn}: dz expects a number but got ${typeof dz}`);
  if (!Array.isArray(shape) || shape.length !== 2) {
    throw new RangeError(
      `${fn}: shape expects [n_H, n_W] but got ${Array.isArray(shape) ? fmtShape(shape) : typeof shape}`,
    );
  }
  checkInteger(fn, "shape[0] (n_H)", shape[0], 1);
  checkInteger(fn, "shape[1] (n_W)", shape[1], 1);
  return new NDArray(new Float64Array(sizeOf(shape)).fill(dz / (shape[0] * shape[1])), shape);
}
