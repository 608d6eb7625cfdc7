// dropout, dropout_backward: a seeded mask, then an elementwise product in assembly/elementwise.ts.
import { NDArray, Result, describe, fmtShape, snapshot, F64_BYTES } from "../core/ndarray.js";
import { RandomState } from "../core/random.js";
import { checkInteger } from "../core/shapes.js";
import { runKernel } from "../kernels/kernels.js";
import { run } from "../runtime/schedule.js";
import { defineOps } from "./registry.js";

/** dropout's cache: the mask (0 where dropped, 1 / (1 − rate) where kept). */
export type DropoutCache = NDArray;

function product(fn: string, a: NDArray, b: NDArray, out: unknown): NDArray {
  const res = new Result(fn, "the result", a.shape, out, [a, b]);
  const data = res.data;
  const n = a.size;
  run(fn, false, ({ kernels, arena }) => {
    const [pa, pb] = [arena.copyIn(fn, "X", a), arena.copyIn(fn, "mask", b)];
    const y = arena.alloc(fn, "the result", n * F64_BYTES);
    runKernel(kernels, "mul_forward", { a: pa, b: pb, y, i0: 0, i1: n });
    data.set(arena.f64(y, n));
  });
  return res.array(a.shape);
}

/**
 * dropout(X, { rate, seed }) -> [Y, cache]: each element kept with probability 1 − rate and scaled by
 * 1 / (1 − rate) (inverted dropout, as PyTorch and Keras), the draws from RandomState(seed): the same
 * seed drops the same elements. For training only: at inference a dropout layer is the identity.
 */
export function dropout(X: NDArray, options: { rate: number; seed?: number; out?: NDArray }): [NDArray, DropoutCache] {
  const fn = "dropout";
  const x = snapshot(fn, "X", X);
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options expects { rate, seed } but got ${describe(options)}`);
  }
  const { rate, seed = 0, out } = { ...options };
  if (typeof rate !== "number" || !(rate >= 0 && rate < 1)) {
    throw new RangeError(`${fn}: options.rate expects a number in [0, 1) but got ${describe(rate)}`);
  }
  const rs = new RandomState(checkInteger(fn, "options.seed", seed, 0));
  const keep = 1 / (1 - rate);
  const mask = new Float64Array(x.size);
  for (let i = 0; i < mask.length; i++) mask[i] = rs.random() < rate ? 0 : keep;
  const m = new NDArray(mask, x.shape);
  return [product(fn, x, m, out), m];
}

/** dropout_backward(dY, cache) -> dX = dY · mask. */
export function dropout_backward(dY: NDArray, cache: DropoutCache, options: { out?: NDArray } = {}): NDArray {
  const fn = "dropout_backward";
  if (!(cache instanceof NDArray)) {
    throw new TypeError(`${fn}: cache expects the cache returned by dropout (its mask) but got ${describe(cache)}`);
  }
  const mask = snapshot(fn, "cache", cache);
  const dy = snapshot(fn, "dY", dY);
  if (fmtShape(dy.shape) !== fmtShape(mask.shape)) {
    throw new RangeError(
      `${fn}: dY expects shape ${fmtShape(mask.shape)} (dropout's result) but got ${fmtShape(dy.shape)}`,
    );
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options expects an object but got ${describe(options)}`);
  }
  return product(fn, dy, mask, { ...options }.out);
}

/** The ops defined here (src/ops/registry.ts). */
export const OPS = defineOps({
  dropout: {
    fn: dropout,
    keys: ["rate", "seed", "out"],
    args: ["X", "options"],
    call: "dropout(X, { rate, seed })",
    doc: "inverted dropout (kept values scaled by 1/(1 − rate)) → `[Y, cache]`, the mask from `RandomState(seed)`: the same seed drops the same elements",
    section: "layers",
  },
  dropout_backward: {
    fn: dropout_backward,
    keys: ["out"],
    args: ["dY", "cache", "options"],
    doc: "→ `dX = dY · mask`",
    section: "layers",
  },
});
