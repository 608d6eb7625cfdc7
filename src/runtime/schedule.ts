// Scheduling: what each call computes with (the calling thread alone on plain memory, or the pool over
// shared memory), how many tasks to cut it into, and running those tasks with clean failure.
import { KERNELS, KernelName, type Precision, Task, call, warmUpNow } from "../kernels/kernels.js";
import type { Pool } from "./pool.js";
import { Side, state, stopPool, wasm } from "./runtime.js";

/** What one call computes with: a side, and the pool when the call is shared out. */
export interface Context extends Side {
  pool: Pool | null;
}

/**
 * Scales every kernel's minimum work per task. bench/threshold.ts sets it near 0 (share everything
 * out, in as many tasks as there may be) and to Infinity (share nothing) to measure where threads start
 * to pay; reached through convwasm/internal, not part of the API.
 */
export const tuning = { minWorkScale: 1 };

/**
 * The least work (multiply-adds) of a call worth sharing out: measured with the helper threads asleep, as
 * they are between a server's requests (bench/threshold.ts); a helper woken from sleep is late and slow
 * at first on these VMs, so this is far above what back-to-back calls would suggest.
 */
export function shareFrom(kernel: KernelName): number {
  const k = KERNELS[kernel] as { minWork?: number; shareFrom?: number };
  return (k.shareFrom ?? 2 * (k.minWork ?? Infinity)) * tuning.minWorkScale;
}

/** The least work (multiply-adds) worth a task of `kernel` on another thread. */
export function minWork(kernel: KernelName): number {
  return ((KERNELS[kernel] as { minWork?: number }).minWork ?? Infinity) * tuning.minWorkScale;
}

/**
 * Runs one call of op `fn`: with the pool over shared memory when there is a pool and `share` (the
 * call's work reaches its kernel's `shareFrom`), else on the calling thread alone, on plain memory;
 * either way the arithmetic, and so every bit of the result, is the same. The call runs inside an arena
 * scope, so that everything it placed is released whether it returns or throws. A call entered from
 * inside another (from a callback) runs on the calling thread alone, never on the pool the outer call
 * may be using, and a dispose() asked for inside a call happens when the outermost call ends. `precision`:
 * the kernels' element type (the first float32 call on the calling thread warms its float32 kernels).
 */
export function run<T>(fn: string, share: boolean, body: (ctx: Context) => T, precision: Precision = "f64"): T {
  const rt = wasm(fn);
  const pooled = rt.pool !== null && rt.shared !== null && state.depth === 0 && share && state.shareOut;
  // (a pool broken since the last call refuses the job, and streamTasks turns that into the error)
  const side = pooled ? rt.shared! : rt.single;
  if (precision === "f32" && !pooled && !rt.single.warmF32) {
    warmUpNow(rt.single.kernels, rt.single.arena, "f32");
    rt.single.warmF32 = true;
  }
  const ctx: Context = { kernels: side.kernels, arena: side.arena, pool: pooled ? rt.pool : null };
  state.depth++;
  try {
    return ctx.arena.scope(() => body(ctx));
  } finally {
    state.depth--;
    if (state.depth === 0 && state.disposeDeferred) {
      state.disposeDeferred = false;
      stopPool(rt);
    }
  }
}

const CLOSED = "the thread pool is closed and convwasm now runs on one thread (setThreads() starts a new one)";

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
      call(ctx.kernels, prepare(t));
      finish(t);
    }
    return;
  }
  try {
    pool.stream(fn, count, prepare, finish);
  } catch (e) {
    const rt = state.runtime;
    if (pool.broken === null || rt?.pool !== pool) throw e;
    stopPool(rt);
    rt.reason = `the thread pool was closed after an error: ${pool.broken}`;
    throw new Error(`${fn}: ${pool.broken}; ${CLOSED}`);
  }
}

/** Runs a list of tasks as one job (see streamTasks), nothing to do as each finishes. */
export function runTasks(fn: string, ctx: Context, list: Task[]): void {
  streamTasks(
    fn,
    ctx,
    list.length,
    (t) => list[t],
    () => undefined,
  );
}

/** Tasks per thread in a job: enough for the threads that finish early to take another. */
const TASKS_PER_THREAD = 2;

/**
 * How many tasks to cut a job of `work` into (at most `units`, at least `kernel`'s minimum work each):
 * 1 without a pool or for small problems, which then run on the calling thread with no hand-off at all.
 */
export function taskCount(
  ctx: Context,
  work: number,
  kernel: KernelName,
  units: number,
  perThread = TASKS_PER_THREAD,
): number {
  const threads = ctx.pool?.size ?? 1;
  if (threads === 1) return 1;
  return Math.max(1, Math.min(units, threads * perThread, Math.floor(work / minWork(kernel))));
}

/**
 * `units` (rows) cut into tasks for `work` multiply-adds of `kernel`, largest first (guided scheduling):
 * each task takes a share of what is left, down to the kernel's minimum work. A helper thread that wakes
 * late (tens to hundreds of microseconds after a quiet spell on these VMs) then finds only small tasks
 * left, so the calling thread, which starts at once, never waits long for it; with equal tasks it would
 * wait for a whole quarter of the call. One range without a pool.
 */
export function guided(ctx: Context, work: number, kernel: KernelName, units: number): [number, number][] {
  const threads = ctx.pool?.size ?? 1;
  if (threads === 1 || units <= 1) return [[0, units]];
  const least = Math.max(1, Math.ceil((units * minWork(kernel)) / Math.max(work, 1)));
  if (least * 2 > units) return [[0, units]];
  const out: [number, number][] = [];
  for (let r0 = 0; r0 < units;) {
    const r1 = Math.min(units, r0 + Math.max(least, Math.ceil((units - r0) / (2 * threads))));
    out.push([r0, r1]);
    r0 = r1;
  }
  return out;
}
