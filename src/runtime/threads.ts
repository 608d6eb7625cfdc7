// The threads API: how many threads compute, changing that, why, and ending them.
import { platform } from "./platform.js";
import { capThreads, checkThreads, startPool, state, stopPool, wasm } from "./runtime.js";

/** Threads in use (the calling thread included); 1 before init(). */
export function getThreads(): number {
  return state.runtime?.pool?.size ?? 1;
}

/**
 * Changes the number of threads (the calling thread included) and resolves to the number in use, which
 * is 1 where threads are unavailable (`threading().reason` says why).
 */
export function setThreads(asked: number): Promise<number> {
  const rt = wasm("setThreads");
  const { threads, capped } = capThreads("setThreads", checkThreads("setThreads", asked), platform().cores);
  // one change at a time, in the order asked
  const next = state.switching.then(async () => {
    if (!rt.shared) return getThreads();
    rt.capped = capped;
    if (getThreads() === threads) return getThreads();
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
  state.switching = next.catch(() => undefined);
  return next;
}

/** Threads in use and, in one line, how they run or why there is only one. */
export function threading(): { threads: number; reason: string } {
  const rt = state.runtime;
  if (!rt) return { threads: 1, reason: "convwasm is not initialised" };
  const threads = getThreads();
  const how =
    threads > 1 ? `${threads} threads (${rt.reason} over one shared WebAssembly.Memory)` : `1 thread: ${rt.reason}`;
  return { threads, reason: rt.capped ? `${how}; ${rt.capped}` : how };
}

/**
 * Ends the worker threads (idle ones never keep Node alive anyway); later calls run on the calling
 * thread. Asked for inside a call (from a callback), it happens when that call ends.
 */
export function dispose(): void {
  const rt = state.runtime;
  if (!rt) return;
  rt.reason = "dispose() was called";
  if (state.depth > 0) state.disposeDeferred = true;
  else stopPool(rt);
}
