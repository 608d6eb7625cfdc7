// convwasm/async's scheduler: the workers' lifecycle (init, dispose, release), the queue of calls and
// which worker runs each (a call big enough to share out that waits alone runs on the first worker's
// pool), backpressure (BusyError), and send(): a call's arguments encoded, copied over and answered.
import { describe, messageOf } from "../core/ndarray.js";
import { checkInteger } from "../core/shapes.js";
import type { Optimizer } from "../model/optimizers.js";
import { KERNELS } from "../kernels/kernels.js";
import { Outgoing, recycler } from "./wire.js";
import { COSTS, OPTION_KEYS, type Reply, type Request } from "./protocol.js";
import { costOf } from "../ops/registry.js";
import { type Endpoint, cores, spawn } from "./endpoint.js";

/** A call refused because convwasm/async's queue is full: wait for some calls to finish (a server's 503). */
export class BusyError extends Error {
  override name = "BusyError";
}
/** A model's predict() that got no answer within its `timeout`. */
export class TimeoutError extends Error {
  override name = "TimeoutError";
}

export interface AsyncInitOptions {
  /**
   * Worker threads computing calls side by side (default: the cores reported, at most 8; in a browser
   * page that is not cross-origin isolated, 1).
   */
  workers?: number;
  /**
   * Threads of the first worker's pool (itself included), which a call big enough to be shared out uses
   * while the other workers wait (default: the cores reported, at most 8).
   */
  threads?: number;
  /** As init()'s: bytes of arena each worker reserves up front. */
  arenaBytes?: number;
  /** As init()'s: how 3×3 stride-1 convolutions are computed when a call does not say. */
  algorithm?: "auto" | "direct" | "winograd";
  /** As init()'s, as bytes or a compiled WebAssembly.Module (a Response cannot be sent to a worker). */
  wasm?: BufferSource | WebAssembly.Module;
  sharedWasm?: BufferSource | WebAssembly.Module;
  /** Calls waiting for a worker before new ones are refused with a BusyError (default 4096). */
  maxQueue?: number;
  /**
   * Bytes of arguments copied for calls not yet answered before new calls are refused with a BusyError
   * (default 256 MiB; a call is always taken when nothing else is in flight). Shared memory is not counted.
   * As many bytes of the copies' buffers are kept for later calls once answered, and as many of the
   * batches predict() gathers (release() drops both): fresh pages cost ~3.4 ms a MB to touch here,
   * reused ones nothing.
   */
  maxQueueBytes?: number;
}

/** A call on its way to a worker: who may run it, and what to post once one is chosen. */
export interface Job {
  fn: string;
  /** Runs alone on the first worker, which may share it out to its pool (fit). */
  exclusive: boolean;
  /**
   * Big enough to share out: it runs alone on the first worker's pool when nothing else waits or runs;
   * among others, side by side with them on any worker (two calls on two cores waste less than one
   * call split across both, and a busy pool delays the event loop's timers).
   */
  shareable: boolean;
  eligible(w: number): boolean;
  /**
   * The requests to post to worker w (anything w must be brought up to date with first) and what they
   * move; `pool`: the worker may share the call out to its thread pool.
   */
  start(w: number, id: number, pool: boolean): { requests: Request[]; transfer: ArrayBuffer[] };
  done(reply: Extract<Reply, { type: "done" | "error" }>): void;
  fail(error: Error): void;
  callback?(k: number, args: unknown[]): void;
}

/**
 * Calls in flight per worker, and per message: a message costs each side ~30 µs on these VMs, as much as
 * a small layer, so calls started together travel together (and their answers too), and a worker has
 * the next message in its inbox while it works, never idling through a round trip.
 */
const DEPTH = 8;
const PER_MESSAGE = 4;

export class Runtime {
  /** Calls in flight on each worker. */
  private readonly busy: number[];
  /** Each worker's WASM memory in bytes, as its last answer reported it. */
  readonly wasmBytes: number[];
  /** A call runs alone (on the first worker's pool): nothing else starts until it ends. */
  private alone = false;
  private readonly queue: Job[] = [];
  private nextId = 1;
  private readonly inFlight = new Map<number, { job: Job; worker: number; alone: boolean }>();
  /** Calls accepted and not yet posted (encoding, copying or queued). */
  waiting = 0;
  /** Bytes copied for the calls accepted and not yet answered. */
  bytes = 0;
  broken: string | null = null;
  /** No call starts (release() is replacing the workers). */
  private paused = false;
  /** Waiting for no call to be in flight; the last replacement of the workers (one at a time). */
  private idlers: (() => void)[] = [];
  private replacing: Promise<void> = Promise.resolve();
  /** The models every worker holds: how each was made (to make it again in a new worker), and its reset. */
  readonly models = new Map<number, { create: Request & { type: "model" }; replaced(): void }>();

  constructor(
    readonly workers: Endpoint[],
    ready: { wasmBytes: number }[],
    readonly threads: { threads: number; reason: string },
    readonly maxQueue: number,
    readonly maxQueueBytes: number,
    private readonly launchOptions: LaunchOptions,
  ) {
    this.busy = workers.map(() => 0);
    this.wasmBytes = ready.map((r) => r.wasmBytes);
    workers.forEach((w, i) => this.wire(w, i));
  }

  private wire(w: Endpoint, i: number): void {
    // (a replaced worker's messages and exit are its own business)
    w.onMessage((r) => this.workers[i] === w && this.reply(i, r));
    w.onExit((reason) => this.workers[i] === w && this.stop(`worker ${i + 1} of convwasm/async exited (${reason})`));
  }

  /**
   * Replaces every worker by a new one (release(): a worker's grown WASM memory goes only with its
   * isolate, which an idle worker never collects): calls in flight finish first, calls asked meanwhile
   * wait, and every model is made again in the new workers (its weights follow before its next read).
   */
  replaceWorkers(): Promise<void> {
    const next = this.replacing.then(() => this.replace());
    this.replacing = next.catch(() => undefined);
    return next;
  }

  private async replace(): Promise<void> {
    const gone = () => new Error("release: convwasm/async was disposed before its workers were replaced");
    if (this.broken !== null) throw gone();
    this.paused = true;
    try {
      if (this.inFlight.size > 0) await new Promise<void>((resolve) => this.idlers.push(resolve));
      if (this.broken !== null) throw gone();
      const fresh = await launchAll(this.workers.length, this.launchOptions, [...this.models.values()]);
      if (this.broken !== null) {
        for (const w of fresh) w.endpoint.terminate();
        throw gone();
      }
      const old = [...this.workers];
      fresh.forEach((f, i) => {
        this.workers[i] = f.endpoint;
        this.wasmBytes[i] = f.ready.wasmBytes;
        this.wire(f.endpoint, i);
      });
      for (const w of old) w.terminate();
      for (const m of this.models.values()) m.replaced();
    } catch (e) {
      if (this.broken === null) this.stop(`release() could not start new workers (${messageOf(e)})`);
      throw e;
    } finally {
      this.paused = false;
      this.schedule();
    }
  }

  submit(job: Job): void {
    if (this.broken !== null) return job.fail(new Error(`${job.fn}: ${this.broken} before the call finished`));
    this.queue.push(job);
    this.schedule();
  }

  /** Pumps once after this tick's submissions and answers (so that they can share messages). */
  private schedule(): void {
    if (this.pumping) return;
    this.pumping = true;
    queueMicrotask(() => {
      this.pumping = false;
      this.pump();
    });
  }
  private pumping = false;

  /** Starts every queued job that can start, in order; nothing passes an exclusive job that waits. */
  private pump(): void {
    if (this.paused) return;
    const outbox = this.workers.map(() => ({ requests: [] as Request[], transfer: [] as ArrayBuffer[], calls: 0 }));
    for (let i = 0; i < this.queue.length && !this.alone && this.broken === null; i++) {
      const job = this.queue[i];
      let w = -1;
      const alone = job.exclusive || (job.shareable && this.queue.length === 1 && this.inFlight.size === 0);
      if (alone) {
        if (this.busy.some((b) => b > 0)) break;
        this.alone = true;
        w = 0;
      } else {
        // the least busy eligible worker, if one has room
        for (let j = 0; j < this.busy.length; j++) {
          if (this.busy[j] < DEPTH && job.eligible(j) && (w < 0 || this.busy[j] < this.busy[w])) w = j;
        }
        if (w < 0) continue;
      }
      this.queue.splice(i--, 1);
      const started = this.begin(job, w, alone);
      if (!started) continue;
      const box = outbox[w];
      box.requests.push(...started.requests);
      box.transfer.push(...started.transfer);
      if (++box.calls === PER_MESSAGE) this.post(w, box);
    }
    outbox.forEach((box, w) => this.post(w, box));
  }

  private post(w: number, box: { requests: Request[]; transfer: ArrayBuffer[]; calls: number }): void {
    if (box.requests.length === 0) return;
    this.workers[w].post({ type: "batch", requests: box.requests }, box.transfer);
    [box.requests, box.transfer, box.calls] = [[], [], 0];
  }

  private begin(job: Job, w: number, alone: boolean): { requests: Request[]; transfer: ArrayBuffer[] } | null {
    const id = this.nextId++;
    this.busy[w]++;
    this.inFlight.set(id, { job, worker: w, alone });
    this.waiting--;
    this.workers[w].hold(true);
    try {
      // (a lone worker's pool has no other worker to compete with)
      return job.start(w, id, alone || this.workers.length === 1);
    } catch (e) {
      this.end(id);
      job.fail(e instanceof Error ? e : new Error(`${job.fn}: ${messageOf(e)}`));
      return null;
    }
  }

  private end(id: number): Job | null {
    const f = this.inFlight.get(id);
    if (!f) return null;
    this.inFlight.delete(id);
    if (--this.busy[f.worker] === 0) this.workers[f.worker].hold(false);
    if (f.alone) this.alone = false;
    if (this.inFlight.size === 0) for (const f of this.idlers.splice(0)) f();
    this.schedule();
    return f.job;
  }

  private reply(w: number, r: Reply): void {
    if (r.type === "batch") return r.replies.forEach((x) => this.reply(w, x));
    if (r.type === "callback") return this.inFlight.get(r.id)?.job.callback?.(r.k, r.args);
    if (r.type !== "done" && r.type !== "error") return;
    this.wasmBytes[w] = r.wasmBytes;
    const job = this.end(r.id);
    try {
      job?.done(r);
    } catch (e) {
      // (mapping one answer failed: that call alone fails, never the thread's message handler)
      job?.fail(e instanceof Error ? e : new Error(`${job.fn}: ${messageOf(e)}`));
    }
  }

  /** Ends every worker; calls in flight or waiting fail with `reason`. */
  stop(reason: string): void {
    if (this.broken !== null) return;
    this.broken = reason;
    for (const w of this.workers) w.terminate();
    const jobs = [...[...this.inFlight.values()].map((f) => f.job), ...this.queue];
    this.inFlight.clear();
    this.queue.length = 0;
    for (const f of this.idlers.splice(0)) f();
    for (const j of jobs) j.fail(new Error(`${j.fn}: ${reason} before the call finished`));
    if (state.runtime === this) state.runtime = null;
  }
}

export const state = {
  runtime: null as Runtime | null,
  pending: null as Promise<Runtime> | null,
  /** Counts dispose() calls: an init() that a dispose() overtook ends its workers instead of keeping them. */
  generation: 0,
};

const MAX_WORKERS = 64;

/** What each worker is started with (init()'s options, checked). */
interface LaunchOptions {
  threads: number;
  arenaBytes?: number;
  wasm?: unknown;
  sharedWasm?: unknown;
  algorithm?: unknown;
}

/**
 * Starts n workers: each instantiates the module (the first with `threads`), then makes the models
 * given (a worker replaced by release()). All ready, or all ended and the first failure thrown.
 */
async function launchAll(
  n: number,
  options: LaunchOptions,
  models: { create: Request & { type: "model" } }[] = [],
): Promise<{ endpoint: Endpoint; ready: { threads: number; reason: string; wasmBytes: number } }[]> {
  const workers: Endpoint[] = [];
  try {
    for (let i = 0; i < n; i++) workers.push(spawn());
    return await Promise.all(
      workers.map(
        (w, i) =>
          new Promise<{ endpoint: Endpoint; ready: { threads: number; reason: string; wasmBytes: number } }>(
            (resolve, reject) => {
              let ready: { threads: number; reason: string; wasmBytes: number } | null = null;
              let made = 0;
              const off = w.onMessage((r) => {
                if (r.type === "failed") reject(errorOf(r.error));
                if (r.type === "ready") {
                  ready = r;
                  if (models.length === 0) resolve({ endpoint: w, ready });
                  else for (const m of models) w.post({ ...m.create, id: 0 });
                }
                if (r.type === "batch") r.replies.forEach((x) => x.type === "error" && reject(errorOf(x.error)));
                if (r.type === "error") reject(errorOf(r.error));
                if (r.type === "done" && ++made === models.length) {
                  off();
                  resolve({ endpoint: w, ready: ready! });
                }
              });
              w.onExit((reason) => reject(new Error(`init: worker ${i + 1} of convwasm/async exited (${reason})`)));
              const { arenaBytes, wasm, sharedWasm, algorithm } = options;
              w.post({
                type: "init",
                options: { threads: i === 0 ? options.threads : 1, arenaBytes, wasm, sharedWasm, algorithm },
              });
            },
          ),
      ),
    );
  } catch (e) {
    for (const w of workers) w.terminate();
    throw e;
  }
}

async function start(options: AsyncInitOptions): Promise<Runtime> {
  const fn = "init";
  const here = cores();
  const auto = here.isolated ? Math.max(1, Math.min(8, here.cores)) : 1;
  const n = checkInteger(fn, "workers", options.workers ?? auto, 1);
  if (n > MAX_WORKERS) throw new RangeError(`${fn}: workers expects an integer <= ${MAX_WORKERS} but got ${n}`);
  const threads = checkInteger(fn, "threads", options.threads ?? Math.max(1, Math.min(8, here.cores)), 1);
  const maxQueue = checkInteger(fn, "maxQueue", options.maxQueue ?? 4096, 1);
  const maxQueueBytes = checkInteger(fn, "maxQueueBytes", options.maxQueueBytes ?? 256 * 2 ** 20, 0);
  const { arenaBytes, wasm, sharedWasm, algorithm } = options;
  const launch: LaunchOptions = { threads, arenaBytes, wasm, sharedWasm, algorithm };
  const ready = await launchAll(n, launch);
  recycler.limit = maxQueueBytes;
  return new Runtime(
    ready.map((r) => r.endpoint),
    ready.map((r) => r.ready),
    { threads: ready[0].ready.threads, reason: ready[0].ready.reason },
    maxQueue,
    maxQueueBytes,
    launch,
  );
}

/**
 * Starts the workers (each instantiates the WASM module and warms it up; the first also starts its
 * thread pool); call (and await) once before any call. Idempotent: later calls return the first one's
 * promise, until dispose().
 */
export function init(options: AsyncInitOptions = {}): Promise<void> {
  if (state.runtime) return Promise.resolve();
  if (options === null || typeof options !== "object") {
    return Promise.reject(new TypeError(`init: options expects an object but got ${describe(options)}`));
  }
  const generation = state.generation;
  state.pending ??= start(options).then(
    (rt) => {
      state.pending = null;
      if (state.generation !== generation) {
        rt.stop("convwasm/async was disposed");
        throw new Error("init: convwasm/async was disposed before it had started");
      }
      state.runtime = rt;
      return rt;
    },
    (e: unknown) => {
      state.pending = null;
      throw e;
    },
  );
  return state.pending.then(() => undefined);
}

/**
 * Ends the workers. Calls in flight or waiting are rejected (their results are never delivered);
 * init() may be called again.
 */
export function dispose(): void {
  state.generation++;
  state.pending = null;
  state.runtime?.stop("convwasm/async was disposed");
  state.runtime = null;
}

/**
 * Gives memory back after a call that grew it: the calling thread drops its spare buffers, and every
 * worker is replaced by a new one once the calls in flight have finished (a worker's WASM memory never
 * shrinks, and an idle worker never collects the old one); models are made again in the new workers
 * with their weights. Calls asked meanwhile wait and then run as usual.
 */
export async function release(): Promise<void> {
  const rt = runtime("release");
  recycler.clear();
  await rt.replaceWorkers();
}

/**
 * The workers' WASM memory: each worker's bytes as its last answer reported them (their arenas are empty
 * between calls), and their sum. 0 before init() and after dispose().
 */
export function memory(): { wasmBytes: number; workers: number[] } {
  const workers = state.runtime ? [...state.runtime.wasmBytes] : [];
  return { wasmBytes: workers.reduce((a, b) => a + b, 0), workers };
}

/** Workers, the first worker's threads and, in one line, how they run. */
export async function threading(): Promise<{ workers: number; threads: number; reason: string }> {
  const rt = state.runtime;
  if (!rt) return { workers: 0, threads: 1, reason: "convwasm/async is not initialised" };
  return { workers: rt.workers.length, ...rt.threads };
}

export function runtime(fn: string): Runtime {
  if (!state.runtime) throw new Error(`${fn}: convwasm/async is not initialised; call \`await init()\` first`);
  return state.runtime;
}

/** Optimizers passed to fit(), numbered so that a worker keeps each one's state between calls. */
const optimizerIds = new WeakMap<Optimizer, number>();
let nextOptimizer = 1;
export const optimizerId = (o: Optimizer): number => {
  let id = optimizerIds.get(o);
  if (id === undefined) optimizerIds.set(o, (id = nextOptimizer++));
  return id;
};

export function errorOf(e: { name: string; message: string }): Error {
  const E = e.name === "TypeError" ? TypeError : e.name === "RangeError" ? RangeError : Error;
  return new E(e.message);
}

/** The keys of plain objects the ops and the model's methods read (hyperparameters, options, layer specs). */
export const opKeys = (key: string) => OPTION_KEYS.has(key);
export const anyKey = () => true;

/** Multiply-adds a call costs, from its arrays' shapes (its op's cost, as the registry defines it). */
export function workOf(fn: string, shapes: number[][]): number {
  return costOf(COSTS[fn], shapes);
}
export const POOL_FROM = KERNELS.conv_forward.shareFrom;

/**
 * Sends one call: arguments encoded (each field read once) and copied over (the event loop runs between
 * slices of a big copy), queued, run, and the answer decoded over the caller's own buffers.
 */
export function send(
  fn: string,
  names: readonly string[],
  args: unknown[],
  request: (
    w: number,
    id: number,
    o: { args: ReturnType<Outgoing["encode"]>[]; buffers: ArrayBufferLike[]; transfer: ArrayBuffer[]; pool: boolean },
  ) => Request,
  route: Route = {},
  before?: (w: number) => Request | null,
): Promise<unknown> {
  return new Promise((resolveCall, rejectCall) => {
    const rt = runtime(fn);
    if (rt.waiting >= rt.maxQueue) {
      throw new BusyError(
        `${fn}: convwasm/async's queue is full (${rt.waiting} calls waiting); wait for some to finish`,
      );
    }
    const out = new Outgoing(fn, optimizerId, opKeys);
    const encoded = args.map((a, i) =>
      out.encode(a, names[i] ?? `argument ${i + 1}`, 0, route.anyKeys?.[i] ? anyKey : opKeys),
    );
    const bytes = out.bytes;
    if (rt.bytes > 0 && rt.bytes + bytes > rt.maxQueueBytes) {
      throw new BusyError(
        `${fn}: convwasm/async holds ${rt.bytes} bytes of arguments for calls in flight, and this call's ` +
          `${bytes} would pass maxQueueBytes (${rt.maxQueueBytes}); wait for some to finish`,
      );
    }
    rt.waiting++;
    rt.bytes += bytes;
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      rt.bytes -= bytes;
      return true;
    };
    const resolve = (v: unknown) => settle() && resolveCall(v);
    const reject = (e: unknown) => settle() && rejectCall(e);
    let callbackError: unknown = null;
    out
      .send()
      .then(({ buffers, transfer }) => {
        const work = route.work?.(out.shapes) ?? 0;
        rt.submit({
          fn,
          exclusive: route.exclusive === true,
          shareable: rt.workers.length > 1 && work >= POOL_FROM,
          eligible: route.eligible ?? (() => true),
          start: (w, id, pool) => {
            const first = before?.(w) ?? null;
            const req = request(w, id, { args: encoded, buffers, transfer, pool });
            return { requests: first ? [first, req] : [req], transfer };
          },
          done: (r) => {
            out.giveBack();
            if (r.type === "error") {
              for (const b of r.returned) if (b) recycler.give(b);
              return reject(callbackError ?? errorOf(r.error));
            }
            let value: unknown;
            try {
              value = out.answer(r.value, r.buffers, r.returned);
            } catch (e) {
              return reject(
                e instanceof Error && e.message.startsWith(`${fn}: `) ? e : new Error(`${fn}: ${messageOf(e)}`),
              );
            }
            if (callbackError !== null) reject(callbackError);
            else resolve(value);
          },
          fail: (e) => reject(e),
          callback: (k, cbArgs) => {
            if (callbackError !== null) return;
            try {
              out.callbacks[k](...cbArgs);
            } catch (e) {
              // a throwing callback ends the call: the worker is told to stop (fit checks before every batch)
              callbackError = e;
              route.stop?.();
            }
          },
        });
      })
      .catch((e: unknown) => {
        rt.waiting--;
        reject(e);
      });
  });
}

export interface Route {
  /** Runs alone on the first worker (its pool may share it out). */
  exclusive?: boolean;
  eligible?: (w: number) => boolean;
  work?: (shapes: number[][]) => number;
  /** Arguments (by position) whose plain objects keep every key (setWeights' arrays, by parameter name). */
  anyKeys?: boolean[];
  /** Called when a callback throws: tells the worker to stop the call. */
  stop?: () => void;
}
