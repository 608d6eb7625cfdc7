// Loads and instantiates the WASM module once (Node and browsers), and hands out its kernels and arena.
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
   * and under every bundler with no configuration. Pass `fetch(url)` of `convwasm/convwasm-shared.wasm`
   * (threads) or `convwasm/convwasm.wasm` (one thread), their bytes or a compiled `WebAssembly.Module`
   * to load it another way (e.g. from a CDN with streaming).
   */
  wasm?: WasmInput;
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

interface Runtime {
  kernels: Kernels;
  arena: Arena;
  /** The shared build's compiled module and memory, when threads are possible. */
  shared: { module: WebAssembly.Module; memory: WebAssembly.Memory; spawn: Spawn } | null;
  pool: Pool | null;
  /** Why there are no more threads than one, when there are not. */
  reason: string;
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

async function load(options: InitOptions): Promise<void> {
  const arenaBytes = checkInteger("init", "arenaBytes", options.arenaBytes ?? DEFAULT_ARENA_BYTES, 0);
  const where = platform();
  const threads = checkThreads("init", options.threads ?? defaultThreads(where));
  let module: WebAssembly.Module;
  if (options.wasm !== undefined) module = await compile(options.wasm);
  else module = await compile(decodeBase64(where.spawn ? sharedWasmBase64 : wasmBase64));
  const importsMemory = WebAssembly.Module.imports(module).some((i) => i.kind === "memory");
  let shared: Runtime["shared"] = null;
  let reason = where.reason;
  let imports = {};
  if (importsMemory) {
    if (!where.spawn) throw new Error(`init: the shared-memory module needs threads, but ${where.reason}`);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    shared = { module, memory, spawn: where.spawn };
    imports = { env: { memory } };
  } else if (where.spawn) {
    reason = "init() was given the one-thread module (convwasm.wasm); threads need convwasm-shared.wasm";
  }
  const { exports } = await instantiate<Kernels>(module, imports);
  const arena = new Arena(exports.memory, exports.heap_base());
  arena.reserve("init", arenaBytes);
  await warmUp(exports, arena);
  if (shared && threads === 1) {
    reason = options.threads === 1 ? "init() was asked for threads: 1" : `this machine reports ${where.cores} core`;
  }
  const rt: Runtime = { kernels: exports, arena, shared, pool: null, reason };
  if (shared && threads > 1) await startPool(rt, threads);
  runtime = rt;
}

async function startPool(rt: Runtime, threads: number): Promise<void> {
  const { module, memory, spawn } = rt.shared!;
  rt.pool = await Pool.start(spawn, threads - 1, module, memory, rt.kernels, STALL_MS);
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

/** The kernels and arena, or a clear error when init() has not finished. */
export function wasm(fn: string): Runtime {
  if (!runtime) throw new Error(`${fn}: convwasm is not initialised; call \`await init()\` first`);
  return runtime;
}

/**
 * Runs kernel calls that write disjoint memory: on the pool's threads when there is a pool and more
 * than one task, else in order on the calling thread. A thread that died surfaces here as an Error,
 * after which the pool is closed and calls run on the calling thread.
 */
export function runTasks(fn: string, rt: Runtime, tasks: Task[]): void {
  const pool = rt.pool;
  if (pool === null || tasks.length === 1) {
    for (const [name, ...args] of tasks) (rt.kernels[name] as (...a: number[]) => void)(...args);
    return;
  }
  const closed = (why: string) =>
    new Error(`${fn}: ${why}; the thread pool is closed and convwasm now runs on one thread (setThreads() starts a new one)`);
  if (pool.broken !== null) {
    stopPool(rt);
    rt.reason = `the thread pool was closed after an error: ${pool.broken}`;
    throw closed(pool.broken);
  }
  try {
    pool.run(fn, tasks);
  } catch (e) {
    if (pool.broken === null) throw e;
    stopPool(rt);
    rt.reason = `the thread pool was closed after an error: ${pool.broken}`;
    throw closed(pool.broken);
  }
}

/** Tasks per thread in a job: enough for the threads that finish early to take another. */
const TASKS_PER_THREAD = 2;

/**
 * How many tasks to cut a job of `work` into (at most `units`, at least `minWork` each): 1 without a pool
 * or for small problems, which then run on the calling thread with no hand-off at all.
 */
export function taskCount(rt: Runtime, work: number, minWork: number, units: number): number {
  const threads = rt.pool?.size ?? 1;
  if (threads === 1) return 1;
  return Math.max(1, Math.min(units, threads * TASKS_PER_THREAD, Math.floor(work / minWork)));
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
    threads > 1 ? `${threads} threads (${runtime.reason} over one shared WebAssembly.Memory)` : `1 thread: ${runtime.reason}`;
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
  return runtime
    ? { wasmBytes: runtime.arena.wasmBytes, arenaBytesInUse: runtime.arena.bytesInUse }
    : { wasmBytes: 0, arenaBytesInUse: 0 };
}
