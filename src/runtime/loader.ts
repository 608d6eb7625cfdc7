// Loads and instantiates the two builds of the WASM module once (Node and browsers), checks that they
// are builds this code can drive, warms them up and starts the pool; gives memory back on request.
// @assemblyscript/loader is used here only: instantiation and turning `abort` into thrown Errors.
import { instantiate, instantiateSync } from "@assemblyscript/loader";
import { checkAlgorithm, checkInteger } from "../core/shapes.js";
import { Arena } from "./arena.js";
import { wasmBase64 } from "./binary.js";
import { sharedBuild } from "./shared-build.js";
import { Kernels, mismatch, warmUp } from "../kernels/kernels.js";
import { defaultThreads, platform } from "./platform.js";
import { Runtime, Side, capThreads, checkThreads, startPool, state, stopPool, wasm } from "./runtime.js";

/** A module to use instead of the embedded one: its bytes, a compiled Module, or a fetch of convwasm.wasm. */
export type WasmInput = BufferSource | WebAssembly.Module | Response | PromiseLike<Response>;

export interface InitOptions {
  /**
   * By default the module embedded in the package (base64) is used, which works in Node
   * and under every bundler with no configuration. Pass `fetch(url)` of `convwasm/convwasm.wasm`, its
   * bytes or a compiled `WebAssembly.Module` to load it another way (e.g. from a CDN with streaming).
   */
  wasm?: WasmInput;
  /**
   * The same for the shared-memory module (`convwasm/convwasm-shared.wasm`) that threads use; by default
   * it is made from the embedded one (the two differ only in their memory: src/runtime/shared-build.ts).
   */
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
  /**
   * How 3×3 stride-1 convolutions are computed when a call does not say: "auto" (default: Winograd
   * F(2×2, 3×3) where it measured faster, the direct loops elsewhere), "direct" (numpy's order of
   * summation everywhere), or "winograd" (wherever it applies).
   */
  algorithm?: "auto" | "direct" | "winograd";
}

const DEFAULT_ARENA_BYTES = 8 * 1024 * 1024;
/** Shared memory may grow to what WASM32 addresses, 4 GiB (reserved address space, not RAM). */
const MAX_PAGES = 65536;

function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

async function compile(what: string, source: WasmInput): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  try {
    const shared = typeof SharedArrayBuffer !== "undefined" && source instanceof SharedArrayBuffer;
    if (source instanceof ArrayBuffer || ArrayBuffer.isView(source) || shared) {
      // compiled asynchronously: browsers forbid large synchronous compiles on the main thread
      return await WebAssembly.compile(source as BufferSource);
    }
    // a Response or a promise of one, compiled as it streams in. (Node's global Response is not touched
    // before this: reading it loads Node's fetch implementation, 25-30 ms of a cold start.)
    return await WebAssembly.compileStreaming(source as Response | PromiseLike<Response>);
  } catch (e) {
    throw new TypeError(`init: ${what} expects a WebAssembly module but could not compile it (${String(e)})`);
  }
}

const inNode =
  typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === "string";

/** Instantiates `module` (after checking it is a convwasm build) and reserves `arenaBytes` of its arena. */
async function instantiateSide(
  what: string,
  module: WebAssembly.Module,
  imports: WebAssembly.Imports,
  arenaBytes: number,
): Promise<Side> {
  // (the loader's async instantiate first asks whether its argument is a Response, and in Node reading the
  // global Response loads Node's fetch implementation: 20-25 ms of a cold start. Browsers have Response
  // built in, and may refuse a large synchronous instantiation on their main thread.)
  const { exports, instance } = inNode
    ? instantiateSync<Record<string, unknown>>(module, imports)
    : await instantiate<Record<string, unknown>>(module, imports);
  // (arity is read from the raw exports: the loader's wrappers do not keep it)
  const wrong = mismatch(instance.exports);
  if (wrong !== null) throw new TypeError(`init: ${what} expects a build of this version of convwasm, but ${wrong}`);
  const kernels = exports as unknown as Kernels;
  const arena = new Arena(kernels.memory, kernels.heap_base());
  arena.reserve("init", arenaBytes);
  return { kernels, arena };
}

function importsMemory(module: WebAssembly.Module): boolean {
  return WebAssembly.Module.imports(module).some((i) => i.kind === "memory");
}

function sharedMemory(): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
}

async function load(options: InitOptions): Promise<void> {
  const arenaBytes = checkInteger("init", "arenaBytes", options.arenaBytes ?? DEFAULT_ARENA_BYTES, 0);
  const algorithm = checkAlgorithm("init", options.algorithm ?? "auto", "algorithm");
  const where = platform();
  const { threads, capped } = capThreads(
    "init",
    checkThreads("init", options.threads ?? defaultThreads(where)),
    where.cores,
  );
  let embedded: Uint8Array | null = null;
  const fromPackage = () => (embedded ??= decodeBase64(wasmBase64));
  const singleModule = await compile("wasm", options.wasm ?? fromPackage());
  if (importsMemory(singleModule)) {
    throw new TypeError("init: wasm expects the one-thread module (convwasm.wasm) but got one importing its memory");
  }
  const single = {
    ...(await instantiateSide("wasm", singleModule, {}, arenaBytes)),
    module: singleModule,
    warmF32: false,
  };
  // (the float32 kernels on their first use: schedule.ts's run; 20-25 ms of a cold start that needs none)
  await warmUp(single.kernels, single.arena, "f64");
  let shared: Runtime["shared"] = null;
  let reason = where.reason;
  let memory: WebAssembly.Memory | null = null;
  if (where.spawn) {
    try {
      memory = sharedMemory();
    } catch (e) {
      // e.g. no room for 4 GiB of address space (32-bit browsers)
      reason = `no shared WebAssembly.Memory could be made here (${e instanceof Error ? e.message : String(e)})`;
    }
  }
  if (where.spawn && memory) {
    const module = await compile("sharedWasm", options.sharedWasm ?? sharedBuild("init", fromPackage(), MAX_PAGES));
    if (!importsMemory(module)) {
      throw new TypeError(
        "init: sharedWasm expects the shared-memory module (convwasm-shared.wasm) but got one with its own memory",
      );
    }
    // (its arena is reserved and its kernels warmed up when a pool starts: startPool; one thread never
    // uses them, and touching 8 MiB costs ~27 ms here)
    const side = await instantiateSide("sharedWasm", module, { env: { memory } }, 0);
    shared = { ...side, module, memory, spawn: where.spawn, warm: false };
  }
  if (shared && threads === 1) {
    reason = options.threads === 1 ? "init() was asked for threads: 1" : `this machine reports ${where.cores} core`;
  }
  const rt: Runtime = { single, shared, pool: null, reason, capped, arenaBytes };
  if (shared && threads > 1) await startPool(rt, threads);
  state.algorithm = algorithm;
  state.runtime = rt;
}

/**
 * Compiles and instantiates the WASM module, warms its float64 kernels up to V8's optimised tier (the
 * float32 ones, which only inference plans use, on their first use), reserves the arena and starts the
 * worker threads; call (and await) once before any op. Idempotent: later calls return the first one's
 * promise.
 */
export function init(options: InitOptions = {}): Promise<void> {
  if (state.runtime) return Promise.resolve();
  state.pending ??= load(options).catch((e: unknown) => {
    state.pending = null; // a failed load can be retried
    throw e;
  });
  return state.pending;
}

/**
 * Gives WASM memory back: WASM memories never shrink, so after a call that grew them (a huge batch) this
 * drops both and makes new ones of the size init() reserved, with the same threads. The compiled code
 * is kept (no warm-up again). Calls are synchronous, so a release() asked for inside one (from a
 * callback) happens after it.
 */
export function release(): Promise<void> {
  const rt = wasm("release");
  const next = state.switching.then(async () => {
    const m = rt.single.module;
    rt.single = { ...(await instantiateSide("wasm", m, {}, rt.arenaBytes)), module: m, warmF32: rt.single.warmF32 };
    if (rt.shared) {
      const threads = rt.pool?.size ?? 1;
      stopPool(rt);
      const memory = sharedMemory();
      const side = await instantiateSide("sharedWasm", rt.shared.module, { env: { memory } }, 0);
      rt.shared = { ...rt.shared, ...side, memory };
      if (threads > 1) await startPool(rt, threads);
    }
  });
  state.switching = next.catch(() => undefined);
  return next;
}

/** Bytes of WASM linear memory, and how much of the arena is in use (0 between calls: nothing leaks). */
export function memory(): { wasmBytes: number; arenaBytesInUse: number } {
  const rt = state.runtime;
  if (!rt) return { wasmBytes: 0, arenaBytesInUse: 0 };
  const sides: Side[] = rt.shared ? [rt.single, rt.shared] : [rt.single];
  return {
    wasmBytes: sides.reduce((n, s) => n + s.arena.wasmBytes, 0),
    arenaBytesInUse: sides.reduce((n, s) => n + s.arena.bytesInUse, 0),
  };
}
