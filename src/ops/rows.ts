// Row-by-row copies between NHWC arrays and the arena, so that the calling thread can place the input
// a task needs just before handing it out and take results out as tasks finish, while other threads
// compute (see streamTasks). Each helper writes through one view made after the call's last arena
// allocation, so no view outlives a memory.grow.
import { NDArray } from "../ndarray.js";

/** Runs shorter than this are copied or zeroed element by element: cheaper than subarray + set/fill. */
const SHORT = 64;

/** dst[from..to] = 0. */
export function zero(dst: Float64Array, from: number, to: number): void {
  if (to - from >= SHORT) dst.fill(0, from, to);
  else for (let j = from; j < to; j++) dst[j] = 0;
}

/** dst[to..to+n] = src[from..from+n]. */
export function copySpan(src: Float64Array, from: number, dst: Float64Array, to: number, n: number): void {
  if (n >= SHORT) dst.set(src.subarray(from, from + n), to);
  else for (let j = 0; j < n; j++) dst[to + j] = src[from + j];
}

/** Where row (i, r) of an NHWC array starts in its data, and how to read its w*c elements. */
class RowReader {
  readonly w: number;
  readonly c: number;
  private readonly s: number[];
  private readonly contiguous: boolean;

  constructor(private readonly a: NDArray) {
    [, , this.w, this.c] = a.shape;
    this.s = [...a.strides];
    this.contiguous = this.s[3] === 1 && this.s[2] === this.c;
  }

  /** Copies row (i, r) to dst[at..at+w*c]. */
  copy(i: number, r: number, dst: Float64Array, at: number): void {
    const { a, w, c, s } = this;
    const base = a.offset + i * s[0] + r * s[1];
    if (this.contiguous) return copySpan(a.data, base, dst, at, w * c);
    for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) dst[at++] = a.data[base + x * s[2] + ch * s[3]];
  }

  /** Copies row (i, r) to dst with each pixel's c channels widened to `width` (dst zero there already). */
  copyWidened(i: number, r: number, dst: Float64Array, at: number, width: number): void {
    const { a, w, c, s } = this;
    const base = a.offset + i * s[0] + r * s[1];
    for (let x = 0; x < w; x++)
      for (let ch = 0; ch < c; ch++) dst[at + x * width + ch] = a.data[base + x * s[2] + ch * s[3]];
  }
}

/**
 * The padded input [m,hp,wp,c] of a convolution, written in order of its m*hp rows: `ensure(g)` makes
 * rows 0..g hold A_prev with zeros around each image (top, bottom, left, right).
 */
export class PaddedRows {
  private placed = 0;
  private readonly rows: RowReader;
  private readonly h: number;
  private readonly hp: number;
  private readonly top: number;
  private readonly rowLength: number;
  private readonly before: number;
  private readonly after: number;

  constructor(
    private readonly xp: Float64Array,
    a: NDArray,
    pad: { top: number; bottom: number; left: number; right: number },
  ) {
    this.rows = new RowReader(a);
    const { w, c } = this.rows;
    this.h = a.shape[1];
    this.hp = pad.top + this.h + pad.bottom;
    this.top = pad.top;
    this.before = pad.left * c;
    this.after = pad.right * c;
    this.rowLength = this.before + w * c + this.after;
  }

  ensure(g: number): void {
    const { xp, top, h, hp, rowLength, before, after } = this;
    for (; this.placed < g; this.placed++) {
      const at = this.placed * rowLength;
      const i = Math.floor(this.placed / hp);
      const r = this.placed - i * hp - top;
      if (r < 0 || r >= h) {
        zero(xp, at, at + rowLength);
        continue;
      }
      zero(xp, at, at + before);
      this.rows.copy(i, r, xp, at + before);
      zero(xp, at + rowLength - after, at + rowLength);
    }
  }
}

/**
 * An NHWC array [m,nH,nW,k] placed in order of its m*nH rows with its channels widened to k8 (zeros
 * past k): `ensure(r)` places rows 0..r.
 */
export class WidenedRows {
  private placed = 0;
  private readonly rows: RowReader;
  private readonly nH: number;

  constructor(
    private readonly dst: Float64Array,
    a: NDArray,
    private readonly k8: number,
  ) {
    this.rows = new RowReader(a);
    this.nH = a.shape[1];
  }

  ensure(r: number): void {
    const { dst, k8, nH, rows } = this;
    const row = rows.w * k8;
    for (; this.placed < r; this.placed++) {
      const i = Math.floor(this.placed / nH);
      const at = this.placed * row;
      if (rows.c === k8) {
        rows.copy(i, this.placed - i * nH, dst, at);
      } else {
        zero(dst, at, at + row);
        rows.copyWidened(i, this.placed - i * nH, dst, at, k8);
      }
    }
  }
}

/**
 * Copies rows r0..r1 of src [rows, n, k8] (channels widened) to out [rows, n, k]: the crop of the
 * padding channels on the way out.
 */
export function copyRowsOut(
  src: Float64Array,
  out: Float64Array,
  n: number,
  k: number,
  k8: number,
  r0: number,
  r1: number,
): void {
  if (k === k8) {
    out.set(src.subarray(r0 * n * k8, r1 * n * k8), r0 * n * k);
    return;
  }
  for (let p = r0 * n; p < r1 * n; p++) copySpan(src, p * k8, out, p * k, k);
}
