// NDArray: float64 data + shape + strides (counted in elements) + offset, as scijs/ndarray and numpy.
// Views (index, transpose) share data and copy nothing.
import { cStrides, fmtShape, sizeOf } from "./layout.js";
import { formatArray } from "./print.js";

/** Bytes of a float64 element: the library's arrays, its arena's f64 values and its file formats' doubles. */
export const F64_BYTES = Float64Array.BYTES_PER_ELEMENT;

export { cStrides, fmtShape, sizeOf, spanOf } from "./layout.js";

/** Nested number arrays, as numpy's array([[1, 2], [3, 4]]). */
export type Nested = number | readonly Nested[];

/** A short description of any value, for error messages. */
export function describe(x: unknown): string {
  if (x instanceof NDArray) return `an array of shape ${fmtShape(x.shape)}`;
  if (x === null) return "null";
  if (Array.isArray(x)) {
    return x.length <= 8 && x.every((v) => typeof v === "number") ? fmtShape(x) : `a plain array of length ${x.length}`;
  }
  if (typeof x === "object" || typeof x === "function") {
    const name = (x as object).constructor?.name;
    return !name || name === "Object" ? "an object" : `a ${name}`;
  }
  return `${typeof x} ${String(x)}`;
}

/** The text of anything thrown. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : describe(e);
}

// Float64Array's own accessors, read once: a user's array may carry own properties that shadow them
const typedArrayProto = Object.getPrototypeOf(Float64Array.prototype) as object;
const intrinsic = (key: string) => Object.getOwnPropertyDescriptor(typedArrayProto, key)!.get!;
const bufferOf = intrinsic("buffer") as (this: Float64Array) => ArrayBufferLike;
const byteOffsetOf = intrinsic("byteOffset") as (this: Float64Array) => number;
const lengthOf = intrinsic("length") as (this: Float64Array) => number;

/**
 * `data` as a fresh Float64Array view of the same memory, made through the engine's own accessors (so
 * a Proxy, a look-alike or an array with shadowing own properties is refused or bypassed).
 */
function realData(fn: string, name: string, data: unknown): Float64Array {
  if (!ArrayBuffer.isView(data) || Object.getPrototypeOf(data) !== Float64Array.prototype) {
    throw new TypeError(`${fn}: ${name} expects a Float64Array but got ${describe(data)}`);
  }
  const f = data as Float64Array;
  const length = lengthOf.call(f);
  // (a detached array has length 0, and its buffer can no longer be viewed)
  return length === 0 ? new Float64Array(0) : new Float64Array(bufferOf.call(f), byteOffsetOf.call(f), length);
}

/** A fresh array of the integers in `v` (each read once), or a named error. */
function integers(fn: string, name: string, v: unknown, min: number): number[] {
  if (!Array.isArray(v) || v.length > 64) {
    throw new RangeError(`${fn}: ${name} expects an array of at most 64 integers but got ${describe(v)}`);
  }
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) {
    const d: unknown = v[i];
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < min) {
      throw new RangeError(`${fn}: ${name} expects integers >= ${min} but got [${Array.from(v, String).join(",")}]`);
    }
    out.push(d);
  }
  return out;
}

/** The first and last data indices a non-empty view reaches. */
export function extent(shape: readonly number[], strides: readonly number[], offset: number): [number, number] {
  let lo = offset;
  let hi = offset;
  shape.forEach((d, k) => {
    const reach = (d - 1) * strides[k];
    if (reach < 0) lo += reach;
    else hi += reach;
  });
  return [lo, hi];
}

/** Checks that every element of a view lies inside `data`. */
function checkBounds(fn: string, length: number, shape: number[], strides: number[], offset: number): void {
  if (sizeOf(shape) === 0) return;
  const [lo, hi] = extent(shape, strides, offset);
  if (lo < 0 || hi >= length) {
    throw new RangeError(
      `${fn}: shape ${fmtShape(shape)} with strides ${fmtShape(strides)} and offset ${offset} ` +
        `reaches elements ${lo}..${hi} but data has ${length}${length === 0 ? " (is its buffer detached?)" : ""}`,
    );
  }
}

export class NDArray {
  /** The underlying buffer, shared by views. */
  readonly data: Float64Array;
  readonly shape: readonly number[];
  /** Step in elements (not bytes) between neighbours along each axis. */
  readonly strides: readonly number[];
  /** Element index in `data` of the first element. */
  readonly offset: number;

  /**
   * A view of `data` (a Float64Array); strides default to C order. Every element the view reaches must
   * lie inside `data`. The fields cannot be reassigned (the instance is frozen).
   */
  constructor(data: Float64Array, shape: readonly number[], strides?: readonly number[], offset = 0) {
    const fn = "NDArray";
    // (messages name the field first: snapshot() re-prefixes them with the function and argument)
    if (!ArrayBuffer.isView(data) || !(data instanceof Float64Array)) {
      throw new TypeError(`${fn}: data expects a Float64Array but got ${describe(data)}`);
    }
    const s = integers(fn, "shape", shape, 0);
    const st = strides === undefined ? cStrides(s) : integers(fn, "strides", strides, -Infinity);
    if (st.length !== s.length) {
      throw new RangeError(`${fn}: strides ${fmtShape(st)} do not match the shape ${fmtShape(s)}`);
    }
    if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
      throw new RangeError(`${fn}: offset expects an integer >= 0 but got ${describe(offset)}`);
    }
    checkBounds(fn, data.length, s, st, offset);
    this.data = data;
    this.shape = Object.freeze(s);
    this.strides = Object.freeze(st);
    this.offset = offset;
    Object.freeze(this);
  }

  get ndim(): number {
    return this.shape.length;
  }

  get size(): number {
    return sizeOf(this.shape);
  }

  /** True when the elements are laid out in C order with no gaps from `offset`. */
  isContiguous(): boolean {
    let s = 1;
    for (let d = this.ndim - 1; d >= 0; d--) {
      if (this.shape[d] !== 1 && this.strides[d] !== s) return false;
      s *= this.shape[d];
    }
    return true;
  }

  private flatIndex(fn: string, idx: readonly number[], full: boolean): number {
    if (full ? idx.length !== this.ndim : idx.length > this.ndim) {
      const want = full ? `${this.ndim}` : `at most ${this.ndim}`;
      throw new RangeError(
        `NDArray.${fn}: expects ${want} indices for shape ${fmtShape(this.shape)} but got ${idx.length}`,
      );
    }
    let p = this.offset;
    idx.forEach((i, d) => {
      const n = this.shape[d];
      if (!Number.isInteger(i) || i < -n || i >= n) {
        throw new RangeError(`NDArray.${fn}: index ${i} is out of bounds for axis ${d} with size ${n}`);
      }
      p += (i < 0 ? i + n : i) * this.strides[d];
    });
    return p;
  }

  /** The element at a full index; negative indices count from the end, as in numpy. */
  get(...idx: number[]): number {
    return this.data[this.flatIndex("get", idx, true)];
  }

  /** set(i, j, ..., value) writes one element. */
  set(...args: number[]): void {
    const value = args.pop() as number;
    this.data[this.flatIndex("set", args, true)] = value;
  }

  /** The view numpy writes A[i, j, ...]: leading axes picked, the rest kept. */
  index(...idx: number[]): NDArray {
    const offset = this.flatIndex("index", idx, false);
    return new NDArray(this.data, this.shape.slice(idx.length), this.strides.slice(idx.length), offset);
  }

  /** A view with permuted axes (reversed when none are given), as numpy's transpose. */
  transpose(...axes: number[]): NDArray {
    const order = axes.length === 0 ? this.shape.map((_, d) => this.ndim - 1 - d) : axes;
    const sorted = [...order].sort((x, y) => x - y);
    if (order.length !== this.ndim || sorted.some((a, d) => a !== d)) {
      throw new RangeError(`NDArray.transpose: axes ${fmtShape(order)} are not a permutation of 0..${this.ndim - 1}`);
    }
    return new NDArray(
      this.data,
      order.map((a) => this.shape[a]),
      order.map((a) => this.strides[a]),
      this.offset,
    );
  }

  /**
   * The same elements in C order with another shape (one entry may be -1: inferred), as numpy's reshape:
   * a view of the same data when the strides allow it (always for a contiguous array), else a copy.
   */
  reshape(...shape: number[]): NDArray {
    const fn = "NDArray.reshape";
    const size = this.size;
    const free = shape.filter((d) => d === -1).length;
    const known = shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
    if (free > 1 || shape.some((d) => !Number.isSafeInteger(d) || d < -1)) {
      throw new RangeError(`${fn}: shape expects integers >= 0 (one may be -1) but got ${fmtShape(shape)}`);
    }
    const target = shape.map((d) => (d === -1 ? (known === 0 ? 0 : size / known) : d));
    if (sizeOf(target) !== size || target.some((d) => !Number.isInteger(d))) {
      throw new RangeError(
        `${fn}: cannot reshape an array of size ${size} (shape ${fmtShape(this.shape)}) into ${fmtShape(shape)}`,
      );
    }
    const strides = size === 0 ? cStrides(target) : viewStrides(this.shape, this.strides, target);
    return strides
      ? new NDArray(this.data, target, strides, size === 0 ? 0 : this.offset)
      : new NDArray(this.toFloat64Array(), target);
  }

  /** Element `k` in C order (used by printing and copying of views). */
  at(k: number): number {
    return this.data[indexOf(this, k)];
  }

  /** A C-order copy of the elements. */
  toFloat64Array(): Float64Array {
    const n = this.size;
    if (this.isContiguous()) return this.data.slice(this.offset, this.offset + n);
    const out = new Float64Array(n);
    copyStrided(this, out, 0);
    return out;
  }

  /** The elements as nested arrays (numpy's tolist()). */
  toNested(): Nested {
    if (this.ndim === 0) return this.data[this.offset];
    return Array.from({ length: this.shape[0] }, (_, i) => this.index(i).toNested());
  }

  /** Arithmetic mean, summed as numpy's np.mean does (pairwise), so it matches numpy to the last bit. */
  mean(): number {
    const flat = this.toFloat64Array();
    return pairwiseSum(flat, 0, flat.length) / flat.length;
  }

  /** numpy's str(): 8 significant decimals, aligned, wrapped at 75 characters. */
  toString(): string {
    return formatArray(this);
  }
}

/**
 * Strides that show an array of `shape` and `strides` as `target` without copying, or null when none
 * exist (numpy's _attempt_nocopy_reshape, C order): runs of old axes that are contiguous with each other
 * are regrouped into the new axes.
 */
function viewStrides(shape: readonly number[], strides: readonly number[], target: number[]): number[] | null {
  const olddims: number[] = [];
  const oldstrides: number[] = [];
  shape.forEach((d, i) => {
    if (d !== 1) {
      olddims.push(d);
      oldstrides.push(strides[i]);
    }
  });
  const out = new Array<number>(target.length).fill(0);
  let [oi, oj, ni, nj] = [0, 1, 0, 1];
  while (ni < target.length && oi < olddims.length) {
    let np = target[ni];
    let op = olddims[oi];
    while (np !== op) {
      if (np < op) np *= target[nj++];
      else op *= olddims[oj++];
    }
    for (let ok = oi; ok < oj - 1; ok++) if (oldstrides[ok] !== olddims[ok + 1] * oldstrides[ok + 1]) return null;
    out[nj - 1] = oldstrides[oj - 1];
    for (let nk = nj - 1; nk > ni; nk--) out[nk - 1] = out[nk] * target[nk];
    ni = nj++;
    oi = oj++;
  }
  // trailing axes of size 1
  const last = ni > 0 ? out[ni - 1] : 1;
  for (let nk = ni; nk < target.length; nk++) out[nk] = last;
  return out;
}

/** Copies the elements of `a` in C order into `out` from `start`; walks rows so views stay fast. */
export function copyStrided(a: NDArray, out: Float64Array | Float32Array, start: number): void {
  const { shape, strides, data, ndim } = a;
  if (ndim === 0) {
    out[start] = data[a.offset];
    return;
  }
  const n = a.size;
  if (n === 0) return;
  if (a.isContiguous()) {
    out.set(data.subarray(a.offset, a.offset + n), start);
    return;
  }
  const last = shape[ndim - 1];
  const step = strides[ndim - 1];
  const idx = new Array<number>(ndim - 1).fill(0);
  let p = a.offset;
  for (let o = start; o < start + n; o += last) {
    for (let j = 0, q = p; j < last; j++, q += step) out[o + j] = data[q];
    // advance the odometer over the leading axes
    for (let d = ndim - 2; d >= 0; d--) {
      p += strides[d];
      if (++idx[d] < shape[d]) break;
      p -= idx[d] * strides[d];
      idx[d] = 0;
    }
  }
}

/** numpy's pairwise summation (PW_BLOCKSIZE 128, 8 accumulators), over a[lo, lo+n). */
export function pairwiseSum(a: ArrayLike<number>, lo: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[lo + i];
    return res;
  }
  if (n <= 128) {
    const r = [a[lo], a[lo + 1], a[lo + 2], a[lo + 3], a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]];
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[lo + i + j];
    let res = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
    for (; i < n; i++) res += a[lo + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, lo, n2) + pairwiseSum(a, lo + n2, n - n2);
}

function flatten(fn: string, x: Nested, depth: number, shape: number[], out: number[]): void {
  if (typeof x === "number") {
    if (depth !== shape.length) throw new RangeError(`${fn}: nested arrays are ragged at depth ${depth}`);
    out.push(x);
    return;
  }
  if (!Array.isArray(x)) throw new TypeError(`${fn}: expects numbers or nested arrays of numbers but got ${typeof x}`);
  if (depth === shape.length) {
    if (out.length > 0) throw new RangeError(`${fn}: nested arrays are ragged at depth ${depth}`);
    shape.push(x.length);
  } else if (shape[depth] !== x.length) {
    throw new RangeError(`${fn}: nested arrays are ragged at depth ${depth} (lengths ${shape[depth]} and ${x.length})`);
  }
  for (const v of x) flatten(fn, v, depth + 1, shape, out);
}

/**
 * array(data, shape?): an NDArray from a Float64Array, a Float32Array (widened) or number[] (with an
 * optional shape; 1-D by default) or from nested arrays. A Float64Array is used as is (no copy); anything
 * else is copied.
 */
export function array(data: Float64Array | Float32Array | Nested, shape?: readonly number[]): NDArray {
  if (data instanceof Float32Array) {
    // float32 data (an image decoder's, TF.js's) widened exactly to float64: a copy
    return array(Float64Array.from(data), shape);
  }
  if (data instanceof Float64Array || (Array.isArray(data) && shape !== undefined)) {
    const flat = data instanceof Float64Array ? data : Float64Array.from(data as number[]);
    if (Array.isArray(data) && !data.every((v) => typeof v === "number")) {
      throw new TypeError("array: with a shape, data expects a flat array of numbers");
    }
    const s = shape ?? [flat.length];
    integers("array", "shape", s, 0);
    if (sizeOf(s) !== flat.length) {
      throw new RangeError(`array: data has ${flat.length} elements but shape ${fmtShape(s)} needs ${sizeOf(s)}`);
    }
    return new NDArray(flat, s);
  }
  const out: number[] = [];
  const s: number[] = [];
  flatten("array", data, 0, s, out);
  return new NDArray(Float64Array.from(out), s);
}

/** zeros(shape): a new C-contiguous array of zeros. */
export function zeros(shape: readonly number[]): NDArray {
  const s = integers("zeros", "shape", shape, 0);
  return new NDArray(allocate("zeros", "the result", sizeOf(s)), s);
}

/**
 * A trusted copy of the view `x` passed as argument `name` of `fn`: each field read once (a getter or a
 * Proxy runs now, before any work starts, and never again during the call), checked, and `data` taken
 * as a fresh view of the same memory. Shares the caller's data; copies nothing but the shape.
 */
export function snapshot(fn: string, name: string, x: unknown): NDArray {
  if (!(x instanceof NDArray)) throw new TypeError(`${fn}: ${name} expects an NDArray but got ${describe(x)}`);
  let fields: [unknown, unknown, unknown, unknown];
  try {
    fields = [x.data, x.shape, x.strides, x.offset];
  } catch (e) {
    throw new TypeError(`${fn}: reading ${name} threw: ${messageOf(e)}`, { cause: e });
  }
  const data = realData(fn, `${name}.data`, fields[0]);
  try {
    return new NDArray(data, fields[1] as number[], fields[2] as number[], fields[3] as number);
  } catch (e) {
    // the constructor's checks, named after this argument
    const E = e instanceof TypeError ? TypeError : RangeError;
    throw new E(`${fn}: ${name}.${messageOf(e).replace(/^NDArray: /, "")}`);
  }
}

/** Largest array of results the engine is asked for; past it, a named RangeError instead of its own. */
const MAX_ELEMENTS = 2 ** 32 - 1;

/** A new Float64Array (or `type`) of `n` zeros for `what` of `fn`, or a RangeError naming them when it cannot be had. */
export function allocate(fn: string, what: string, n: number): Float64Array;
export function allocate<T extends Float64Array | Float32Array>(
  fn: string,
  what: string,
  n: number,
  type: { new (n: number): T; BYTES_PER_ELEMENT: number },
): T;
export function allocate(
  fn: string,
  what: string,
  n: number,
  type: { new (n: number): Float64Array | Float32Array; BYTES_PER_ELEMENT: number } = Float64Array,
): Float64Array | Float32Array {
  if (!Number.isSafeInteger(n) || n > MAX_ELEMENTS) {
    throw new RangeError(`${fn}: ${what} would have ${n} elements, more than an array can hold (${MAX_ELEMENTS})`);
  }
  try {
    return new type(n);
  } catch (e) {
    throw new RangeError(
      `${fn}: ${what} needs ${n * type.BYTES_PER_ELEMENT} bytes, which could not be allocated (${messageOf(e)})`,
    );
  }
}

/** An array's elements as a byte range of its buffer (first to last element reached). */
function byteRange(a: NDArray): [number, number] {
  const [lo, hi] = extent(a.shape, a.strides, a.offset);
  return [a.data.byteOffset + lo * F64_BYTES, a.data.byteOffset + hi * F64_BYTES + F64_BYTES];
}

/**
 * Where an op writes a result of `shape`: a new array, or the caller's `out` (an NDArray of exactly that
 * shape, any view, that shares no memory with the op's inputs). `data` is the C-order buffer the op
 * fills; `array()` is the result (for a strided `out`, the buffer is copied into it).
 */
export class Result {
  readonly data: Float64Array;
  /** The caller's out as given (returned as the result), its checked snapshot, and whether it is strided. */
  private readonly given: NDArray | null = null;
  private readonly strided: NDArray | null = null;

  constructor(fn: string, name: string, shape: readonly number[], out: unknown, inputs: readonly NDArray[]) {
    if (out === undefined) {
      this.data = allocate(fn, name, sizeOf(shape));
      return;
    }
    const o = snapshot(fn, `options.out (${name})`, out);
    if (fmtShape(o.shape) !== fmtShape(shape)) {
      throw new RangeError(
        `${fn}: options.out expects ${name}'s shape ${fmtShape(shape)} but got ${fmtShape(o.shape)}`,
      );
    }
    if (o.size > 0) {
      const [lo, hi] = byteRange(o);
      for (const a of inputs) {
        if (a.size === 0 || a.data.buffer !== o.data.buffer) continue;
        const [alo, ahi] = byteRange(a);
        if (lo < ahi && alo < hi) {
          throw new RangeError(`${fn}: options.out (${name}) shares memory with an input; write the result elsewhere`);
        }
      }
    }
    this.given = out as NDArray;
    if (o.isContiguous()) this.data = o.data.subarray(o.offset, o.offset + o.size);
    else {
      this.strided = o;
      this.data = allocate(fn, name, o.size);
    }
  }

  /** The result: the caller's out (filled), or a new array of `shape` over `data`. */
  array(shape: readonly number[]): NDArray {
    if (this.given === null) return new NDArray(this.data, shape);
    const t = this.strided;
    if (t !== null) for (let k = 0; k < t.size; k++) t.data[indexOf(t, k)] = this.data[k];
    return this.given;
  }
}

/** The data index of element k (C order) of a view. */
export function indexOf(a: NDArray, k: number): number {
  let p = a.offset;
  for (let d = a.ndim - 1; d >= 0; d--) {
    const n = a.shape[d];
    p += (k % n) * a.strides[d];
    k = Math.floor(k / n);
  }
  return p;
}

/** A backward op's options.out: up to three arrays (or undefined for each), checked to be an array. */
export function outs(fn: string, out: unknown): [unknown, unknown, unknown] {
  if (out === undefined) return [undefined, undefined, undefined];
  if (!Array.isArray(out) || out.length > 3) {
    throw new TypeError(
      `${fn}: options.out expects an array of up to three NDArrays (or undefined) but got ${describe(out)}`,
    );
  }
  return [out[0], out[1], out[2]];
}

/** A RangeError naming the first element of `x` that is NaN or infinite. */
export function assertFinite(fn: string, name: string, x: NDArray): void {
  assertFiniteValues(fn, name, x.toFloat64Array(), x.shape);
}

/** As assertFinite, for values `v` in C order of an array of `shape`. */
export function assertFiniteValues(fn: string, name: string, v: Float64Array | Float32Array, shape: readonly number[]) {
  for (let i = 0; i < v.length; i++) {
    if (Number.isFinite(v[i])) continue;
    const at: number[] = [];
    for (let d = shape.length - 1, r = i; d >= 0; d--) {
      at.unshift(r % shape[d]);
      r = Math.floor(r / shape[d]);
    }
    throw new RangeError(`${fn}: ${name} expects finite values but ${name}[${at.join(",")}] is ${v[i]}`);
  }
}
