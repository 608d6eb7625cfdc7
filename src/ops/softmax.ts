// softmax, softmax_cross_entropy: validate -> copy in -> assembly/softmax.ts -> copy out.
import { NDArray, Result, allocate, describe, fmtShape, pairwiseSum, snapshot, F64_BYTES } from "../core/ndarray.js";
import { checkArray } from "../core/shapes.js";
import { runKernel } from "../kernels/kernels.js";
import { run } from "../runtime/schedule.js";
import { defineOps } from "./registry.js";

/** softmax(Z) over the last axis, max-subtracted (large logits never overflow); any shape. */
export function softmax(Z: NDArray, options: { out?: NDArray } = {}): NDArray {
  const fn = "softmax";
  const z = snapshot(fn, "Z", Z);
  if (z.ndim === 0 || z.shape[z.ndim - 1] === 0) {
    throw new RangeError(`${fn}: Z expects a last axis of at least one element but got shape ${fmtShape(z.shape)}`);
  }
  const k = z.shape[z.ndim - 1];
  const n = z.size;
  const res = new Result(fn, "the result", z.shape, options.out, [z]);
  const out = res.data;
  run(fn, false, ({ kernels, arena }) => {
    const x = arena.copyIn(fn, "Z", z);
    const y = arena.alloc(fn, "the result", n * F64_BYTES);
    runKernel(kernels, "softmax_forward", { z: x, k, y, r0: 0, r1: n / k });
    out.set(arena.f64(y, n));
  });
  return res.array(z.shape);
}

/** Targets [m,k] from Y: one-hot (or any distribution) rows [m,k], or m class indices (an array or [m]). */
export function targets(fn: string, Y: unknown, m: number, k: number, of = "row of Z", name = "Y"): Float64Array {
  if (Array.isArray(Y) || (Y instanceof NDArray && Y.ndim === 1)) {
    const labels = Array.isArray(Y) ? Y.slice() : snapshot(fn, name, Y).toFloat64Array();
    if (labels.length !== m) {
      throw new RangeError(`${fn}: ${name} expects ${m} class indices (one per ${of}) but got ${labels.length}`);
    }
    const t = new Float64Array(m * k);
    labels.forEach((y, i) => {
      if (typeof y !== "number" || !Number.isInteger(y) || y < 0 || y >= k) {
        throw new RangeError(`${fn}: ${name} expects class indices in 0..${k - 1} but got ${describe(y)} at ${i}`);
      }
      t[i * k + y] = 1;
    });
    return t;
  }
  const y = checkArray(fn, name, Y, ["m", "k"]);
  if (y.shape[0] !== m || y.shape[1] !== k) {
    throw new RangeError(
      `${fn}: ${name} expects shape [${m},${k}] (one-hot rows, one per ${of}) but got ${fmtShape(y.shape)}`,
    );
  }
  return y.toFloat64Array();
}

/**
 * softmax_cross_entropy(Z [m,k], Y) -> [loss, dZ]: loss is the batch mean of −log softmax(Z)[target]
 * (for one-hot or distribution rows Y [m,k]: of −Σ Y·log softmax(Z)), computed as logsumexp(Z) − Y·Z so it
 * never overflows; dZ = (softmax(Z) − Y) / m, its gradient. Y: one-hot [m,k] or m class indices.
 */
export function softmax_cross_entropy(
  Z: NDArray,
  Y: NDArray | readonly number[],
  options: { out?: NDArray } = {},
): [number, NDArray] {
  const fn = "softmax_cross_entropy";
  const z = checkArray(fn, "Z", Z, ["m", "k"]);
  const [m, k] = z.shape;
  const t = targets(fn, Y, m, k);
  const res = new Result(fn, "dZ", [m, k], options.out, [z]);
  const out = res.data;
  const losses = allocate(fn, "the losses", m);
  run(fn, false, ({ kernels, arena }) => {
    const x = arena.copyIn(fn, "Z", z);
    const tp = arena.alloc(fn, "Y", m * k * F64_BYTES);
    arena.f64(tp, m * k).set(t);
    const loss = arena.alloc(fn, "the losses", m * F64_BYTES);
    const dz = arena.alloc(fn, "dZ", m * k * F64_BYTES);
    runKernel(kernels, "softmax_cross_entropy", { z: x, t: tp, k, scale: 1 / m, loss, dz, r0: 0, r1: m });
    out.set(arena.f64(dz, m * k));
    losses.set(arena.f64(loss, m));
  });
  // the mean summed pairwise, as np.mean
  return [m === 0 ? NaN : pairwiseSum(losses, 0, m) / m, res.array([m, k])];
}

/** The ops defined here (src/ops/registry.ts). */
export const OPS = defineOps({
  softmax: {
    fn: softmax,
    keys: ["out"],
    args: ["Z", "options"],
    doc: "over the last axis, max-subtracted",
    section: "convnet",
  },
  softmax_cross_entropy: {
    fn: softmax_cross_entropy,
    keys: ["out"],
    args: ["Z", "Y", "options"],
    doc: "`Z [m,k]`, `Y` one-hot `[m,k]` (or distributions) or `m` class indices → `[loss, dZ]`: the batch mean of −log softmax, computed as logsumexp − Y·Z; `dZ = (softmax − Y)/m`",
    section: "convnet",
  },
});
