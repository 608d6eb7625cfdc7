// The activations of ResNet, MobileNet and EfficientNet beside relu: relu6, clip, leaky_relu, sigmoid,
// hard_sigmoid, hard_swish, swish. validate -> copy in -> assembly/elementwise.ts -> copy out. Any shape,
// any view. Each forward returns [A, cache] with cache = [Z, a, b] (Z and the activation's two numbers),
// each backward takes (dA, cache), as relu does.
import { NDArray, Result, describe, fmtShape, snapshot, F64_BYTES } from "../core/ndarray.js";
import { cacheItems } from "../core/shapes.js";
import { runKernel } from "../kernels/kernels.js";
import { run } from "../runtime/schedule.js";
import { defineOps } from "./registry.js";

/** The kernel's activation codes (assembly/elementwise.ts). */
export const ACTIVATIONS = {
  relu6: 0,
  clip: 1,
  leaky_relu: 2,
  sigmoid: 3,
  hard_sigmoid: 4,
  hard_swish: 5,
  swish: 6,
} as const;
export type ActivationName = keyof typeof ACTIVATIONS;

const sigmoidOf = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Each activation's reference twin, from its definition (convwasm/reference's activation() reads it):
 * y = f(x) and the gradient dx = df(g, x), with PyTorch's choices at the kinks and 0 where flat whatever
 * g holds (PyTorch's where(), not g · 0); `a` and `b` are its options' numbers (activationParams).
 */
export const REFERENCE: {
  readonly [K in ActivationName]: {
    f(x: number, a: number, b: number): number;
    df(g: number, x: number, a: number, b: number): number;
  };
} = {
  relu6: { f: (x) => Math.min(Math.max(x, 0), 6), df: (g, x) => (x > 0 && x < 6 ? g : 0) },
  clip: { f: (x, a, b) => Math.min(Math.max(x, a), b), df: (g, x, a, b) => (x >= a && x <= b ? g : 0) },
  leaky_relu: { f: (x, a) => (x > 0 ? x : a * x), df: (g, x, a) => (x > 0 ? g : g * a) },
  sigmoid: { f: sigmoidOf, df: (g, x) => g * sigmoidOf(x) * (1 - sigmoidOf(x)) },
  hard_sigmoid: {
    f: (x, a, b) => Math.min(Math.max(a * x + b, 0), 1),
    df: (g, x, a, b) => (a * x + b > 0 && a * x + b < 1 ? g * a : 0),
  },
  hard_swish: {
    f: (x) => (x * Math.min(Math.max(x + 3, 0), 6)) / 6,
    df: (g, x) => (x < -3 ? 0 : x <= 3 ? g * (x / 3 + 0.5) : g),
  },
  swish: { f: (x) => x * sigmoidOf(x), df: (g, x) => g * (sigmoidOf(x) * (1 + x * (1 - sigmoidOf(x)))) },
};

/** An activation's cache: its input Z and its two numbers (clip's min and max, leaky_relu's alpha, …). */
export type ActivationCache = [NDArray, number, number];

/** A finite number option (or its default), else a named RangeError. */
function number(fn: string, o: Record<string, unknown>, key: string, fallback: number): number {
  const v = o[key] === undefined ? fallback : o[key];
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new RangeError(`${fn}: options.${key} expects a finite number but got ${describe(v)}`);
  }
  return v;
}

function optionsOf(fn: string, options: unknown): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options expects an object but got ${describe(options)}`);
  }
  return { ...(options as Record<string, unknown>) };
}

/** The two numbers each activation reads from its options (with PyTorch's defaults), checked. */
export function activationParams(fn: string, name: ActivationName, options: unknown): [number, number] {
  const o = optionsOf(fn, options);
  if (name === "clip") return clipBounds(fn, o);
  if (name === "leaky_relu") return [number(fn, o, "alpha", 0.01), 0];
  if (name === "hard_sigmoid") return [number(fn, o, "alpha", 1 / 6), number(fn, o, "beta", 0.5)];
  return [0, 0];
}

/** A clip bound may be ±Infinity (no bound): checked apart from the other numbers. */
function clipBounds(fn: string, options: unknown): [number, number] {
  const o = optionsOf(fn, options);
  const bound = (key: string, fallback: number) => {
    const v = o[key] === undefined ? fallback : o[key];
    if (typeof v !== "number" || Number.isNaN(v)) {
      throw new RangeError(`${fn}: options.${key} expects a number but got ${describe(v)}`);
    }
    return v;
  };
  const [lo, hi] = [bound("min", -Infinity), bound("max", Infinity)];
  if (!(lo <= hi)) throw new RangeError(`${fn}: options.min expects at most options.max (${hi}) but got ${lo}`);
  return [lo, hi];
}

function forward(fn: string, name: ActivationName, Z: NDArray, options: unknown): [NDArray, ActivationCache] {
  const z = snapshot(fn, "Z", Z);
  const [a, b] = activationParams(fn, name, options);
  const res = new Result(fn, "A", z.shape, optionsOf(fn, options).out, [z]);
  const out = res.data;
  const n = z.size;
  // elementwise and memory-bound: on the calling thread
  run(fn, false, ({ kernels, arena }) => {
    const x = arena.copyIn(fn, "Z", z);
    const y = arena.alloc(fn, "A", n * F64_BYTES);
    runKernel(kernels, "act_forward", { kind: ACTIVATIONS[name], x, y, i0: 0, i1: n, a, b });
    out.set(arena.f64(y, n));
  });
  return [res.array(z.shape), [Z, a, b]];
}

function backward(fn: string, name: ActivationName, dA: NDArray, cache: unknown, options: unknown): NDArray {
  const [Z, a, b] = cacheItems(fn, cache, 3, name);
  const z = snapshot(fn, "cache[0]", Z);
  if (typeof a !== "number" || typeof b !== "number") {
    throw new TypeError(`${fn}: cache expects the cache returned by ${name} but got ${describe(cache)}`);
  }
  const da = snapshot(fn, "dA", dA);
  if (fmtShape(da.shape) !== fmtShape(z.shape)) {
    throw new RangeError(
      `${fn}: dA expects shape ${fmtShape(z.shape)} (the shape of ${name}'s Z) but got ${fmtShape(da.shape)}`,
    );
  }
  const res = new Result(fn, "dZ", z.shape, optionsOf(fn, options).out, [z, da]);
  const out = res.data;
  const n = z.size;
  run(fn, false, ({ kernels, arena }) => {
    const x = arena.copyIn(fn, "Z", z);
    const dy = arena.copyIn(fn, "dA", da);
    const dx = arena.alloc(fn, "dZ", n * F64_BYTES);
    runKernel(kernels, "act_backward", { kind: ACTIVATIONS[name], x, dy, dx, i0: 0, i1: n, a, b });
    out.set(arena.f64(dx, n));
  });
  return res.array(z.shape);
}

type Out = { out?: NDArray };

/** relu6(Z) -> [min(max(Z, 0), 6), cache] (MobileNetV2's); the gradient passes where 0 < Z < 6. */
export const relu6 = (Z: NDArray, options?: Out) => forward("relu6", "relu6", Z, options);
export const relu6_backward = (dA: NDArray, cache: ActivationCache, options?: Out) =>
  backward("relu6_backward", "relu6", dA, cache, options);

/** clip(Z, { min, max }) -> [min(max(Z, min), max), cache] (torch.clamp); the gradient passes where min ≤ Z ≤ max. */
export const clip = (Z: NDArray, options?: Out & { min?: number; max?: number }) => forward("clip", "clip", Z, options);
export const clip_backward = (dA: NDArray, cache: ActivationCache, options?: Out) =>
  backward("clip_backward", "clip", dA, cache, options);

/** leaky_relu(Z, { alpha = 0.01 }) -> [Z > 0 ? Z : alpha·Z, cache] (PyTorch's default slope). */
export const leaky_relu = (Z: NDArray, options?: Out & { alpha?: number }) =>
  forward("leaky_relu", "leaky_relu", Z, options);
export const leaky_relu_backward = (dA: NDArray, cache: ActivationCache, options?: Out) =>
  backward("leaky_relu_backward", "leaky_relu", dA, cache, options);

/** sigmoid(Z) -> [1 / (1 + e^−Z), cache]. */
export const sigmoid = (Z: NDArray, options?: Out) => forward("sigmoid", "sigmoid", Z, options);
export const sigmoid_backward = (dA: NDArray, cache: ActivationCache, options?: Out) =>
  backward("sigmoid_backward", "sigmoid", dA, cache, options);

/**
 * hard_sigmoid(Z, { alpha = 1/6, beta = 0.5 }) -> [max(0, min(1, alpha·Z + beta)), cache]: PyTorch's
 * Hardsigmoid by default (ONNX's HardSigmoid and Keras 2's use alpha 0.2).
 */
export const hard_sigmoid = (Z: NDArray, options?: Out & { alpha?: number; beta?: number }) =>
  forward("hard_sigmoid", "hard_sigmoid", Z, options);
export const hard_sigmoid_backward = (dA: NDArray, cache: ActivationCache, options?: Out) =>
  backward("hard_sigmoid_backward", "hard_sigmoid", dA, cache, options);

/** hard_swish(Z) -> [Z · relu6(Z + 3) / 6, cache] (MobileNetV3's, PyTorch's Hardswish). */
export const hard_swish = (Z: NDArray, options?: Out) => forward("hard_swish", "hard_swish", Z, options);
export const hard_swish_backward = (dA: NDArray, cache: ActivationCache, options?: Out) =>
  backward("hard_swish_backward", "hard_swish", dA, cache, options);

/** swish(Z) -> [Z · sigmoid(Z), cache] (SiLU, EfficientNet's). */
export const swish = (Z: NDArray, options?: Out) => forward("swish", "swish", Z, options);
export const swish_backward = (dA: NDArray, cache: ActivationCache, options?: Out) =>
  backward("swish_backward", "swish", dA, cache, options);

/** The ops defined here (src/ops/registry.ts): each activation and its gradient. */
export const OPS = defineOps({
  relu6: {
    fn: relu6,
    keys: ["out"],
    args: ["Z", "options"],
    call: "relu6(Z)",
    doc: "`min(max(Z, 0), 6)` → `[A, cache]`; the gradient passes where 0 < Z < 6 (PyTorch's ReLU6)",
    section: "layers",
  },
  relu6_backward: {
    fn: relu6_backward,
    keys: ["out"],
    args: ["dA", "cache", "options"],
    doc: "the gradient: `dZ` of Z's shape, from `dA` and relu6's cache `[Z, a, b]`",
    section: "layers",
  },
  clip: {
    fn: clip,
    keys: ["min", "max", "out"],
    args: ["Z", "options"],
    call: "clip(Z, { min, max })",
    doc: "torch.clamp → `[A, cache]`; the gradient passes where min ≤ Z ≤ max",
    section: "layers",
  },
  clip_backward: {
    fn: clip_backward,
    keys: ["out"],
    args: ["dA", "cache", "options"],
    doc: "the gradient: `dZ` of Z's shape, from `dA` and clip's cache `[Z, a, b]`",
    section: "layers",
  },
  leaky_relu: {
    fn: leaky_relu,
    keys: ["alpha", "out"],
    args: ["Z", "options"],
    call: "leaky_relu(Z, { alpha })",
    doc: "`Z > 0 ? Z : alpha·Z` → `[A, cache]`, alpha 0.01 by default (PyTorch's)",
    section: "layers",
  },
  leaky_relu_backward: {
    fn: leaky_relu_backward,
    keys: ["out"],
    args: ["dA", "cache", "options"],
    doc: "the gradient: `dZ` of Z's shape, from `dA` and leaky_relu's cache `[Z, a, b]`",
    section: "layers",
  },
  sigmoid: {
    fn: sigmoid,
    keys: ["out"],
    args: ["Z", "options"],
    call: "sigmoid(Z)",
    doc: "`1 / (1 + e^−Z)` → `[A, cache]`",
    section: "layers",
  },
  sigmoid_backward: {
    fn: sigmoid_backward,
    keys: ["out"],
    args: ["dA", "cache", "options"],
    doc: "the gradient: `dZ` of Z's shape, from `dA` and sigmoid's cache `[Z, a, b]`",
    section: "layers",
  },
  hard_sigmoid: {
    fn: hard_sigmoid,
    keys: ["alpha", "beta", "out"],
    args: ["Z", "options"],
    call: "hard_sigmoid(Z, { alpha, beta })",
    doc: "`max(0, min(1, alpha·Z + beta))` → `[A, cache]`, PyTorch's 1/6 and 0.5 by default (ONNX's and Keras 2's alpha is 0.2)",
    section: "layers",
  },
  hard_sigmoid_backward: {
    fn: hard_sigmoid_backward,
    keys: ["out"],
    args: ["dA", "cache", "options"],
    doc: "the gradient: `dZ` of Z's shape, from `dA` and hard_sigmoid's cache `[Z, a, b]`",
    section: "layers",
  },
  hard_swish: {
    fn: hard_swish,
    keys: ["out"],
    args: ["Z", "options"],
    call: "hard_swish(Z)",
    doc: "`Z · relu6(Z + 3) / 6` → `[A, cache]` (MobileNetV3)",
    section: "layers",
  },
  hard_swish_backward: {
    fn: hard_swish_backward,
    keys: ["out"],
    args: ["dA", "cache", "options"],
    doc: "the gradient: `dZ` of Z's shape, from `dA` and hard_swish's cache `[Z, a, b]`",
    section: "layers",
  },
  swish: {
    fn: swish,
    keys: ["out"],
    args: ["Z", "options"],
    call: "swish(Z)",
    doc: "`Z · sigmoid(Z)` → `[A, cache]` (SiLU, EfficientNet)",
    section: "layers",
  },
  swish_backward: {
    fn: swish_backward,
    keys: ["out"],
    args: ["dA", "cache", "options"],
    doc: "the gradient: `dZ` of Z's shape, from `dA` and swish's cache `[Z, a, b]`",
    section: "layers",
  },
});
