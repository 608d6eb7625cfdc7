// zero_pad: validate -> copy in -> assembly/pad.ts -> copy out.
import { NDArray } from "../ndarray.js";
import { checkArray, checkInteger } from "../shapes.js";
import { wasm } from "../wasm/module.js";

/** zero_pad(X [m,n_H,n_W,n_C], pad) -> X_pad [m,n_H+2*pad,n_W+2*pad,n_C]: zeros around H and W. */
export function zero_pad(X: NDArray, pad: number): NDArray {
  const fn = "zero_pad";
  checkArray(fn, "X", X, ["m", "n_H", "n_W", "n_C"]);
  checkInteger(fn, "pad", pad, 0);
  const [m, h, w, c] = X.shape;
  // a copy with a border: memory-bound, so on the calling thread
  const { kernels, arena } = wasm(fn).single;
  return arena.scope(() => {
    const x = arena.copyInStrided(fn, "X", X);
    const shape = [m, h + 2 * pad, w + 2 * pad, c];
    const out = arena.alloc(fn, "X_pad", m * shape[1] * shape[2] * c * 8);
    kernels.zero_pad(x.ptr, x.strides[0], x.strides[1], x.strides[2], x.strides[3], h, w, c, pad, out, 0, m);
    return arena.copyOut(out, shape);
  });
}
