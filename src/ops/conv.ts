// conv_single_step, conv_forward, conv_backward: validate -> copy in -> assembly/conv.ts -> copy out.
import { NDArray, Result, describe, fmtShape, outs, pairwiseSum, snapshot, F64_BYTES } from "../core/ndarray.js";
import {
  type Algorithm,
  ConvArgs,
  ConvGeometry,
  ConvHparameters,
  cacheItems,
  checkArray,
  checkGradient,
  convArgs,
} from "../core/shapes.js";
import { type KernelName, type Task, blocks8, runKernel, task } from "../kernels/kernels.js";
import { ranges } from "../runtime/pool.js";
import { Context, guided, minWork, run, shareFrom, streamTasks, taskCount } from "../runtime/schedule.js";
import { LaidRows, Layout, PaddedRows, copyPixelsOut, copySpan, zero } from "./rows.js";
import { padImages } from "./pad.js";
import {
  allFinite,
  backwardShape,
  forwardShape,
  useWinograd,
  winogradConv,
  winogradFilterGradient,
} from "./winograd.js";
import { defineOps } from "./registry.js";

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

/**
 * How the kernels walk a kernel row of cg taps per kw (assembly/conv.ts): one run of fw*c consecutive
 * taps when there is neither dilation nor grouping, else one run of cg per kw.
 */
function runsOf({ fw, c, dw, groups }: ConvGeometry): { runs: number; run: number } {
  return dw === 1 && groups === 1 ? { runs: 1, run: fw * c } : { runs: fw, run: c / groups };
}

/**
 * One call's kernels and buffers. A dense conv (groups = 1) or a grouped one runs the dense kernels once
 * per group, on the group's slice of input channels and of 8-wide blocks of output channels; a depthwise
 * conv (one input channel per group) runs the depthwise kernels on all channels at once, each input
 * channel repeated channel-multiplier times and every array widened to c8 channels.
 */
interface Plan {
  /** Where the input's channels go (A_prev and dA_prev) and the output's (Z and dZ). */
  input: Layout;
  output: Layout;
  /** Multiply-adds of the call, to decide how it is shared out. */
  macs: number;
  /** The kernels deciding that: forward, filter gradient, input gradient. */
  kernels: { forward: KernelName; filter: KernelName; input: KernelName };
  /** Units the filter gradient can be split into per group (tap pairs or taps). */
  units: number;
}

function planOf({ g }: ConvArgs): Plan {
  const { m, c, k, fh, fw, nH, nW, groups } = g;
  const pixels = m * nH * nW;
  if (groups > 1 && groups === c) {
    const c8 = blocks8(k);
    return {
      input: Layout.repeated(c, k / c, c8),
      output: Layout.grouped(k, 1, c8),
      macs: pixels * c8 * fh * fw,
      kernels: {
        forward: "conv_forward_depthwise",
        filter: "conv_backward_filter_depthwise",
        input: "conv_backward_input_depthwise",
      },
      units: fh * fw,
    };
  }
  const kg8 = blocks8(k / groups);
  const { runs, run } = runsOf(g);
  return {
    input: Layout.plain(c),
    output: Layout.grouped(k, groups, kg8),
    macs: pixels * groups * kg8 * fh * fw * (c / groups),
    kernels: { forward: "conv_forward", filter: "conv_backward_filter", input: "conv_backward_input" },
    units: fh * runs * Math.ceil(run / 2),
  };
}

/** W's output channels of group j: the view W[..., j*kg:(j+1)*kg]. */
function groupOf(W: NDArray, j: number, groups: number): NDArray {
  const kg = W.shape[3] / groups;
  return new NDArray(W.data, [...W.shape.slice(0, 3), kg], W.strides, W.offset + j * kg * W.strides[3]);
}

/** The pointer `ptr` advanced by `n` float64 elements. */
const plus = (ptr: number, n: number) => ptr + n * F64_BYTES;

/** Places A_prev zero-padded in the plan's input layout in the arena in one go (small calls). */
function placePadded(
  fn: string,
  { kernels, arena }: Context,
  A_prev: NDArray,
  g: ConvGeometry,
  layout: Layout,
): number {
  const { m, h, w, c, top, bottom, left, right, hp, wp } = g;
  if (!layout.plain) {
    const n = m * hp * wp * layout.width;
    const xp = arena.alloc(fn, "A_prev padded", n * F64_BYTES);
    new PaddedRows(arena.f64(xp, n), A_prev, g, layout).ensure(m * hp);
    return xp;
  }
  if (hp === h && wp === w && A_prev.isContiguous()) return arena.copyIn(fn, "A_prev", A_prev);
  const x = arena.copyInStrided(fn, "A_prev", A_prev);
  const xp = arena.alloc(fn, "A_prev padded", m * hp * wp * c * F64_BYTES);
  padImages(kernels, { ptr: x.ptr, strides: x.strides, h, w, c }, { top, bottom, left, right }, xp, m);
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

/** Packed filters and bias for the forward kernels, in the arena; the forward task of rows r0..r1. */
function forwardKernels(fn: string, { arena, kernels }: Context, args: ConvArgs, plan: Plan, xp: number, z: number) {
  const { c, k, fh, fw, dh, dw, sh, sw, hp, wp, nH, nW, groups } = args.g;
  const width = plan.output.width;
  const b8 = arena.zeros(fn, "b", width);
  const bias = args.b.toFloat64Array();
  const bv = arena.f64(b8, width);
  for (let o = 0; o < k; o++) bv[plan.output.slot[o]] = bias[o];
  if (plan.kernels.forward === "conv_forward_depthwise") {
    const w = arena.copyInWidened(fn, "W", args.W, width);
    return (r0: number, r1: number): Task[] => [
      task("conv_forward_depthwise", {
        xp,
        hp,
        wp,
        c8: width,
        w,
        fh,
        fw,
        dilH: dh,
        dilW: dw,
        b: b8,
        sh,
        sw,
        z,
        nH,
        nW,
        r0,
        r1,
        act: 0,
      }),
    ];
  }
  const [cg, kg, kg8] = [c / groups, k / groups, width / groups];
  const taps = fh * fw * cg;
  const wpk = arena.alloc(fn, "W packed", groups * taps * kg8 * F64_BYTES);
  arena.scope(() => {
    for (let j = 0; j < groups; j++) {
      const wj = arena.copyIn(fn, "W", groupOf(args.W, j, groups));
      runKernel(kernels, "conv_pack_filters", { w: wj, taps, k: kg, k8: kg8, out: plus(wpk, j * taps * kg8) });
    }
  });
  return (r0: number, r1: number): Task[] =>
    Array.from({ length: groups }, (_, j) =>
      task("conv_forward", {
        xp: plus(xp, j * cg),
        hp,
        wp,
        c,
        cg,
        wpk: plus(wpk, j * taps * kg8),
        fh,
        fw,
        dilH: dh,
        dilW: dw,
        k8: kg8,
        b8: plus(b8, j * kg8),
        sh,
        sw,
        z: plus(z, j * kg8),
        kp: width,
        nH,
        nW,
        r0,
        r1,
        act: 0,
        res: 0,
      }),
    );
}

/**
 * conv_forward(A_prev [m,n_H_prev,n_W_prev,n_C_prev], W [f_H,f_W,n_C_prev/groups,n_C], b [1,1,1,n_C] or
 * [n_C], {stride, pad, dilation?, groups?}) -> [Z [m,n_H,n_W,n_C], cache], with
 * n_H = floor((n_H_prev + top + bottom - ((f_H - 1)·dilation + 1)) / stride) + 1 (the same for W).
 * With threads, output rows are shared out (each is computed alone, so the bits never depend on the
 * split) while the calling thread places the input rows of the next tasks and copies finished rows out.
 */
export function conv_forward(
  A_prev: NDArray,
  W: NDArray,
  b: NDArray,
  hparameters: ConvHparameters,
  options: { out?: NDArray; algorithm?: Algorithm } = {},
): [NDArray, ConvCache] {
  const fn = "conv_forward";
  const args = convArgs(fn, A_prev, W, b, hparameters);
  const { g } = args;
  const { m, k, hp, wp, nH, nW } = g;
  const plan = planOf(args);
  const { input, output, macs } = plan;
  const rows = m * nH;
  const { out: given, algorithm } = { ...options };
  const asked = useWinograd(fn, algorithm, g, false);
  const tile = asked !== null && allFinite(args.A_prev) && allFinite(args.W) ? asked : null;
  const res = new Result(fn, "Z", [m, nH, nW, k], given, [args.A_prev, args.W, args.b]);
  const out = res.data;
  if (tile !== null) {
    run(fn, macs >= shareFrom(plan.kernels.forward), (ctx) => {
      const z = ctx.arena.alloc(fn, "Z", rows * nW * output.width * F64_BYTES);
      winogradConv(fn, ctx, args.A_prev, args.W, false, args.b.toFloat64Array(), forwardShape(g), z, macs, tile);
      copyPixelsOut(ctx.arena.f64(z, rows * nW * output.width), out, output, 0, rows * nW);
    });
    return [res.array([m, nH, nW, k]), [A_prev, W, b, hparameters]];
  }
  run(fn, macs >= shareFrom(plan.kernels.forward), (ctx) => {
    const { arena } = ctx;
    const z = arena.alloc(fn, "Z", rows * nW * output.width * F64_BYTES);
    const streamed = ctx.pool !== null || macs >= 2 * minWork(plan.kernels.forward);
    // a small call (never shared out): one block copy and one kernel call (per group) beat placing rows
    const xp = streamed
      ? arena.alloc(fn, "A_prev padded", m * hp * wp * input.width * F64_BYTES)
      : placePadded(fn, ctx, args.A_prev, g, input);
    const tasks = forwardKernels(fn, ctx, args, plan, xp, z);
    const padded = streamed ? new PaddedRows(arena.f64(xp, m * hp * wp * input.width), args.A_prev, g, input) : null;
    const zv = arena.f64(z, rows * nW * output.width);
    const { end } = windowRows(g);
    const parts = streamed ? guided(ctx, macs, plan.kernels.forward, rows) : [[0, rows]];
    const groupTasks = parts.map(([r0, r1]) => tasks(r0, r1));
    const per = groupTasks[0].length;
    streamTasks(
      fn,
      ctx,
      parts.length * per,
      (t) => {
        const part = Math.floor(t / per);
        padded?.ensure(end(parts[part][1] - 1));
        return groupTasks[part][t % per];
      },
      (t) => {
        if (t % per !== per - 1) return;
        const [r0, r1] = parts[Math.floor(t / per)];
        copyPixelsOut(zv, out, output, r0 * nW, r1 * nW);
      },
    );
  });
  return [res.array([m, nH, nW, k]), [A_prev, W, b, hparameters]];
}

/** dA_prev is cut into at most this many chunks of output rows (two waves of 8: enough for 8 threads). */
const MAX_CHUNKS = 16;

/**
 * The backward kernels' packed filters and gradient buffers in the arena, their tasks, and copying dW
 * and db out.
 */
function backwardKernels(
  fn: string,
  { arena, kernels }: Context,
  args: ConvArgs,
  plan: Plan,
  bufs: { xp: number; dz: number; dxp: number },
) {
  const { m, c, k, fh, fw, dh, dw, sh, sw, hp, wp, nH, nW, groups } = args.g;
  const { xp, dz, dxp } = bufs;
  const rows = m * nH;
  const width = plan.output.width;
  const gb = arena.zeros(fn, "db", width);
  const bias = task("conv_backward_bias", { dz, k8: width, kp: width, nW, db: gb, r0: 0, r1: rows });
  const depthwise = plan.kernels.input === "conv_backward_input_depthwise";
  const taps = fh * fw * (c / groups);
  // dW's blocks in the arena: one [taps, kg8] per group (a depthwise conv's channels form one block)
  const blocks = depthwise ? 1 : groups;
  const [kg, kg8] = [k / blocks, width / blocks];
  const gw = arena.zeros(fn, "dW", blocks * taps * kg8);
  /** dW [taps, k] and db [k] from their arena buffers. */
  const copyOut = (dW: Float64Array, db: Float64Array) => {
    const gv = arena.f64(gw, blocks * taps * kg8);
    for (let j = 0; j < blocks; j++) {
      for (let t = 0; t < taps; t++) copySpan(gv, (j * taps + t) * kg8, dW, t * k + j * kg, kg);
    }
    copyPixelsOut(arena.f64(gb, width), db, plan.output, 0, 1);
  };
  if (depthwise) {
    const w = arena.copyInWidened(fn, "W", args.W, width);
    return {
      input: (r0: number, r1: number): Task[] => [
        task("conv_backward_input_depthwise", {
          w,
          fh,
          fw,
          dilH: dh,
          dilW: dw,
          c8: width,
          sh,
          sw,
          dz,
          nH,
          nW,
          dxp,
          hp,
          wp,
          r0,
          r1,
        }),
      ],
      filter: (parts: number): Task[] =>
        ranges(plan.units, parts).map(([t0, t1]) =>
          task("conv_backward_filter_depthwise", {
            xp,
            hp,
            wp,
            c8: width,
            fh,
            fw,
            dilH: dh,
            dilW: dw,
            sh,
            sw,
            dz,
            nH,
            nW,
            gw,
            r0: 0,
            r1: rows,
            t0,
            t1,
          }),
        ),
      bias,
      copyOut,
    };
  }
  const cg = c / groups;
  const { runs, run } = runsOf(args.g);
  const packed = fh * runs * blocks8(run) * kg;
  const wt = arena.alloc(fn, "W packed", groups * packed * F64_BYTES);
  arena.scope(() => {
    for (let j = 0; j < groups; j++) {
      const wj = arena.copyIn(fn, "W", groupOf(args.W, j, groups));
      runKernel(kernels, "conv_pack_filters_t", { w: wj, fh, fw, c, cg, dilW: dw, k: kg, out: plus(wt, j * packed) });
    }
  });
  return {
    input: (r0: number, r1: number): Task[] =>
      Array.from({ length: groups }, (_, j) =>
        task("conv_backward_input", {
          wt: plus(wt, j * packed),
          fh,
          fw,
          c,
          cg,
          dilH: dh,
          dilW: dw,
          k: kg,
          kp: width,
          sh,
          sw,
          dz: plus(dz, j * kg8),
          nH,
          nW,
          dxp: plus(dxp, j * cg),
          hp,
          wp,
          r0,
          r1,
        }),
      ),
    filter: (parts: number): Task[] =>
      Array.from({ length: groups }, (_, j) =>
        ranges(plan.units, parts).map(([u0, u1]) =>
          task("conv_backward_filter", {
            xp: plus(xp, j * cg),
            hp,
            wp,
            c,
            cg,
            fh,
            fw,
            dilH: dh,
            dilW: dw,
            k8: kg8,
            sh,
            sw,
            dz: plus(dz, j * kg8),
            kp: width,
            nH,
            nW,
            gw: plus(gw, j * taps * kg8),
            r0: 0,
            r1: rows,
            u0,
            u1,
          }),
        ),
      ).flat(),
    bias,
    copyOut,
  };
}

/**
 * conv_backward(dZ [m,n_H,n_W,n_C], cache) -> [dA_prev [m,n_H_prev,n_W_prev,n_C_prev], dW (W's shape),
 * db (b's shape)]: equations (1)-(3) of the notebook, for every geometry conv_forward takes.
 *
 * The results are the same bits for any number of threads: dW is shared out by taps (every element is
 * still summed over all pixels in order, by one thread), db is one task, and dA_prev is cut into a number
 * of chunks of output rows fixed by the shape, at least as many rows as a window spans over the stride,
 * run in two waves (even chunks, then odd, also on one thread), so the windows of concurrent chunks never
 * overlap and every element receives its terms in one fixed order. The calling thread places dZ and
 * A_prev while the first chunks run, and copies dA_prev out as the second wave finishes.
 */
export function conv_backward(
  dZ: NDArray,
  cache: ConvCache,
  options: { out?: [dA_prev?: NDArray, dW?: NDArray, db?: NDArray]; algorithm?: Algorithm } = {},
): [NDArray, NDArray, NDArray] {
  const fn = "conv_backward";
  const args = convArgs(fn, ...(cacheItems(fn, cache, 4, "conv_forward") as [unknown, unknown, unknown, unknown]));
  const { g } = args;
  const { m, h, w: width, c, k, fh, sh, dh, top, left, hp, wp, nH, nW } = g;
  const dz4 = checkGradient(fn, "dZ", dZ, [m, nH, nW, k], "shape of conv_forward's Z");
  const plan = planOf(args);
  const { input, output, macs } = plan;
  const rows = m * nH;
  const inputs = [dz4, args.A_prev, args.W, args.b];
  const { out: given, algorithm } = { ...options };
  const [outA, outW, outB] = outs(fn, given);
  // dA_prev by Winograd (a 3×3 stride-1 convolution of dZ); dW and db stay direct
  const asked = useWinograd(fn, algorithm, g, true);
  const tile = asked !== null && allFinite(dz4) && allFinite(args.W) ? asked : null;
  const rA = new Result(fn, "dA_prev", args.A_prev.shape, outA, inputs);
  const rW = new Result(fn, "dW", args.W.shape, outW, inputs);
  const rB = new Result(fn, "db", args.b.shape, outB, inputs);
  const [dA, dW, db] = [rA.data, rW.data, rB.data];
  if (tile !== null) {
    // Winograd: dW by F(3×3, 2×2), dA_prev by a convolution of dZ with the rotated filters, db as below
    run(fn, macs >= shareFrom(plan.kernels.filter), (ctx) => {
      const { arena, kernels } = ctx;
      const kp = output.width;
      const dz = arena.copyInWidened(fn, "dZ", dz4, kp);
      const gb = arena.zeros(fn, "db", kp);
      runKernel(kernels, "conv_backward_bias", { dz, k8: kp, kp, nW, db: gb, r0: 0, r1: rows });
      db.set(arena.f64(gb, k));
      winogradFilterGradient(fn, ctx, args.A_prev, forwardShape(g), dz, kp, dW, macs);
      const ci = blocks8(c);
      const za = arena.alloc(fn, "dA_prev", m * h * width * ci * F64_BYTES);
      winogradConv(fn, ctx, dz4, args.W, true, new Float64Array(c), backwardShape(g), za, macs, tile);
      copyPixelsOut(arena.f64(za, m * h * width * ci), dA, Layout.grouped(c, 1, ci), 0, m * h * width);
    });
    return [rA.array(args.A_prev.shape), rW.array(args.W.shape), rB.array(args.b.shape)];
  }
  run(fn, macs >= shareFrom(plan.kernels.filter), (ctx) => {
    const { arena } = ctx;
    const iw = input.width;
    const row = wp * iw;
    // the rows of the padded gradient dxp that are dA_prev's, copied out (the repeated channels of a
    // depthwise conv with a channel multiplier summed)
    const copyOutRow = (v: Float64Array, p: number) => {
      const i = Math.floor(p / hp);
      const r = p - i * hp - top;
      if (r < 0 || r >= h) return;
      const from = p * row + left * iw;
      const to = (i * h + r) * width * c;
      if (input.plain) return copySpan(v, from, dA, to, width * c);
      const { slot, repeat } = input;
      for (let x = 0; x < width; x++) {
        for (let ch = 0; ch < c; ch++) {
          let sum = 0;
          for (let j = 0, q = from + x * iw + slot[ch]; j < repeat; j++) sum += v[q + j];
          dA[to + x * c + ch] = sum;
        }
      }
    };
    const streamed = ctx.pool !== null || macs >= 2 * minWork(plan.kernels.filter);
    const n = m * hp * wp * iw;
    let xp: number;
    let dz: number;
    let place = (_rows: number, _padded: number) => undefined as void;
    if (!streamed) {
      // a small call (never shared out, and one dA_prev chunk: see chunkCount below): block copies beat
      // placing rows one by one
      xp = placePadded(fn, ctx, args.A_prev, g, input);
      if (output.plain) dz = arena.copyIn(fn, "dZ", dz4);
      else if (output.slot.every((s, o) => s === o)) dz = arena.copyInWidened(fn, "dZ", dz4, output.width);
      else {
        dz = arena.alloc(fn, "dZ", rows * nW * output.width * F64_BYTES);
        new LaidRows(arena.f64(dz, rows * nW * output.width), dz4, output).ensure(rows);
      }
    } else {
      xp = arena.alloc(fn, "A_prev padded", n * F64_BYTES);
      dz = arena.alloc(fn, "dZ", rows * nW * output.width * F64_BYTES);
    }
    const dxp = arena.alloc(fn, "dA_prev padded", n * F64_BYTES);
    const kernels = backwardKernels(fn, ctx, args, plan, { xp, dz, dxp });
    if (streamed) {
      const padded = new PaddedRows(arena.f64(xp, n), args.A_prev, g, input);
      const grad = new LaidRows(arena.f64(dz, rows * nW * output.width), dz4, output);
      place = (r: number, p: number) => {
        grad.ensure(r);
        padded.ensure(p);
      };
    }
    const v = arena.f64(dxp, n);
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
    // dW and db: a GEMM reduction over output pixels, shared out by units of taps; they read all of
    // A_prev and dZ, so they come after the first wave's chunks, which need only their own rows
    const reductions = kernels.filter(taskCount(ctx, macs, plan.kernels.filter, plan.units));
    reductions.push(kernels.bias);
    const { start, end } = windowRows(g);
    // dA_prev chunks: their number depends on the shape alone (never on the threads), and the waves
    // run in the same order on one thread, so the bits are the same for any number of threads (below
    // 2 * minWork there is one chunk, which the small-call path above relies on)
    const chunkCount = Math.min(
      MAX_CHUNKS,
      Math.floor(rows / Math.ceil(((fh - 1) * dh + 1) / sh)),
      Math.floor(macs / minWork(plan.kernels.input)),
    );
    const chunks = ranges(rows, Math.max(1, chunkCount));
    const chunkTasks = chunks.map(([r0, r1]) => kernels.input(r0, r1));
    const per = chunkTasks[0].length;
    const inputTask = (j: number, t: number): Task => {
      const [, r1] = chunks[j];
      place(r1, 0);
      zeroTo(end(r1 - 1));
      return chunkTasks[j][t];
    };
    const even = chunks.map((_, j) => j).filter((j) => j % 2 === 0);
    const odd = chunks.map((_, j) => j).filter((j) => j % 2 === 1);
    streamTasks(
      fn,
      ctx,
      even.length * per + reductions.length,
      (t) => {
        if (t < even.length * per) return inputTask(even[Math.floor(t / per)], t % per);
        place(rows, m * hp);
        return reductions[t - even.length * per];
      },
      () => undefined,
    );
    // the second wave: once odd chunk j is done (all its groups), the rows before chunk j + 2's windows are final
    streamTasks(
      fn,
      ctx,
      odd.length * per,
      (t) => inputTask(odd[Math.floor(t / per)], t % per),
      (t) => {
        if (t % per !== per - 1) return;
        const j = odd[Math.floor(t / per)];
        copyOutTo(j + 2 < chunks.length ? start(chunks[j + 2][0]) : m * hp);
      },
    );
    copyOutTo(m * hp);
    kernels.copyOut(dW, db);
  });
  return [rA.array(args.A_prev.shape), rW.array(args.W.shape), rB.array(args.b.shape)];
}

/** The ops defined here (src/ops/registry.ts). */
export const OPS = defineOps({
  conv_single_step: {
    fn: conv_single_step,
    args: ["a_slice_prev", "W", "b"],
    doc: "`[f,f,n_C_prev]`, `[f,f,n_C_prev]`, `[1,1,1]` or a number → number",
    section: "notebook",
  },
  conv_forward: {
    fn: conv_forward,
    keys: ["stride", "pad", "dilation", "groups", "out", "algorithm"],
    args: ["A_prev", "W", "b", "hparameters", "options"],
    doc:
      "`A_prev [m,n_H_prev,n_W_prev,n_C_prev]`, `W [f_H,f_W,n_C_prev/groups,n_C]`, `b [1,1,1,n_C]` or `[n_C]` → " +
      "`[Z [m,n_H,n_W,n_C], cache]`; `hparameters` below; `cache = [A_prev, W, b, hparameters]`",
    section: "notebook",
    // (pixels of A_prev × W's size: the output is about as many pixels)
    cost: { factor: 1, pixelsOf: 0, sizeOf: 1 },
  },
  conv_backward: {
    fn: conv_backward,
    keys: ["stride", "pad", "dilation", "groups", "out", "algorithm"],
    args: ["dZ", "cache", "options"],
    doc: "`dZ [m,n_H,n_W,n_C]` → `[dA_prev, dW, db]` in the shapes of `A_prev`, `W` and `b`, for every geometry",
    section: "notebook",
    // (the cache's arrays come after dZ: A_prev, then W; twice the forward's work)
    cost: { factor: 2, pixelsOf: 0, sizeOf: 2 },
  },
});
