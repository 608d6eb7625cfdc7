// Row-by-row copies between NHWC arrays and the arena, so that the calling thread can place the input
// a task needs just before handing it out and take results out as tasks finish, while other threads
// compute (see streamTasks). Each helper writes through one view made after the call's last arena
// allocation, so no view outlives a memory.grow.
import { NDArray } from "../core/ndarray.js";

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

/**
 * Where each of the c channels of a pixel goes in the arena: the kernels see pixels of `width` slots,
 * channel ch in slots slot[ch] .. slot[ch] + repeat (zeros in the slots no channel takes). The plain
 * layout is width c, slot ch, repeat 1; groups of channels widened to blocks of 8 and a depthwise
 * conv's repeated input channels are others.
 */
export class Layout {
  readonly plain: boolean;
  private constructor(
    readonly c: number,
    readonly width: number,
    readonly slot: Int32Array,
    readonly repeat: number,
  ) {
    this.plain = width === c && repeat === 1;
  }

  static plain(c: number): Layout {
    return new Layout(
      c,
      c,
      Int32Array.from({ length: c }, (_, ch) => ch),
      1,
    );
  }

  /** `groups` groups of c / groups channels, each widened to `blockWidth` slots. */
  static grouped(c: number, groups: number, blockWidth: number): Layout {
    const cg = c / groups;
    const slot = Int32Array.from({ length: c }, (_, ch) => Math.floor(ch / cg) * blockWidth + (ch % cg));
    return new Layout(c, groups * blockWidth, slot, 1);
  }

  /** Each channel repeated `repeat` times, in `width` slots. */
  static repeated(c: number, repeat: number, width: number): Layout {
    return new Layout(
      c,
      width,
      Int32Array.from({ length: c }, (_, ch) => ch * repeat),
      repeat,
    );
  }
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

  /** Copies row (i, r) to dst[at..] in `layout` (its slots zero already unless the layout is plain). */
  copy(i: number, r: number, dst: Float64Array, at: number, layout: Layout): void {
    const { a, w, c, s } = this;
    const base = a.offset + i * s[0] + r * s[1];
    if (layout.plain) {
      if (this.contiguous) return copySpan(a.data, base, dst, at, w * c);
      for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) dst[at++] = a.data[base + x * s[2] + ch * s[3]];
      return;
    }
    const { width, slot, repeat } = layout;
    for (let x = 0; x < w; x++) {
      for (let ch = 0; ch < c; ch++) {
        const v = a.data[base + x * s[2] + ch * s[3]];
        for (let j = 0, d = at + x * width + slot[ch]; j < repeat; j++) dst[d + j] = v;
      }
    }
  }
}

/**
 * The padded input [m,hp,wp,width] of a convolution, written in order of its m*hp rows: `ensure(g)`
 * makes rows 0..g hold A_prev in `layout` with zeros around each image (top, bottom, left, right).
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
    private readonly layout: Layout,
  ) {
    this.rows = new RowReader(a);
    const { w } = this.rows;
    const { width } = layout;
    this.h = a.shape[1];
    this.hp = pad.top + this.h + pad.bottom;
    this.top = pad.top;
    this.before = pad.left * width;
    this.after = pad.right * width;
    this.rowLength = this.before + w * width + this.after;
  }

  ensure(g: number): void {
    const { xp, top, h, hp, rowLength, before, after, layout } = this;
    for (; this.placed < g; this.placed++) {
      const at = this.placed * rowLength;
      const i = Math.floor(this.placed / hp);
      const r = this.placed - i * hp - top;
      if (r < 0 || r >= h) {
        zero(xp, at, at + rowLength);
        continue;
      }
      if (layout.plain) {
        zero(xp, at, at + before);
        zero(xp, at + rowLength - after, at + rowLength);
      } else {
        zero(xp, at, at + rowLength);
      }
      this.rows.copy(i, r, xp, at + before, layout);
    }
  }
}

/** An NHWC array [m,nH,nW,k] placed in `layout` in order of its m*nH rows: `ensure(r)` places rows 0..r. */
export class LaidRows {
  private placed = 0;
  private readonly rows: RowReader;
  private readonly nH: number;

  constructor(
    private readonly dst: Float64Array,
    a: NDArray,
    private readonly layout: Layout,
  ) {
    this.rows = new RowReader(a);
    this.nH = a.shape[1];
  }

  ensure(r: number): void {
    const { dst, layout, nH, rows } = this;
    const row = rows.w * layout.width;
    for (; this.placed < r; this.placed++) {
      const i = Math.floor(this.placed / nH);
      const at = this.placed * row;
      if (!layout.plain) zero(dst, at, at + row);
      rows.copy(i, this.placed - i * nH, dst, at, layout);
    }
  }
}

/**
 * Copies pixels p0..p1 of src [pixels, width] (channels in `layout`) to out [pixels, c]: the crop of the
 * padding slots on the way out (a repeated layout gives each channel's first slot).
 */
export function copyPixelsOut(src: Float64Array, out: Float64Array, layout: Layout, p0: number, p1: number): void {
  const { c, width, slot } = layout;
  if (layout.plain) {
    out.set(src.subarray(p0 * c, p1 * c), p0 * c);
    return;
  }
  for (let p = p0; p < p1; p++) {
    const from = p * width;
    const to = p * c;
    for (let ch = 0; ch < c; ch++) out[to + ch] = src[from + slot[ch]];
  }
}
