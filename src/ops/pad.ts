// zero_pad: validate -> copy in -> assembly/pad.ts -> copy out.
import { NDArray, Result } from "../ndarray.js";
import { checkArray, checkInteger } from "../shapes.js";
import { runKernel } from "../wasm/kernels.js";
import { run } from "../wasm/schedule.js";

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
    const xp = arena.alloc(fn, "X_pad", n * 8);
    const [s0, s1, s2, s3] = x.strides;
    runKernel(kernels, "zero_pad", {
      x: x.ptr,
      sx0: s0,
      sx1: s1,
      sx2: s2,
      sx3: s3,
      h,
      w,
      c,
      top: pad,
      bottom: pad,
      left: pad,
      right: pad,
      out: xp,
      i0: 0,
      i1: m,
    });
    out.set(arena.f64(xp, n));
  });
  return res.array(shape);
}
