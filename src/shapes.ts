// Every argument check and output-shape formula, in one place (as tfjs's conv_util). Messages start with
// the notebook's function name and say what was expected and what came. Array arguments come back as
// trusted snapshots (see snapshot in ndarray.ts), so no user code runs once a call has started.
import { NDArray, describe, fmtShape, snapshot } from "./ndarray.js";

export interface ConvHparameters {
  stride: number;
  pad: number;
}

export interface PoolHparameters {
  f: number;
  stride: number;
}

export type PoolMode = "max" | "average";

/**
 * A convolution's geometry, per axis: window fh×fw, stride sh×sw, dilation dh×dw, zero padding on each
 * side, groups; derived sizes: the padded input hp×wp and the output nH×nW.
 */
export interface ConvGeometry {
  m: number;
  h: number;
  w: number;
  c: number;
  k: number;
  fh: number;
  fw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  top: number;
  bottom: number;
  left: number;
  right: number;
  groups: number;
  hp: number;
  wp: number;
  nH: number;
  nW: number;
}

/** A pooling's geometry, per axis: window fh×fw, stride sh×sw, output nH×nW. */
export interface PoolGeometry {
  m: number;
  h: number;
  w: number;
  c: number;
  fh: number;
  fw: number;
  sh: number;
  sw: number;
  nH: number;
  nW: number;
}

/** x must be an NDArray of the given rank (its axes named for the message); returns its snapshot. */
export function checkArray(fn: string, name: string, x: unknown, axes: string[]): NDArray {
  const want = `(${axes.join(", ")})`;
  if (!(x instanceof NDArray)) {
    throw new TypeError(`${fn}: ${name} expects an NDArray of shape ${want} but got ${describe(x)}`);
  }
  const a = snapshot(fn, name, x);
  if (a.ndim !== axes.length) {
    throw new RangeError(`${fn}: ${name} expects ${axes.length} dimensions ${want} but got shape ${fmtShape(a.shape)}`);
  }
  a.shape.forEach((d, i) => {
    if (d < 1 && i > 0) {
      throw new RangeError(`${fn}: ${name} expects ${axes[i]} >= 1 but got shape ${fmtShape(a.shape)}`);
    }
  });
  return a;
}

/** hp[key], an own property (never one inherited from a polluted prototype), must be an integer >= min. */
function hparam(fn: string, hp: unknown, key: string, min: number): number {
  if (hp === null || typeof hp !== "object") {
    throw new TypeError(`${fn}: hparameters expects an object with "${key}" but got ${describe(hp)}`);
  }
  if (!Object.hasOwn(hp, key)) {
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

/** Output size along one axis: floor((n + pads - ((f - 1) * d + 1)) / s) + 1. */
function outSize(n: number, pads: number, f: number, s: number, d: number): number {
  return Math.floor((n + pads - ((f - 1) * d + 1)) / s) + 1;
}

/** conv_forward's arguments, checked: trusted snapshots of the arrays, hparameters read once, the geometry. */
export interface ConvArgs {
  A_prev: NDArray;
  W: NDArray;
  b: NDArray;
  hparameters: ConvHparameters;
  g: ConvGeometry;
}

/** Checks conv_forward(A_prev, W, b, hparameters) (or the cache conv_backward gets). */
export function convArgs(fn: string, A_prev: unknown, W: unknown, b: unknown, hparameters: unknown): ConvArgs {
  const A = checkArray(fn, "A_prev", A_prev, ["m", "n_H_prev", "n_W_prev", "n_C_prev"]);
  const F = checkArray(fn, "W", W, ["f", "f", "n_C_prev", "n_C"]);
  const [m, h, w, c] = A.shape;
  const [fh, fw, cw, k] = F.shape;
  const shapes = () => `(A_prev ${fmtShape(A.shape)}, W ${fmtShape(F.shape)})`;
  if (fh !== fw) throw new RangeError(`${fn}: W expects a square f×f window but got ${fh}×${fw} ${shapes()}`);
  if (cw !== c) {
    throw new RangeError(`${fn}: W expects ${cw} input channels but A_prev has ${c} ${shapes()}`);
  }
  const B = checkArray(fn, "b", b, ["1", "1", "1", "n_C"]);
  if (B.shape[0] !== 1 || B.shape[1] !== 1 || B.shape[2] !== 1 || B.shape[3] !== k) {
    throw new RangeError(`${fn}: b expects shape [1,1,1,${k}] for W ${fmtShape(F.shape)} but got ${fmtShape(B.shape)}`);
  }
  const stride = hparam(fn, hparameters, "stride", 1);
  const pad = hparam(fn, hparameters, "pad", 0);
  const sh = stride;
  const sw = stride;
  const dh = 1;
  const dw = 1;
  const top = pad;
  const bottom = pad;
  const left = pad;
  const right = pad;
  const hp = h + top + bottom;
  const wp = w + left + right;
  if ((fh - 1) * dh + 1 > hp || (fw - 1) * dw + 1 > wp) {
    throw new RangeError(
      `${fn}: the ${fh}×${fw} window is larger than the padded input ${hp}×${wp} (A_prev ${fmtShape(A.shape)}, pad ${pad})`,
    );
  }
  const nH = outSize(h, top + bottom, fh, sh, dh);
  const nW = outSize(w, left + right, fw, sw, dw);
  const g: ConvGeometry = {
    m,
    h,
    w,
    c,
    k,
    fh,
    fw,
    sh,
    sw,
    dh,
    dw,
    top,
    bottom,
    left,
    right,
    groups: 1,
    hp,
    wp,
    nH,
    nW,
  };
  return { A_prev: A, W: F, b: B, hparameters: { stride, pad }, g };
}

/** pool_forward's arguments, checked: a trusted snapshot of A_prev, hparameters read once, the geometry. */
export interface PoolArgs {
  A_prev: NDArray;
  hparameters: PoolHparameters;
  g: PoolGeometry;
}

/** Checks pool_forward(A_prev, hparameters) (or the cache pool_backward gets). */
export function poolArgs(fn: string, A_prev: unknown, hparameters: unknown): PoolArgs {
  const A = checkArray(fn, "A_prev", A_prev, ["m", "n_H_prev", "n_W_prev", "n_C_prev"]);
  const [m, h, w, c] = A.shape;
  const f = hparam(fn, hparameters, "f", 1);
  const stride = hparam(fn, hparameters, "stride", 1);
  const fh = f;
  const fw = f;
  const sh = stride;
  const sw = stride;
  if (fh > h || fw > w) {
    throw new RangeError(
      `${fn}: the ${fh}×${fw} window is larger than the input ${h}×${w} (A_prev ${fmtShape(A.shape)})`,
    );
  }
  const g = { m, h, w, c, fh, fw, sh, sw, nH: outSize(h, 0, fh, sh, 1), nW: outSize(w, 0, fw, sw, 1) };
  return { A_prev: A, hparameters: { f, stride }, g };
}

/** A gradient must have exactly the shape of the forward output it belongs to; returns its snapshot. */
export function checkGradient(fn: string, name: string, x: unknown, expected: readonly number[], of: string): NDArray {
  const a = checkArray(fn, name, x, ["m", "n_H", "n_W", "n_C"]);
  if (a.shape.some((d, i) => d !== expected[i])) {
    throw new RangeError(`${fn}: ${name} expects shape ${fmtShape(expected)} (the ${of}) but got ${fmtShape(a.shape)}`);
  }
  return a;
}

/** A cache must be the array the matching forward function returned; its items, each read once. */
export function cacheItems(fn: string, cache: unknown, length: number, from: string): unknown[] {
  if (!Array.isArray(cache) || cache.length !== length) {
    throw new TypeError(
      `${fn}: cache expects the ${length}-element cache returned by ${from} but got ${describe(cache)}`,
    );
  }
  return Array.from({ length }, (_, i) => cache[i]);
}
