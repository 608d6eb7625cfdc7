// zero_pad: validate -> copy in -> assembly/pad.ts -> copy out.
import { NDArray, Result, F64_BYTES } from "../core/ndarray.js";
import { checkArray, checkInteger } from "../core/shapes.js";
import { type Kernels, type Precision, kernelFor, runKernel } from "../kernels/kernels.js";
import { run } from "../runtime/schedule.js";
import { defineOps } from "./registry.js";

/** Images in the arena: where they start, their element strides [image, row, pixel, channel], their [h, w, c]. */
export interface ArenaImages {
  ptr: number;
  strides: readonly number[];
  h: number;
  w: number;
  c: number;
}

/**
 * zero_pad's kernel on images already in the arena: m images `x` into `out`, C order
 * [m, top + h + bottom, left + w + right, c], zeros around (conv_forward, Winograd and predict pad this way).
 */
export function padImages(
  kernels: Kernels,
  x: ArenaImages,
  pads: { top: number; bottom: number; left: number; right: number },
  out: number,
  m: number,
  precision: Precision = "f64",
): void {
  const [sx0, sx1, sx2, sx3] = x.strides;
  const { h, w, c } = x;
  const { top, bottom, left, right } = pads;
  runKernel(kernels, kernelFor("zero_pad", precision), {
    x: x.ptr,
    sx0,
    sx1,
    sx2,
    sx3,
    h,
    w,
    c,
    top,
    bottom,
    left,
    right,
    out,
    i0: 0,
    i1: m,
  });
}

/** zero_pad(X [m,n_H,n_W,n_C], pad) -> X_pad [m,n_H+2*pad,n_W+2*pad,n_C]: zeros around H and W. */
export function zero_pad(X: NDArray, pad: number, options: { out?: NDArray } = {}): NDArray {
  const fn = "zero_pad";
  const x4 = checkArray(fn, "X", X, ["m", "n_H", "n_W", "n_C"]);
  checkInteger(fn, "pad", pad, 0);
  const [m, h, w, c] = x4.shape;
  const shape = [m, h + 2 * pad, w + 2 * pad, c];
  const n = m * shape[1] * shape[2] * c;
  const res = new Result(fn, "X_pad", shape, options.out, [x4]);
  const out = res.data;
  // a copy with a border: memory-bound, so on the calling thread
  run(fn, false, ({ kernels, arena }) => {
    const x = arena.copyInStrided(fn, "X", x4);
    const xp = arena.alloc(fn, "X_pad", n * F64_BYTES);
    padImages(
      kernels,
      { ptr: x.ptr, strides: x.strides, h, w, c },
      { top: pad, bottom: pad, left: pad, right: pad },
      xp,
      m,
    );
    out.set(arena.f64(xp, n));
  });
  return res.array(shape);
}

/** The ops defined here (src/ops/registry.ts). */
export const OPS = defineOps({
  zero_pad: {
    fn: zero_pad,
    keys: ["out"],
    args: ["X", "pad", "options"],
    doc: "`X [m,n_H,n_W,n_C]` → `X_pad [m,n_H+2pad,n_W+2pad,n_C]`",
    section: "notebook",
  },
});
