// The state the loader, the scheduler and the threads API share: the instantiated builds, the pool and
// why threads run as they do. It imports none of the files that use it.
import type { Arena } from "./arena.js";
import type { Kernels } from "./kernels.js";
import { Pool, Spawn } from "./pool.js";
import { checkInteger } from "../shapes.js";

/** An instance of one of the two builds and the arena in its memory. */
export interface Side {
  kernels: Kernels;
  arena: Arena;
}

export interface Runtime {
  /** The one-thread build on its own plain memory: every call that runs on the calling thread alone. */
  single: Side & { module: WebAssembly.Module };
  /**
   * The shared-memory build (when threads are possible here): calls shared out to the pool. Kept apart
   * because V8 copies into shared memory 2-4× slower than into plain memory.
   */
  shared: (Side & { module: WebAssembly.Module; memory: WebAssembly.Memory; spawn: Spawn }) | null;
  pool: Pool | null;
  /** How threads run, or why there is only one. */
  reason: string;
  /** The arena reserved (and touched) up front in each memory. */
  arenaBytes: number;
}

export const state = {
  runtime: null as Runtime | null,
  /** init()'s load while it runs. */
  pending: null as Promise<void> | null,
  /** The last thread-count change or release, so that they run one at a time in the order asked. */
  switching: Promise.resolve() as Promise<unknown>,
  /** Calls in progress on this thread (more than 1 only when a call is entered from inside another). */
  depth: 0,
  /** dispose() was called from inside a call: done when the outermost call ends. */
  disposeDeferred: false,
  /** init()'s choice of convolution algorithm, for calls that do not choose (src/ops/winograd.ts). */
  algorithm: "auto" as "auto" | "direct" | "winograd",
};

/** No progress for this long while a call waits for its worker threads ends the pool with an error. */
export const STALL_MS = 5000;
/** More threads than this is a mistake, not a machine. */
const MAX_THREADS = 256;

/** The runtime, or a clear error when init() has not finished. */
export function wasm(fn: string): Runtime {
  if (!state.runtime) throw new Error(`${fn}: convwasm is not initialised; call \`await init()\` first`);
  return state.runtime;
}

export function checkThreads(fn: string, threads: unknown): number {
  const n = checkInteger(fn, "threads", threads, 1);
  if (n > MAX_THREADS) throw new RangeError(`${fn}: threads expects an integer <= ${MAX_THREADS} but got ${n}`);
  return n;
}

export async function startPool(rt: Runtime, threads: number): Promise<void> {
  const { module, memory, spawn, kernels } = rt.shared!;
  rt.pool = await Pool.start(spawn, threads - 1, module, memory, kernels, STALL_MS);
}

export function stopPool(rt: Runtime): void {
  rt.pool?.dispose();
  rt.pool = null;
}
