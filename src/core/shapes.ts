// Every argument check and output-shape formula, in one place (as tfjs's conv_util). Messages start with
// the notebook's function name and say what was expected and what came. Array arguments come back as
// trusted snapshots (see snapshot in ndarray.ts), so no user code runs once a call has started.
import { NDArray, describe, fmtShape, snapshot } from "./ndarray.js";

/** One number for both axes, or [height, width]. */
export type Pair = number | readonly [number, number];

/**
 * Zero padding: the same on every side, [height, width] (each on both sides), [[top, bottom], [left,
 * right]], "same" (TensorFlow's rule: n_H = ceil(n_H_prev / stride), the odd row or column at the bottom
 * or right) or "valid" (none).
 */
export type Padding =
  | number
  | readonly [number, number]
  | readonly [readonly [number, number], readonly [number, number]]
  | "same"
  | "valid";

export interface ConvHparameters {
  stride: Pair;
  pad: Padding;
  /** Spacing of the window's taps (default 1). */
  dilation?: Pair;
  /** Channel groups (default 1): n_C_prev and n_C divisible by it; n_C_prev groups is a depthwise conv. */
  groups?: number;
}

export interface PoolHparameters {
  f: Pair;
  stride: Pair;
  /** Padding (default 0), which never wins a max and which average pooling does not count by default. */
  pad?: Padding;
  /** Output size rounded up (PyTorch's ceil_mode; the last window must start inside the input or its top/left padding). */
  ceil_mode?: boolean;
  /** Average pooling divides by the window's size counting padding (PyTorch's default), not only input elements. */
  count_include_pad?: boolean;
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

/**
 * A pooling's geometry, per axis: window fh×fw, stride sh×sw, padding on each side, output nH×nW, and
 * the padded extent every window fits in (hp×wp: with ceil_mode the last windows may reach past the
 * bottom and right padding; those positions are ignored).
 */
export interface PoolGeometry {
  m: number;
  h: number;
  w: number;
  c: number;
  fh: number;
  fw: number;
  sh: number;
  sw: number;
  top: number;
  bottom: number;
  left: number;
  right: number;
  countPad: boolean;
  hp: number;
  wp: number;
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

function checkObject(fn: string, hp: unknown, key: string): asserts hp is Record<string, unknown> {
  if (hp === null || typeof hp !== "object") {
    throw new TypeError(`${fn}: hparameters expects an object with "${key}" but got ${describe(hp)}`);
  }
}

/** hp[key], an own property (never one inherited from a polluted prototype), read once; it must be there. */
function required(fn: string, hp: unknown, key: string): unknown {
  checkObject(fn, hp, key);
  if (!Object.hasOwn(hp, key)) {
    throw new TypeError(`${fn}: hparameters is missing "${key}" (got keys ${JSON.stringify(Object.keys(hp))})`);
  }
  return hp[key];
}

/** hp[key] as an own property, read once, or undefined when absent. */
function optional(fn: string, hp: unknown, key: string): unknown {
  checkObject(fn, hp, key);
  return Object.hasOwn(hp, key) ? hp[key] : undefined;
}

/** A number for both axes or [height, width], integers >= min. */
export function pair(fn: string, name: string, v: unknown, min: number): [number, number] {
  if (typeof v === "number") {
    checkInteger(fn, name, v, min);
    return [v, v];
  }
  if (Array.isArray(v) && v.length === 2) {
    const [a, b] = [v[0] as unknown, v[1] as unknown];
    if (typeof a === "number" && typeof b === "number" && [a, b].every((x) => Number.isSafeInteger(x) && x >= min)) {
      return [a, b];
    }
  }
  throw new RangeError(`${fn}: ${name} expects an integer >= ${min} or [height, width] of them but got ${describe(v)}`);
}

function checkBoolean(fn: string, name: string, v: unknown): boolean {
  if (typeof v !== "boolean") throw new TypeError(`${fn}: ${name} expects true or false but got ${describe(v)}`);
  return v;
}

/** Padding on each side, from any of the forms of `Padding` ("same" needs the sizes it pads for). */
function padding(
  fn: string,
  v: unknown,
  same: { n: [number, number]; f: [number, number]; s: [number, number]; d: [number, number] },
): { top: number; bottom: number; left: number; right: number } {
  const name = "hparameters.pad";
  if (v === "valid") return { top: 0, bottom: 0, left: 0, right: 0 };
  if (v === "same") {
    // TensorFlow's rule: out = ceil(n / s); the total padding split with the odd one at the bottom/right
    const [top, bottom, left, right] = [0, 1].flatMap((ax) => {
      const out = Math.ceil(same.n[ax] / same.s[ax]);
      const total = Math.max((out - 1) * same.s[ax] + (same.f[ax] - 1) * same.d[ax] + 1 - same.n[ax], 0);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    });
    return { top, bottom, left, right };
  }
  if (typeof v === "number") {
    checkInteger(fn, name, v, 0);
    return { top: v, bottom: v, left: v, right: v };
  }
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === "number")) {
    const [ph, pw] = pair(fn, name, v, 0);
    return { top: ph, bottom: ph, left: pw, right: pw };
  }
  if (Array.isArray(v) && v.length === 2 && v.every((x) => Array.isArray(x))) {
    const [top, bottom] = pair(fn, `${name}[0] ([top, bottom])`, v[0], 0);
    const [left, right] = pair(fn, `${name}[1] ([left, right])`, v[1], 0);
    return { top, bottom, left, right };
  }
  throw new RangeError(
    `${fn}: ${name} expects an integer >= 0, [height, width], [[top, bottom], [left, right]], "same" or "valid" but got ${describe(v)}`,
  );
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
  g: ConvGeometry;
}

/** Checks conv_forward(A_prev, W, b, hparameters) (or the cache conv_backward gets). */
export function convArgs(fn: string, A_prev: unknown, W: unknown, b: unknown, hparameters: unknown): ConvArgs {
  const A = checkArray(fn, "A_prev", A_prev, ["m", "n_H_prev", "n_W_prev", "n_C_prev"]);
  const F = checkArray(fn, "W", W, ["f_H", "f_W", "n_C_prev / groups", "n_C"]);
  const [m, h, w, c] = A.shape;
  const [fh, fw, cw, k] = F.shape;
  const shapes = () => `(A_prev ${fmtShape(A.shape)}, W ${fmtShape(F.shape)})`;
  // each hyperparameter read once, in the order of the notebook's keys
  const strideRaw = required(fn, hparameters, "stride");
  const padRaw = required(fn, hparameters, "pad");
  const dilation = optional(fn, hparameters, "dilation");
  const groupsRaw = optional(fn, hparameters, "groups");
  const groups = groupsRaw === undefined ? 1 : checkInteger(fn, "hparameters.groups", groupsRaw, 1);
  if (c % groups !== 0 || k % groups !== 0) {
    throw new RangeError(
      `${fn}: hparameters.groups expects a divisor of n_C_prev (${c}) and n_C (${k}) but got ${groups}`,
    );
  }
  if (cw * groups !== c) {
    throw new RangeError(
      groups === 1
        ? `${fn}: W expects ${cw} input channels but A_prev has ${c} ${shapes()}`
        : `${fn}: W expects n_C_prev / groups = ${c / groups} input channels (A_prev has ${c} in ${groups} groups) but has ${cw} ${shapes()}`,
    );
  }
  if (!(b instanceof NDArray)) {
    throw new TypeError(`${fn}: b expects an NDArray of shape [1,1,1,${k}] or [${k}] but got ${describe(b)}`);
  }
  const B = snapshot(fn, "b", b);
  const bShape = fmtShape(B.shape);
  if (bShape !== `[1,1,1,${k}]` && bShape !== `[${k}]`) {
    throw new RangeError(`${fn}: b expects shape [1,1,1,${k}] or [${k}] for W ${fmtShape(F.shape)} but got ${bShape}`);
  }
  const [sh, sw] = pair(fn, "hparameters.stride", strideRaw, 1);
  const [dh, dw] = dilation === undefined ? [1, 1] : pair(fn, "hparameters.dilation", dilation, 1);
  const { top, bottom, left, right } = padding(fn, padRaw, {
    n: [h, w],
    f: [fh, fw],
    s: [sh, sw],
    d: [dh, dw],
  });
  const hp = h + top + bottom;
  const wp = w + left + right;
  const [eh, ew] = [(fh - 1) * dh + 1, (fw - 1) * dw + 1];
  if (eh > hp || ew > wp) {
    const dilated = dh > 1 || dw > 1 ? ` (${eh}×${ew} dilated)` : "";
    const pads =
      top === bottom && top === left && top === right
        ? `pad ${top}`
        : `padding top ${top}, bottom ${bottom}, left ${left}, right ${right}`;
    throw new RangeError(
      `${fn}: the ${fh}×${fw} window${dilated} is larger than the padded input ${hp}×${wp} (A_prev ${fmtShape(A.shape)}, ${pads})`,
    );
  }
  const nH = outSize(h, top + bottom, fh, sh, dh);
  const nW = outSize(w, left + right, fw, sw, dw);
  const g: ConvGeometry = { m, h, w, c, k, fh, fw, sh, sw, dh, dw, top, bottom, left, right, groups, hp, wp, nH, nW };
  return { A_prev: A, W: F, b: B, g };
}

/** pool_forward's arguments, checked: a trusted snapshot of A_prev, hparameters read once, the geometry. */
export interface PoolArgs {
  A_prev: NDArray;
  g: PoolGeometry;
}

/**
 * Output size along one pooling axis: floor, or with ceil_mode ceil as PyTorch (dropping a last window
 * that would start past the input and its leading padding).
 */
function poolOut(n: number, lead: number, trail: number, f: number, s: number, ceil: boolean): number {
  const span = n + lead + trail - f;
  if (span < 0) return 0;
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (out - 1) * s >= n + lead) out--;
  return out;
}

/** Checks pool_forward(A_prev, hparameters) (or the cache pool_backward gets). */
export function poolArgs(fn: string, A_prev: unknown, hparameters: unknown): PoolArgs {
  const A = checkArray(fn, "A_prev", A_prev, ["m", "n_H_prev", "n_W_prev", "n_C_prev"]);
  const [m, h, w, c] = A.shape;
  const [fh, fw] = pair(fn, "hparameters.f", required(fn, hparameters, "f"), 1);
  const [sh, sw] = pair(fn, "hparameters.stride", required(fn, hparameters, "stride"), 1);
  const padRaw = optional(fn, hparameters, "pad");
  const pads = padding(fn, padRaw ?? 0, { n: [h, w], f: [fh, fw], s: [sh, sw], d: [1, 1] });
  const { top, bottom, left, right } = pads;
  const ceilRaw = optional(fn, hparameters, "ceil_mode");
  const ceil = ceilRaw === undefined ? false : checkBoolean(fn, "hparameters.ceil_mode", ceilRaw);
  const countRaw = optional(fn, hparameters, "count_include_pad");
  const countPad = countRaw === undefined ? false : checkBoolean(fn, "hparameters.count_include_pad", countRaw);
  const padded = `${top + bottom + left + right > 0 ? "padded input" : "input"} ${h + top + bottom}×${w + left + right}`;
  if (fh > h + top + bottom || fw > w + left + right) {
    throw new RangeError(`${fn}: the ${fh}×${fw} window is larger than the ${padded} (A_prev ${fmtShape(A.shape)})`);
  }
  const nH = poolOut(h, top, bottom, fh, sh, ceil);
  const nW = poolOut(w, left, right, fw, sw, ceil);
  // every window must cover an input element: the first one past the leading padding, the last one
  // starting before the input ends (windows in between lie between them)
  for (const [axis, f, lead, s, out, n] of [
    ["height", fh, top, sh, nH, h],
    ["width", fw, left, sw, nW, w],
  ] as const) {
    if (f <= lead || (out - 1) * s - lead >= n) {
      const which = f <= lead ? "the first" : "the last";
      throw new RangeError(
        `${fn}: ${which} window along the ${axis} covers only padding (window ${f}, stride ${s}, padding ` +
          `${JSON.stringify(axis === "height" ? [top, bottom] : [left, right])}, input ${n}); every window must cover an input element`,
      );
    }
  }
  const hp = Math.max(h + top + bottom, (nH - 1) * sh + fh);
  const wp = Math.max(w + left + right, (nW - 1) * sw + fw);
  const g = { m, h, w, c, fh, fw, sh, sw, top, bottom, left, right, countPad, hp, wp, nH, nW };
  return { A_prev: A, g };
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

/** How a 3×3 stride-1 convolution is computed: by Winograd where it fits and pays, directly, or by Winograd. */
export type Algorithm = "auto" | "direct" | "winograd";

/** Checks an `algorithm` option. */
export function checkAlgorithm(fn: string, v: unknown, name = "options.algorithm"): Algorithm {
  if (v === "auto" || v === "direct" || v === "winograd") return v;
  throw new TypeError(`${fn}: ${name} expects "auto", "direct" or "winograd" but got ${describe(v)}`);
}
