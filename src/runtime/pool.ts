// The thread pool: workers sharing the module's WebAssembly.Memory, driven through a small control block
// of shared Int32 words. A call stays synchronous: the calling thread publishes a job (a list of kernel
// calls on disjoint outputs), takes tasks itself and sleeps in Atomics.wait until the last one is done.
import { workerSource } from "./binary.js";
import { KERNEL_NAMES, Kernels, Task, call } from "../kernels/kernels.js";
import type { StartMessage } from "./worker.js";
import { F64_BYTES } from "../core/ndarray.js";

const L = {
  GEN: 0, // bumped for every job; idle workers sleep on it
  NEXT: 1, // claim word: (generation << 16) | index of the next task
  NTASKS: 2,
  LIMIT: 3, // tasks below this are ready to run (a stream raises it as the calling thread writes them)
  ERROR: 4, // 0, or 1 + the index of the first task that threw
  QUIT: 5, // workers leave when non-zero
  MESSAGE: 16, // the first error's text, one UTF-16 unit per word
  MESSAGE_CHARS: 240,
  FLAGS: 1024, // one word per task of the job, set to 1 when it is done
  TASKS: (1024 + 65536) / 2, // in float64 units: the task table, ROWS rows [kernel, argc, ...args]; task t in row t % ROWS
  ROWS: 1024,
  TASK_WORDS: 24,
};
/** Tasks in one job: the claim word has 16 bits of index, and 0xffff means "closed". */
const MAX_TASKS = 0xfff0;
const CONTROL_BYTES = (L.TASKS + L.ROWS * L.TASK_WORDS) * F64_BYTES;
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
  private readonly index = new Map(KERNEL_NAMES.map((n, i) => [n, i]));
  private gen = 0;
  /** Why the pool can no longer be used (a thread exited or stopped responding), once it happens. */
  broken: string | null = null;

  private constructor(
    readonly threads: Thread[],
    control: SharedArrayBuffer,
    private readonly kernels: Kernels,
    /** No progress for this long while waiting means a thread died mid-task. */
    private readonly stallMs: number,
  ) {
    this.ctl = new Int32Array(control);
    this.table = new Float64Array(control);
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
    kernels: Kernels,
    stallMs: number,
  ): Promise<Pool> {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const ctl = new Int32Array(control);
    ctl[L.NEXT] = CLOSED;
    const threads: Thread[] = [];
    try {
      for (let i = 0; i < workers; i++) threads.push(spawn(workerSource));
      await Promise.all(
        threads.map(
          (t, i) =>
            new Promise<void>((resolve, reject) => {
              t.onReply((reply) =>
                "ready" in reply
                  ? resolve()
                  : reject(new Error(`worker thread ${i + 1} failed to start: ${reply.error}`)),
              );
              t.onExit((reason) => reject(new Error(`worker thread ${i + 1} exited while starting (${reason})`)));
              t.post({ module, memory, control, kernels: KERNEL_NAMES, layout: L });
            }),
        ),
      );
    } catch (e) {
      for (const t of threads) t.terminate();
      throw e;
    }
    return new Pool(threads, control, kernels, stallMs);
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
    this.stream(
      fn,
      tasks.length,
      (t) => tasks[t],
      () => undefined,
    );
  }

  /**
   * Runs `count` tasks that the calling thread feeds and drains in order: `prepare(t)` writes what task t
   * reads and returns it, `finish(t)` reads what it wrote, in order of t. The calling thread runs tasks
   * itself when it has nothing to feed or drain.
   */
  stream(fn: string, count: number, prepare: (t: number) => Task, finish: (t: number) => void): void {
    if (count > MAX_TASKS) throw new RangeError(`${fn}: ${count} tasks in one job exceed ${MAX_TASKS}`);
    this.job(fn, count, prepare, finish);
  }

  private job(fn: string, n: number, prepare: (t: number) => Task, finish: (t: number) => void): void {
    if (this.broken !== null) throw new Error(`${fn}: ${this.broken}`);
    const { ctl } = this;
    const g = (this.gen = (this.gen + 1) & 0x7fff);
    // close claiming, reset the job, then open it: a late worker can never claim into a half-written job
    Atomics.store(ctl, L.NEXT, (g << 16) | CLOSED);
    ctl.fill(0, L.FLAGS, L.FLAGS + n);
    Atomics.store(ctl, L.NTASKS, n);
    Atomics.store(ctl, L.LIMIT, 0);
    Atomics.store(ctl, L.ERROR, 0);
    Atomics.store(ctl, L.NEXT, g << 16);
    Atomics.add(ctl, L.GEN, 1);
    Atomics.notify(ctl, L.GEN);
    const tasks: Task[] = [];
    let prepared = 0;
    let finished = 0;
    let error: unknown = null;
    let longest = 0;
    let since = performance.now();
    const stalled = () => performance.now() - since > Math.max(this.stallMs, 50 * longest);
    try {
      while (finished < n) {
        // drain finished tasks in order, then feed, then work, then wait
        if (finished < prepared && Atomics.load(ctl, L.FLAGS + finished) === 1) {
          finish(finished);
          finished++;
          since = performance.now();
          continue;
        }
        // (at most ROWS tasks in flight: task t is written to row t % ROWS of the table)
        if (prepared < n && prepared - finished < L.ROWS) {
          const task = (tasks[prepared] = prepare(prepared));
          this.write(prepared, task);
          Atomics.store(ctl, L.LIMIT, ++prepared);
          Atomics.notify(ctl, L.LIMIT);
          continue;
        }
        const word = Atomics.load(ctl, L.NEXT);
        const t = word & 0xffff;
        if (t < prepared) {
          if (Atomics.compareExchange(ctl, L.NEXT, word, word + 1) !== word) continue;
          const t0 = performance.now();
          try {
            call(this.kernels, tasks[t]);
          } catch (e) {
            error ??= new Error(
              `${fn}: task ${t} (${tasks[t][0]}) failed: ${e instanceof Error ? e.message : String(e)}`,
            );
          }
          longest = Math.max(longest, performance.now() - t0);
          Atomics.store(ctl, L.FLAGS + t, 1);
          continue;
        }
        // a worker holds the next task to drain. A thread that died holding it would leave it unfinished
        // forever, so no progress for far longer than a task takes here (and at least stallMs) ends the pool.
        for (let spin = 0; spin < 2000 && Atomics.load(ctl, L.FLAGS + finished) === 0; spin++);
        Atomics.wait(ctl, L.FLAGS + finished, 0, 20);
        if (Atomics.load(ctl, L.FLAGS + finished) === 0 && stalled()) throw this.stall(fn, since);
      }
    } catch (e) {
      // a failure here (in prepare, finish or a stall) must not leave tasks running into the arena the
      // caller is about to release, nor flagging them done in the next job: close claiming, then wait
      // for every task already claimed
      const claimed = Math.min(Atomics.exchange(ctl, L.NEXT, (g << 16) | CLOSED) & 0xffff, prepared);
      since = performance.now();
      for (let t = finished; t < claimed && this.broken === null; t++) {
        while (Atomics.load(ctl, L.FLAGS + t) === 0) {
          Atomics.wait(ctl, L.FLAGS + t, 0, 20);
          if (Atomics.load(ctl, L.FLAGS + t) === 0 && stalled()) throw this.stall(fn, since);
        }
      }
      throw e;
    }
    if (error !== null) throw error;
    const failed = Atomics.load(ctl, L.ERROR);
    if (failed !== 0) {
      let text = "";
      for (let i = L.MESSAGE; ctl[i] !== 0 && i < L.MESSAGE + L.MESSAGE_CHARS; i++) text += String.fromCharCode(ctl[i]);
      throw new Error(`${fn}: task ${failed - 1} (${tasks[failed - 1][0]}) failed in a worker thread: ${text}`);
    }
  }

  /** The pool is broken: a thread stopped responding. Ends the threads; the error to throw. */
  private stall(fn: string, since: number): Error {
    this.broken ??= `a worker thread stopped responding (no task finished in ${Math.round(performance.now() - since)} ms)`;
    this.dispose();
    return new Error(`${fn}: ${this.broken}`);
  }

  /** Writes task t into its row of the table. */
  private write(t: number, [name, ...args]: Task): void {
    const at = L.TASKS + (t % L.ROWS) * L.TASK_WORDS;
    this.table[at] = this.index.get(name)!;
    this.table[at + 1] = args.length;
    this.table.set(args, at + 2);
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
