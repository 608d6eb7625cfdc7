// relu, relu_backward: validate -> copy in -> assembly/relu.ts -> copy out. Any shape, any view.
import { NDArray, Result, fmtShape, snapshot, F64_BYTES } from "../core/ndarray.js";
import { runKernel } from "../kernels/kernels.js";
import { run } from "../runtime/schedule.js";
import { defineOps } from "./registry.js";

/** relu's cache: Z, as in the course (`cache = Z`). */
export type ReluCache = NDArray;

/** relu(Z) -> [A = max(0, Z), cache] elementwise, as np.maximum(0, Z) (NaN stays NaN). */
export function relu(Z: NDArray, options: { out?: NDArray } = {}): [NDArray, ReluCache] {
  const fn = "relu";
  const z = snapshot(fn, "Z", Z);
  const n = z.size;
  const res = new Result(fn, "A", z.shape, options.out, [z]);
  const out = res.data;
  // elementwise and memory-bound: on the calling thread
  run(fn, false, ({ kernels, arena }) => {
    const x = arena.copyIn(fn, "Z", z);
    const y = arena.alloc(fn, "A", n * F64_BYTES);
    runKernel(kernels, "relu_forward", { x, y, i0: 0, i1: n });
    out.set(arena.f64(y, n));
  });
  return [res.array(z.shape), Z];
}

/** relu_backward(dA, cache) -> dZ = dA where Z > 0, else 0 (also where Z is 0 or NaN, as PyTorch and TensorFlow). */
export function relu_backward(dA: NDArray, cache: ReluCache, options: { out?: NDArray } = {}): NDArray {
  const fn = "relu_backward";
  const z = snapshot(fn, "cache", cache);
  const da = snapshot(fn, "dA", dA);
  if (fmtShape(da.shape) !== fmtShape(z.shape)) {
    throw new RangeError(
      `${fn}: dA expects shape ${fmtShape(z.shape)} (the shape of relu's Z) but got ${fmtShape(da.shape)}`,
    );
  }
  const n = z.size;
  const res = new Result(fn, "dZ", z.shape, options.out, [z, da]);
  const out = res.data;
  run(fn, false, ({ kernels, arena }) => {
    const g = arena.copyIn(fn, "dA", da);
    const x = arena.copyIn(fn, "Z", z);
    const y = arena.alloc(fn, "dZ", n * F64_BYTES);
    runKernel(kernels, "relu_backward", { da: g, z: x, dz: y, i0: 0, i1: n });
    out.set(arena.f64(y, n));
  });
  return res.array(z.shape);
}

/** The ops defined here (src/ops/registry.ts). */
export const OPS = defineOps({
  relu: {
    fn: relu,
    keys: ["out"],
    args: ["Z", "options"],
    doc: "any shape → `[A, cache]` with `A = max(0, Z)` (NaN stays NaN)",
    section: "convnet",
  },
  relu_backward: {
    fn: relu_backward,
    keys: ["out"],
    args: ["dA", "cache", "options"],
    doc: "`dZ = dA` where `Z > 0`, else 0 (also where Z is 0 or NaN, as PyTorch and TensorFlow)",
    section: "convnet",
  },
});
