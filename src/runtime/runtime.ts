// The state the loader, the scheduler and the threads API share: the instantiated builds, the pool and
// why threads run as they do. It imports none of the files that use it.
import type { Arena } from "./arena.js";
import { type Kernels, warmUp } from "../kernels/kernels.js";
import { Pool, Spawn } from "./pool.js";
import { checkInteger } from "../core/shapes.js";

/** An instance of one of the two builds and the arena in its memory. */
export interface Side {
  kernels: Kernels;
  arena: Arena;
}

export interface Runtime {
  /**
   * The one-thread build on its own plain memory: every call that runs on the calling thread alone. init()
   * warms up its float64 kernels; its float32 ones (inference plans only) are warmed on their first use.
   */
  single: Side & { module: WebAssembly.Module; warmF32: boolean };
  /**
   * The shared-memory build (when threads are possible here): calls shared out to the pool. Kept apart
   * because V8 copies into shared memory 2-4× slower than into plain memory.
   */
  shared:
    | (Side & {
        module: WebAssembly.Module;
        memory: WebAssembly.Memory;
        spawn: Spawn;
        /** Its kernels warmed up (on the first start of a pool: a one-thread init() does not pay for it). */
        warm: boolean;
      })
    | null;
  pool: Pool | null;
  /** How threads run, or why there is only one. */
  reason: string;
  /** Why fewer threads run than were asked for (more than the cores), or null. */
  capped: string | null;
  /** The arena reserved (and touched) up front: by init() in the one-thread memory, in the shared one as a pool starts. */
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
  /**
   * Calls may be shared out to the pool (when big enough). convwasm/async's workers clear it for a call
   * that runs beside calls on the other workers: there the pool's helpers would only take their cores.
   */
  shareOut: true,
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

/** The repository's tests and fuzzer run 3 threads on 2 cores to exercise uneven splits; nothing else does. */
export const limits = { threadsBeyondCores: false };

/**
 * `asked` threads capped at the cores this context reports (more only slow each other: 64 on 2 cores ran
 * 4× slower than 2), and the note threading() gives when capped.
 */
export function capThreads(fn: string, asked: number, cores: number): { threads: number; capped: string | null } {
  if (asked <= cores || limits.threadsBeyondCores) return { threads: asked, capped: null };
  const threads = Math.max(1, cores);
  return { threads, capped: `${fn}() asked for ${asked} threads, capped at the ${threads} cores this machine reports` };
}

export async function startPool(rt: Runtime, threads: number): Promise<void> {
  const { module, memory, spawn, kernels } = rt.shared!;
  // (touching pages a previous pool touched already costs little: a memset)
  rt.shared!.arena.reserve("setThreads", rt.arenaBytes);
  if (!rt.shared!.warm) {
    await warmUp(kernels, rt.shared!.arena);
    rt.shared!.warm = true;
  }
  rt.pool = await Pool.start(spawn, threads - 1, module, memory, kernels, STALL_MS);
}

export function stopPool(rt: Runtime): void {
  rt.pool?.dispose();
  rt.pool = null;
}
