// Every argument check and output-shape formula, in one place (as tfjs's conv_util). Messages start with
// the notebook's function name and say what was expected and what came.
import { NDArray, fmtShape } from "./ndarray.js";

export interface ConvHparameters {
  stride: number;
  pad: number;
}

export interface PoolHparameters {
  f: number;
  stride: number;
}

export type PoolMode = "max" | "average";

/** Everything a conv kernel needs, derived once from validated arguments. */
export interface ConvInfo {
  m: number;
  h: number;
  w: number;
  c: number;
  f: number;
  k: number;
  stride: number;
  pad: number;
  /** padded input height and width */
  hp: number;
  wp: number;
  nH: number;
  nW: number;
}

export interface PoolInfo {
  m: number;
  h: number;
  w: number;
  c: number;
  f: number;
  stride: number;
  nH: number;
  nW: number;
}

function describe(x: unknown): string {
  if (x instanceof NDArray) return `an array of shape ${fmtShape(x.shape)}`;
  if (x === null) return "null";
  if (Array.isArray(x)) return `a plain array of length ${x.length}`;
  if (typeof x === "object") return `a ${(x as object).constructor?.name ?? "object"}`;
  return `${typeof x} ${String(x)}`;
}

/** x must be an NDArray of the given rank (its axes named for the message). */
export function checkArray(fn: string, name: string, x: unknown, axes: string[]): asserts x is NDArray {
  const want = `(${axes.join(", ")})`;
  if (!(x instanceof NDArray)) {
    throw new TypeError(`${fn}: ${name} expects an NDArray of shape ${want} but got ${describe(x)}`);
  }
  if (x.ndim !== axes.length) {
    throw new RangeError(`${fn}: ${name} expects ${axes.length} dimensions ${want} but got shape ${fmtShape(x.shape)}`);
  }
  x.shape.forEach((d, i) => {
    if (d < 1 && i > 0) {
      throw new RangeError(`${fn}: ${name} expects ${axes[i]} >= 1 but got shape ${fmtShape(x.shape)}`);
    }
  });
}

/** hp[key] must be an integer >= min. */
function hparam(fn: string, hp: unknown, key: string, min: number): number {
  if (hp === null || typeof hp !== "object") {
    throw new TypeError(`${fn}: hparameters expects an object with "${key}" but got ${describe(hp)}`);
  }
  if (!(key in hp)) {
    throw new TypeError(`${fn}: hparameters is missing "${key}" (got keys ${JSON.stringify(Object.keys(hp))})`);
  }
  return checkInteger(fn, `hparameters.${key}`, (hp as Record<string, unknown>)[key], min);
}

/** v must be an integer >= min. */
export function checkInteger(fn: string, name: string, v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new RangeError(`${fn}: ${name} expects an integer >= ${min} but got ${describe(v)}`);
  }
  return v;
}

export function checkMode(fn: string, mode: unknown): PoolMode {
  if (mode !== "max" && mode !== "average") {
    throw new RangeError(`${fn}: mode expects "max" or "average" but got ${JSON.stringify(mode) ?? String(mode)}`);
  }
  return mode;
}

/** Shapes of conv_forward(A_prev, W, b, hparameters); b is optional (conv_backward checks no b). */
export function convInfo(fn: string, A_prev: unknown, W: unknown, b: unknown, hparameters: unknown): ConvInfo {
  checkArray(fn, "A_prev", A_prev, ["m", "n_H_prev", "n_W_prev", "n_C_prev"]);
  checkArray(fn, "W", W, ["f", "f", "n_C_prev", "n_C"]);
  const [m, h, w, c] = A_prev.shape;
  const [f, f2, cw, k] = W.shape;
  const shapes = `(A_prev ${fmtShape(A_prev.shape)}, W ${fmtShape(W.shape)})`;
  if (f !== f2) throw new RangeError(`${fn}: W expects a square f×f window but got ${f}×${f2} ${shapes}`);
  if (cw !== c) {
    throw new RangeError(`${fn}: W expects ${cw} input channels but A_prev has ${c} ${shapes}`);
  }
  if (b !== undefined) {
    checkArray(fn, "b", b, ["1", "1", "1", "n_C"]);
    if (b.shape[0] !== 1 || b.shape[1] !== 1 || b.shape[2] !== 1 || b.shape[3] !== k) {
      throw new RangeError(
        `${fn}: b expects shape [1,1,1,${k}] for W ${fmtShape(W.shape)} but got ${fmtShape(b.shape)}`,
      );
    }
  }
  const stride = hparam(fn, hparameters, "stride", 1);
  const pad = hparam(fn, hparameters, "pad", 0);
  const hp = h + 2 * pad;
  const wp = w + 2 * pad;
  if (f > hp || f > wp) {
    throw new RangeError(
      `${fn}: the ${f}×${f} window is larger than the padded input ${hp}×${wp} (A_prev ${fmtShape(A_prev.shape)}, pad ${pad})`,
    );
  }
  return {
    m,
    h,
    w,
    c,
    f,
    k,
    stride,
    pad,
    hp,
    wp,
    nH: Math.floor((hp - f) / stride) + 1,
    nW: Math.floor((wp - f) / stride) + 1,
  };
}

/** Shapes of pool_forward(A_prev, hparameters). */
export function poolInfo(fn: string, A_prev: unknown, hparameters: unknown): PoolInfo {
  checkArray(fn, "A_prev", A_prev, ["m", "n_H_prev", "n_W_prev", "n_C_prev"]);
  const [m, h, w, c] = A_prev.shape;
  const f = hparam(fn, hparameters, "f", 1);
  const stride = hparam(fn, hparameters, "stride", 1);
  if (f > h || f > w) {
    throw new RangeError(
      `${fn}: the ${f}×${f} window is larger than the input ${h}×${w} (A_prev ${fmtShape(A_prev.shape)})`,
    );
  }
  return { m, h, w, c, f, stride, nH: Math.floor((h - f) / stride) + 1, nW: Math.floor((w - f) / stride) + 1 };
}

/** A gradient must have exactly the shape of the forward output it belongs to. */
export function checkGradient(
  fn: string,
  name: string,
  x: unknown,
  expected: readonly number[],
  of: string,
): asserts x is NDArray {
  checkArray(fn, name, x, ["m", "n_H", "n_W", "n_C"]);
  if (x.shape.some((d, i) => d !== expected[i])) {
    throw new RangeError(`${fn}: ${name} expects shape ${fmtShape(expected)} (the ${of}) but got ${fmtShape(x.shape)}`);
  }
}

/** A cache must be the array the matching forward function returned. */
export function checkCache(fn: string, cache: unknown, length: number, from: string): unknown[] {
  if (!Array.isArray(cache) || cache.length !== length) {
    throw new TypeError(
      `${fn}: cache expects the ${length}-element cache returned by ${from} but got ${describe(cache)}`,
    );
  }
  return cache;
}
