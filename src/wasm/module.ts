// Loads and instantiates the WASM module once (Node and browsers), and hands out its kernels and arena.
// @assemblyscript/loader is used here only: instantiation and turning `abort` into thrown Errors.
import { instantiate } from "@assemblyscript/loader";
import { checkInteger } from "../shapes.js";
import { Arena } from "./arena.js";
import { wasmBase64 } from "./binary.js";
import { warmUp } from "./warmup.js";

type Ptr = number;

/**
 * The exports of assembly/index.ts: kernels on pointers, dimensions and element strides. The last two
 * arguments are a range of the outer loop: images (i0..i1) or, for the conv kernels, output rows
 * (r0..r1 of the m*nH rows of the batch).
 */
export interface Kernels extends Record<string, unknown> {
  memory: WebAssembly.Memory;
  heap_base(): Ptr;
  // prettier-ignore
  zero_pad(x: Ptr, sx0: number, sx1: number, sx2: number, sx3: number,
    h: number, w: number, c: number, pad: number, out: Ptr, i0: number, i1: number): void;
  // prettier-ignore
  conv_pack_filters(w: Ptr, taps: number, k: number, k8: number, out: Ptr): void;
  // prettier-ignore
  conv_forward(xp: Ptr, hp: number, wp: number, c: number, wpk: Ptr, f: number, k8: number, b8: Ptr,
    stride: number, z: Ptr, nH: number, nW: number, r0: number, r1: number): void;
  // prettier-ignore
  conv_backward_filter(xp: Ptr, hp: number, wp: number, c: number, f: number, k8: number, stride: number,
    dz: Ptr, nH: number, nW: number, dw: Ptr, db: Ptr, r0: number, r1: number): void;
  // prettier-ignore
  conv_pack_filters_t(w: Ptr, f: number, c: number, k: number, out: Ptr): void;
  // prettier-ignore
  conv_backward_input(wt: Ptr, f: number, c: number, k: number, k8: number, stride: number,
    dz: Ptr, nH: number, nW: number, dxp: Ptr, hp: number, wp: number, r0: number, r1: number): void;
  // prettier-ignore
  pool_forward_max(x: Ptr, sx0: number, sx1: number, sx2: number, sx3: number, c: number, f: number,
    stride: number, y: Ptr, nH: number, nW: number, i0: number, i1: number): void;
  // prettier-ignore
  pool_forward_average(x: Ptr, sx0: number, sx1: number, sx2: number, sx3: number, c: number, f: number,
    stride: number, y: Ptr, nH: number, nW: number, i0: number, i1: number): void;
  // prettier-ignore
  pool_backward_max(x: Ptr, sx0: number, sx1: number, sx2: number, sx3: number, h: number, w: number,
    c: number, f: number, stride: number, dy: Ptr, nH: number, nW: number, dx: Ptr, i0: number, i1: number): void;
  // prettier-ignore
  pool_backward_average(h: number, w: number, c: number, f: number, stride: number,
    dy: Ptr, nH: number, nW: number, dx: Ptr, i0: number, i1: number): void;
}

/** A module to use instead of the embedded one: its bytes, a compiled Module, or a fetch of convwasm.wasm. */
export type WasmInput = BufferSource | WebAssembly.Module | Response | PromiseLike<Response>;

export interface InitOptions {
  /**
   * By default the module embedded in the package (base64, ~9 KB) is used, which works in Node and
   * under every bundler with no configuration. Pass `fetch(url)` of `convwasm/convwasm.wasm`, its
   * bytes or a compiled `WebAssembly.Module` to load it another way (e.g. from a CDN with streaming).
   */
  wasm?: WasmInput;
  /**
   * Bytes of arena to grow and touch up front (default 8 MiB, enough for a 56×56×64 layer), so the
   * first calls pay no page faults; larger layers grow it on demand.
   */
  arenaBytes?: number;
}

const DEFAULT_ARENA_BYTES = 8 * 1024 * 1024;

interface Runtime {
  kernels: Kernels;
  arena: Arena;
}

let runtime: Runtime | null = null;
let pending: Promise<void> | null = null;

function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

async function load(options: InitOptions): Promise<void> {
  const arenaBytes = checkInteger("init", "arenaBytes", options.arenaBytes ?? DEFAULT_ARENA_BYTES, 0);
  // compiled asynchronously either way: browsers forbid large synchronous compiles on the main thread
  const source = options.wasm ?? decodeBase64(wasmBase64);
  const { exports } = await instantiate<Kernels>(source as BufferSource, {});
  const arena = new Arena(exports.memory, exports.heap_base());
  arena.reserve("init", arenaBytes);
  await warmUp(exports, arena);
  runtime = { kernels: exports, arena };
}

/**
 * Compiles and instantiates the WASM module, warms every kernel up to V8's optimised tier and reserves
 * the arena; call (and await) once before any op. Idempotent: later calls return the first one's promise.
 */
export function init(options: InitOptions = {}): Promise<void> {
  if (runtime) return Promise.resolve();
  pending ??= load(options).catch((e: unknown) => {
    pending = null; // a failed load can be retried
    throw e;
  });
  return pending;
}

/** The kernels and arena, or a clear error when init() has not finished. */
export function wasm(fn: string): Runtime {
  if (!runtime) throw new Error(`${fn}: convwasm is not initialised; call \`await init()\` first`);
  return runtime;
}

/** Bytes of WASM linear memory, and how much of the arena is in use (0 between calls: nothing leaks). */
export function memory(): { wasmBytes: number; arenaBytesInUse: number } {
  return runtime
    ? { wasmBytes: runtime.arena.wasmBytes, arenaBytesInUse: runtime.arena.bytesInUse }
    : { wasmBytes: 0, arenaBytesInUse: 0 };
}
