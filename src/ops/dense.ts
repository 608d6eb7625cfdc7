// dense_forward, dense_backward: validate -> copy in -> the conv kernels of assembly/conv.ts -> copy out.
// A dense layer is a 1×1 convolution over the batch seen as pixels, so it runs on the conv's packed f64x2
// micro-kernels: Z = X·W + b as conv_forward (2 rows of X × 8 columns of W in registers), dX = dZ·Wᵀ as
// conv_backward_input, dWᵀ = dZᵀ·X as conv_forward again (dZ's columns as pixels, X as filters) and db as
// conv_backward_bias. The batch is laid out as R rows of P pixels, so that rows can be shared out to threads.
import { NDArray, Result, describe, fmtShape, outs, sizeOf, snapshot, F64_BYTES } from "../core/ndarray.js";
import { cacheItems, checkArray } from "../core/shapes.js";
import { type Task, blocks8, gemmTask, runKernel, task } from "../kernels/kernels.js";
import { guided, run, shareFrom, streamTasks } from "../runtime/schedule.js";
import { defineOps } from "./registry.js";

/** dense_forward's cache: [X, W, b]. */
export type DenseCache = [X: NDArray, W: NDArray, b: NDArray];

/** Pixels per row of the batch's layout: rows of 16 keep the micro-kernel's pairs full and give threads rows. */
const P = 16;

interface DenseArgs {
  X: NDArray;
  W: NDArray;
  b: NDArray;
  m: number;
  n: number;
  k: number;
}

function denseArgs(fn: string, X: unknown, W: unknown, b: unknown): DenseArgs {
  const x = checkArray(fn, "X", X, ["m", "n"]);
  const w = checkArray(fn, "W", W, ["n", "k"]);
  const [m, n] = x.shape;
  const [nw, k] = w.shape;
  if (nw !== n) {
    throw new RangeError(
      `${fn}: W expects ${n} rows (X's features) but got shape ${fmtShape(w.shape)} (X ${fmtShape(x.shape)})`,
    );
  }
  if (!(b instanceof NDArray))
    throw new TypeError(`${fn}: b expects an NDArray of shape [1,${k}] or [${k}] but got ${describe(b)}`);
  const bias = snapshot(fn, "b", b);
  const shape = fmtShape(bias.shape);
  if (shape !== `[1,${k}]` && shape !== `[${k}]`) {
    throw new RangeError(`${fn}: b expects shape [1,${k}] or [${k}] for W ${fmtShape(w.shape)} but got ${shape}`);
  }
  return { X: x, W: w, b: bias, m, n, k };
}

/**
 * dense_forward(X [m,n], W [n,k], b [1,k] or [k]) -> [Z = X·W + b [m,k], cache]. Rows of Z are computed
 * alone, so any split over threads gives the same bits.
 */
export function dense_forward(
  X: NDArray,
  W: NDArray,
  b: NDArray,
  options: { out?: NDArray } = {},
): [NDArray, DenseCache] {
  const fn = "dense_forward";
  const { X: x, W: w, b: bias, m, n, k } = denseArgs(fn, X, W, b);
  const k8 = blocks8(k);
  const R = Math.ceil(m / P);
  const macs = R * P * k8 * n;
  const res = new Result(fn, "Z", [m, k], options.out, [x, w, bias]);
  const out = res.data;
  run(fn, macs >= shareFrom("conv_forward"), (ctx) => {
    const { kernels, arena } = ctx;
    const xp = arena.zeros(fn, "X", R * P * n);
    arena.write(xp, x);
    const wc = arena.copyIn(fn, "W", w);
    const wpk = arena.alloc(fn, "W packed", n * k8 * F64_BYTES);
    runKernel(kernels, "conv_pack_filters", { w: wc, taps: n, k, k8, out: wpk });
    const b8 = arena.zeros(fn, "b", k8);
    arena.f64(b8, k).set(bias.toFloat64Array());
    const z = arena.alloc(fn, "Z", R * P * k8 * F64_BYTES);
    const parts = guided(ctx, macs, "conv_forward", R);
    const zv = () => arena.f64(z, R * P * k8);
    streamTasks(
      fn,
      ctx,
      parts.length,
      (t) => gemmTask({ x: xp, pixels: P, n, w: wpk, k8, b: b8, z, r0: parts[t][0], r1: parts[t][1] }),
      (t) => {
        const v = zv();
        for (let p = parts[t][0] * P; p < Math.min(m, parts[t][1] * P); p++) {
          out.set(v.subarray(p * k8, p * k8 + k), p * k);
        }
      },
    );
  });
  return [res.array([m, k]), [X, W, b]];
}

/**
 * dense_backward(dZ [m,k], cache) -> [dX [m,n], dW [n,k], db (b's shape)]. dW is shared out by
 * columns, each element summed over the whole batch in order by one thread; dX by rows of the batch: the
 * same bits on any number of threads.
 */
export function dense_backward(
  dZ: NDArray,
  cache: DenseCache,
  options: { out?: [dX?: NDArray, dW?: NDArray, db?: NDArray] } = {},
): [NDArray, NDArray, NDArray] {
  const fn = "dense_backward";
  const [X, W, b] = cacheItems(fn, cache, 3, "dense_forward");
  const { X: x, W: w, b: bias, m, n, k } = denseArgs(fn, X, W, b);
  const dz = checkArray(fn, "dZ", dZ, ["m", "k"]);
  if (dz.shape[0] !== m || dz.shape[1] !== k) {
    throw new RangeError(
      `${fn}: dZ expects shape [${m},${k}] (the shape of dense_forward's Z) but got ${fmtShape(dz.shape)}`,
    );
  }
  const k8 = blocks8(k);
  const R = Math.ceil(m / P);
  const macs = R * P * k8 * n;
  const inputs = [x, w, bias, dz];
  const [outX, outW, outB] = outs(fn, options.out);
  const rX = new Result(fn, "dX", [m, n], outX, inputs);
  const rW = new Result(fn, "dW", [n, k], outW, inputs);
  const rB = new Result(fn, "db", bias.shape, outB, inputs);
  const [dX, dW, db] = [rX.data, rW.data, rB.data];
  run(fn, macs >= shareFrom("conv_backward_input"), (ctx) => {
    const { kernels, arena } = ctx;
    const dzv = dz.toFloat64Array();
    // dZ widened to k8 columns, for dX and db
    const g = arena.zeros(fn, "dZ", R * P * k8);
    const gv = arena.f64(g, R * P * k8);
    for (let p = 0; p < m; p++) gv.set(dzv.subarray(p * k, p * k + k), p * k8);
    const wc = arena.copyIn(fn, "W", w);
    const wt = arena.alloc(fn, "W packed", blocks8(n) * k * F64_BYTES);
    runKernel(kernels, "conv_pack_filters_t", { w: wc, fh: 1, fw: 1, c: n, cg: n, dilW: 1, k, out: wt });
    const dxp = arena.zeros(fn, "dX", R * P * n);
    const gb = arena.zeros(fn, "db", k8);
    // dWᵀ = dZᵀ·X with the forward kernel: the k columns of dZ as pixels of m channels, X as m taps of n
    // filters. Each element is summed over the batch in order, as Xᵀ·dZ would be: the same bits, but
    // with pairs of dZ's columns in registers instead of a reduction along a k8-strided walk (1.7× faster)
    const n8 = blocks8(n);
    const K = Math.ceil(k / P);
    const gt = arena.zeros(fn, "dZ transposed", K * P * m);
    const gtv = arena.f64(gt, K * P * m);
    for (let p = 0; p < m; p++) for (let o = 0; o < k; o++) gtv[o * m + p] = dzv[p * k + o];
    const xc = arena.copyIn(fn, "X", x);
    const xpk = arena.alloc(fn, "X packed", m * n8 * F64_BYTES);
    runKernel(kernels, "conv_pack_filters", { w: xc, taps: m, k: n, k8: n8, out: xpk });
    const zero = arena.zeros(fn, "no bias", n8);
    const gw = arena.alloc(fn, "dW transposed", K * P * n8 * F64_BYTES);
    // dX and dWᵀ by rows (each task writes its own rows), db as one task
    const tasks: Task[] = [
      ...guided(ctx, macs, "conv_backward_input", R).map(([r0, r1]) =>
        task("conv_backward_input", {
          wt,
          fh: 1,
          fw: 1,
          c: n,
          cg: n,
          dilH: 1,
          dilW: 1,
          k,
          kp: k8,
          sh: 1,
          sw: 1,
          dz: g,
          nH: 1,
          nW: P,
          dxp,
          hp: 1,
          wp: P,
          r0,
          r1,
        }),
      ),
      ...guided(ctx, macs, "conv_forward", K).map(([r0, r1]) =>
        gemmTask({ x: gt, pixels: P, n: m, w: xpk, k8: n8, b: zero, z: gw, r0, r1 }),
      ),
      task("conv_backward_bias", { dz: g, k8, kp: k8, nW: m, db: gb, r0: 0, r1: 1 }),
    ];
    streamTasks(
      fn,
      ctx,
      tasks.length,
      (t) => tasks[t],
      () => undefined,
    );
    dX.set(arena.f64(dxp, m * n));
    const wv = arena.f64(gw, k * n8);
    for (let o = 0; o < k; o++) for (let j = 0; j < n; j++) dW[j * k + o] = wv[o * n8 + j];
    db.set(arena.f64(gb, k));
  });
  return [rX.array([m, n]), rW.array([n, k]), rB.array(bias.shape)];
}

/** flatten(A [m, ...]) -> [m, n] in C order (Keras's channels_last Flatten): a view where numpy gives one. */
export function flatten(A: NDArray): NDArray {
  const fn = "flatten";
  const a = snapshot(fn, "A", A);
  if (a.ndim < 1) throw new RangeError(`${fn}: A expects at least one axis (the batch) but got a scalar`);
  return a.reshape(a.shape[0], sizeOf(a.shape.slice(1)));
}

/** The ops defined here (src/ops/registry.ts). */
export const OPS = defineOps({
  flatten: {
    fn: flatten,
    args: ["A"],
    doc: "`[m, …]` → `[m, n]` in C order (Keras's channels_last Flatten); a view wherever numpy gives one (`a.reshape(...shape)` too; `-1` infers an axis)",
    section: "convnet",
  },
  dense_forward: {
    fn: dense_forward,
    keys: ["out"],
    args: ["X", "W", "b", "options"],
    doc: "`X [m,n]`, `W [n,k]`, `b [1,k]` or `[k]` → `[Z, cache]`. On the conv's packed f64x2 micro-kernels (a 1×1 conv over the batch), threads",
    section: "convnet",
    cost: { factor: 1, pixelsOf: 0, sizeOf: 1 },
  },
  dense_backward: {
    fn: dense_backward,
    keys: ["out"],
    args: ["dZ", "cache", "options"],
    doc: "→ `[dX, dW, db]` (db in b's shape)",
    section: "convnet",
    cost: { factor: 2, pixelsOf: 0, sizeOf: 2 },
  },
});
