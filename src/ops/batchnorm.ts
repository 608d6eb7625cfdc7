// batch_norm, batch_norm_backward: validate -> copy in -> assembly/elementwise.ts (per-channel moments,
// dot products and affine maps) -> copy out. Channels last: X is [..., c], any rank ≥ 2, any view.
import { NDArray, Result, describe, fmtShape, snapshot, F64_BYTES } from "../core/ndarray.js";
import { cacheItems } from "../core/shapes.js";
import { runKernel } from "../kernels/kernels.js";
import { run } from "../runtime/schedule.js";
import { defineOps } from "./registry.js";

export interface BatchNormOptions {
  /** Running statistics [c]: given both, X is normalised with them (inference); else with the batch's. */
  mean?: NDArray;
  variance?: NDArray;
  /** Added to the variance under the square root (PyTorch's and Keras's default 1e-5 and 1e-3: 1e-5 here). */
  epsilon?: number;
  out?: NDArray;
}

/**
 * batch_norm's cache: X, gamma, the mean and the (biased) variance it normalised with, epsilon, and
 * whether those were the batch's own statistics (1, training) or given (0, inference).
 */
export type BatchNormCache = [NDArray, NDArray, Float64Array, Float64Array, number, number];

function channelVector(fn: string, name: string, x: unknown, c: number): NDArray {
  const v = snapshot(fn, name, x);
  if (v.ndim !== 1 || v.shape[0] !== c) {
    throw new RangeError(`${fn}: ${name} expects shape [${c}] (one per channel of X) but got ${fmtShape(v.shape)}`);
  }
  return v;
}

/**
 * batch_norm(X, gamma, beta, { mean, variance, epsilon }) -> [Y, cache]: Y = gamma · (X − μ) / √(σ² + ε)
 * + beta per channel (the last axis). Without `mean`/`variance`, μ and σ² are the batch's (over every
 * axis but the last; σ² biased, as PyTorch normalises in training) and are returned in the cache, for a
 * layer to update its running statistics (with the unbiased σ²·n/(n−1), as PyTorch). With them, inference.
 */
export function batch_norm(
  X: NDArray,
  gamma: NDArray,
  beta: NDArray,
  options: BatchNormOptions = {},
): [NDArray, BatchNormCache] {
  const fn = "batch_norm";
  const x = snapshot(fn, "X", X);
  if (x.ndim < 2) throw new RangeError(`${fn}: X expects [m, ..., c] (rank ≥ 2) but got shape ${fmtShape(x.shape)}`);
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options expects an object but got ${describe(options)}`);
  }
  const { mean, variance, epsilon = 1e-5, out } = { ...options };
  const c = x.shape[x.ndim - 1];
  const g = channelVector(fn, "gamma", gamma, c);
  const b = channelVector(fn, "beta", beta, c);
  if (typeof epsilon !== "number" || !(epsilon >= 0) || !Number.isFinite(epsilon)) {
    throw new RangeError(`${fn}: options.epsilon expects a finite number ≥ 0 but got ${describe(epsilon)}`);
  }
  if ((mean === undefined) !== (variance === undefined)) {
    throw new TypeError(`${fn}: options.mean and options.variance expect to be given together (running statistics)`);
  }
  const training = mean === undefined;
  const given = training
    ? null
    : [channelVector(fn, "options.mean", mean, c), channelVector(fn, "options.variance", variance, c)];
  const pixels = x.size / Math.max(c, 1);
  if (training && pixels < 1) {
    throw new RangeError(
      `${fn}: X expects at least one value per channel for batch statistics but got ${fmtShape(x.shape)}`,
    );
  }
  const res = new Result(fn, "Y", x.shape, out, [x]);
  const data = res.data;
  const mu = given ? given[0].toFloat64Array() : new Float64Array(c);
  const sigma2 = given ? given[1].toFloat64Array() : new Float64Array(c);
  const gam = g.toFloat64Array();
  const bet = b.toFloat64Array();
  run(fn, false, ({ kernels, arena }) => {
    const xp = arena.copyIn(fn, "X", x);
    const v = (n: number) => arena.zeros(fn, "per-channel values", n);
    const [s1, s2, scale, mean, add] = [v(c), v(c), v(c), v(c), v(c)];
    if (training) {
      runKernel(kernels, "channel_moments", { x: xp, pixels, c, shift: 0, s1, s2 });
      const sum = arena.f64(s1, c);
      for (let ch = 0; ch < c; ch++) mu[ch] = sum[ch] / pixels;
      arena.f64(s1, c).fill(0);
      arena.f64(s2, c).fill(0);
      arena.f64(mean, c).set(mu);
      runKernel(kernels, "channel_moments", { x: xp, pixels, c, shift: mean, s1, s2 });
      const sq = arena.f64(s2, c);
      for (let ch = 0; ch < c; ch++) sigma2[ch] = sq[ch] / pixels;
    }
    arena.f64(mean, c).set(mu);
    arena.f64(add, c).set(bet);
    const sc = arena.f64(scale, c);
    for (let ch = 0; ch < c; ch++) sc[ch] = gam[ch] / Math.sqrt(sigma2[ch] + epsilon);
    const y = arena.alloc(fn, "Y", x.size * F64_BYTES);
    runKernel(kernels, "channel_affine", { x: xp, pixels, c, sub: mean, scale, add, y });
    data.set(arena.f64(y, x.size));
  });
  return [res.array(x.shape), [X, gamma, mu, sigma2, epsilon, training ? 1 : 0]];
}

/**
 * batch_norm_backward(dY, cache) -> [dX, dgamma, dbeta]. In training the gradient flows through the
 * batch's mean and variance too; in inference the statistics are constants.
 */
export function batch_norm_backward(
  dY: NDArray,
  cache: BatchNormCache,
  options: { out?: NDArray } = {},
): [NDArray, NDArray, NDArray] {
  const fn = "batch_norm_backward";
  const [X, gamma, mu, sigma2, epsilon, training] = cacheItems(fn, cache, 6, "batch_norm");
  const x = snapshot(fn, "cache[0]", X);
  const c = x.shape[x.ndim - 1];
  const gam = channelVector(fn, "cache[1]", gamma, c).toFloat64Array();
  if (
    !(mu instanceof Float64Array && sigma2 instanceof Float64Array && mu.length === c && sigma2.length === c) ||
    typeof epsilon !== "number" ||
    (training !== 0 && training !== 1)
  ) {
    throw new TypeError(`${fn}: cache expects the cache returned by batch_norm but got ${describe(cache)}`);
  }
  const dy = snapshot(fn, "dY", dY);
  if (fmtShape(dy.shape) !== fmtShape(x.shape)) {
    throw new RangeError(
      `${fn}: dY expects shape ${fmtShape(x.shape)} (the shape of batch_norm's Y) but got ${fmtShape(dy.shape)}`,
    );
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options expects an object but got ${describe(options)}`);
  }
  const pixels = x.size / Math.max(c, 1);
  const res = new Result(fn, "dX", x.shape, { ...options }.out, [x, dy]);
  const data = res.data;
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  run(fn, false, ({ kernels, arena }) => {
    const xp = arena.copyIn(fn, "X", x);
    const g = arena.copyIn(fn, "dY", dy);
    const v = (n: number) => arena.zeros(fn, "per-channel values", n);
    const [m, sdy, sdyx, a, b, k] = [v(c), v(c), v(c), v(c), v(c), v(c)];
    arena.f64(m, c).set(mu);
    runKernel(kernels, "channel_dots", { x: xp, dy: g, pixels, c, shift: m, sdy, sdyx });
    const [sums, dots, av, bv, kv] = [sdy, sdyx, a, b, k].map((p) => arena.f64(p, c));
    for (let ch = 0; ch < c; ch++) {
      const invstd = 1 / Math.sqrt(sigma2[ch] + epsilon);
      dbeta[ch] = sums[ch];
      dgamma[ch] = dots[ch] * invstd;
      av[ch] = invstd * gam[ch];
      // dX = (dY − mean(dY) − (X − μ) · Σ dY·(X − μ) / (n σ²)) · γ/σ, PyTorch's arrangement
      bv[ch] = (dots[ch] * invstd * invstd) / pixels;
      kv[ch] = sums[ch] / pixels;
    }
    const dx = arena.alloc(fn, "dX", x.size * F64_BYTES);
    // (in inference dX reads only dY: an infinite X must not make 0 · ∞ there)
    if (training) runKernel(kernels, "channel_affine2", { dy: g, x: xp, pixels, c, a, b, shift: m, k, dx });
    else runKernel(kernels, "channel_affine", { x: g, pixels, c, sub: 0, scale: a, add: 0, y: dx });
    data.set(arena.f64(dx, x.size));
  });
  return [res.array(x.shape), new NDArray(dgamma, [c]), new NDArray(dbeta, [c])];
}

/** The ops defined here (src/ops/registry.ts). */
export const OPS = defineOps({
  batch_norm: {
    fn: batch_norm,
    keys: ["mean", "variance", "epsilon", "out"],
    args: ["X", "gamma", "beta", "options"],
    call: "batch_norm(X, gamma, beta, { mean, variance, epsilon })",
    doc:
      "`X [..., c]` (channels last), `gamma`, `beta [c]` → `[Y, cache]`: without `mean`/`variance` the batch's statistics " +
      "(biased variance, as PyTorch normalises in training; the cache holds them for a layer's running statistics), " +
      "with them inference; `epsilon` 1e-5 by default",
    section: "layers",
  },
  batch_norm_backward: {
    fn: batch_norm_backward,
    keys: ["out"],
    args: ["dY", "cache", "options"],
    doc: "→ `[dX, dgamma, dbeta]`, the gradient through the batch's statistics in training",
    section: "layers",
  },
});
