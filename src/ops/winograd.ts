// Winograd F(2×2, 3×3) for the 3×3 stride-1 convolutions (conv_forward, and conv_backward's dA_prev, a
// 3×3 stride-1 convolution of dZ with the rotated filters): 2.25× fewer multiplications than the direct
// loops. The transforms are assembly/winograd.ts; the 16 elementwise products are GEMMs on conv_forward's
// packed-panel micro-kernel (1×1 convolutions over the tiles). Every task writes its own tiles, so the
// bits are the same on any number of threads; they differ from the direct loops' (another order of
// summation, rounding ~1e-15 relative: test/ops/winograd.test.ts states the bound).
import type { NDArray } from "../ndarray.js";
import { describe } from "../ndarray.js";
import type { ConvGeometry } from "../shapes.js";
import { type Task, blocks8 } from "../wasm/kernels.js";
import { type Context, guided, runTasks } from "../wasm/schedule.js";
import { state } from "../wasm/runtime.js";

export type Algorithm = "auto" | "direct" | "winograd";

/** The shape of one Winograd convolution: input [m,h,w,c] padded per side, output [m,nH,nW,k]. */
export interface WinogradShape {
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
  return { m, h, w, c, k, top, left, nH, nW };
}

/**
 * Backward: dA_prev [m,h,w,c] is the 3×3 stride-1 convolution of dZ [m,nH,nW,k] padded by 2 − pad on each
 * side with the filters rotated by 180° and their channels swapped.
 */
export function backwardShape(g: ConvGeometry): WinogradShape {
  const { m, h, w, c, k, top, left, nH, nW } = g;
  return { m, h: nH, w: nW, c: k, k: c, top: 2 - top, left: 2 - left, nH: h, nW: w };
}

/** Winograd computes this convolution: 3×3, stride 1, dilation 1, one group (and, backward, pads ≤ 2). */
export function winogradFits(g: ConvGeometry): boolean {
  return fits(g, false) === null;
}

/** Why Winograd cannot compute this convolution, or null. */
function fits(g: ConvGeometry, backward: boolean): string | null {
  const { fh, fw, sh, sw, dh, dw, groups, top, bottom, left, right } = g;
  if (fh !== 3 || fw !== 3 || sh !== 1 || sw !== 1 || dh !== 1 || dw !== 1 || groups !== 1) {
    return `a 3×3 convolution with stride 1, dilation 1 and one group, but this one is ${fh}×${fw}, stride ${sh}×${sw}, dilation ${dh}×${dw}, ${groups} group${groups > 1 ? "s" : ""}`;
  }
  if (backward && Math.max(top, bottom, left, right) > 2) return "padding of at most 2 on each side for dA_prev";
  return null;
}

/**
 * Where Winograd ran faster than the direct loops (one thread, bench/winograd.ts and the table in the
 * README): from 32 input and 32 output channels (with fewer, the transforms cost more than the products
 * save: 16×16 channels measured 1.1× slower) on outputs of at least 14×14 forward, 16×16 for dA_prev
 * (smaller images are mostly edge tiles, and the filters' transform is paid per call: 8×8×128 measured
 * 1.45× slower).
 */
function pays(s: WinogradShape, backward: boolean): boolean {
  const side = backward ? 16 : 14;
  return s.c >= 32 && s.k >= 32 && s.nH >= side && s.nW >= side;
}

/** Checks an `algorithm` option. */
export function checkAlgorithm(fn: string, v: unknown, name = "options.algorithm"): Algorithm {
  if (v === "auto" || v === "direct" || v === "winograd") return v;
  throw new TypeError(`${fn}: ${name} expects "auto", "direct" or "winograd" but got ${describe(v)}`);
}

/** Forces a tile size (0: by shape); bench/winograd.ts sets it to measure each, reached through convwasm/internal. */
export const winogradTuning = { tile: 0 as 0 | Tile };

/**
 * The tile for a shape: F(4×4, 3×3) (4× fewer products, measured fastest on every bench layer) unless the
 * output is smaller than two tiles of 4 each way, where F(2×2, 3×3) wastes less on edge tiles.
 */
function tileOf(s: WinogradShape): Tile {
  if (winogradTuning.tile !== 0) return winogradTuning.tile;
  return s.nH >= 8 && s.nW >= 8 ? 4 : 2;
}

/**
 * The tile this call runs by Winograd with, or null for the direct loops: as asked (per call, else
 * init()'s choice, else "auto"); "auto" where it fits and measured faster; "winograd" asked of a call
 * where it does not fit is a RangeError (asked in init(), it applies where it fits).
 */
export function useWinograd(fn: string, asked: unknown, g: ConvGeometry, backward: boolean): Tile | null {
  const perCall = asked !== undefined;
  const algorithm = perCall ? checkAlgorithm(fn, asked) : state.algorithm;
  if (algorithm === "direct") return null;
  const why = fits(g, backward);
  const shape = backward ? backwardShape(g) : forwardShape(g);
  if (algorithm === "winograd") {
    if (why !== null && perCall) throw new RangeError(`${fn}: options.algorithm "winograd" expects ${why}`);
    return why === null ? tileOf(shape) : null;
  }
  return why === null && pays(shape, backward) ? tileOf(shape) : null;
}

/** Output tile sizes: F(2×2, 3×3) and F(4×4, 3×3). */
export type Tile = 2 | 4;

/**
 * W [3,3,C,K] as the filters of the convolution Winograd computes: itself forward; for dA_prev, rotated by
 * 180° with its channels swapped ([3,3,K,C]).
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
 * The convolution `s` of `x` (not padded) by Winograd into z [m·nH·nW][k8] in the arena, with `bias`
 * (k values) added. U is filterTransform's; `work` (direct multiply-adds) sizes the tasks.
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
  const { kernels, arena } = ctx;
  const { m, h, w, c, k, top, left, nH, nW } = s;
  const [th, tw] = [Math.ceil(nH / tile), Math.ceil(nW / tile)];
  const [hp, wp] = [tile * th + 2, tile * tw + 2];
  const points = (tile + 2) ** 2;
  // the GEMMs see the tiles as rows of `row` tiles (their order is all that matters to them): long rows
  // keep the micro-kernel busy whatever the image's width; the last row's tail is padding, never read back
  const count = m * th * tw;
  const row = Math.min(count, 64);
  const gemmRows = Math.ceil(count / row);
  const tiles = gemmRows * row;
  const k8 = blocks8(k);
  // the input, zero-padded to the last tile's edge
  const xc = arena.copyInStrided(fn, "input", x);
  const xp = arena.alloc(fn, "input padded", m * hp * wp * c * 8);
  const [s0, s1, s2, s3] = xc.strides;
  kernels.zero_pad(xc.ptr, s0, s1, s2, s3, h, w, c, top, hp - h - top, left, wp - w - left, xp, 0, m);
  // the filters' transform U = G g Gᵀ, one packed panel [c][k8] per point ξ
  const plane = c * k8;
  const pk = arena.zeros(fn, "U packed", points * plane);
  const wc = arena.alloc(fn, "W", 9 * c * k * 8);
  arena.f64(wc, 9 * c * k).set(filtersOf(W, rotated));
  kernels.winograd_filter(wc, c, k, k8, tile, pk);
  const b8 = arena.zeros(fn, "b", k8);
  arena.f64(b8, k).set(bias);
  const none = arena.zeros(fn, "no bias", k8);
  const v = arena.alloc(fn, "V", points * tiles * c * 8);
  const mm = arena.alloc(fn, "M", points * tiles * k8 * 8);
  const rows = m * th;
  const parts = guided(ctx, work, "conv_forward", rows);
  const gemmParts = guided(ctx, work, "conv_forward", gemmRows);
  const run = (list: Task[]) => runTasks(fn, ctx, list);
  const input = tile === 2 ? "winograd_input" : "winograd4_input";
  const output = tile === 2 ? "winograd_output" : "winograd4_output";
  run(parts.map(([r0, r1]): Task => [input, xp, hp, wp, c, th, tw, tiles, v, r0, r1]));
  // M[ξ] = V[ξ] · U[ξ]: each a 1×1 convolution of gemmRows one-row images of `row` tiles
  const gemms: Task[] = [];
  for (let xi = 0; xi < points; xi++) {
    for (const [r0, r1] of gemmParts) {
      // prettier-ignore
      gemms.push(["conv_forward", v + xi * tiles * c * 8, 1, row, c, c, pk + xi * plane * 8, 1, 1, 1, 1, k8, none, 1, 1,
        mm + xi * tiles * k8 * 8, k8, 1, row, r0, r1, 0]);
    }
  }
  run(gemms);
  run(parts.map(([r0, r1]): Task => [output, mm, k8, k8, b8, th, tw, tiles, z, nH, nW, r0, r1, 0]));
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
