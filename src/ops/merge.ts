// The ops that join branches of a network: add (ResNet's shortcut), concat (SqueezeNet's and Inception's
// channels), multiply (squeeze-and-excitation's channel gates) and global pooling (the head of ResNet and
// MobileNet). Sums and products run in assembly/elementwise.ts; concat and its gradient are copies.
import { NDArray, Result, describe, fmtShape, snapshot, F64_BYTES } from "../core/ndarray.js";
import { cacheItems, checkArray } from "../core/shapes.js";
import { runKernel } from "../kernels/kernels.js";
import { run } from "../runtime/schedule.js";
import { defineOps } from "./registry.js";

type Out = { out?: NDArray };

function outOf(fn: string, options: unknown): unknown {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options expects an object but got ${describe(options)}`);
  }
  return { ...(options as Out) }.out;
}

/** add(A, B) -> A + B, elementwise, of one shape (the gradient of each is the sum's own: no backward op). */
export function add(A: NDArray, B: NDArray, options: Out = {}): NDArray {
  const fn = "add";
  const a = snapshot(fn, "A", A);
  const b = snapshot(fn, "B", B);
  if (fmtShape(a.shape) !== fmtShape(b.shape)) {
    throw new RangeError(`${fn}: B expects A's shape ${fmtShape(a.shape)} but got ${fmtShape(b.shape)}`);
  }
  const res = new Result(fn, "the sum", a.shape, outOf(fn, options), [a, b]);
  const data = res.data;
  const n = a.size;
  run(fn, false, ({ kernels, arena }) => {
    const [pa, pb] = [arena.copyIn(fn, "A", a), arena.copyIn(fn, "B", b)];
    const y = arena.alloc(fn, "the sum", n * F64_BYTES);
    runKernel(kernels, "add_forward", { a: pa, b: pb, y, i0: 0, i1: n });
    data.set(arena.f64(y, n));
  });
  return res.array(a.shape);
}

/** concat's cache: the channels each input gave, in order. */
export type ConcatCache = number[];

/** concat(arrays) -> [the arrays joined on their last axis (channels), cache]; every other axis equal. */
export function concat(arrays: readonly NDArray[], options: Out = {}): [NDArray, ConcatCache] {
  const fn = "concat";
  if (!Array.isArray(arrays) || arrays.length === 0) {
    throw new TypeError(`${fn}: arrays expects a non-empty array of NDArrays but got ${describe(arrays)}`);
  }
  const xs = Array.from(arrays, (a, i) => snapshot(fn, `arrays[${i}]`, a));
  const lead = xs[0].shape.slice(0, -1);
  xs.forEach((x, i) => {
    if (x.ndim < 1 || fmtShape(x.shape.slice(0, -1)) !== fmtShape(lead)) {
      throw new RangeError(
        `${fn}: arrays[${i}] expects shape [${lead.join(",")},*] (arrays[0]'s but its last axis) but got ${fmtShape(x.shape)}`,
      );
    }
  });
  const widths = xs.map((x) => x.shape[x.ndim - 1]);
  const c = widths.reduce((s, w) => s + w, 0);
  const shape = [...lead, c];
  const res = new Result(fn, "the result", shape, outOf(fn, options), xs);
  const data = res.data;
  const rows = lead.reduce((p, d) => p * d, 1);
  let at = 0;
  xs.forEach((x, i) => {
    const w = widths[i];
    const v = x.toFloat64Array();
    for (let r = 0; r < rows; r++) data.set(v.subarray(r * w, r * w + w), r * c + at);
    at += w;
  });
  return [res.array(shape), widths];
}

/** concat_backward(dY, cache) -> the gradient of each input (dY's channels, split back). */
export function concat_backward(dY: NDArray, cache: ConcatCache): NDArray[] {
  const fn = "concat_backward";
  if (!Array.isArray(cache) || cache.length === 0 || !cache.every((w) => Number.isSafeInteger(w) && w >= 0)) {
    throw new TypeError(`${fn}: cache expects the cache returned by concat but got ${describe(cache)}`);
  }
  const widths = [...cache];
  const dy = snapshot(fn, "dY", dY);
  const c = widths.reduce((s, w) => s + w, 0);
  if (dy.ndim < 1 || dy.shape[dy.ndim - 1] !== c) {
    throw new RangeError(
      `${fn}: dY expects a last axis of ${c} (concat's channels) but got shape ${fmtShape(dy.shape)}`,
    );
  }
  const lead = dy.shape.slice(0, -1);
  const rows = lead.reduce((p, d) => p * d, 1);
  const v = dy.toFloat64Array();
  let at = 0;
  return widths.map((w) => {
    const out = new Float64Array(rows * w);
    for (let r = 0; r < rows; r++) out.set(v.subarray(r * c + at, r * c + at + w), r * w);
    at += w;
    return new NDArray(out, [...lead, w]);
  });
}

/** multiply's cache: [X, S]. */
export type MultiplyCache = [NDArray, NDArray];

/** S as [m, c] for X [m, h, w, c]: S given as [m, c] or [m, 1, 1, c]. */
function gates(fn: string, name: string, S: unknown, m: number, c: number): NDArray {
  const s = snapshot(fn, name, S);
  const shape = fmtShape(s.shape);
  if (shape !== `[${m},${c}]` && shape !== `[${m},1,1,${c}]`) {
    throw new RangeError(
      `${fn}: ${name} expects shape [${m},${c}] or [${m},1,1,${c}] (a gate per channel) but got ${shape}`,
    );
  }
  return s;
}

/**
 * multiply(X [m,h,w,c], S [m,c] or [m,1,1,c]) -> [X · S broadcast over h and w, cache]: a channel gate,
 * as squeeze-and-excitation multiplies a feature map by sigmoid(…) of its pooled channels.
 */
export function multiply(X: NDArray, S: NDArray, options: Out = {}): [NDArray, MultiplyCache] {
  const fn = "multiply";
  const x = checkArray(fn, "X", X, ["m", "n_H", "n_W", "n_C"]);
  const [m, h, w, c] = x.shape;
  const s = gates(fn, "S", S, m, c);
  const res = new Result(fn, "the product", x.shape, outOf(fn, options), [x, s]);
  const data = res.data;
  run(fn, false, ({ kernels, arena }) => {
    const px = arena.copyIn(fn, "X", x);
    const ps = arena.copyIn(fn, "S", s);
    const y = arena.alloc(fn, "the product", x.size * F64_BYTES);
    const per = h * w * c;
    for (let i = 0; i < m; i++) {
      const args = {
        x: px + i * per * F64_BYTES,
        pixels: h * w,
        c,
        sub: 0,
        scale: ps + i * c * F64_BYTES,
        add: 0,
        y: y + i * per * F64_BYTES,
      };
      runKernel(kernels, "channel_affine", args);
    }
    data.set(arena.f64(y, x.size));
  });
  return [res.array(x.shape), [X, S]];
}

/** multiply_backward(dY, cache) -> [dX = dY · S, dS = Σ over h, w of dY · X, in S's shape]. */
export function multiply_backward(dY: NDArray, cache: MultiplyCache): [NDArray, NDArray] {
  const fn = "multiply_backward";
  const [X, S] = cacheItems(fn, cache, 2, "multiply");
  const x = checkArray(fn, "cache[0]", X, ["m", "n_H", "n_W", "n_C"]);
  const [m, h, w, c] = x.shape;
  const s = gates(fn, "cache[1]", S, m, c);
  const dy = snapshot(fn, "dY", dY);
  if (fmtShape(dy.shape) !== fmtShape(x.shape)) {
    throw new RangeError(
      `${fn}: dY expects shape ${fmtShape(x.shape)} (multiply's result) but got ${fmtShape(dy.shape)}`,
    );
  }
  const dx = new Float64Array(x.size);
  const ds = new Float64Array(m * c);
  run(fn, false, ({ kernels, arena }) => {
    const [px, ps, pg] = [arena.copyIn(fn, "X", x), arena.copyIn(fn, "S", s), arena.copyIn(fn, "dY", dy)];
    const y = arena.alloc(fn, "dX", x.size * F64_BYTES);
    const sums = arena.zeros(fn, "dS", 2 * m * c);
    const per = h * w * c;
    for (let i = 0; i < m; i++) {
      const [xi, gi] = [px + i * per * F64_BYTES, pg + i * per * F64_BYTES];
      runKernel(kernels, "channel_affine", {
        x: gi,
        pixels: h * w,
        c,
        sub: 0,
        scale: ps + i * c * F64_BYTES,
        add: 0,
        y: y + i * per * F64_BYTES,
      });
      runKernel(kernels, "channel_dots", {
        x: xi,
        dy: gi,
        pixels: h * w,
        c,
        shift: 0,
        sdy: sums + (m + i) * c * F64_BYTES,
        sdyx: sums + i * c * F64_BYTES,
      });
    }
    dx.set(arena.f64(y, x.size));
    ds.set(arena.f64(sums, m * c));
  });
  return [new NDArray(dx, x.shape), new NDArray(ds, s.shape)];
}

/** global_avg_pool(A [m,h,w,c]) -> [the mean of each channel over h and w, [m,c], cache = A's shape]. */
export function global_avg_pool(A: NDArray): [NDArray, number[]] {
  const fn = "global_avg_pool";
  const a = checkArray(fn, "A", A, ["m", "n_H", "n_W", "n_C"]);
  const [m, h, w, c] = a.shape;
  const out = new Float64Array(m * c);
  run(fn, false, ({ kernels, arena }) => {
    const x = arena.copyIn(fn, "A", a);
    const sums = arena.zeros(fn, "the sums", 2 * m * c);
    for (let i = 0; i < m; i++) {
      const args = {
        x: x + i * h * w * c * F64_BYTES,
        pixels: h * w,
        c,
        shift: 0,
        s1: sums + i * c * F64_BYTES,
        s2: sums + (m + i) * c * F64_BYTES,
      };
      runKernel(kernels, "channel_moments", args);
    }
    const s = arena.f64(sums, m * c);
    for (let j = 0; j < m * c; j++) out[j] = s[j] / (h * w);
  });
  return [new NDArray(out, [m, c]), [...a.shape]];
}

/** global_avg_pool_backward(dY [m,c], cache) -> dA: each pixel gets dY / (h·w). */
export function global_avg_pool_backward(dY: NDArray, cache: number[]): NDArray {
  const fn = "global_avg_pool_backward";
  if (!Array.isArray(cache) || cache.length !== 4 || !cache.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TypeError(`${fn}: cache expects the cache returned by global_avg_pool but got ${describe(cache)}`);
  }
  const [m, h, w, c] = cache;
  const dy = snapshot(fn, "dY", dY);
  if (fmtShape(dy.shape) !== `[${m},${c}]`) {
    throw new RangeError(
      `${fn}: dY expects shape [${m},${c}] (global_avg_pool's result) but got ${fmtShape(dy.shape)}`,
    );
  }
  const out = new Float64Array(m * h * w * c);
  const g = dy.toFloat64Array();
  run(fn, false, ({ kernels, arena }) => {
    const v = arena.alloc(fn, "dY", m * c * F64_BYTES);
    const vv = arena.f64(v, m * c);
    for (let j = 0; j < m * c; j++) vv[j] = g[j] / (h * w);
    const y = arena.alloc(fn, "dA", out.length * F64_BYTES);
    for (let i = 0; i < m; i++) {
      runKernel(kernels, "channel_fill", {
        v: v + i * c * F64_BYTES,
        pixels: h * w,
        c,
        y: y + i * h * w * c * F64_BYTES,
      });
    }
    out.set(arena.f64(y, out.length));
  });
  return new NDArray(out, cache);
}

/** global_max_pool(A [m,h,w,c]) -> [the max of each channel over h and w, [m,c], cache = A]. */
export function global_max_pool(A: NDArray): [NDArray, NDArray] {
  const fn = "global_max_pool";
  const a = checkArray(fn, "A", A, ["m", "n_H", "n_W", "n_C"]);
  const [m, c] = [a.shape[0], a.shape[3]];
  const { y } = maxima(fn, a);
  return [new NDArray(y, [m, c]), A];
}

/** Each image's channel maxima and the first pixel holding each. */
function maxima(fn: string, a: NDArray): { y: Float64Array; arg: Float64Array } {
  const [m, h, w, c] = a.shape;
  const y = new Float64Array(m * c);
  const arg = new Float64Array(m * c);
  if (h * w === 0) throw new RangeError(`${fn}: A expects at least one pixel but got shape ${fmtShape(a.shape)}`);
  run(fn, false, ({ kernels, arena }) => {
    const x = arena.copyIn(fn, "A", a);
    const py = arena.alloc(fn, "the maxima", 2 * m * c * F64_BYTES);
    for (let i = 0; i < m; i++) {
      const args = {
        x: x + i * h * w * c * F64_BYTES,
        pixels: h * w,
        c,
        y: py + i * c * F64_BYTES,
        arg: py + (m + i) * c * F64_BYTES,
      };
      runKernel(kernels, "channel_max", args);
    }
    y.set(arena.f64(py, m * c));
    arg.set(arena.f64(py + m * c * F64_BYTES, m * c));
  });
  return { y, arg };
}

/** global_max_pool_backward(dY [m,c], cache) -> dA: each channel's gradient to its first maximum. */
export function global_max_pool_backward(dY: NDArray, cache: NDArray): NDArray {
  const fn = "global_max_pool_backward";
  if (!(cache instanceof NDArray)) {
    throw new TypeError(`${fn}: cache expects the cache returned by global_max_pool (A) but got ${describe(cache)}`);
  }
  const a = checkArray(fn, "cache", cache, ["m", "n_H", "n_W", "n_C"]);
  const [m, h, w, c] = a.shape;
  const dy = snapshot(fn, "dY", dY);
  if (fmtShape(dy.shape) !== `[${m},${c}]`) {
    throw new RangeError(
      `${fn}: dY expects shape [${m},${c}] (global_max_pool's result) but got ${fmtShape(dy.shape)}`,
    );
  }
  const { arg } = maxima(fn, a);
  const g = dy.toFloat64Array();
  const out = new Float64Array(a.size);
  for (let i = 0; i < m; i++)
    for (let ch = 0; ch < c; ch++) out[(i * h * w + arg[i * c + ch]) * c + ch] = g[i * c + ch];
  return new NDArray(out, a.shape);
}

/** The ops defined here (src/ops/registry.ts). */
export const OPS = defineOps({
  add: {
    fn: add,
    keys: ["out"],
    args: ["A", "B", "options"],
    doc: "elementwise sum of one shape (each input's gradient is the sum's)",
    section: "layers",
  },
  concat: {
    fn: concat,
    keys: ["out"],
    args: ["arrays", "options"],
    doc: "joined on the last axis (channels) → `[Y, cache]`",
    section: "layers",
  },
  concat_backward: { fn: concat_backward, args: ["dY", "cache"], doc: "→ one gradient per input", section: "layers" },
  multiply: {
    fn: multiply,
    keys: ["out"],
    args: ["X", "S", "options"],
    doc: "`X [m,h,w,c]` times a gate per channel `S [m,c]` or `[m,1,1,c]` → `[Y, cache]` (squeeze-and-excitation)",
    section: "layers",
  },
  multiply_backward: { fn: multiply_backward, args: ["dY", "cache"], doc: "→ `[dX, dS]`", section: "layers" },
  global_avg_pool: {
    fn: global_avg_pool,
    args: ["A"],
    doc: "`A [m,h,w,c]` → `[Y [m,c], cache]`, each channel's mean",
    section: "layers",
  },
  global_avg_pool_backward: {
    fn: global_avg_pool_backward,
    args: ["dY", "cache"],
    doc: "→ `dA`: each pixel gets `dY / (h·w)`",
    section: "layers",
  },
  global_max_pool: {
    fn: global_max_pool,
    args: ["A"],
    doc: "each channel's maximum → `[Y [m,c], cache]`",
    section: "layers",
  },
  global_max_pool_backward: {
    fn: global_max_pool_backward,
    args: ["dY", "cache"],
    doc: "→ `dA`: the gradient to each channel's first maximum (a NaN wins, as torch.max)",
    section: "layers",
  },
});
