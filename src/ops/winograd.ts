// Winograd F(2×2, 3×3) and F(4×4, 3×3) for the 3×3 stride-1 convolutions (conv_forward, and conv_backward's
// dA_prev, a 3×3 stride-1 convolution of dZ with the rotated filters): 2.25× and 4× fewer multiplications
// than the direct loops; F(2×2, 5×5) for the 5×5 ones forward (2.8× fewer). The transforms are
// assembly/winograd*.ts; the elementwise products are GEMMs on conv_forward's packed-panel micro-kernel
// (1×1 convolutions over the tiles). Every task writes its own tiles, so the
// bits are the same on any number of threads; they differ from the direct loops' (another order of
// summation, rounding ~1e-15 relative: test/ops/winograd.test.ts states the bound).
import type { NDArray } from "../core/ndarray.js";
import { type ConvGeometry, checkAlgorithm } from "../core/shapes.js";
import {
  BLOCK,
  ELEMENT_BYTES,
  type Precision,
  type Task,
  blocks8,
  gemmTask,
  kernelFor,
  runKernel,
  task,
} from "../kernels/kernels.js";
import { type Context, guided, runTasks, taskCount } from "../runtime/schedule.js";
import { ranges } from "../runtime/pool.js";
import { state } from "../runtime/runtime.js";
import { type ArenaImages, padImages } from "./pad.js";
import { F64_BYTES } from "../core/ndarray.js";

/** The shape of one Winograd convolution: input [m,h,w,c] padded per side, output [m,nH,nW,k], f×f filters. */
export interface WinogradShape {
  f: 3 | 5;
  m: number;
  h: number;
  w: number;
  c: number;
  k: number;
  top: number;
  left: number;
  nH: number;
  nW: number;
}

/** Forward: the convolution itself. */
export function forwardShape(g: ConvGeometry): WinogradShape {
  const { m, h, w, c, k, top, left, nH, nW } = g;
  return { f: g.fh === 5 ? 5 : 3, m, h, w, c, k, top, left, nH, nW };
}

/**
 * Backward: dA_prev [m,h,w,c] is the 3×3 stride-1 convolution of dZ [m,nH,nW,k] padded by 2 − pad on each
 * side with the filters rotated by 180° and their channels swapped.
 */
export function backwardShape(g: ConvGeometry): WinogradShape {
  const { m, h, w, c, k, top, left, nH, nW } = g;
  return { f: 3, m, h: nH, w: nW, c: k, k: c, top: 2 - top, left: 2 - left, nH: h, nW: w };
}

/** Winograd computes this convolution: 3×3 (or forward 5×5), stride 1, dilation 1, one group (and, backward, pads ≤ 2). */
export function winogradFits(g: ConvGeometry, backward = false): boolean {
  return fits(g, backward) === null;
}

/** Why Winograd cannot compute this convolution, or null. */
function fits(g: ConvGeometry, backward: boolean): string | null {
  const { fh, fw, sh, sw, dh, dw, groups, top, bottom, left, right } = g;
  const size = fh === fw && (fh === 3 || (fh === 5 && !backward));
  if (!size || sh !== 1 || sw !== 1 || dh !== 1 || dw !== 1 || groups !== 1) {
    return `a ${backward ? "3×3" : "3×3 or 5×5"} convolution with stride 1, dilation 1 and one group, but this one is ${fh}×${fw}, stride ${sh}×${sw}, dilation ${dh}×${dw}, ${groups} group${groups > 1 ? "s" : ""}`;
  }
  if (backward && Math.max(top, bottom, left, right) > 2) return "padding of at most 2 on each side for dA_prev";
  return null;
}

/**
 * Where Winograd ran faster than the direct loops (one thread, the bench's layers and a grid of shapes):
 * from 32 input and 32 output channels (with 16, the transforms cost more than the products save: 1.0–1.3×
 * slower), on outputs of at least 14×14 forward; backward (dW and dA_prev), from 768 output pixels of
 * at least 16×16 (one 16×16 image measured 1.02–1.05×, one 28×28 or four 16×16 0.78–0.82×). Smaller images
 * are mostly edge tiles, and the filters' transform is paid per call (8×8×128: 1.45× slower forward, 2×
 * backward).
 */
function pays(s: WinogradShape, backward: boolean, precision: Precision, cached: boolean): boolean {
  // 5×5 forward (F(2×2, 5×5), 2.8× fewer products), with the filters' transform made once (a model's plan):
  // from 8 input and 16 output channels, any output size; 0.5–0.75× the direct loops' time with 16–64
  // channels (4×4 to 28×28 outputs, batch 1 to 64), 0.9–1.0× with 8 input channels; with fewer, or 8 output
  // channels in float64, 1.15–2.4× slower. A call that transforms them itself (36 values from 25 per
  // filter, in TypeScript) needs 2048 output pixels: 1×14×14×16→32 took 2.4× the direct time, 64×14×14 0.76×
  if (s.f === 5) return s.c >= 8 && s.k >= 16 && (cached || s.m * s.nH * s.nW >= 2048);
  if (s.c < 32 || s.k < 32) return false;
  // (with the filters' transform made once, it also pays on 13×13: squeezenet1_1's last fire modules at
  // batch 1, 3×3 convs 9.0 ms against 10.9 direct in float32; in float64 64→256 1.48 against 2.36 ms and
  // 48→192 0.85 against 1.34. A call transforming its own filters there: 1.2× slower)
  const least = cached || precision === "f32" ? 12 : 14;
  if (!backward) return s.nH >= least && s.nW >= least;
  return s.nH >= 16 && s.nW >= 16 && s.m * s.nH * s.nW >= 768;
}

/** Forces a tile size (0: by shape); bench/winograd.ts sets it to measure each, reached through convwasm/internal. */
export const winogradTuning = { tile: 0 as 0 | Tile };

/**
 * The tile for a shape: F(4×4, 3×3) (4× fewer products, measured fastest on every bench layer) unless the
 * output is smaller than two tiles of 4 each way, or below 16 where tiles of 4 overhang it more than tiles
 * of 2 (13 or 14: 16 rows computed against 14). There F(2×2, 3×3) wastes less on edge tiles: as a plan's
 * layer (float64, one image) 13×13×64→256 took 1.81 ms against 2.01 by F(4×4), 14×14×256→256 6.15 against
 * 7.12; 15×15 and 16×16 0.76–0.88× by F(4×4).
 */
function tileOf(s: WinogradShape): Tile {
  if (s.f === 5) return 2;
  if (winogradTuning.tile !== 0) return winogradTuning.tile;
  const overhangs = (n: number) => n < 16 && Math.ceil(n / 4) * 4 > Math.ceil(n / 2) * 2;
  return s.nH >= 8 && s.nW >= 8 && !overhangs(s.nH) && !overhangs(s.nW) ? 4 : 2;
}

/**
 * The tile this call runs by Winograd with, or null for the direct loops: as asked (per call, else
 * init()'s choice, else "auto"); "auto" where it fits and measured faster; "winograd" asked of a call
 * where it does not fit is a RangeError (asked in init(), it applies where it fits). `cached`: the
 * caller transforms the filters once for many calls (a model's plan), which makes 5×5 pay sooner.
 */
export function useWinograd(
  fn: string,
  asked: unknown,
  g: ConvGeometry,
  backward: boolean,
  precision: Precision = "f64",
  cached = false,
): Tile | null {
  const perCall = asked !== undefined;
  const algorithm = perCall ? checkAlgorithm(fn, asked) : state.algorithm;
  if (algorithm === "direct") return null;
  const why = fits(g, backward);
  const shape = backward ? backwardShape(g) : forwardShape(g);
  if (algorithm === "winograd") {
    if (why !== null && perCall) throw new RangeError(`${fn}: options.algorithm "winograd" expects ${why}`);
    return why === null ? tileOf(shape) : null;
  }
  return why === null && pays(shape, backward, precision, cached) ? tileOf(shape) : null;
}

/** Output tile sizes: F(2×2, 3×3) and F(4×4, 3×3); F(2×2, 5×5). */
export type Tile = 2 | 4;

/**
 * W [f,f,C,K] as the filters of the convolution Winograd computes: itself forward; for dA_prev (3×3),
 * rotated by 180° with its channels swapped ([3,3,K,C]).
 */
function filtersOf(W: NDArray, rotated: boolean): Float64Array {
  const w = W.toFloat64Array();
  if (!rotated) return w;
  const [, , C, K] = W.shape;
  const r = new Float64Array(w.length);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++)
      for (let c = 0; c < C; c++)
        for (let k = 0; k < K; k++) r[((i * 3 + j) * K + k) * C + c] = w[((2 - i) * 3 + (2 - j)) * C * K + c * K + k];
  return r;
}

/**
 * The filters' transform U = G g Gᵀ of w [3,3,c,k] (C order), one packed panel [c][k8] per point ξ of
 * the tile: what winogradFromArena multiplies by (a model makes it once, until its weights change).
 */
export function winogradFilters(
  fn: string,
  { kernels, arena }: Context,
  w: Float64Array,
  c: number,
  k: number,
  tile: Tile,
  f: 3 | 5 = 3,
): Float64Array {
  if (f === 5) return filters5(w, c, k);
  const points = (tile + 2) ** 2;
  const k8 = blocks8(k);
  return arena.scope(() => {
    const pk = arena.zeros(fn, "U packed", points * c * k8);
    const wc = arena.alloc(fn, "W", 9 * c * k * F64_BYTES);
    arena.f64(wc, 9 * c * k).set(w);
    runKernel(kernels, "winograd_filter", { w: wc, cin: c, kout: k, k8, tile, u: pk });
    return arena.f64(pk, points * c * k8).slice();
  });
}

/**
 * F(2×2, 5×5)'s G: row i holds the powers 0..4 of point i (0, 1, −1, 2, −2 in Bᵀ's order, then ∞), scaled
 * as F(4×4, 3×3)'s G is so that Aᵀ and Bᵀ keep small integers: the solution of Aᵀ[(G g) ⊙ (Bᵀ d)] = the
 * two-output correlation, exact in rationals (test/ops/winograd.test.ts checks the results against the
 * direct loops and PyTorch). 1/6, 1/12, 1/24, 1/3 and 2/3 round in float64.
 */
const G5 = [
  [1 / 4, 0, 0, 0, 0],
  [-1 / 6, -1 / 6, -1 / 6, -1 / 6, -1 / 6],
  [-1 / 6, 1 / 6, -1 / 6, 1 / 6, -1 / 6],
  [1 / 24, 1 / 12, 1 / 6, 1 / 3, 2 / 3],
  [1 / 24, -1 / 12, 1 / 6, -1 / 3, 2 / 3],
  [0, 0, 0, 0, 1],
];

/** U = G g Gᵀ of w [5,5,c,k] (C order), in float64, as winogradFilters' 36 panels [c][k8] (blocks of 8). */
function filters5(w: Float64Array, c: number, k: number): Float64Array {
  const k8 = blocks8(k);
  const U = new Float64Array(36 * c * k8);
  const g = new Float64Array(25);
  const t = new Float64Array(30);
  for (let ci = 0; ci < c; ci++) {
    for (let ko = 0; ko < k; ko++) {
      for (let tap = 0; tap < 25; tap++) g[tap] = w[(tap * c + ci) * k + ko];
      // t = G g (6×5), then U = t Gᵀ (6×6)
      for (let a = 0; a < 6; a++)
        for (let x = 0; x < 5; x++) {
          let sum = 0;
          for (let y = 0; y < 5; y++) sum += G5[a][y] * g[y * 5 + x];
          t[a * 5 + x] = sum;
        }
      const at = Math.floor(ko / 8) * c * 8 + ci * 8 + (ko % 8);
      for (let a = 0; a < 6; a++)
        for (let b = 0; b < 6; b++) {
          let sum = 0;
          for (let x = 0; x < 5; x++) sum += t[a * 5 + x] * G5[b][x];
          U[(a * 6 + b) * c * k8 + at] = sum;
        }
    }
  }
  return U;
}

/**
 * The convolution `s` of `x` (not padded) by Winograd into z [m·nH·nW][k8] in the arena, with `bias`
 * (k values) added. `work` (direct multiply-adds) sizes the tasks.
 */
export function winogradConv(
  fn: string,
  ctx: Context,
  x: NDArray,
  W: NDArray,
  rotated: boolean,
  bias: Float64Array,
  s: WinogradShape,
  z: number,
  work: number,
  tile: Tile,
): void {
  const { arena } = ctx;
  const U = winogradFilters(fn, ctx, filtersOf(W, rotated), s.c, s.k, tile, s.f);
  const xc = arena.copyInStrided(fn, "input", x);
  winogradFromArena(
    fn,
    ctx,
    { ptr: xc.ptr, strides: xc.strides, h: s.h, w: s.w, c: s.c },
    U,
    bias,
    s,
    z,
    work,
    tile,
    0,
  );
}

/**
 * winogradFilters' panels (blocks of 8 output channels) repacked into blocks of `block` (16: an f32 plan's
 * GEMMs). `U` holds `points` panels [c][k8].
 */
export function winogradRepack(U: Float64Array, points: number, c: number, k: number, block: number): Float64Array {
  const k8 = blocks8(k);
  const kb = Math.ceil(k / block) * block;
  const out = new Float64Array(points * c * kb);
  for (let xi = 0; xi < points; xi++)
    for (let i = 0; i < c; i++)
      for (let o = 0; o < k; o++)
        out[xi * c * kb + Math.floor(o / block) * c * block + i * block + (o % block)] =
          U[xi * c * k8 + Math.floor(o / 8) * c * 8 + i * 8 + (o % 8)];
  return out;
}

/**
 * The convolution `s` by Winograd of images already in the arena, with filters already transformed
 * (winogradFilters; repacked into blocks of 16 for f32), `bias` added and a ReLU fused (relu 1) into z
 * [m·nH·nW][k8], in `precision` (f32: F(2×2) only, the F(4×4) transforms being f64 kernels).
 */
export function winogradFromArena(
  fn: string,
  ctx: Context,
  x: ArenaImages,
  U: Float64Array | Float32Array,
  bias: Float64Array | Float32Array,
  s: WinogradShape,
  z: number,
  work: number,
  tile: Tile,
  relu: number,
  precision: Precision = "f64",
): void {
  const { arena } = ctx;
  const { c, k, nH, nW } = s;
  if (precision === "f32" && tile !== 2) throw new RangeError(`${fn}: f32 Winograd has tile 2 only`);
  const el = ELEMENT_BYTES[precision];
  const view = (p: number, n: number) => (precision === "f64" ? arena.f64(p, n) : arena.f32(p, n));
  const points = (tile + s.f - 1) ** 2;
  const { xp, hp, wp, th, tw, row, gemmRows, tiles } = tiled(fn, ctx, x, s, tile, precision);
  const k8 = Math.ceil(k / BLOCK[precision]) * BLOCK[precision];
  const pk = arena.alloc(fn, "U packed", U.length * el);
  view(pk, U.length).set(U);
  const b8 = arena.alloc(fn, "b", k8 * el);
  view(b8, k8).fill(0);
  view(b8, bias.length).set(bias);
  if (s.f === 5) return conv5(fn, ctx, { xp, hp, wp, th, tw, u: pk, b8, k8 }, s, z, work, relu, precision);
  const plane = c * k8;
  const none = arena.alloc(fn, "no bias", k8 * el);
  view(none, k8).fill(0);
  const v = arena.alloc(fn, "V", points * tiles * c * el);
  const mm = arena.alloc(fn, "M", points * tiles * k8 * el);
  const rows = s.m * th;
  const parts = guided(ctx, work, "conv_forward", rows);
  const gemmParts = guided(ctx, work, "conv_forward", gemmRows);
  const run = (list: Task[]) => runTasks(fn, ctx, list);
  const input = tile === 2 ? kernelFor("winograd_input", precision) : "winograd4_input";
  const output = tile === 2 ? kernelFor("winograd_output", precision) : "winograd4_output";
  run(parts.map(([r0, r1]) => task(input, { xp, hp, wp, c, th, tw, tiles, v, r0, r1 })));
  // M[ξ] = V[ξ] · U[ξ]: each a 1×1 convolution of gemmRows one-row images of `row` tiles
  const gemms: Task[] = [];
  for (let xi = 0; xi < points; xi++) {
    for (const [r0, r1] of gemmParts) {
      const [x, w, z] = [v + xi * tiles * c * el, pk + xi * plane * el, mm + xi * tiles * k8 * el];
      gemms.push(gemmTask({ x, pixels: row, n: c, w, k8, b: none, z, r0, r1, precision }));
    }
  }
  run(gemms);
  run(parts.map(([r0, r1]) => task(output, { mm, kp: k8, k8, b8, th, tw, tiles, z, nH, nW, r0, r1, relu })));
}

/** Bytes of a chunk's transforms and products that stay in cache (the L2 of a core, with room to spare). */
const CHUNK_BYTES = 256 * 1024;

/**
 * winogradFromArena for 5×5 filters, the padded input, filters' transform (u) and bias (b8) placed:
 * F(2×2, 5×5) in one kernel call per task, chunk by chunk of tile rows (each task its own scratch), so that
 * the 36 points' transforms and products stay in cache.
 */
function conv5(
  fn: string,
  ctx: Context,
  p: { xp: number; hp: number; wp: number; th: number; tw: number; u: number; b8: number; k8: number },
  s: WinogradShape,
  z: number,
  work: number,
  relu: number,
  precision: Precision,
): void {
  const { arena } = ctx;
  const { c, nH, nW } = s;
  const { u, b8, k8 } = p;
  const el = ELEMENT_BYTES[precision];
  const rows = s.m * p.th;
  const perRow = 36 * p.tw * (c + k8) * el;
  const parts = guided(ctx, work, "conv_forward", rows);
  const chunk = Math.max(1, Math.min(Math.floor(CHUNK_BYTES / perRow), ...parts.map(([r0, r1]) => r1 - r0)));
  const each = k8 * el + chunk * perRow;
  const scratch = arena.alloc(fn, "Winograd scratch", parts.length * each);
  const name = kernelFor("winograd25_conv", precision);
  // prettier-ignore
  runTasks(fn, ctx, parts.map(([r0, r1], j) => task(name, { xp: p.xp, hp: p.hp, wp: p.wp, c, th: p.th, tw: p.tw, u, k8, b8,
    z, nH, nW, relu, scratch: scratch + j * each, chunk, r0, r1 })));
}

/**
 * Whether every element of `a` is finite: Winograd's transforms subtract, so an infinite input would give
 * NaN where the direct loops give ±Infinity; such calls take the direct loops, whatever was asked.
 */
export function allFinite(a: NDArray): boolean {
  const v = a.isContiguous() ? a.data.subarray(a.offset, a.offset + a.size) : a.toFloat64Array();
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return false;
  return true;
}

/**
 * dW [3,3,c,k] into `out` by Winograd F(3×3, 2×2) (2.25× fewer products than the direct reduction): each
 * 2×2 tile of dz (in the arena, [m·nH·nW][kp]) and the 4×4 patch of the padded input under it are
 * transformed (winograd_dz; winograd_input, whose Bᵀ this F(3×3, 2×2) shares), the 16 products are
 * summed over the tiles by the filter-gradient kernel (a 1×1 convolution's dW, shared out by pairs of
 * input channels, each element summed in tile order by one thread: the same bits on any thread count),
 * and dW = Aᵀ M A with Aᵀ = [1 1 1 0; 0 1 −1 0; 0 1 1 1].
 */
export function winogradFilterGradient(
  fn: string,
  ctx: Context,
  x: NDArray,
  s: WinogradShape,
  dz: number,
  kp: number,
  out: Float64Array,
  work: number,
): void {
  const { arena } = ctx;
  const { m, c, k, nH, nW } = s;
  const xc = arena.copyInStrided(fn, "input", x);
  const images = { ptr: xc.ptr, strides: xc.strides, h: s.h, w: s.w, c };
  const { xp, hp, wp, th, tw, count, row, gemmRows, tiles } = tiled(fn, ctx, images, s, 2);
  const k8 = blocks8(k);
  const v = arena.alloc(fn, "V", 16 * tiles * c * F64_BYTES);
  const u = arena.alloc(fn, "U", 16 * tiles * kp * F64_BYTES);
  // the tiles past the last are read by the reduction: zeros (the transforms write every other one)
  for (let xi = 0; xi < 16; xi++) {
    arena.f64(v + (xi * tiles + count) * c * F64_BYTES, (tiles - count) * c).fill(0);
    arena.f64(u + (xi * tiles + count) * kp * F64_BYTES, (tiles - count) * kp).fill(0);
  }
  const M = arena.zeros(fn, "M", 16 * c * k8);
  const parts = guided(ctx, work, "conv_backward_filter", m * th);
  runTasks(fn, ctx, [
    ...parts.map(([r0, r1]) => task("winograd_input", { xp, hp, wp, c, th, tw, tiles, v, r0, r1 })),
    ...parts.map(([r0, r1]) => task("winograd_dz", { dz, kp, k8, nH, nW, th, tw, tiles, u, r0, r1 })),
  ]);
  const units = Math.ceil(c / 2);
  const uparts = ranges(units, taskCount(ctx, work, "conv_backward_filter", units));
  const sums: Task[] = [];
  for (let xi = 0; xi < 16; xi++) {
    for (const [u0, u1] of uparts) {
      // dW of a 1×1 convolution: the tiles' inputs against their gradients, summed over the tiles
      sums.push(
        task("conv_backward_filter", {
          xp: v + xi * tiles * c * F64_BYTES,
          hp: gemmRows,
          wp: row,
          c,
          cg: c,
          fh: 1,
          fw: 1,
          dilH: 1,
          dilW: 1,
          k8,
          sh: 1,
          sw: 1,
          dz: u + xi * tiles * kp * F64_BYTES,
          kp,
          nH: gemmRows,
          nW: row,
          gw: M + xi * c * k8 * F64_BYTES,
          r0: 0,
          r1: gemmRows,
          u0,
          u1,
        }),
      );
    }
  }
  runTasks(fn, ctx, sums);
  const mv = arena.f64(M, 16 * c * k8);
  const t = new Float64Array(12);
  for (let ci = 0; ci < c; ci++) {
    for (let ko = 0; ko < k; ko++) {
      const at = (xi: number) => mv[(xi * c + ci) * k8 + ko];
      // Aᵀ M: 3 rows of 4
      for (let j = 0; j < 4; j++) {
        const [m0, m1, m2, m3] = [at(j), at(4 + j), at(8 + j), at(12 + j)];
        t[j] = m0 + m1 + m2;
        t[4 + j] = m1 - m2;
        t[8 + j] = m1 + m2 + m3;
      }
      for (let i = 0; i < 3; i++) {
        const [a, b, e, f] = [t[i * 4], t[i * 4 + 1], t[i * 4 + 2], t[i * 4 + 3]];
        out[((i * 3 + 0) * c + ci) * k + ko] = a + b + e;
        out[((i * 3 + 1) * c + ci) * k + ko] = b - e;
        out[((i * 3 + 2) * c + ci) * k + ko] = b + e + f;
      }
    }
  }
}

/**
 * The input of a Winograd convolution zero-padded to the last tile's edge (tiles of `tile` outputs), and
 * the tiles' count and arrangement for the GEMMs: rows of `row` tiles (their order is all that matters
 * there, and long rows keep the micro-kernel busy whatever the image's width), the last row's tail padding.
 */
function tiled(
  fn: string,
  { kernels, arena }: Context,
  x: ArenaImages,
  s: WinogradShape,
  tile: Tile,
  precision: Precision = "f64",
) {
  const { m, h, w, c, top, left, nH, nW } = s;
  const [th, tw] = [Math.ceil(nH / tile), Math.ceil(nW / tile)];
  const [hp, wp] = [tile * th + s.f - 1, tile * tw + s.f - 1];
  const xp = arena.alloc(fn, "input padded", m * hp * wp * c * ELEMENT_BYTES[precision]);
  const pads = { top, bottom: hp - h - top, left, right: wp - w - left };
  padImages(kernels, { ptr: x.ptr, strides: x.strides, h, w, c }, pads, xp, m, precision);
  const count = m * th * tw;
  const row = Math.min(count, 64);
  const gemmRows = Math.ceil(count / row);
  return { xp, hp, wp, th, tw, count, row, gemmRows, tiles: gemmRows * row };
}
