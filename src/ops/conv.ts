// conv_single_step, conv_forward, conv_backward: validate -> copy in -> assembly/conv.ts -> copy out.
import { NDArray, allocate, describe, fmtShape, pairwiseSum, snapshot } from "../ndarray.js";
import { ConvGeometry, ConvHparameters, cacheItems, checkArray, checkGradient, convArgs } from "../shapes.js";
import type { Task } from "../wasm/kernels.js";
import { ranges } from "../wasm/pool.js";
import { Context, minWork, run, streamTasks, taskCount } from "../wasm/schedule.js";
import { PaddedRows, WidenedRows, copyRowsOut, copySpan, zero } from "./rows.js";

/** conv_forward's cache: [A_prev, W, b, hparameters], as in the notebook. */
export type ConvCache = [A_prev: NDArray, W: NDArray, b: NDArray, hparameters: ConvHparameters];

/** conv_single_step(a_slice_prev [f,f,n_C_prev], W [f,f,n_C_prev], b [1,1,1]) -> sum(a_slice_prev * W) + b. */
export function conv_single_step(a_slice_prev: NDArray, W: NDArray, b: NDArray | number): number {
  const fn = "conv_single_step";
  const A = checkArray(fn, "a_slice_prev", a_slice_prev, ["f", "f", "n_C_prev"]);
  const F = checkArray(fn, "W", W, ["f", "f", "n_C_prev"]);
  if (A.shape.some((d, i) => d !== F.shape[i])) {
    throw new RangeError(
      `${fn}: W expects the shape of a_slice_prev ${fmtShape(A.shape)} but got ${fmtShape(F.shape)}`,
    );
  }
  let bias: number;
  if (typeof b === "number") bias = b;
  else if (b instanceof NDArray && b.size === 1) bias = snapshot(fn, "b", b).toFloat64Array()[0];
  else {
    throw new TypeError(`${fn}: b expects a number or a one-element array such as [1,1,1] but got ${describe(b)}`);
  }
  const a = A.toFloat64Array();
  const w = F.toFloat64Array();
  for (let i = 0; i < a.length; i++) a[i] *= w[i];
  return pairwiseSum(a, 0, a.length) + bias;
}

/** Bytes of the padded input [m,hp,wp,c] in the arena. */
const paddedBytes = ({ m, hp, wp, c }: ConvGeometry) => m * hp * wp * c * 8;

/** Places A_prev zero-padded and C-contiguous in the arena in one go (small calls). */
function placePadded(fn: string, { kernels, arena }: Context, A_prev: NDArray, g: ConvGeometry): number {
  const { m, h, w, c, top, bottom, left, right, hp, wp } = g;
  if (hp === h && wp === w && A_prev.isContiguous()) return arena.copyIn(fn, "A_prev", A_prev);
  const x = arena.copyInStrided(fn, "A_prev", A_prev);
  const xp = arena.alloc(fn, "A_prev padded", paddedBytes(g));
  const [s0, s1, s2, s3] = x.strides;
  kernels.zero_pad(x.ptr, s0, s1, s2, s3, h, w, c, top, bottom, left, right, xp, 0, m);
  return xp;
}

/**
 * The geometry of a convolution's rows: output row r (of the batch's m*nH) reads padded input rows
 * start(r) .. end(r) (of the batch's m*hp).
 */
function windowRows({ hp, nH, fh, sh, dh }: ConvGeometry) {
  const start = (r: number) => Math.floor(r / nH) * hp + (r % nH) * sh;
  return { start, end: (r: number) => start(r) + (fh - 1) * dh + 1 };
}

/** Output channels are computed in blocks of 8; the k8 - k padding channels are cropped on the way out. */
const blocks8 = (k: number) => Math.ceil(k / 8) * 8;

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
  const args = convArgs(fn, A_prev, W, b, hparameters);
  const { g } = args;
  const { m, c, k, fh, fw, sh, sw, dh, dw, hp, wp, nH, nW } = g;
  const k8 = blocks8(k);
  const rows = m * nH;
  const taps = fh * fw * c;
  const macs = rows * nW * k8 * taps;
  const out = allocate(fn, "Z", rows * nW * k);
  run(fn, macs, "conv_forward", (ctx) => {
    const { kernels, arena } = ctx;
    const w = arena.copyIn(fn, "W", args.W);
    const wpk = arena.alloc(fn, "W packed", taps * k8 * 8);
    kernels.conv_pack_filters(w, taps, k, k8, wpk);
    const b8 = arena.zeros(fn, "b", k8);
    arena.f64(b8, k).set(args.b.toFloat64Array());
    const z = arena.alloc(fn, "Z", rows * nW * k8 * 8);
    if (ctx.pool === null && macs < 2 * minWork("conv_forward")) {
      // a small call (never shared out): one block copy and one kernel call beat placing rows one by one
      const xp = placePadded(fn, ctx, args.A_prev, g);
      kernels.conv_forward(xp, hp, wp, c, c, wpk, fh, fw, dh, dw, k8, b8, sh, sw, z, k8, nH, nW, 0, rows);
      copyRowsOut(arena.f64(z, rows * nW * k8), out, nW, k, k8, 0, rows);
      return;
    }
    const xp = arena.alloc(fn, "A_prev padded", paddedBytes(g));
    const input = new PaddedRows(arena.f64(xp, m * hp * wp * c), args.A_prev, g);
    const zv = arena.f64(z, rows * nW * k8);
    const { end } = windowRows(g);
    const parts = ranges(rows, taskCount(ctx, macs, "conv_forward", rows, 4));
    streamTasks(
      fn,
      ctx,
      parts.length,
      (t) => {
        const [r0, r1] = parts[t];
        input.ensure(end(r1 - 1));
        return ["conv_forward", xp, hp, wp, c, c, wpk, fh, fw, dh, dw, k8, b8, sh, sw, z, k8, nH, nW, r0, r1];
      },
      (t) => copyRowsOut(zv, out, nW, k, k8, parts[t][0], parts[t][1]),
    );
  });
  return [new NDArray(out, [m, nH, nW, k]), [A_prev, W, b, hparameters]];
}

/** dA_prev is cut into at most this many chunks of output rows (two waves of 8: enough for 8 threads). */
const MAX_CHUNKS = 16;

/**
 * conv_backward(dZ [m,n_H,n_W,n_C], cache) -> [dA_prev [m,n_H_prev,n_W_prev,n_C_prev], dW [f,f,n_C_prev,n_C],
 * db [1,1,1,n_C]]: equations (1)-(3) of the notebook, with the stride honoured and pad 0 allowed.
 *
 * The results are the same bits for any number of threads: dW is shared out by taps (every element is
 * still summed over all pixels in order, by one thread), db is one task, and dA_prev is cut into a number
 * of chunks of output rows fixed by the shape, at least as many rows as a window spans over the stride,
 * run in two waves (even chunks, then odd, also on one thread), so the windows of concurrent chunks never
 * overlap and every element receives its terms in one fixed order. The calling thread places dZ and
 * A_prev while the first chunks run, and copies dA_prev out as the second wave finishes.
 */
export function conv_backward(dZ: NDArray, cache: ConvCache): [NDArray, NDArray, NDArray] {
  const fn = "conv_backward";
  const args = convArgs(fn, ...(cacheItems(fn, cache, 4, "conv_forward") as [unknown, unknown, unknown, unknown]));
  const { g } = args;
  const { m, h, w: width, c, k, fh, fw, sh, sw, dh, dw, top, left, hp, wp, nH, nW } = g;
  const dz4 = checkGradient(fn, "dZ", dZ, [m, nH, nW, k], "shape of conv_forward's Z");
  const k8 = blocks8(k);
  const taps = fh * fw * c;
  const rows = m * nH;
  const macs = rows * nW * k8 * taps;
  const { runs, run: runLength } = runsOf(g);
  const units = fh * runs * Math.ceil(runLength / 2);
  const row = wp * c;
  const dA = allocate(fn, "dA_prev", m * h * width * c);
  const dW = allocate(fn, "dW", taps * k);
  const db = allocate(fn, "db", k);
  run(fn, macs, "conv_backward_filter", (ctx) => {
    const { kernels, arena } = ctx;
    const gw = arena.zeros(fn, "dW", taps * k8);
    const gb = arena.zeros(fn, "db", k8);
    const w = arena.copyIn(fn, "W", args.W);
    const wt = arena.alloc(fn, "W packed", packedT(g) * k * 8);
    kernels.conv_pack_filters_t(w, fh, fw, c, c, dw, k, wt);
    const copyOutW = () => {
      copyRowsOut(arena.f64(gw, taps * k8), dW, 1, k, k8, 0, taps);
      copyRowsOut(arena.f64(gb, k8), db, 1, k, k8, 0, 1);
    };
    const dxv = () => arena.f64(dxp, m * hp * wp * c);
    const copyOutRow = (v: Float64Array, padded: number) => {
      const i = Math.floor(padded / hp);
      const r = padded - i * hp - top;
      if (r >= 0 && r < h) copySpan(v, padded * row + left * c, dA, (i * h + r) * width * c, width * c);
    };
    let dxp = 0;
    if (ctx.pool === null && macs < 2 * minWork("conv_backward_filter")) {
      // a small call (never shared out, and one dA_prev chunk: see chunkCount below): block copies and
      // one call of each kernel beat placing rows one by one
      const xp = placePadded(fn, ctx, args.A_prev, g);
      const dz = arena.copyInWidened(fn, "dZ", dz4, k8);
      dxp = arena.zeros(fn, "dA_prev padded", m * hp * wp * c);
      kernels.conv_backward_filter(xp, hp, wp, c, c, fh, fw, dh, dw, k8, sh, sw, dz, k8, nH, nW, gw, 0, rows, 0, units);
      kernels.conv_backward_bias(dz, k8, k8, nW, gb, 0, rows);
      kernels.conv_backward_input(wt, fh, fw, c, c, dh, dw, k, k8, sh, sw, dz, nH, nW, dxp, hp, wp, 0, rows);
      const v = dxv();
      for (let p = 0; p < m * hp; p++) copyOutRow(v, p);
      copyOutW();
      return;
    }
    const xp = arena.alloc(fn, "A_prev padded", paddedBytes(g));
    const dz = arena.alloc(fn, "dZ", rows * nW * k8 * 8);
    // dA_prev: the transposed convolution, into a padded buffer whose interior is dA_prev
    dxp = arena.alloc(fn, "dA_prev padded", m * hp * wp * c * 8);
    const input = new PaddedRows(arena.f64(xp, m * hp * wp * c), args.A_prev, g);
    const grad = new WidenedRows(arena.f64(dz, rows * nW * k8), dz4, k8);
    const v = dxv();
    let zeroed = 0;
    const zeroTo = (end: number) => {
      if (end > zeroed) zero(v, zeroed * row, end * row);
      zeroed = Math.max(zeroed, end);
    };
    let copied = 0;
    const copyOutTo = (end: number) => {
      zeroTo(end); // rows no window reaches are zero; no task running now writes below end
      for (; copied < end; copied++) copyOutRow(v, copied);
    };
    const { start, end } = windowRows(g);
    // dA_prev chunks: their number depends on the shape alone (never on the threads), and the waves
    // run in the same order on one thread, so the bits are the same for any number of threads (below
    // 2 * minWork there is one chunk, which the small-call path above relies on)
    const chunkCount = Math.min(
      MAX_CHUNKS,
      Math.floor(rows / Math.ceil(((fh - 1) * dh + 1) / sh)),
      Math.floor(macs / minWork("conv_backward_input")),
    );
    const chunks = ranges(rows, Math.max(1, chunkCount));
    const inputTask = ([r0, r1]: [number, number]): Task => {
      grad.ensure(r1);
      zeroTo(end(r1 - 1));
      return ["conv_backward_input", wt, fh, fw, c, c, dh, dw, k, k8, sh, sw, dz, nH, nW, dxp, hp, wp, r0, r1];
    };
    // dW and db: a GEMM reduction over output pixels, shared out by units of 2 taps; they read all of
    // A_prev and dZ, so they come after the first wave's chunks, which need only their own rows
    const reductions = ranges(units, taskCount(ctx, macs, "conv_backward_filter", units)).map(([u0, u1]): Task => [
      "conv_backward_filter",
      ...([xp, hp, wp, c, c, fh, fw, dh, dw, k8, sh, sw, dz, k8, nH, nW, gw, 0, rows] as const),
      u0,
      u1,
    ]);
    reductions.push(["conv_backward_bias", dz, k8, k8, nW, gb, 0, rows]);
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
    copyOutW();
  });
  return [new NDArray(dA, [m, h, width, c]), new NDArray(dW, [fh, fw, c, k]), new NDArray(db, [1, 1, 1, k])];
}

/**
 * How the kernels walk a kernel row of taps (assembly/conv.ts): one run of fw*c consecutive taps, or
 * with dilation one run of c per kw.
 */
function runsOf({ fw, c, dw }: ConvGeometry): { runs: number; run: number } {
  return dw === 1 ? { runs: 1, run: fw * c } : { runs: fw, run: c };
}

/** Taps conv_pack_filters_t lays out: each run of each kernel row rounded up to blocks of 8. */
function packedT(g: ConvGeometry): number {
  const { runs, run } = runsOf(g);
  return g.fh * runs * blocks8(run);
}
