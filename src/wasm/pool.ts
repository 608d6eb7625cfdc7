// The thread pool: workers sharing the module's WebAssembly.Memory, driven through a small control block
// of shared Int32 words. A call stays synchronous: the calling thread publishes a job (a list of kernel
// calls on disjoint outputs), takes tasks itself and sleeps in Atomics.wait until the last one is done.
import { workerSource } from "./binary.js";
import type { StartMessage } from "./worker.js";

/** One kernel call: the export's name and its arguments. */
export type Task = [kernel: string, ...args: number[]];

const L = {
  GEN: 0, // bumped for every job; idle workers sleep on it
  NEXT: 1, // claim word: (generation << 16) | index of the next task
  NTASKS: 2,
  DONE: 3, // tasks finished in this job
  ERROR: 4, // 0, or 1 + the index of the first task that threw
  QUIT: 5, // workers leave when non-zero
  MESSAGE: 16, // the first error's text, one UTF-16 unit per word
  MESSAGE_CHARS: 240,
  TASKS: 512, // in float64 units: the task table, TASK_WORDS per task: [kernel, argc, ...args]
  TASK_WORDS: 24,
};
const MAX_TASKS = 1024;
const CONTROL_BYTES = (L.TASKS + MAX_TASKS * L.TASK_WORDS) * 8;
/** A task that ends the worker thread claiming it without finishing (tests use it to stand for a crash). */
export const EXIT = "(exit)";
/** A claim word whose index is past any job: nothing can be claimed while a job is being written. */
const CLOSED = 0xffff;

/** A started thread, as the platform gives it. */
export interface Thread {
  post(message: StartMessage): void;
  /** Calls back once with the thread's ready/error reply, or when it exits or fails. */
  onReply(handler: (reply: { ready: true } | { error: string }) => void): void;
  onExit(handler: (reason: string) => void): void;
  terminate(): void;
}

export type Spawn = (source: string) => Thread;

export class Pool {
  private readonly ctl: Int32Array;
  private readonly table: Float64Array;
  private readonly index: Map<string, number>;
  private gen = 0;
  /** Why the pool can no longer be used (a thread exited or stopped responding), once it happens. */
  broken: string | null = null;

  private constructor(
    readonly threads: Thread[],
    control: SharedArrayBuffer,
    private readonly kernels: Record<string, unknown>,
    names: string[],
    /** No progress for this long while waiting means a thread died mid-task. */
    private readonly stallMs: number,
  ) {
    this.ctl = new Int32Array(control);
    this.table = new Float64Array(control);
    this.index = new Map(names.map((n, i) => [n, i]));
    for (const [i, t] of threads.entries()) {
      t.onExit((reason) => {
        this.broken ??= `worker thread ${i + 1} exited (${reason})`;
      });
    }
  }

  /** Starts `workers` threads (the caller is one more) on `module` over `memory`; resolves when all are ready. */
  static async start(
    spawn: Spawn,
    workers: number,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    kernels: Record<string, unknown>,
    stallMs: number,
  ): Promise<Pool> {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const ctl = new Int32Array(control);
    ctl[L.NEXT] = CLOSED;
    const names = Object.keys(kernels).filter((n) => typeof kernels[n] === "function");
    const threads: Thread[] = [];
    try {
      for (let i = 0; i < workers; i++) threads.push(spawn(workerSource));
      await Promise.all(
        threads.map(
          (t, i) =>
            new Promise<void>((resolve, reject) => {
              t.onReply((reply) =>
                "ready" in reply ? resolve() : reject(new Error(`worker thread ${i + 1} failed to start: ${reply.error}`)),
              );
              t.onExit((reason) => reject(new Error(`worker thread ${i + 1} exited while starting (${reason})`)));
              t.post({ module, memory, control, kernels: names, layout: L });
            }),
        ),
      );
    } catch (e) {
      for (const t of threads) t.terminate();
      throw e;
    }
    return new Pool(threads, control, kernels, names, stallMs);
  }

  /** Threads in all, the caller included. */
  get size(): number {
    return this.threads.length + 1;
  }

  /**
   * Runs every task once, on the workers and the calling thread, and returns when all are done. Tasks
   * of one job must write disjoint memory; their order of execution is unspecified.
   */
  run(fn: string, tasks: Task[]): void {
    if (tasks.length > MAX_TASKS) throw new RangeError(`${fn}: ${tasks.length} tasks exceed ${MAX_TASKS}`);
    const { ctl, table } = this;
    const g = (this.gen = (this.gen + 1) & 0x7fff);
    // close claiming, write the job, then open it: a late worker can never claim a half-written job
    Atomics.store(ctl, L.NEXT, (g << 16) | CLOSED);
    for (const [t, [name, ...args]] of tasks.entries()) {
      const at = L.TASKS + t * L.TASK_WORDS;
      table[at] = name === EXIT ? -1 : this.index.get(name)!;
      table[at + 1] = args.length;
      table.set(args, at + 2);
    }
    Atomics.store(ctl, L.NTASKS, tasks.length);
    Atomics.store(ctl, L.DONE, 0);
    Atomics.store(ctl, L.ERROR, 0);
    Atomics.store(ctl, L.NEXT, g << 16);
    Atomics.add(ctl, L.GEN, 1);
    Atomics.notify(ctl, L.GEN);
    const n = tasks.length;
    let error: unknown = null;
    let longest = 0;
    for (;;) {
      const word = Atomics.load(ctl, L.NEXT);
      const t = word & 0xffff;
      if (t >= n) break;
      if (Atomics.compareExchange(ctl, L.NEXT, word, word + 1) !== word) continue;
      const t0 = performance.now();
      try {
        const [name, ...args] = tasks[t];
        (this.kernels[name] as (...a: number[]) => void)(...args);
      } catch (e) {
        error ??= e;
      }
      longest = Math.max(longest, performance.now() - t0);
      Atomics.add(ctl, L.DONE, 1);
    }
    // wait for the workers' tasks. A thread that died holding one would leave DONE short forever, so
    // no progress for far longer than a task takes here (and at least stallMs) ends the pool with an error.
    const limit = Math.max(this.stallMs, 50 * longest);
    let done = Atomics.load(ctl, L.DONE);
    let since = performance.now();
    while (done < n) {
      Atomics.wait(ctl, L.DONE, done, 20);
      const now = Atomics.load(ctl, L.DONE);
      if (now !== done) {
        done = now;
        since = performance.now();
      } else if (performance.now() - since > limit) {
        this.broken ??= `a worker thread stopped responding (no task finished in ${Math.round(limit)} ms)`;
        this.dispose();
        throw new Error(`${fn}: ${this.broken}`);
      }
    }
    if (error !== null) throw error;
    const failed = Atomics.load(ctl, L.ERROR);
    if (failed !== 0) {
      let text = "";
      for (let i = L.MESSAGE; ctl[i] !== 0 && i < L.MESSAGE + L.MESSAGE_CHARS; i++) text += String.fromCharCode(ctl[i]);
      throw new Error(`${fn}: task ${failed - 1} (${tasks[failed - 1][0]}) failed in a worker thread: ${text}`);
    }
  }

  /** Ends every worker thread. */
  dispose(): void {
    Atomics.store(this.ctl, L.QUIT, 1);
    Atomics.add(this.ctl, L.GEN, 1);
    Atomics.notify(this.ctl, L.GEN);
    for (const t of this.threads) t.terminate();
  }
}

/** `total` split into `parts` consecutive near-equal ranges [lo, hi). */
export function ranges(total: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  for (let p = 0; p < parts; p++) out.push([Math.floor((total * p) / parts), Math.floor((total * (p + 1)) / parts)]);
  return out;
}
