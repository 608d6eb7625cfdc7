// conv_single_step, conv_forward, conv_backward: validate -> copy in -> assembly/conv.ts -> copy out.
import { NDArray, fmtShape, pairwiseSum } from "../ndarray.js";
import { ConvHparameters, ConvInfo, checkArray, checkCache, checkGradient, convInfo } from "../shapes.js";
import { Context, context, streamTasks, taskCount } from "../wasm/module.js";
import { Task, ranges } from "../wasm/pool.js";
import { PaddedRows, WidenedRows, copyRowsOut, copySpan, zero } from "./rows.js";

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

/**
 * Multiply-adds below which a task is not worth handing to another thread; calls of twice this are
 * shared out. Measured with `npm run bench:threshold` (2 cores): sharing pays from about 1M multiply-adds
 * for conv_forward and 0.25M for conv_backward (0.9× the calling thread's time there, 0.65× at 9M).
 */
const MIN_TASK_MACS = { forward: 2 ** 19, backward: 2 ** 17 };

/** dA_prev is cut into at most this many chunks of output rows (two waves of 8: enough for 8 threads). */
const MAX_CHUNKS = 16;

/** Places A_prev zero-padded and C-contiguous in the arena in one go (small calls). */
function placePadded(fn: string, { kernels, arena }: Context, A_prev: NDArray, info: ConvInfo): number {
  const { m, h, w, c, pad, hp, wp } = info;
  if (pad === 0 && A_prev.isContiguous()) return arena.copyIn(fn, "A_prev", A_prev);
  const x = arena.copyInStrided(fn, "A_prev", A_prev);
  const xp = arena.alloc(fn, "A_prev padded", m * hp * wp * c * 8);
  const [s0, s1, s2, s3] = x.strides;
  kernels.zero_pad(x.ptr, s0, s1, s2, s3, h, w, c, pad, xp, 0, m);
  return xp;
}

/**
 * The geometry of a convolution's rows: output row r (of the batch's m*nH) reads padded input rows
 * start(r) .. end(r) (of the batch's m*hp).
 */
function windowRows({ hp, nH, f, stride }: ConvInfo) {
  const start = (r: number) => Math.floor(r / nH) * hp + (r % nH) * stride;
  return { start, end: (r: number) => start(r) + f };
}

/**
 * conv_forward(A_prev [m,n_H_prev,n_W_prev,n_C_prev], W [f,f,n_C_prev,n_C], b [1,1,1,n_C], {stride, pad})
 * -> [Z [m,n_H,n_W,n_C], cache], n_H = floor((n_H_prev - f + 2*pad) / stride) + 1 (same for W).
 * With threads, output rows are shared out (each is computed alone, so the bits never depend on the
 * split) while the calling thread places the input rows of the next tasks and copies finished rows out.
 */
export function conv_forward(
  A_prev: NDArray,
  W: NDArray,
  b: NDArray,
  hparameters: ConvHparameters,
): [NDArray, ConvCache] {
  const fn = "conv_forward";
  const info = convInfo(fn, A_prev, W, b, hparameters);
  const { m, c, f, k, stride, pad, hp, wp, nH, nW } = info;
  // output channels are computed in blocks of 8; k8 - k padding channels are cropped on the way out
  const k8 = Math.ceil(k / 8) * 8;
  const rows = m * nH;
  const macs = rows * nW * k8 * f * f * c;
  const ctx = context(fn, macs, MIN_TASK_MACS.forward);
  const { kernels, arena } = ctx;
  const Z = arena.scope(() => {
    const w = arena.copyIn(fn, "W", W);
    const wpk = arena.alloc(fn, "W packed", f * f * c * k8 * 8);
    kernels.conv_pack_filters(w, f * f * c, k, k8, wpk);
    const b8 = arena.zeros(fn, "b", k8);
    arena.f64(b8, k).set(b.toFloat64Array());
    const z = arena.alloc(fn, "Z", rows * nW * k8 * 8);
    if (macs < 2 * MIN_TASK_MACS.forward) {
      // a small call (never shared out): one block copy and one kernel call beat placing rows one by one
      const xp = placePadded(fn, ctx, A_prev, info);
      kernels.conv_forward(xp, hp, wp, c, wpk, f, k8, b8, stride, z, nH, nW, 0, rows);
      return arena.copyOut(z, [m, nH, nW, k], [nH * nW * k8, nW * k8, k8, 1]);
    }
    const xp = arena.alloc(fn, "A_prev padded", m * hp * wp * c * 8);
    const input = new PaddedRows(arena.f64(xp, m * hp * wp * c), A_prev, pad);
    const zv = arena.f64(z, rows * nW * k8);
    const out = new Float64Array(rows * nW * k);
    const { end } = windowRows(info);
    const parts = ranges(rows, taskCount(ctx, macs, MIN_TASK_MACS.forward, rows, 4));
    streamTasks(
      fn,
      ctx,
      parts.length,
      (t) => {
        const [r0, r1] = parts[t];
        input.ensure(end(r1 - 1));
        return ["conv_forward", xp, hp, wp, c, wpk, f, k8, b8, stride, z, nH, nW, r0, r1];
      },
      (t) => copyRowsOut(zv, out, nW, k, k8, parts[t][0], parts[t][1]),
    );
    return new NDArray(out, [m, nH, nW, k]);
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
 * element receives its terms in one fixed order. The calling thread places dZ and A_prev while the first
 * chunks run, and copies dA_prev out as the second wave finishes.
 */
export function conv_backward(dZ: NDArray, cache: ConvCache): [NDArray, NDArray, NDArray] {
  const fn = "conv_backward";
  const [A_prev, W, b, hparameters] = checkCache(fn, cache, 4, "conv_forward");
  const info = convInfo(fn, A_prev, W, b, hparameters);
  const { m, h, w: width, c, f, k, stride, pad, hp, wp, nH, nW } = info;
  checkGradient(fn, "dZ", dZ, [m, nH, nW, k], "shape of conv_forward's Z");
  const k8 = Math.ceil(k / 8) * 8;
  const taps = f * f * c;
  const rows = m * nH;
  const macs = rows * nW * k8 * taps;
  const ctx = context(fn, macs, MIN_TASK_MACS.backward);
  const { kernels, arena } = ctx;
  const units = f * Math.ceil((f * c) / 2);
  const padded = [hp * wp * c, wp * c, c, 1];
  return arena.scope(() => {
    const dw = arena.zeros(fn, "dW", taps * k8);
    const db = arena.zeros(fn, "db", k8);
    const w = arena.copyIn(fn, "W", W as NDArray);
    const wt = arena.alloc(fn, "W packed", f * Math.ceil((f * c) / 8) * 8 * k * 8);
    kernels.conv_pack_filters_t(w, f, c, k, wt);
    const outW = (): [NDArray, NDArray] => [
      arena.copyOut(dw, [f, f, c, k], [f * c * k8, c * k8, k8, 1]),
      arena.copyOut(db, [1, 1, 1, k], [k8, k8, k8, 1]),
    ];
    if (macs < 2 * MIN_TASK_MACS.backward) {
      // a small call (never shared out, and one dA_prev chunk: see chunkCount below): block copies and
      // one call of each kernel beat placing rows one by one
      const xp = placePadded(fn, ctx, A_prev as NDArray, info);
      const dz = arena.copyInWidened(fn, "dZ", dZ, k8);
      const dxp = arena.zeros(fn, "dA_prev padded", m * hp * wp * c);
      kernels.conv_backward_filter(xp, hp, wp, c, f, k8, stride, dz, nH, nW, dw, 0, rows, 0, units);
      kernels.conv_backward_bias(dz, k8, nW, db, 0, rows);
      kernels.conv_backward_input(wt, f, c, k, k8, stride, dz, nH, nW, dxp, hp, wp, 0, rows);
      return [arena.copyOut(dxp, [m, h, width, c], padded, pad * padded[1] + pad * c), ...outW()];
    }
    const xp = arena.alloc(fn, "A_prev padded", m * hp * wp * c * 8);
    const dz = arena.alloc(fn, "dZ", rows * nW * k8 * 8);
    // dA_prev: the transposed convolution, into a padded buffer whose interior is dA_prev
    const dxp = arena.alloc(fn, "dA_prev padded", m * hp * wp * c * 8);
    const input = new PaddedRows(arena.f64(xp, m * hp * wp * c), A_prev as NDArray, pad);
    const grad = new WidenedRows(arena.f64(dz, rows * nW * k8), dZ, k8);
    const dxv = arena.f64(dxp, m * hp * wp * c);
    const row = wp * c;
    let zeroed = 0;
    const zeroTo = (g: number) => {
      if (g > zeroed) zero(dxv, zeroed * row, g * row);
      zeroed = Math.max(zeroed, g);
    };
    const dA = new Float64Array(m * h * width * c);
    let copied = 0;
    const copyOutTo = (g: number) => {
      zeroTo(g); // rows no window reaches are zero; no task running now writes below g
      for (; copied < g; copied++) {
        const i = Math.floor(copied / hp);
        const r = copied - i * hp - pad;
        if (r >= 0 && r < h) copySpan(dxv, copied * row + pad * c, dA, (i * h + r) * width * c, width * c);
      }
    };
    const { start, end } = windowRows(info);
    // dA_prev chunks: their number depends on the shape alone (never on the threads), and the waves
    // run in the same order on one thread, so the bits are the same for any number of threads (below
    // 2 * MIN_TASK_MACS.backward there is one chunk, which the small-call path above relies on)
    const chunkCount = Math.min(
      MAX_CHUNKS,
      Math.floor(rows / Math.ceil(f / stride)),
      Math.floor(macs / MIN_TASK_MACS.backward),
    );
    const chunks = ranges(rows, Math.max(1, chunkCount));
    const inputTask = ([r0, r1]: [number, number]): Task => {
      grad.ensure(r1);
      zeroTo(end(r1 - 1));
      return ["conv_backward_input", wt, f, c, k, k8, stride, dz, nH, nW, dxp, hp, wp, r0, r1];
    };
    // dW and db: a GEMM reduction over output pixels, shared out by units of 2 taps; they read all of
    // A_prev and dZ, so they come after the first wave's chunks, which need only their own rows
    const filterArgs = [xp, hp, wp, c, f, k8, stride, dz, nH, nW, dw, 0, rows];
    const reductions = ranges(units, taskCount(ctx, macs, MIN_TASK_MACS.backward, units)).map(([u0, u1]): Task => [
      "conv_backward_filter",
      ...filterArgs,
      u0,
      u1,
    ]);
    reductions.push(["conv_backward_bias", dz, k8, nW, db, 0, rows]);
    const even = chunks.filter((_, j) => j % 2 === 0);
    const odd = chunks.filter((_, j) => j % 2 === 1);
    streamTasks(
      fn,
      ctx,
      even.length + reductions.length,
      (t) => {
        if (t < even.length) return inputTask(even[t]);
        grad.ensure(rows);
        input.ensure(m * hp);
        return reductions[t - even.length];
      },
      () => undefined,
    );
    // the second wave: once odd chunk j is done, the rows before chunk j + 2's windows are final
    streamTasks(
      fn,
      ctx,
      odd.length,
      (t) => inputTask(odd[t]),
      (t) => copyOutTo(2 * t + 3 < chunks.length ? start(chunks[2 * t + 3][0]) : m * hp),
    );
    copyOutTo(m * hp);
    return [new NDArray(dA, [m, h, width, c]), ...outW()];
  });
}
