// conv_single_step, conv_forward, conv_backward: validate -> copy in -> assembly/conv.ts -> copy out.
import { NDArray, fmtShape, pairwiseSum } from "../ndarray.js";
import { ConvHparameters, ConvInfo, checkArray, checkCache, checkGradient, convInfo } from "../shapes.js";
import { Placed } from "../wasm/arena.js";
import { runTasks, taskCount, wasm } from "../wasm/module.js";
import { Task, ranges } from "../wasm/pool.js";

/** conv_forward's cache: [A_prev, W, b, hparameters], as in the notebook. */
export type ConvCache = [A_prev: NDArray, W: NDArray, b: NDArray, hparameters: ConvHparameters];

/** conv_single_step(a_slice_prev [f,f,n_C_prev], W [f,f,n_C_prev], b [1,1,1]) -> sum(a_slice_prev * W) + b. */
export function conv_single_step(a_slice_prev: NDArray, W: NDArray, b: NDArray | number): number {
  const fn = "conv_single_step";
  checkArray(fn, "a_slice_prev", a_slice_prev, ["f", "f", "n_C_prev"]);
  checkArray(fn, "W", W, ["f", "f", "n_C_prev"]);
  if (a_slice_prev.shape.some((d, i) => d !== W.shape[i])) {
    throw new RangeError(
      `${fn}: W expects the shape of a_slice_prev ${fmtShape(a_slice_prev.shape)} but got ${fmtShape(W.shape)}`,
    );
  }
  let bias: number;
  if (typeof b === "number") bias = b;
  else if (b instanceof NDArray && b.size === 1) bias = b.toFloat64Array()[0];
  else
    throw new TypeError(
      `${fn}: b expects a number or a one-element array such as [1,1,1] but got ${b instanceof NDArray ? `shape ${fmtShape(b.shape)}` : typeof b}`,
    );
  const a = a_slice_prev.toFloat64Array();
  const w = W.toFloat64Array();
  for (let i = 0; i < a.length; i++) a[i] *= w[i];
  return pairwiseSum(a, 0, a.length) + bias;
}

/** Multiply-adds below which a task is not worth waking a thread for (measured: bench/threshold.ts). */
const MIN_TASK_MACS = 1 << 20;

/** dA_prev is cut into at most this many chunks of output rows (two waves of 8: enough for 8 threads). */
const MAX_CHUNKS = 16;

type Runtime = ReturnType<typeof wasm>;

/** Places A_prev zero-padded and C-contiguous in the arena (the input every conv kernel reads). */
function placePadded(fn: string, rt: Runtime, A_prev: NDArray, info: ConvInfo): number {
  const { arena } = rt;
  const { m, h, w, c, pad, hp, wp } = info;
  if (pad === 0 && A_prev.isContiguous()) return arena.copyIn(fn, "A_prev", A_prev);
  const x: Placed = arena.copyInStrided(fn, "A_prev", A_prev);
  const xp = arena.alloc(fn, "A_prev padded", m * hp * wp * c * 8);
  const [s0, s1, s2, s3] = x.strides;
  const tasks = taskCount(rt, m * hp * wp * c, MIN_TASK_MACS / 4, m);
  runTasks(
    fn,
    rt,
    ranges(m, tasks).map(([i0, i1]): Task => ["zero_pad", x.ptr, s0, s1, s2, s3, h, w, c, pad, xp, i0, i1]),
  );
  return xp;
}

/**
 * conv_forward(A_prev [m,n_H_prev,n_W_prev,n_C_prev], W [f,f,n_C_prev,n_C], b [1,1,1,n_C], {stride, pad})
 * -> [Z [m,n_H,n_W,n_C], cache], n_H = floor((n_H_prev - f + 2*pad) / stride) + 1 (same for W).
 * With threads, output rows are shared out: each is computed alone, so the bits never depend on the split.
 */
export function conv_forward(
  A_prev: NDArray,
  W: NDArray,
  b: NDArray,
  hparameters: ConvHparameters,
): [NDArray, ConvCache] {
  const fn = "conv_forward";
  const info = convInfo(fn, A_prev, W, b, hparameters);
  const { m, c, f, k, stride, hp, wp, nH, nW } = info;
  const rt = wasm(fn);
  const { kernels, arena } = rt;
  // output channels are computed in blocks of 8; k8 - k padding channels are cropped on the way out
  const k8 = Math.ceil(k / 8) * 8;
  const Z = arena.scope(() => {
    const xp = placePadded(fn, rt, A_prev, info);
    const w = arena.copyIn(fn, "W", W);
    const wpk = arena.alloc(fn, "W packed", f * f * c * k8 * 8);
    kernels.conv_pack_filters(w, f * f * c, k, k8, wpk);
    const b8 = arena.zeros(fn, "b", k8);
    arena.f64(b8, k).set(b.toFloat64Array());
    const z = arena.alloc(fn, "Z", m * nH * nW * k8 * 8);
    const rows = m * nH;
    const tasks = taskCount(rt, rows * nW * k8 * f * f * c, MIN_TASK_MACS, rows);
    runTasks(
      fn,
      rt,
      ranges(rows, tasks).map(([r0, r1]): Task => ["conv_forward", xp, hp, wp, c, wpk, f, k8, b8, stride, z, nH, nW, r0, r1]),
    );
    return arena.copyOut(z, [m, nH, nW, k], [nH * nW * k8, nW * k8, k8, 1]);
  });
  return [Z, [A_prev, W, b, hparameters]];
}

/**
 * conv_backward(dZ [m,n_H,n_W,n_C], cache) -> [dA_prev [m,n_H_prev,n_W_prev,n_C_prev], dW [f,f,n_C_prev,n_C],
 * db [1,1,1,n_C]]: equations (1)-(3) of the notebook, with the stride honoured and pad 0 allowed.
 *
 * The results are the same bits for any number of threads: dW is shared out by taps (every element is
 * still summed over all pixels in order, by one thread), db is one task, and dA_prev is cut into a number
 * of chunks of output rows fixed by the shape, at least ceil(f / stride) rows each, run in two waves (even
 * chunks, then odd, also on one thread), so the windows of concurrent chunks never overlap and every
 * element receives its terms in one fixed order.
 */
export function conv_backward(dZ: NDArray, cache: ConvCache): [NDArray, NDArray, NDArray] {
  const fn = "conv_backward";
  const [A_prev, W, b, hparameters] = checkCache(fn, cache, 4, "conv_forward");
  const info = convInfo(fn, A_prev, W, b, hparameters);
  const { m, h, w: width, c, f, k, stride, pad, hp, wp, nH, nW } = info;
  checkGradient(fn, "dZ", dZ, [m, nH, nW, k], "shape of conv_forward's Z");
  const rt = wasm(fn);
  const { kernels, arena } = rt;
  const k8 = Math.ceil(k / 8) * 8;
  const taps = f * f * c;
  const rows = m * nH;
  const macs = rows * nW * k8 * taps;
  return arena.scope(() => {
    const xp = placePadded(fn, rt, A_prev as NDArray, info);
    const dz = arena.copyInWidened(fn, "dZ", dZ, k8);
    const dw = arena.zeros(fn, "dW", taps * k8);
    const db = arena.zeros(fn, "db", k8);
    const w = arena.copyIn(fn, "W", W as NDArray);
    const wt = arena.alloc(fn, "W packed", f * Math.ceil((f * c) / 8) * 8 * k * 8);
    kernels.conv_pack_filters_t(w, f, c, k, wt);
    // dA_prev: the transposed convolution, into a padded buffer whose interior is dA_prev
    const dxp = arena.zeros(fn, "dA_prev padded", m * hp * wp * c);
    // dW and db: a GEMM reduction over output pixels, shared out by units of 2 taps
    const units = f * Math.ceil((f * c) / 2);
    const filter = ranges(units, taskCount(rt, macs, MIN_TASK_MACS, units)).map(
      ([u0, u1]): Task => ["conv_backward_filter", xp, hp, wp, c, f, k8, stride, dz, nH, nW, dw, 0, rows, u0, u1],
    );
    const bias: Task = ["conv_backward_bias", dz, k8, nW, db, 0, rows];
    // dA_prev chunks: their number depends on the shape alone (never on the threads), and the waves
    // run in the same order on one thread, so the bits are the same for any number of threads
    const chunkCount = Math.min(MAX_CHUNKS, Math.floor(rows / Math.ceil(f / stride)), Math.floor(macs / MIN_TASK_MACS));
    const chunks = ranges(rows, Math.max(1, chunkCount)).map(
      ([r0, r1]): Task => ["conv_backward_input", wt, f, c, k, k8, stride, dz, nH, nW, dxp, hp, wp, r0, r1],
    );
    runTasks(fn, rt, [...filter, bias, ...chunks.filter((_, i) => i % 2 === 0)]);
    if (chunks.length > 1) runTasks(fn, rt, chunks.filter((_, i) => i % 2 === 1));
    const padded = [hp * wp * c, wp * c, c, 1];
    return [
      arena.copyOut(dxp, [m, h, width, c], padded, pad * padded[1] + pad * c),
      arena.copyOut(dw, [f, f, c, k], [f * c * k8, c * k8, k8, 1]),
      arena.copyOut(db, [1, 1, 1, k], [k8, k8, k8, 1]),
    ];
  });
}
