// NDArray: float64 data + shape + strides (counted in elements) + offset, as scijs/ndarray and numpy.
// Views (index, transpose) share data and copy nothing.
import { formatArray } from "./print.js";

/** Nested number arrays, as numpy's array([[1, 2], [3, 4]]). */
export type Nested = number | readonly Nested[];

/** C-order (row-major) strides in elements for a shape. */
export function cStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  for (let d = shape.length - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

/** Product of a shape's entries. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** How many elements of the data a view's elements span, from its first to its last (1 + Σ (d-1)·stride). */
export function spanOf(shape: readonly number[], strides: readonly number[]): number {
  let span = 1;
  shape.forEach((d, k) => (span += (d - 1) * strides[k]));
  return span;
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

function checkShape(fn: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    const got = Array.isArray(shape) ? `[${shape.map(String).join(",")}]` : String(shape);
    throw new RangeError(`${fn}: shape expects integers >= 0 but got ${got}`);
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

  constructor(data: Float64Array, shape: readonly number[], strides?: readonly number[], offset = 0) {
    checkShape("NDArray", shape);
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(strides ? [...strides] : cStrides(shape));
    this.offset = offset;
    if (this.strides.length !== shape.length) {
      throw new RangeError(`NDArray: strides ${fmtShape(this.strides)} do not match shape ${fmtShape(shape)}`);
    }
    if (this.size > 0) {
      let lo = offset;
      let hi = offset;
      shape.forEach((d, k) => {
        const reach = (d - 1) * this.strides[k];
        if (reach < 0) lo += reach;
        else hi += reach;
      });
      if (lo < 0 || hi >= data.length) {
        throw new RangeError(
          `NDArray: shape ${fmtShape(shape)} with strides ${fmtShape(this.strides)} and offset ${offset} ` +
            `reaches elements ${lo}..${hi} but data has ${data.length}`,
        );
      }
    }
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

  /** Element `k` in C order (used by printing and copying of views). */
  at(k: number): number {
    let p = this.offset;
    for (let d = this.ndim - 1; d >= 0; d--) {
      const n = this.shape[d];
      p += (k % n) * this.strides[d];
      k = Math.floor(k / n);
    }
    return this.data[p];
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

/** Copies the elements of `a` in C order into `out` from `start`; walks rows so views stay fast. */
export function copyStrided(a: NDArray, out: Float64Array, start: number): void {
  const { shape, strides, data, ndim } = a;
  if (ndim === 0) {
    out[start] = data[a.offset];
    return;
  }
  const n = a.size;
  if (n === 0) return;
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
 * array(data, shape?): an NDArray from a Float64Array or number[] (with an optional shape; 1-D by default)
 * or from nested arrays. A Float64Array is used as is (no copy); anything else is copied.
 */
export function array(data: Float64Array | Nested, shape?: readonly number[]): NDArray {
  if (data instanceof Float64Array || (Array.isArray(data) && shape !== undefined)) {
    const flat = data instanceof Float64Array ? data : Float64Array.from(data as number[]);
    if (Array.isArray(data) && !data.every((v) => typeof v === "number")) {
      throw new TypeError("array: with a shape, data expects a flat array of numbers");
    }
    const s = shape ?? [flat.length];
    checkShape("array", s);
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
  checkShape("zeros", shape);
  return new NDArray(new Float64Array(sizeOf(shape)), shape);
}
