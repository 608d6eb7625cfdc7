// Loads and instantiates the two builds of the WASM module once (Node and browsers), starts the thread
// pool, and hands each call its kernels, arena and pool (context). Also the threads API.
// @assemblyscript/loader is used here only: instantiation and turning `abort` into thrown Errors.
import { instantiate } from "@assemblyscript/loader";
import { checkInteger } from "../shapes.js";
import { Arena } from "./arena.js";
import { sharedWasmBase64, wasmBase64 } from "./binary.js";
import { defaultThreads, platform } from "./platform.js";
import { Pool, Spawn, Task } from "./pool.js";
import { warmUp } from "./warmup.js";

type Ptr = number;

/**
 * The exports of assembly/index.ts: kernels on pointers, dimensions and element strides. The last
 * arguments are a range of the outer loop: images (i0..i1) or, for the conv kernels, output rows
 * (r0..r1 of the m*nH rows of the batch), and for conv_backward_filter then a range of tap units (u0..u1).
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
    dz: Ptr, nH: number, nW: number, dw: Ptr, r0: number, r1: number, u0: number, u1: number): void;
  conv_backward_bias(dz: Ptr, k8: number, nW: number, db: Ptr, r0: number, r1: number): void;
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
   * By default the modules embedded in the package (base64, ~9 KB each) are used, which works in Node
   * and under every bundler with no configuration. Pass `fetch(url)` of `convwasm/convwasm.wasm`, its
   * bytes or a compiled `WebAssembly.Module` to load it another way (e.g. from a CDN with streaming).
   */
  wasm?: WasmInput;
  /** The same for the shared-memory module (`convwasm/convwasm-shared.wasm`) that threads use. */
  sharedWasm?: WasmInput;
  /**
   * Bytes of arena to grow and touch up front (default 8 MiB, enough for a 56×56×64 layer), so the
   * first calls pay no page faults; larger layers grow it on demand.
   */
  arenaBytes?: number;
  /**
   * Threads to compute with, the calling thread included (default: the cores reported, at most 8).
   * Where threads are unavailable (see `threading()`) every call runs on the calling thread.
   */
  threads?: number;
}

const DEFAULT_ARENA_BYTES = 8 * 1024 * 1024;
/** Shared memory may grow to what WASM32 addresses, 4 GiB (reserved address space, not RAM). */
const MAX_PAGES = 65536;
/** No progress for this long while a call waits for its worker threads ends the pool with an error. */
const STALL_MS = 5000;
/** More threads than this is a mistake, not a machine. */
const MAX_THREADS = 256;

/** An instance of one of the two builds and the arena in its memory. */
export interface Side {
  kernels: Kernels;
  arena: Arena;
}

interface Runtime {
  /** The one-thread build on its own plain memory: every call that runs on the calling thread alone. */
  single: Side;
  /**
   * The shared-memory build (when threads are possible here): calls shared out to the pool. Kept apart
   * because V8 copies into and out of shared memory 2-4× slower than into plain memory.
   */
  shared: (Side & { module: WebAssembly.Module; memory: WebAssembly.Memory; spawn: Spawn }) | null;
  pool: Pool | null;
  /** How threads run, or why there is only one. */
  reason: string;
}

/** What one call computes with: a side, and the pool when the call is shared out. */
export interface Context extends Side {
  pool: Pool | null;
}

let runtime: Runtime | null = null;
let pending: Promise<void> | null = null;
let switching: Promise<unknown> = Promise.resolve();

function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

async function compile(source: WasmInput): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (typeof (source as PromiseLike<Response>).then === "function" || source instanceof Response) {
    // compiled asynchronously: browsers forbid large synchronous compiles on the main thread
    return WebAssembly.compileStreaming(source as Response | PromiseLike<Response>);
  }
  return WebAssembly.compile(source as BufferSource);
}

/** Instantiates `module`, reserves its arena and warms its kernels up. */
async function side(module: WebAssembly.Module, imports: WebAssembly.Imports, arenaBytes: number): Promise<Side> {
  const { exports } = await instantiate<Kernels>(module, imports);
  const arena = new Arena(exports.memory, exports.heap_base());
  arena.reserve("init", arenaBytes);
  await warmUp(exports, arena);
  return { kernels: exports, arena };
}

function importsMemory(module: WebAssembly.Module): boolean {
  return WebAssembly.Module.imports(module).some((i) => i.kind === "memory");
}

async function load(options: InitOptions): Promise<void> {
  const arenaBytes = checkInteger("init", "arenaBytes", options.arenaBytes ?? DEFAULT_ARENA_BYTES, 0);
  const where = platform();
  const threads = checkThreads("init", options.threads ?? defaultThreads(where));
  const singleModule = await compile(options.wasm ?? decodeBase64(wasmBase64));
  if (importsMemory(singleModule)) {
    throw new TypeError("init: wasm expects the one-thread module (convwasm.wasm) but got one importing its memory");
  }
  const single = await side(singleModule, {}, arenaBytes);
  let shared: Runtime["shared"] = null;
  let reason = where.reason;
  let memory: WebAssembly.Memory | null = null;
  if (where.spawn) {
    try {
      memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    } catch (e) {
      // e.g. no room for 4 GiB of address space (32-bit browsers)
      reason = `no shared WebAssembly.Memory could be made here (${e instanceof Error ? e.message : String(e)})`;
    }
  }
  if (where.spawn && memory) {
    const module = await compile(options.sharedWasm ?? decodeBase64(sharedWasmBase64));
    if (!importsMemory(module)) {
      throw new TypeError(
        "init: sharedWasm expects the shared-memory module (convwasm-shared.wasm) but got one with its own memory",
      );
    }
    shared = { ...(await side(module, { env: { memory } }, arenaBytes)), module, memory, spawn: where.spawn };
  }
  if (shared && threads === 1) {
    reason = options.threads === 1 ? "init() was asked for threads: 1" : `this machine reports ${where.cores} core`;
  }
  const rt: Runtime = { single, shared, pool: null, reason };
  if (shared && threads > 1) await startPool(rt, threads);
  runtime = rt;
}

async function startPool(rt: Runtime, threads: number): Promise<void> {
  const { module, memory, spawn, kernels } = rt.shared!;
  rt.pool = await Pool.start(spawn, threads - 1, module, memory, kernels, STALL_MS);
}

function stopPool(rt: Runtime): void {
  rt.pool?.dispose();
  rt.pool = null;
}

/**
 * Compiles and instantiates the WASM module, warms every kernel up to V8's optimised tier, reserves
 * the arena and starts the worker threads; call (and await) once before any op. Idempotent: later calls
 * return the first one's promise.
 */
export function init(options: InitOptions = {}): Promise<void> {
  if (runtime) return Promise.resolve();
  pending ??= load(options).catch((e: unknown) => {
    pending = null; // a failed load can be retried
    throw e;
  });
  return pending;
}

/** The runtime, or a clear error when init() has not finished. */
export function wasm(fn: string): Runtime {
  if (!runtime) throw new Error(`${fn}: convwasm is not initialised; call \`await init()\` first`);
  return runtime;
}

/**
 * What a call of `work` units computes with: the pool over shared memory when there is a pool and the
 * work makes at least two tasks of `minWork` (measured: bench/threshold.ts), else the calling thread
 * alone on plain memory. (Either way the arithmetic, and so every bit of the result, is the same.)
 */
export function context(fn: string, work: number, minWork: number): Context {
  const rt = wasm(fn);
  // (a pool broken since the last call refuses the job, and streamTasks turns that into the error)
  if (rt.pool !== null && rt.shared !== null && work >= 2 * minWork * tuning.minWorkScale) {
    return { kernels: rt.shared.kernels, arena: rt.shared.arena, pool: rt.pool };
  }
  return { ...rt.single, pool: null };
}

/**
 * Scales every op's minimum work per task. bench/threshold.ts sets it near 0 (share everything out, in
 * as many tasks as there may be) and to Infinity (share nothing) to measure where threads start to
 * pay; not part of the API.
 */
export const tuning = { minWorkScale: 1 };

const CLOSED = "the thread pool is closed and convwasm now runs on one thread (setThreads() starts a new one)";

function closePool(rt: Runtime, why: string): void {
  stopPool(rt);
  rt.reason = `the thread pool was closed after an error: ${why}`;
}

/**
 * Runs `count` tasks fed and drained in order by the calling thread (see Pool.stream): on the pool's
 * threads when the context has one, else one after another on the calling thread, with the same
 * arithmetic either way. A thread that died surfaces here as an Error, after which the pool is closed
 * and calls run on the calling thread.
 */
export function streamTasks(
  fn: string,
  ctx: Context,
  count: number,
  prepare: (t: number) => Task,
  finish: (t: number) => void,
): void {
  const pool = ctx.pool;
  if (pool === null) {
    for (let t = 0; t < count; t++) {
      const [name, ...args] = prepare(t);
      (ctx.kernels[name] as (...a: number[]) => void)(...args);
      finish(t);
    }
    return;
  }
  try {
    pool.stream(fn, count, prepare, finish);
  } catch (e) {
    if (pool.broken === null || runtime?.pool !== pool) throw e;
    closePool(runtime, pool.broken);
    throw new Error(`${fn}: ${pool.broken}; ${CLOSED}`);
  }
}

/** Tasks per thread in a job: enough for the threads that finish early to take another. */
const TASKS_PER_THREAD = 2;

/**
 * How many tasks to cut a job of `work` into (at most `units`, at least `minWork` each): 1 without a pool
 * or for small problems, which then run on the calling thread with no hand-off at all.
 */
export function taskCount(
  ctx: Context,
  work: number,
  minWork: number,
  units: number,
  perThread = TASKS_PER_THREAD,
): number {
  const threads = ctx.pool?.size ?? 1;
  if (threads === 1) return 1;
  return Math.max(1, Math.min(units, threads * perThread, Math.floor(work / (minWork * tuning.minWorkScale))));
}

/** Threads in use (the calling thread included); 1 before init(). */
export function getThreads(): number {
  return runtime?.pool?.size ?? 1;
}

/**
 * Changes the number of threads (the calling thread included) and resolves to the number in use, which
 * is 1 where threads are unavailable (`threading().reason` says why).
 */
export function setThreads(threads: number): Promise<number> {
  const rt = wasm("setThreads");
  checkThreads("setThreads", threads);
  // one change at a time, in the order asked
  const next = switching.then(async () => {
    if (!rt.shared || getThreads() === threads) return getThreads();
    stopPool(rt);
    rt.reason = "setThreads(1) was called";
    if (threads > 1) {
      try {
        await startPool(rt, threads);
      } catch (e) {
        rt.reason = `starting ${threads} threads failed: ${e instanceof Error ? e.message : String(e)}`;
        throw e;
      }
      rt.reason = platform().reason;
    }
    return getThreads();
  });
  switching = next.catch(() => undefined);
  return next;
}

function checkThreads(fn: string, threads: unknown): number {
  const n = checkInteger(fn, "threads", threads, 1);
  if (n > MAX_THREADS) throw new RangeError(`${fn}: threads expects an integer <= ${MAX_THREADS} but got ${n}`);
  return n;
}

/** Threads in use and, in one line, how they run or why there is only one. */
export function threading(): { threads: number; reason: string } {
  if (!runtime) return { threads: 1, reason: "convwasm is not initialised" };
  const threads = getThreads();
  const reason =
    threads > 1
      ? `${threads} threads (${runtime.reason} over one shared WebAssembly.Memory)`
      : `1 thread: ${runtime.reason}`;
  return { threads, reason };
}

/** Ends the worker threads (idle ones never keep Node alive anyway); later calls run on the calling thread. */
export function dispose(): void {
  if (!runtime) return;
  stopPool(runtime);
  runtime.reason = "dispose() was called";
}

/** Bytes of WASM linear memory, and how much of the arena is in use (0 between calls: nothing leaks). */
export function memory(): { wasmBytes: number; arenaBytesInUse: number } {
  if (!runtime) return { wasmBytes: 0, arenaBytesInUse: 0 };
  const sides = runtime.shared ? [runtime.single, runtime.shared] : [runtime.single];
  return {
    wasmBytes: sides.reduce((n, s) => n + s.arena.wasmBytes, 0),
    arenaBytesInUse: sides.reduce((n, s) => n + s.arena.bytesInUse, 0),
  };
}
