// The one table of WASM kernels (the exports of assembly/index.ts): each kernel's arguments, the calls
// init() warms it up with and, for kernels shared out to threads, the least work worth a task. The
// `Kernels` type, the warm-up, the loader's check of a module and the pool's dispatch all derive from it.

/** The ABI version assembly/index.ts exports as abi_version(); a module with another one is refused. */
export const ABI_VERSION = 16;

/** Channels rounded up to the kernels' blocks of 8 (one micro-kernel's width: 4 f64x2 registers). */
export const blocks8 = (k: number) => Math.ceil(k / 8) * 8;

/** An element type of the kernels: float64 (everything) or float32 (the *_f32 kernels of inference plans). */
export type Precision = "f64" | "f32";

/** Bytes of one element. */
export const ELEMENT_BYTES: Record<Precision, number> = {
  f64: Float64Array.BYTES_PER_ELEMENT,
  f32: Float32Array.BYTES_PER_ELEMENT,
};

/** Channels of a micro-kernel's block (4 v128 registers): 8 f64, 16 f32. */
export const BLOCK: Record<Precision, number> = { f64: 8, f32: 16 };

/** Scratch buffers (zeros) for the warm-up calls, each big enough for every kernel's use of it. */
interface Scratch {
  x: number;
  xp: number;
  w: number;
  wpk: number;
  b: number;
  z: number;
  y: number;
}

// warm-up geometry: one 9×9×5 image (odd widths, odd taps), 3×3 window, 12 filters (k8 = 16), stride 1,
// pad 1, so that every code path (vector and scalar lanes, odd pixel and tap tails) runs
const G = { h: 9, w: 9, c: 5, f: 3, k: 12, k8: 16, hp: 11, wp: 11, nH: 9, nW: 9 };
const UNITS = G.f * Math.ceil((G.f * G.c) / 2);
/** Pooling windows warmed up: 2×2 and 3×3 with their own stride. */
const POOLS = [2, 3].map((f) => ({ f, n: Math.floor((G.h - f) / f) + 1 }));
const IMG = [G.h * G.w * G.c, G.w * G.c, G.c, 1] as const;

/** Elements of scratch each buffer gets: more than any warm-up call reads or writes. */
export const SCRATCH_ELEMENTS = G.hp * G.wp * G.c * G.k8;

interface Spec {
  /** Argument names, in order (documentation and arity). */
  readonly args: readonly string[];
  /** The calls of one warm-up round. */
  readonly warm: (s: Scratch) => number[][];
  /** Multiply-adds below which a task is not worth handing to another thread (bench/threshold.ts). */
  readonly minWork?: number;
  /** Multiply-adds of a whole call from which sharing it out pays with the helpers asleep (default 2 × minWork). */
  readonly shareFrom?: number;
  /** The element type of its data (default f64). */
  readonly type?: Precision;
}

const F64 = {
  zero_pad: {
    args: ["x", "sx0", "sx1", "sx2", "sx3", "h", "w", "c", "top", "bottom", "left", "right", "out", "i0", "i1"],
    warm: (s) => [[s.x, ...IMG, G.h, G.w, G.c, 1, 1, 1, 1, s.xp, 0, 1]],
  },
  conv_pack_filters: {
    args: ["w", "taps", "k", "k8", "out"],
    warm: (s) => [[s.w, G.f * G.f * G.c, G.k, G.k8, s.wpk]],
  },
  conv_forward: {
    // prettier-ignore
    args: ["xp", "hp", "wp", "c", "cg", "wpk", "fh", "fw", "dilH", "dilW", "k8", "b8", "sh", "sw", "z", "kp",
      "nH", "nW", "r0", "r1", "act", "res"],
    warm: (s) => [
      [s.xp, G.hp, G.wp, G.c, G.c, s.wpk, G.f, G.f, 1, 1, G.k8, s.b, 1, 1, s.z, G.k8, G.nH, G.nW, 0, G.nH, 0, 0],
      // dilated: one run per kw (nH = nW = 11 - 5 + 1), with the fused ReLU
      [s.xp, G.hp, G.wp, G.c, G.c, s.wpk, G.f, G.f, 2, 2, G.k8, s.b, 1, 1, s.z, G.k8, 7, 7, 0, 7, 1, 0],
      // a residual added and ReLU6
      [s.xp, G.hp, G.wp, G.c, G.c, s.wpk, G.f, G.f, 1, 1, G.k8, s.b, 1, 1, s.z, G.k8, G.nH, G.nW, 0, G.nH, 2, s.y],
    ],
    // a task pays from about 0.5M multiply-adds on a running helper, a call from about 16M with the
    // helpers asleep (bench/threshold.ts, 2 cores)
    minWork: 2 ** 19,
    shareFrom: 2 ** 24,
  },
  conv_backward_filter: {
    // prettier-ignore
    args: ["xp", "hp", "wp", "c", "cg", "fh", "fw", "dilH", "dilW", "k8", "sh", "sw", "dz", "kp", "nH", "nW",
      "gw", "r0", "r1", "u0", "u1"],
    warm: (s) => [
      [s.xp, G.hp, G.wp, G.c, G.c, G.f, G.f, 1, 1, G.k8, 1, 1, s.z, G.k8, G.nH, G.nW, s.w, 0, G.nH, 0, UNITS],
    ],
    // a task pays from about 0.25M multiply-adds, a call from about 16M (with the helpers asleep)
    minWork: 2 ** 17,
    shareFrom: 2 ** 24,
  },
  conv_backward_bias: {
    args: ["dz", "k8", "kp", "nW", "db", "r0", "r1"],
    warm: (s) => [[s.z, G.k8, G.k8, G.nW, s.b, 0, G.nH]],
  },
  conv_pack_filters_t: {
    args: ["w", "fh", "fw", "c", "cg", "dilW", "k", "out"],
    warm: (s) => [
      [s.w, G.f, G.f, G.c, G.c, 1, G.k, s.wpk],
      [s.w, G.f, G.f, G.c, G.c, 2, G.k, s.wpk],
    ],
  },
  conv_backward_input: {
    // prettier-ignore
    args: ["wt", "fh", "fw", "c", "cg", "dilH", "dilW", "k", "kp", "sh", "sw", "dz", "nH", "nW", "dxp", "hp",
      "wp", "r0", "r1"],
    warm: (s) => [[s.wpk, G.f, G.f, G.c, G.c, 1, 1, G.k, G.k8, 1, 1, s.z, G.nH, G.nW, s.xp, G.hp, G.wp, 0, G.nH]],
    minWork: 2 ** 17,
    shareFrom: 2 ** 24,
  },
  conv_forward_depthwise: {
    // prettier-ignore
    args: ["xp", "hp", "wp", "c8", "w", "fh", "fw", "dilH", "dilW", "b", "sh", "sw", "z", "nH", "nW", "r0", "r1", "act"],
    warm: (s) => [
      [s.xp, G.hp, G.wp, 8, s.w, G.f, G.f, 1, 1, s.b, 1, 1, s.z, G.nH, G.nW, 0, G.nH, 0],
      [s.xp, G.hp, G.wp, 8, s.w, G.f, G.f, 1, 1, s.b, 1, 1, s.z, G.nH, G.nW, 0, G.nH, 1],
      [s.xp, G.hp, G.wp, 8, s.w, G.f, G.f, 1, 1, s.b, 1, 1, s.z, G.nH, G.nW, 0, G.nH, 2],
    ],
    // (multiply-adds counted as for a dense conv of the same shape: taps × channels per output pixel)
    minWork: 2 ** 19,
    shareFrom: 2 ** 24,
  },
  conv_backward_input_depthwise: {
    // prettier-ignore
    args: ["w", "fh", "fw", "dilH", "dilW", "c8", "sh", "sw", "dz", "nH", "nW", "dxp", "hp", "wp", "r0", "r1"],
    warm: (s) => [[s.w, G.f, G.f, 1, 1, 8, 1, 1, s.z, G.nH, G.nW, s.xp, G.hp, G.wp, 0, G.nH]],
    minWork: 2 ** 17,
    shareFrom: 2 ** 24,
  },
  conv_backward_filter_depthwise: {
    // prettier-ignore
    args: ["xp", "hp", "wp", "c8", "fh", "fw", "dilH", "dilW", "sh", "sw", "dz", "nH", "nW", "gw", "r0", "r1",
      "t0", "t1"],
    warm: (s) => [[s.xp, G.hp, G.wp, 8, G.f, G.f, 1, 1, 1, 1, s.z, G.nH, G.nW, s.w, 0, G.nH, 0, G.f * G.f]],
    minWork: 2 ** 17,
    shareFrom: 2 ** 24,
  },
  pool_forward_max: {
    // prettier-ignore
    args: ["x", "sx0", "sx1", "sx2", "sx3", "c", "fh", "fw", "sh", "sw", "y", "nH", "nW", "i0", "i1"],
    warm: (s) => POOLS.map(({ f, n }) => [s.x, ...IMG, G.c, f, f, f, f, s.y, n, n, 0, 1]),
  },
  pool_forward_average: {
    // prettier-ignore
    args: ["x", "sx0", "sx1", "sx2", "sx3", "c", "fh", "fw", "sh", "sw", "y", "nH", "nW", "i0", "i1", "divH", "divW"],
    warm: (s) => POOLS.map(({ f, n }) => [s.x, ...IMG, G.c, f, f, f, f, s.y, n, n, 0, 1, s.b, s.b]),
  },
  pool_backward_max: {
    // prettier-ignore
    args: ["x", "sx0", "sx1", "sx2", "sx3", "h", "w", "c", "fh", "fw", "sh", "sw", "dy", "nH", "nW", "dx",
      "i0", "i1"],
    warm: (s) => POOLS.map(({ f, n }) => [s.x, ...IMG, G.h, G.w, G.c, f, f, f, f, s.y, n, n, s.xp, 0, 1]),
  },
  pool_backward_average: {
    args: ["h", "w", "c", "fh", "fw", "sh", "sw", "dy", "nH", "nW", "dx", "i0", "i1", "divH", "divW"],
    warm: (s) => POOLS.map(({ f, n }) => [G.h, G.w, G.c, f, f, f, f, s.y, n, n, s.xp, 0, 1, s.b, s.b]),
  },
  transpose_planes: {
    args: ["src", "c", "n", "dst"],
    warm: (s) => [[s.x, G.c, G.h * G.w, s.xp]],
  },
  relu_forward: {
    args: ["x", "y", "i0", "i1"],
    warm: (s) => [[s.x, s.y, 0, 101]],
  },
  winograd_filter: {
    args: ["w", "cin", "kout", "k8", "tile", "u"],
    // both tiles, an odd output channel count (the scalar lane)
    warm: (s) => [
      [s.w, G.c, G.k - 1, G.k8, 2, s.wpk],
      [s.w, G.c, G.k - 1, G.k8, 4, s.wpk],
    ],
  },
  winograd_input: {
    args: ["xp", "hp", "wp", "c", "th", "tw", "tiles", "v", "r0", "r1"],
    // 4×4 tiles of the 11×11×5 padded scratch image (odd channel count: the scalar tail runs too)
    warm: (s) => [[s.xp, G.hp, G.wp, G.c, 4, 4, 16, s.w, 0, 4]],
  },
  winograd_output: {
    args: ["mm", "kp", "k8", "b8", "th", "tw", "tiles", "z", "nH", "nW", "r0", "r1", "relu"],
    // a 7×7 output: the last tile row and column are partial
    warm: (s) => [
      [s.z, G.k8, G.k8, s.b, 4, 4, 16, s.y, 7, 7, 0, 4, 0],
      [s.z, G.k8, G.k8, s.b, 4, 4, 16, s.y, 7, 7, 0, 4, 1],
    ],
  },
  winograd_dz: {
    args: ["dz", "kp", "k8", "nH", "nW", "th", "tw", "tiles", "u", "r0", "r1"],
    // a 7×7 gradient: the last tile row and column are partial
    warm: (s) => [[s.z, G.k8, G.k8, 7, 7, 4, 4, 16, s.y, 0, 4]],
  },
  winograd4_input: {
    args: ["xp", "hp", "wp", "c", "th", "tw", "tiles", "v", "r0", "r1"],
    // 6×6 tiles of the 11×11×5 padded scratch image (rows 0..10: two tile rows)
    warm: (s) => [[s.xp, G.hp, G.wp, G.c, 2, 2, 4, s.w, 0, 2]],
  },
  winograd4_output: {
    args: ["mm", "kp", "k8", "b8", "th", "tw", "tiles", "z", "nH", "nW", "r0", "r1", "relu"],
    // a 7×7 output: the last tile row and column are partial
    warm: (s) => [
      [s.z, G.k8, G.k8, s.b, 2, 2, 4, s.y, 7, 7, 0, 2, 0],
      [s.z, G.k8, G.k8, s.b, 2, 2, 4, s.y, 7, 7, 0, 2, 1],
    ],
  },
  winograd25_conv: {
    args: ["xp", "hp", "wp", "c", "th", "tw", "u", "k8", "b8", "z", "nH", "nW", "relu", "scratch", "chunk", "r0", "r1"],
    // a 5×5 output from the 11×11×5 padded scratch image (6×6 tiles two apart: three tile rows, the last
    // partial; 5 channels: the scalar tail), two tile rows a chunk
    warm: (s) => [
      [s.xp, G.hp, G.wp, G.c, 3, 3, s.wpk, G.k8, s.b, s.y, 5, 5, 0, s.z, 2, 0, 3],
      [s.xp, G.hp, G.wp, G.c, 3, 3, s.wpk, G.k8, s.b, s.y, 5, 5, 1, s.z, 2, 0, 3],
    ],
  },
  relu_backward: {
    args: ["da", "z", "dz", "i0", "i1"],
    warm: (s) => [[s.x, s.z, s.y, 0, 101]],
  },
  softmax_forward: {
    args: ["z", "k", "y", "r0", "r1"],
    warm: (s) => [[s.x, 10, s.y, 0, 16]],
  },
  softmax_cross_entropy: {
    args: ["z", "t", "k", "scale", "loss", "dz", "r0", "r1"],
    warm: (s) => [[s.x, s.z, 10, 1 / 16, s.b, s.y, 0, 16]],
  },
  act_forward: {
    args: ["kind", "x", "y", "i0", "i1", "a", "b"],
    warm: (s) => [0, 1, 2, 3, 4, 5, 6].map((kind) => [kind, s.x, s.y, 0, 9, 0.2, 0.5]),
  },
  act_backward: {
    args: ["kind", "x", "dy", "dx", "i0", "i1", "a", "b"],
    warm: (s) => [0, 1, 2, 3, 4, 5, 6].map((kind) => [kind, s.x, s.z, s.y, 0, 9, 0.2, 0.5]),
  },
  add_forward: {
    args: ["a", "b", "y", "i0", "i1"],
    warm: (s) => [[s.x, s.z, s.y, 0, 101]],
  },
  mul_forward: {
    args: ["a", "b", "y", "i0", "i1"],
    warm: (s) => [[s.x, s.z, s.y, 0, 101]],
  },
  channel_moments: {
    args: ["x", "pixels", "c", "shift", "s1", "s2"],
    warm: (s) => [
      [s.x, G.h * G.w, G.c, 0, s.b, s.y],
      [s.x, G.h * G.w, G.c, s.w, s.b, s.y],
    ],
  },
  channel_dots: {
    args: ["x", "dy", "pixels", "c", "shift", "sdy", "sdyx"],
    warm: (s) => [
      [s.x, s.z, G.h * G.w, G.c, 0, s.b, s.y],
      [s.x, s.z, G.h * G.w, G.c, s.w, s.b, s.y],
    ],
  },
  channel_affine: {
    args: ["x", "pixels", "c", "sub", "scale", "add", "y"],
    warm: (s) => [
      [s.x, G.h * G.w, G.c, 0, s.w, 0, s.y],
      [s.x, G.h * G.w, G.c, s.b, s.w, s.b, s.y],
    ],
  },
  channel_affine2: {
    args: ["dy", "x", "pixels", "c", "a", "b", "shift", "k", "dx"],
    warm: (s) => [[s.z, s.x, G.h * G.w, G.c, s.w, s.b, s.w, s.wpk, s.y]],
  },
  channel_fill: {
    args: ["v", "pixels", "c", "y"],
    warm: (s) => [[s.w, G.h * G.w, G.c, s.y]],
  },
  channel_max: {
    args: ["x", "pixels", "c", "y", "arg"],
    warm: (s) => [[s.x, G.h * G.w, G.c, s.y, s.b]],
  },
  copy_channels: {
    args: ["x", "xs", "c", "y", "ys", "p0", "p1"],
    warm: (s) => [[s.x, G.k8, G.k, s.y, G.k8 + G.c, 0, G.h * G.w]],
  },
} as const satisfies Record<string, Spec>;

/**
 * The kernels an inference plan runs in float32: each its f64 namesake's AssemblyScript source (generic
 * over the element type) compiled for f32, with the same arguments (pointers, counts, element strides),
 * thresholds and warm-up (blocks of 16 channels where the f64 one has 8).
 */
const F32 = {
  zero_pad_f32: { ...F64.zero_pad, type: "f32" },
  // (the f64 warm-up's 16 output channels are one f32 block)
  conv_forward_f32: { ...F64.conv_forward, type: "f32" },
  conv_forward_depthwise_f32: {
    ...F64.conv_forward_depthwise,
    type: "f32",
    warm: (s) =>
      [0, 1, 2].map((act) => [s.xp, G.hp, G.wp, 16, s.w, G.f, G.f, 1, 1, s.b, 1, 1, s.z, G.nH, G.nW, 0, G.nH, act]),
  },
  pool_forward_max_f32: { ...F64.pool_forward_max, type: "f32" },
  pool_forward_average_f32: { ...F64.pool_forward_average, type: "f32" },
  relu_forward_f32: { ...F64.relu_forward, type: "f32" },
  softmax_forward_f32: { ...F64.softmax_forward, type: "f32" },
  act_forward_f32: { ...F64.act_forward, type: "f32" },
  add_forward_f32: { ...F64.add_forward, type: "f32" },
  channel_moments_f32: { ...F64.channel_moments, type: "f32" },
  channel_affine_f32: { ...F64.channel_affine, type: "f32" },
  channel_max_f32: { ...F64.channel_max, type: "f32" },
  copy_channels_f32: { ...F64.copy_channels, type: "f32" },
  winograd_input_f32: { ...F64.winograd_input, type: "f32" },
  winograd_output_f32: { ...F64.winograd_output, type: "f32" },
  winograd25_conv_f32: { ...F64.winograd25_conv, type: "f32" },
  transpose_planes_f32: { ...F64.transpose_planes, type: "f32" },
} as const satisfies Record<string, Spec>;

export const KERNELS = { ...F64, ...F32 };

/** The kernels that have a float32 twin. */
export type TwinName = keyof typeof F32 extends `${infer K}_f32` ? K : never;

/** Kernel `name` for data of `precision` (its *_f32 twin for f32). */
export function kernelFor<K extends TwinName>(name: K, precision: Precision): K | `${K}_f32` {
  return precision === "f64" ? name : `${name}_f32`;
}

export type KernelName = keyof typeof KERNELS;
export const KERNEL_NAMES = Object.keys(KERNELS) as KernelName[];

type Numbers<A extends readonly string[]> = { [I in keyof A]: number };

/** The module's exports: the kernels (on pointers, dimensions and element strides), its memory, heap_base. */
export type Kernels = { [K in KernelName]: (...args: Numbers<(typeof KERNELS)[K]["args"]>) => void } & {
  memory: WebAssembly.Memory;
  heap_base(): number;
  abi_version(): number;
};

/** One kernel call: the export's name and its arguments. */
export type Task = { [K in KernelName]: [K, ...Numbers<(typeof KERNELS)[K]["args"]>] }[KernelName];

/** Calls a task's kernel. */
export function call(k: Kernels, [name, ...args]: Task): void {
  (k[name] as (...a: number[]) => void)(...args);
}

/** A kernel's arguments by name, as the table lists them: every one required, no other allowed. */
export type ArgsOf<K extends KernelName> = { readonly [A in (typeof KERNELS)[K]["args"][number]]: number };

/**
 * Each kernel's task from its arguments by name, in the table's order (test/wasm/module.test.ts checks
 * every builder against the table): one small function per kernel reading its object's properties by
 * name, as cheap as the positional arrays it replaced. (Call sites pass one object literal: building it
 * with spreads made small calls 2× slower.)
 */
// prettier-ignore
const BUILDERS: { readonly [K in KernelName]: (a: ArgsOf<K>) => Task } = {
  zero_pad: (a) => ["zero_pad", a.x, a.sx0, a.sx1, a.sx2, a.sx3, a.h, a.w, a.c, a.top, a.bottom, a.left, a.right, a.out, a.i0, a.i1],
  conv_pack_filters: (a) => ["conv_pack_filters", a.w, a.taps, a.k, a.k8, a.out],
  conv_forward: (a) => ["conv_forward", a.xp, a.hp, a.wp, a.c, a.cg, a.wpk, a.fh, a.fw, a.dilH, a.dilW, a.k8, a.b8, a.sh, a.sw, a.z, a.kp, a.nH, a.nW, a.r0, a.r1, a.act, a.res],
  conv_backward_filter: (a) => ["conv_backward_filter", a.xp, a.hp, a.wp, a.c, a.cg, a.fh, a.fw, a.dilH, a.dilW, a.k8, a.sh, a.sw, a.dz, a.kp, a.nH, a.nW, a.gw, a.r0, a.r1, a.u0, a.u1],
  conv_backward_bias: (a) => ["conv_backward_bias", a.dz, a.k8, a.kp, a.nW, a.db, a.r0, a.r1],
  conv_pack_filters_t: (a) => ["conv_pack_filters_t", a.w, a.fh, a.fw, a.c, a.cg, a.dilW, a.k, a.out],
  conv_backward_input: (a) => ["conv_backward_input", a.wt, a.fh, a.fw, a.c, a.cg, a.dilH, a.dilW, a.k, a.kp, a.sh, a.sw, a.dz, a.nH, a.nW, a.dxp, a.hp, a.wp, a.r0, a.r1],
  conv_forward_depthwise: (a) => ["conv_forward_depthwise", a.xp, a.hp, a.wp, a.c8, a.w, a.fh, a.fw, a.dilH, a.dilW, a.b, a.sh, a.sw, a.z, a.nH, a.nW, a.r0, a.r1, a.act],
  conv_backward_input_depthwise: (a) => ["conv_backward_input_depthwise", a.w, a.fh, a.fw, a.dilH, a.dilW, a.c8, a.sh, a.sw, a.dz, a.nH, a.nW, a.dxp, a.hp, a.wp, a.r0, a.r1],
  conv_backward_filter_depthwise: (a) => ["conv_backward_filter_depthwise", a.xp, a.hp, a.wp, a.c8, a.fh, a.fw, a.dilH, a.dilW, a.sh, a.sw, a.dz, a.nH, a.nW, a.gw, a.r0, a.r1, a.t0, a.t1],
  pool_forward_max: (a) => ["pool_forward_max", a.x, a.sx0, a.sx1, a.sx2, a.sx3, a.c, a.fh, a.fw, a.sh, a.sw, a.y, a.nH, a.nW, a.i0, a.i1],
  pool_forward_average: (a) => ["pool_forward_average", a.x, a.sx0, a.sx1, a.sx2, a.sx3, a.c, a.fh, a.fw, a.sh, a.sw, a.y, a.nH, a.nW, a.i0, a.i1, a.divH, a.divW],
  pool_backward_max: (a) => ["pool_backward_max", a.x, a.sx0, a.sx1, a.sx2, a.sx3, a.h, a.w, a.c, a.fh, a.fw, a.sh, a.sw, a.dy, a.nH, a.nW, a.dx, a.i0, a.i1],
  pool_backward_average: (a) => ["pool_backward_average", a.h, a.w, a.c, a.fh, a.fw, a.sh, a.sw, a.dy, a.nH, a.nW, a.dx, a.i0, a.i1, a.divH, a.divW],
  transpose_planes: (a) => ["transpose_planes", a.src, a.c, a.n, a.dst],
  relu_forward: (a) => ["relu_forward", a.x, a.y, a.i0, a.i1],
  winograd_filter: (a) => ["winograd_filter", a.w, a.cin, a.kout, a.k8, a.tile, a.u],
  winograd_input: (a) => ["winograd_input", a.xp, a.hp, a.wp, a.c, a.th, a.tw, a.tiles, a.v, a.r0, a.r1],
  winograd_output: (a) => ["winograd_output", a.mm, a.kp, a.k8, a.b8, a.th, a.tw, a.tiles, a.z, a.nH, a.nW, a.r0, a.r1, a.relu],
  winograd_dz: (a) => ["winograd_dz", a.dz, a.kp, a.k8, a.nH, a.nW, a.th, a.tw, a.tiles, a.u, a.r0, a.r1],
  winograd4_input: (a) => ["winograd4_input", a.xp, a.hp, a.wp, a.c, a.th, a.tw, a.tiles, a.v, a.r0, a.r1],
  winograd4_output: (a) => ["winograd4_output", a.mm, a.kp, a.k8, a.b8, a.th, a.tw, a.tiles, a.z, a.nH, a.nW, a.r0, a.r1, a.relu],
  winograd25_conv: (a) => ["winograd25_conv", a.xp, a.hp, a.wp, a.c, a.th, a.tw, a.u, a.k8, a.b8, a.z, a.nH, a.nW, a.relu, a.scratch, a.chunk, a.r0, a.r1],
  relu_backward: (a) => ["relu_backward", a.da, a.z, a.dz, a.i0, a.i1],
  softmax_forward: (a) => ["softmax_forward", a.z, a.k, a.y, a.r0, a.r1],
  softmax_cross_entropy: (a) => ["softmax_cross_entropy", a.z, a.t, a.k, a.scale, a.loss, a.dz, a.r0, a.r1],
  act_forward: (a) => ["act_forward", a.kind, a.x, a.y, a.i0, a.i1, a.a, a.b],
  act_backward: (a) => ["act_backward", a.kind, a.x, a.dy, a.dx, a.i0, a.i1, a.a, a.b],
  add_forward: (a) => ["add_forward", a.a, a.b, a.y, a.i0, a.i1],
  mul_forward: (a) => ["mul_forward", a.a, a.b, a.y, a.i0, a.i1],
  channel_moments: (a) => ["channel_moments", a.x, a.pixels, a.c, a.shift, a.s1, a.s2],
  channel_dots: (a) => ["channel_dots", a.x, a.dy, a.pixels, a.c, a.shift, a.sdy, a.sdyx],
  channel_affine: (a) => ["channel_affine", a.x, a.pixels, a.c, a.sub, a.scale, a.add, a.y],
  channel_affine2: (a) => ["channel_affine2", a.dy, a.x, a.pixels, a.c, a.a, a.b, a.shift, a.k, a.dx],
  channel_fill: (a) => ["channel_fill", a.v, a.pixels, a.c, a.y],
  channel_max: (a) => ["channel_max", a.x, a.pixels, a.c, a.y, a.arg],
  copy_channels: (a) => ["copy_channels", a.x, a.xs, a.c, a.y, a.ys, a.p0, a.p1],
  zero_pad_f32: (a) => ["zero_pad_f32", a.x, a.sx0, a.sx1, a.sx2, a.sx3, a.h, a.w, a.c, a.top, a.bottom, a.left, a.right, a.out, a.i0, a.i1],
  conv_forward_f32: (a) => ["conv_forward_f32", a.xp, a.hp, a.wp, a.c, a.cg, a.wpk, a.fh, a.fw, a.dilH, a.dilW, a.k8, a.b8, a.sh, a.sw, a.z, a.kp, a.nH, a.nW, a.r0, a.r1, a.act, a.res],
  conv_forward_depthwise_f32: (a) => ["conv_forward_depthwise_f32", a.xp, a.hp, a.wp, a.c8, a.w, a.fh, a.fw, a.dilH, a.dilW, a.b, a.sh, a.sw, a.z, a.nH, a.nW, a.r0, a.r1, a.act],
  pool_forward_max_f32: (a) => ["pool_forward_max_f32", a.x, a.sx0, a.sx1, a.sx2, a.sx3, a.c, a.fh, a.fw, a.sh, a.sw, a.y, a.nH, a.nW, a.i0, a.i1],
  pool_forward_average_f32: (a) => ["pool_forward_average_f32", a.x, a.sx0, a.sx1, a.sx2, a.sx3, a.c, a.fh, a.fw, a.sh, a.sw, a.y, a.nH, a.nW, a.i0, a.i1, a.divH, a.divW],
  relu_forward_f32: (a) => ["relu_forward_f32", a.x, a.y, a.i0, a.i1],
  softmax_forward_f32: (a) => ["softmax_forward_f32", a.z, a.k, a.y, a.r0, a.r1],
  act_forward_f32: (a) => ["act_forward_f32", a.kind, a.x, a.y, a.i0, a.i1, a.a, a.b],
  add_forward_f32: (a) => ["add_forward_f32", a.a, a.b, a.y, a.i0, a.i1],
  channel_moments_f32: (a) => ["channel_moments_f32", a.x, a.pixels, a.c, a.shift, a.s1, a.s2],
  channel_affine_f32: (a) => ["channel_affine_f32", a.x, a.pixels, a.c, a.sub, a.scale, a.add, a.y],
  channel_max_f32: (a) => ["channel_max_f32", a.x, a.pixels, a.c, a.y, a.arg],
  copy_channels_f32: (a) => ["copy_channels_f32", a.x, a.xs, a.c, a.y, a.ys, a.p0, a.p1],
  winograd_input_f32: (a) => ["winograd_input_f32", a.xp, a.hp, a.wp, a.c, a.th, a.tw, a.tiles, a.v, a.r0, a.r1],
  winograd_output_f32: (a) => ["winograd_output_f32", a.mm, a.kp, a.k8, a.b8, a.th, a.tw, a.tiles, a.z, a.nH, a.nW, a.r0, a.r1, a.relu],
  transpose_planes_f32: (a) => ["transpose_planes_f32", a.src, a.c, a.n, a.dst],
  winograd25_conv_f32: (a) => ["winograd25_conv_f32", a.xp, a.hp, a.wp, a.c, a.th, a.tw, a.u, a.k8, a.b8, a.z, a.nH, a.nW, a.relu, a.scratch, a.chunk, a.r0, a.r1],
};

/**
 * A task of kernel `name` from its arguments by name: a missing, misspelt or extra argument is a compile
 * error, and a swapped one reads wrong (`hp: wp`), where 21 numbers in a row compiled whatever their order.
 */
export function task<K extends KernelName>(name: K, args: ArgsOf<K>): Task {
  return (BUILDERS[name] as (a: ArgsOf<K>) => Task)(args);
}

/**
 * The conv_forward task of a GEMM written as a 1×1 convolution: rows r0..r1 of one-row images of `pixels`
 * pixels of `n` channels, times the packed filters `w` [n][k8], plus `b` (dense layers; Winograd's
 * products), `act` fused into the stores (0 none, 1 ReLU, 2 ReLU6).
 */
export function gemmTask(a: {
  x: number;
  pixels: number;
  n: number;
  w: number;
  k8: number;
  b: number;
  z: number;
  r0: number;
  r1: number;
  act?: number;
  precision?: Precision;
}): Task {
  const { x, pixels, n, w, k8, b, z, r0, r1, act = 0, precision = "f64" } = a;
  return task(kernelFor("conv_forward", precision), {
    xp: x,
    hp: 1,
    wp: pixels,
    c: n,
    cg: n,
    wpk: w,
    fh: 1,
    fw: 1,
    dilH: 1,
    dilW: 1,
    k8,
    b8: b,
    sh: 1,
    sw: 1,
    z,
    kp: k8,
    nH: 1,
    nW: pixels,
    r0,
    r1,
    act,
    res: 0,
  });
}

/** Runs kernel `name` at once with its arguments by name (see task()). */
export function runKernel<K extends KernelName>(k: Kernels, name: K, args: ArgsOf<K>): void {
  call(k, task(name, args));
}

/**
 * Why `exports` is not a build of assembly/index.ts this code can drive (a missing or extra kernel, a
 * kernel with another arity, another ABI version), or null when it is.
 */
export function mismatch(exports: Record<string, unknown>): string | null {
  if (typeof exports.abi_version !== "function") return "it has no abi_version export (not a convwasm module)";
  const version = (exports.abi_version as () => number)();
  if (version !== ABI_VERSION) return `its ABI version is ${version}, this code needs ${ABI_VERSION}`;
  for (const name of KERNEL_NAMES) {
    const f = exports[name];
    if (typeof f !== "function") return `it has no kernel ${name}`;
    const want = KERNELS[name].args.length;
    if (f.length !== want) return `its kernel ${name} takes ${f.length} arguments, this code passes ${want}`;
  }
  if (typeof exports.heap_base !== "function" || !(exports.memory instanceof WebAssembly.Memory)) {
    return "it lacks heap_base or its memory";
  }
  return null;
}

// V8 first runs WASM functions on baseline code (Liftoff, 4-5× slower) and swaps in optimised code only
// after a function has run a while; there is no on-stack replacement, so one long call can run on
// baseline code throughout. init() therefore runs every kernel on small scratch problems until V8 has
// tiered them up, and grows and touches the arena so the first real call does not pay for page faults.

/** Rounds of every kernel on scratch data; V8 tiers each up well within this (see bench/firstcall). */
const ROUNDS = 24;

/** The arena's two methods the warm-up uses (the table sits below the runtime that owns the arena). */
type Scratchpad = { scope<T>(body: () => T): T; zeros(fn: string, what: string, n: number): number };

/** One round of the warm-up calls of the kernels of `precision` (every kernel when undefined). */
function warmRound(k: Kernels, arena: Scratchpad, precision: Precision | undefined): void {
  arena.scope(() => {
    const buf = () => arena.zeros("init", "warm-up", SCRATCH_ELEMENTS);
    const s: Scratch = { x: buf(), xp: buf(), w: buf(), wpk: buf(), b: buf(), z: buf(), y: buf() };
    for (const name of KERNEL_NAMES) {
      const spec = KERNELS[name] as Spec;
      if (precision !== undefined && (spec.type ?? "f64") !== precision) continue;
      for (const args of spec.warm(s)) (k[name] as (...a: number[]) => void)(...args);
    }
  });
}

/** Runs the warm-up calls of the kernels of `precision` (all when undefined) ROUNDS times on zero-filled scratch. */
export async function warmUp(k: Kernels, arena: Scratchpad, precision?: Precision): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    warmRound(k, arena, precision);
    // let V8's background compiler publish the optimised code
    if (round % 6 === 5) await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/**
 * The same, without waiting (a synchronous call's first use of the float32 kernels): the optimised code
 * arrives from the background compiler a little later instead of before the call.
 */
export function warmUpNow(k: Kernels, arena: Scratchpad, precision: Precision): void {
  for (let round = 0; round < ROUNDS; round++) warmRound(k, arena, precision);
}
