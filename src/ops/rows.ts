// Row-by-row copies between NHWC arrays and the arena, so that the calling thread can place the input
// a task needs just before handing it out and take results out as tasks finish, while other threads
// compute (see streamTasks). Each helper writes through one view made after the call's last arena
// allocation, so no view outlives a memory.grow.
import { NDArray } from "../ndarray.js";

/** Copies row (i, r) of an NHWC array (w*c elements) to dst[at..]. */
function copyRow(a: NDArray, i: number, r: number, dst: Float64Array, at: number): void {
  const [, , w, c] = a.shape;
  const [s0, s1, s2, s3] = a.strides;
  const base = a.offset + i * s0 + r * s1;
  if (s3 === 1 && s2 === c) {
    dst.set(a.data.subarray(base, base + w * c), at);
    return;
  }
  for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) dst[at++] = a.data[base + x * s2 + ch * s3];
}

/**
 * The padded input [m,hp,wp,c] of a convolution, written in order of its m*hp rows: `ensure(g)` makes
 * rows 0..g hold A_prev with `pad` zeros around each image.
 */
export class PaddedRows {
  private placed = 0;
  private readonly h: number;
  private readonly rowLength: number;

  constructor(
    private readonly xp: Float64Array,
    private readonly a: NDArray,
    private readonly pad: number,
  ) {
    const [, h, w, c] = a.shape;
    this.h = h;
    this.rowLength = (w + 2 * pad) * c;
  }

  ensure(g: number): void {
    const { xp, a, pad, h, rowLength } = this;
    const c = a.shape[3];
    for (; this.placed < g; this.placed++) {
      const at = this.placed * rowLength;
      const i = Math.floor(this.placed / (h + 2 * pad));
      const r = this.placed - i * (h + 2 * pad) - pad;
      if (r < 0 || r >= h) {
        xp.fill(0, at, at + rowLength);
        continue;
      }
      xp.fill(0, at, at + pad * c);
      copyRow(a, i, r, xp, at + pad * c);
      xp.fill(0, at + rowLength - pad * c, at + rowLength);
    }
  }
}

/**
 * An NHWC array [m,nH,nW,k] placed in order of its m*nH rows with its channels widened to k8 (zeros
 * past k): `ensure(r)` places rows 0..r.
 */
export class WidenedRows {
  private placed = 0;

  constructor(
    private readonly dst: Float64Array,
    private readonly a: NDArray,
    private readonly k8: number,
  ) {}

  ensure(r: number): void {
    const { dst, a, k8 } = this;
    const [, nH, nW, k] = a.shape;
    for (; this.placed < r; this.placed++) {
      const i = Math.floor(this.placed / nH);
      const at = this.placed * nW * k8;
      if (k === k8) {
        copyRow(a, i, this.placed - i * nH, dst, at);
        continue;
      }
      const [s0, s1, s2, s3] = a.strides;
      const base = a.offset + i * s0 + (this.placed - i * nH) * s1;
      dst.fill(0, at, at + nW * k8);
      for (let x = 0; x < nW; x++) {
        for (let ch = 0; ch < k; ch++) dst[at + x * k8 + ch] = a.data[base + x * s2 + ch * s3];
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
  for (let p = r0 * n; p < r1 * n; p++) out.set(src.subarray(p * k8, p * k8 + k), p * k);
}
