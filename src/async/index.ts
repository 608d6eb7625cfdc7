// convwasm/async: the synchronous API's functions, layers and model, returning Promises and computed in
// worker threads (Node's worker_threads or Web Workers), so the calling thread never blocks: it only
// hands arguments over (see wire.ts) and never waits in Atomics.wait. Calls run side by side on the
// workers; a call big enough to be shared out runs alone on the first worker, with its thread pool.
// onnxruntime-web's proxy worker is the model: calls posted to a worker (those started together in one
// message), results moved back, not copied.
import type * as Sync from "../index.js";
import {
  NDArray,
  assertFinite,
  copyStrided,
  describe,
  messageOf,
  sizeOf,
  snapshot as snapshotOf,
} from "../core/ndarray.js";
import { checkInteger } from "../core/shapes.js";
import { examples } from "../model/layers.js";
import { SymbolicTensor, describeGraph } from "../graph/graph.js";
import type { Optimizer } from "../model/optimizers.js";
import { KERNELS } from "../kernels/kernels.js";
import { hostSource } from "./source.js";
import { Outgoing, lent, recycler, yieldToLoop } from "./wire.js";
import {
  COSTS,
  OPS,
  OPTION_KEYS,
  type ModelMethod,
  type OpName,
  type Reply,
  type Request,
  type Weights,
} from "./protocol.js";
import { costOf } from "../ops/registry.js";

export { NDArray, array, zeros } from "../core/ndarray.js";
export { RandomState, random } from "../core/random.js";
export { layers, digitsLayers } from "../model/layers.js";
export { input, SymbolicTensor } from "../graph/graph.js";
export { sgd, adam } from "../model/optimizers.js";
export { readNpz, writeNpz } from "../io/npz.js";
export type { LayerSpec, Init } from "../model/layers.js";
export type { ConvHparameters, PoolHparameters, PoolMode } from "../core/shapes.js";

/**
 * A copy of `x` (C order) in a SharedArrayBuffer, where there is one (Node; a cross-origin isolated
 * page): such arrays go to the workers with no copy at all, so a server that keeps its inputs in
 * shared memory hands a call over in microseconds, however big. Elsewhere, a plain copy.
 */
export function shared(x: NDArray): NDArray {
  const v = snapshotOf("shared", "x", x);
  const data =
    typeof SharedArrayBuffer === "function" && cores().isolated
      ? new Float64Array(new SharedArrayBuffer(v.size * 8))
      : new Float64Array(v.size);
  copyStrided(v, data, 0);
  return new NDArray(data, v.shape);
}

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
   */
  maxQueueBytes?: number;
}

interface Endpoint {
  post(message: Request, transfer?: Transferable[]): void;
  /** Adds a handler; the function returned removes it. */
  onMessage(handler: (reply: Reply) => void): () => void;
  onExit(handler: (reason: string) => void): void;
  terminate(): void;
  /** Node: keep the process alive while a call is in flight, not while idle. */
  hold(busy: boolean): void;
}

type NodeWorker = {
  on(event: string, listener: (...args: unknown[]) => void): void;
  off(event: string, listener: (...args: unknown[]) => void): void;
  postMessage(message: unknown, transfer?: unknown[]): void;
  terminate(): Promise<number>;
  ref(): void;
  unref(): void;
};
type NodeProcess = { versions?: { node?: string }; getBuiltinModule?(id: string): unknown };

function spawn(): Endpoint {
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (proc?.versions?.node && proc.getBuiltinModule) {
    const { Worker } = proc.getBuiltinModule("node:worker_threads") as {
      Worker: new (code: string, options: { eval: true }) => NodeWorker;
    };
    const w = new Worker(hostSource, { eval: true });
    w.unref();
    return {
      post: (m, t) => w.postMessage(m, t),
      onMessage: (h) => {
        const f = (m: unknown) => h(m as Reply);
        w.on("message", f);
        return () => w.off("message", f);
      },
      onExit: (h) => {
        w.on("error", (e) => h(`error: ${messageOf(e)}`));
        w.on("exit", (code) => h(`exit code ${String(code)}`));
      },
      terminate: () => void w.terminate(),
      hold: (busy) => (busy ? w.ref() : w.unref()),
    };
  }
  if (typeof Worker !== "function") throw new Error("init: this context cannot start Web Workers");
  const url = URL.createObjectURL(new Blob([hostSource], { type: "text/javascript" }));
  const w = new Worker(url);
  URL.revokeObjectURL(url);
  return {
    post: (m, t) => w.postMessage(m, t ?? []),
    onMessage: (h) => {
      const f = (e: MessageEvent) => h(e.data as Reply);
      w.addEventListener("message", f);
      return () => w.removeEventListener("message", f);
    },
    onExit: (h) => w.addEventListener("error", (e) => h(`error: ${e.message}`)),
    terminate: () => w.terminate(),
    hold: () => undefined,
  };
}

function cores(): { cores: number; isolated: boolean } {
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (proc?.versions?.node && proc.getBuiltinModule) {
    const os = proc.getBuiltinModule("node:os") as { availableParallelism(): number };
    return { cores: os.availableParallelism(), isolated: true };
  }
  const g = globalThis as { navigator?: { hardwareConcurrency?: number }; crossOriginIsolated?: boolean };
  return { cores: g.navigator?.hardwareConcurrency ?? 1, isolated: g.crossOriginIsolated === true };
}

/** A call on its way to a worker: who may run it, and what to post once one is chosen. */
interface Job {
  fn: string;
  /** Runs alone on the first worker, which may share it out to its pool. */
  exclusive: boolean;
  eligible(w: number): boolean;
  /** The requests to post to worker w (anything w must be brought up to date with first) and what they move. */
  start(w: number, id: number): { requests: Request[]; transfer: ArrayBuffer[] };
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

class Runtime {
  /** Calls in flight on each worker. */
  private readonly busy: number[];
  /** An exclusive call is in flight: nothing else starts until it ends. */
  private alone = false;
  private readonly queue: Job[] = [];
  private nextId = 1;
  private readonly inFlight = new Map<number, { job: Job; worker: number }>();
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
    readonly threads: { threads: number; reason: string },
    readonly maxQueue: number,
    readonly maxQueueBytes: number,
    private readonly launchOptions: LaunchOptions,
  ) {
    this.busy = workers.map(() => 0);
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
      if (job.exclusive) {
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
      const started = this.begin(job, w);
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

  private begin(job: Job, w: number): { requests: Request[]; transfer: ArrayBuffer[] } | null {
    const id = this.nextId++;
    this.busy[w]++;
    this.inFlight.set(id, { job, worker: w });
    this.waiting--;
    this.workers[w].hold(true);
    try {
      return job.start(w, id);
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
    if (f.job.exclusive) this.alone = false;
    if (this.inFlight.size === 0) for (const f of this.idlers.splice(0)) f();
    this.schedule();
    return f.job;
  }

  private reply(w: number, r: Reply): void {
    if (r.type === "batch") return r.replies.forEach((x) => this.reply(w, x));
    if (r.type === "callback") return this.inFlight.get(r.id)?.job.callback?.(r.k, r.args);
    if (r.type !== "done" && r.type !== "error") return;
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

const state = {
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
): Promise<{ endpoint: Endpoint; ready: { threads: number; reason: string } }[]> {
  const workers: Endpoint[] = [];
  try {
    for (let i = 0; i < n; i++) workers.push(spawn());
    return await Promise.all(
      workers.map(
        (w, i) =>
          new Promise<{ endpoint: Endpoint; ready: { threads: number; reason: string } }>((resolve, reject) => {
            let ready: { threads: number; reason: string } | null = null;
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
          }),
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
  return new Runtime(
    ready.map((r) => r.endpoint),
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

/** Workers, the first worker's threads and, in one line, how they run. */
export async function threading(): Promise<{ workers: number; threads: number; reason: string }> {
  const rt = state.runtime;
  if (!rt) return { workers: 0, threads: 1, reason: "convwasm/async is not initialised" };
  return { workers: rt.workers.length, ...rt.threads };
}

function runtime(fn: string): Runtime {
  if (!state.runtime) throw new Error(`${fn}: convwasm/async is not initialised; call \`await init()\` first`);
  return state.runtime;
}

/** Optimizers passed to fit(), numbered so that a worker keeps each one's state between calls. */
const optimizerIds = new WeakMap<Optimizer, number>();
let nextOptimizer = 1;
const optimizerId = (o: Optimizer): number => {
  let id = optimizerIds.get(o);
  if (id === undefined) optimizerIds.set(o, (id = nextOptimizer++));
  return id;
};

function errorOf(e: { name: string; message: string }): Error {
  const E = e.name === "TypeError" ? TypeError : e.name === "RangeError" ? RangeError : Error;
  return new E(e.message);
}

/** The keys of plain objects the ops and the model's methods read (hyperparameters, options, layer specs). */
const opKeys = (key: string) => OPTION_KEYS.has(key);
const anyKey = () => true;

/** Multiply-adds a call costs, from its arrays' shapes (its op's cost, as the registry defines it). */
function workOf(fn: string, shapes: number[][]): number {
  return costOf(COSTS[fn], shapes);
}
const POOL_FROM = KERNELS.conv_forward.shareFrom;

/**
 * Sends one call: arguments encoded (each field read once) and copied over (the event loop runs between
 * slices of a big copy), queued, run, and the answer decoded over the caller's own buffers.
 */
function send(
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
        const exclusive = route.exclusive === true || (rt.workers.length > 1 && work >= POOL_FROM);
        rt.submit({
          fn,
          exclusive,
          eligible: route.eligible ?? (() => true),
          start: (w, id) => {
            const first = before?.(w) ?? null;
            const req = request(w, id, {
              args: encoded,
              buffers,
              transfer,
              pool: exclusive || rt.workers.length === 1,
            });
            return { requests: first ? [first, req] : [req], transfer };
          },
          done: (r) => {
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

interface Route {
  /** Runs alone on the first worker (its pool may share it out). */
  exclusive?: boolean;
  eligible?: (w: number) => boolean;
  work?: (shapes: number[][]) => number;
  /** Arguments (by position) whose plain objects keep every key (setWeights' arrays, by parameter name). */
  anyKeys?: boolean[];
  /** Called when a callback throws: tells the worker to stop the call. */
  stop?: () => void;
}

type Async<F> = F extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never;

function op<K extends OpName>(fn: K): Async<(typeof Sync)[K]> {
  return ((...args: unknown[]) =>
    send(fn, OPS[fn], args, (_w, id, o) => ({ type: "call", id, fn, args: o.args, buffers: o.buffers, pool: o.pool }), {
      work: (shapes) => workOf(fn, shapes),
    })) as Async<(typeof Sync)[K]>;
}

// <ops> (written by scripts/gen-ops.mjs from src/ops/'s definitions: npm run gen:ops)
export const zero_pad = op("zero_pad");
export const conv_single_step = op("conv_single_step");
export const conv_forward = op("conv_forward");
export const conv_backward = op("conv_backward");
export const pool_forward = op("pool_forward");
export const pool_backward = op("pool_backward");
export const create_mask_from_window = op("create_mask_from_window");
export const distribute_value = op("distribute_value");
export const relu = op("relu");
export const relu_backward = op("relu_backward");
export const flatten = op("flatten");
export const dense_forward = op("dense_forward");
export const dense_backward = op("dense_backward");
export const softmax = op("softmax");
export const softmax_cross_entropy = op("softmax_cross_entropy");
export const relu6 = op("relu6");
export const relu6_backward = op("relu6_backward");
export const clip = op("clip");
export const clip_backward = op("clip_backward");
export const leaky_relu = op("leaky_relu");
export const leaky_relu_backward = op("leaky_relu_backward");
export const sigmoid = op("sigmoid");
export const sigmoid_backward = op("sigmoid_backward");
export const hard_sigmoid = op("hard_sigmoid");
export const hard_sigmoid_backward = op("hard_sigmoid_backward");
export const hard_swish = op("hard_swish");
export const hard_swish_backward = op("hard_swish_backward");
export const swish = op("swish");
export const swish_backward = op("swish_backward");
export const batch_norm = op("batch_norm");
export const batch_norm_backward = op("batch_norm_backward");
export const add = op("add");
export const concat = op("concat");
export const concat_backward = op("concat_backward");
export const multiply = op("multiply");
export const multiply_backward = op("multiply_backward");
export const global_avg_pool = op("global_avg_pool");
export const global_avg_pool_backward = op("global_avg_pool_backward");
export const global_max_pool = op("global_max_pool");
export const global_max_pool_backward = op("global_max_pool_backward");
export const dropout = op("dropout");
export const dropout_backward = op("dropout_backward");
export {
  zero_pad as zeroPad,
  conv_single_step as convSingleStep,
  conv_forward as convForward,
  conv_backward as convBackward,
  pool_forward as poolForward,
  pool_backward as poolBackward,
  create_mask_from_window as createMaskFromWindow,
  distribute_value as distributeValue,
  relu_backward as reluBackward,
  dense_forward as denseForward,
  dense_backward as denseBackward,
  softmax_cross_entropy as softmaxCrossEntropy,
  relu6_backward as relu6Backward,
  clip_backward as clipBackward,
  leaky_relu as leakyRelu,
  leaky_relu_backward as leakyReluBackward,
  sigmoid_backward as sigmoidBackward,
  hard_sigmoid as hardSigmoid,
  hard_sigmoid_backward as hardSigmoidBackward,
  hard_swish as hardSwish,
  hard_swish_backward as hardSwishBackward,
  swish_backward as swishBackward,
  batch_norm as batchNorm,
  batch_norm_backward as batchNormBackward,
  concat_backward as concatBackward,
  multiply_backward as multiplyBackward,
  global_avg_pool as globalAvgPool,
  global_avg_pool_backward as globalAvgPoolBackward,
  global_max_pool as globalMaxPool,
  global_max_pool_backward as globalMaxPoolBackward,
  dropout_backward as dropoutBackward,
};
// </ops>

// ---- the model -------------------------------------------------------------------------------------

export interface BatchingOptions {
  /**
   * Most examples per batch (default 16): requests are gathered up to this, and a larger request is cut
   * into batches of this many, which run on all the workers side by side (no thread pool, so the
   * calling thread's event loop keeps its core).
   */
  maxBatch?: number;
  /**
   * The longest a request waits for others to join its batch while every worker is busy (ms, default 2).
   * While a worker is idle nothing waits: a batch runs at once with the requests of this tick, so a lone
   * request pays no window; under load, batches grow while the previous ones run.
   */
  windowMs?: number;
  /** Requests queued or running before new ones are refused with a BusyError (default 1024). */
  maxQueue?: number;
}

export interface AsyncPredictOptions extends Sync.PredictOptions {
  /** Reject with a TimeoutError when no answer came within this many ms (the work may still run). */
  timeout?: number;
}

interface Pending {
  m: number;
  resolve: (a: NDArray) => void;
  reject: (e: unknown) => void;
  timer: ReturnType<typeof setTimeout> | null;
  settled: boolean;
}

/**
 * A batch being filled. Its place among the model's reads and writes is taken when its first request
 * comes (so a write asked later waits for it), and it runs when `run` is given the batch.
 */
interface Filling {
  data: Float64Array;
  requests: Pending[];
  n: number;
  run: (parts: NDArray[]) => void;
}

let nextModel = 1;

const METHOD_ARGS: Record<ModelMethod, readonly string[]> = {
  create: ["inputShape", "layers", "options"],
  predict: ["X", "options"],
  evaluate: ["X", "Y"],
  fit: ["X", "Y", "options"],
  setWeights: ["arrays"],
  load: ["bytes"],
  save: [],
  drop: [],
  weights: [],
};

/** Longest delay a timer can wait (Node and browsers clamp longer ones to 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The largest buffer a predict() batch gathers in (maxBatch examples). */
const MAX_BATCH_BYTES = 2 ** 30;

/**
 * A duration option in ms: up to 2³¹ − 1 (timers clamp longer ones to 1 ms), above 0 unless `zero`;
 * Infinity (none) where `infinite`. Undefined stays undefined.
 */
function checkMs(fn: string, name: string, v: unknown, zero: boolean, infinite: boolean): number | undefined {
  if (v === undefined || (infinite && v === Infinity)) return undefined;
  if (typeof v !== "number" || !(zero ? v >= 0 : v > 0) || !(v <= MAX_TIMER_MS)) {
    const range = `${zero ? "[0" : "(0"}, ${MAX_TIMER_MS}]${infinite ? " or Infinity" : ""}`;
    throw new RangeError(`${fn}: ${name} expects a number of ms in ${range} but got ${describe(v)}`);
  }
  return v;
}

/** A flag in shared memory the calling thread sets to stop a worker's fit (null where there is none). */
function stopFlag(): Int32Array | null {
  return typeof SharedArrayBuffer === "function" && cores().isolated ? new Int32Array(new SharedArrayBuffer(4)) : null;
}

/**
 * A sequential model held by every worker (the same seeded weights): reads (predict, evaluate, save)
 * run on any worker, writes (fit, setWeights, load) on the first one and are then copied to the others
 * before their next read. A model's calls keep their order: a read sees every write asked before it,
 * and a write waits for the reads asked before it. Concurrent predict() requests are run in batches.
 */
export class AsyncSequential {
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  private readonly id: number;
  private readonly info: { summary: string; work: number };
  private weightsNow: Weights;
  private version = 0;
  private readonly versions: number[];
  private lastWrite: Promise<unknown> = Promise.resolve();
  private readonly reads = new Set<Promise<unknown>>();
  private readonly batching: Required<BatchingOptions>;
  /** The batch being filled: its buffer (the library's own, moved to the worker without a copy), requests, examples. */
  private filling: Filling | null = null;
  /** Batches of this model sent and not yet answered; a flush is due at the end of this tick. */
  private running = 0;
  private soon = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** predict() requests accepted and not yet answered. */
  private open = 0;
  private dropped = false;
  /** Stops the fits running now, giving the reason they reject with (dispose() calls them). */
  private readonly stops = new Set<(reason: Error) => void>();

  /** (made by sequential(), which builds it in every worker) */
  constructor(
    private readonly rt: Runtime,
    created: {
      inputShape: number[];
      outputShape: number[];
      work: number;
      summary: string;
      weights: Record<string, NDArray>;
    },
    id: number,
    batching: Required<BatchingOptions>,
  ) {
    this.id = id;
    this.inputShape = Object.freeze([...created.inputShape]);
    this.outputShape = Object.freeze([...created.outputShape]);
    this.info = { summary: created.summary, work: created.work };
    this.weightsNow = weightsOf(created.weights);
    this.versions = rt.workers.map(() => 0);
    this.batching = batching;
  }

  private call(method: ModelMethod, args: unknown[], route: Route = {}): Promise<unknown> {
    // (no check of `dropped` here: calls asked before dispose() run before the model is dropped)
    if (runtime(method) !== this.rt) {
      return Promise.reject(new Error(`${method}: this model was made before convwasm/async was disposed`));
    }
    return send(
      method,
      METHOD_ARGS[method],
      args,
      (_w, id, o) => ({ type: "model", id, model: this.id, method, args: o.args, buffers: o.buffers, pool: o.pool }),
      route,
      (w) => {
        // bring worker w's copy up to date before it reads
        if (this.versions[w] === this.version) return null;
        this.versions[w] = this.version;
        return { type: "sync", model: this.id, weights: this.weightsNow };
      },
    );
  }

  private read<T>(start: () => Promise<T>): Promise<T> {
    const p = this.lastWrite.then(start, start);
    const tracked = p.catch(() => undefined);
    this.reads.add(tracked);
    void tracked.then(() => this.reads.delete(tracked));
    return p;
  }

  private write<T>(start: () => Promise<T>): Promise<T> {
    // the batch being filled was asked before this write: it runs now, before it
    this.flush();
    const p = Promise.allSettled([this.lastWrite, ...this.reads]).then(start);
    this.lastWrite = p.catch(() => undefined);
    this.reads.clear();
    return p;
  }

  /** The workers were replaced and made this model again from its seed: each is brought up to date before its next read. */
  replaced(): void {
    this.versions.fill(this.version === 0 ? 0 : -1);
  }

  /** Refuses a call asked after dispose(). */
  private live(fn: string): void {
    if (this.dropped) throw new Error(`${fn}: this model was disposed`);
  }

  /**
   * A write on the first worker: afterwards its weights are the model's, and the others are behind. A
   * write that fails may have changed part of them (a fit stopped after some batches): the first
   * worker's weights are then taken all the same, so that every replica answers alike.
   */
  private async written(method: ModelMethod, args: unknown[], route: Route = {}): Promise<unknown> {
    const first = { eligible: (w: number) => w === 0 };
    const adopt = (r: unknown) => {
      this.weightsNow = weightsOf((r as { weights: Record<string, NDArray> }).weights);
      this.version++;
      this.versions[0] = this.version;
    };
    try {
      const r = await this.call(method, args, { ...route, ...first });
      adopt(r);
      return r;
    } catch (e) {
      await this.call("weights", [], first).then(adopt, () => undefined);
      throw e;
    }
  }

  /** Multiply-adds of one example (predict's cost per example). */
  get work(): number {
    return this.info.work;
  }

  summary(): Promise<string> {
    return Promise.resolve(this.info.summary);
  }

  /** Copies of the parameters, by name. */
  weights(): Promise<Record<string, NDArray>> {
    return this.whenLive("weights", () =>
      this.read(async () =>
        Object.fromEntries(Object.entries(this.weightsNow).map(([k, w]) => [k, new NDArray(w.data.slice(), w.shape)])),
      ),
    );
  }

  /** As Sequential.setWeights: all or nothing, on every replica. */
  setWeights(arrays: Record<string, NDArray>): Promise<void> {
    return this.whenLive("setWeights", () =>
      this.write(() => this.written("setWeights", [arrays], { anyKeys: [true] }).then(() => undefined)),
    );
  }

  load(bytes: Uint8Array): Promise<void> {
    return this.whenLive("load", () => this.write(() => this.written("load", [bytes]).then(() => undefined)));
  }

  save(): Promise<Uint8Array> {
    return this.whenLive("save", () => this.read(() => this.call("save", []) as Promise<Uint8Array>));
  }

  /** A rejected promise for a call asked after dispose() (or with arguments refused at once), else `f()`. */
  private whenLive<T>(fn: string, f: () => Promise<T>): Promise<T> {
    try {
      this.live(fn);
      return f();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * As Sequential.fit, on the first worker's pool; onEpoch/onBatch are called on this thread as the
   * worker reports. A callback that throws stops training (before the next batch) and fit rejects with
   * its error; so does options.signal (an AbortSignal) when it aborts, and dispose() of the model. The
   * weights are then those of the last batch run, on every replica. (Where there is no shared memory
   * (a page that is not cross-origin isolated), training runs to its end before fit rejects.)
   */
  fit(X: NDArray, Y: Sync.Labels, options?: Sync.FitOptions): Promise<Sync.EpochLog[]> {
    const fn = "fit";
    return this.whenLive(fn, () => {
      if (options !== undefined && (options === null || typeof options !== "object")) {
        throw new TypeError(`${fn}: options expects an object but got ${describe(options)}`);
      }
      const { signal, ...rest } = { ...options };
      if (signal !== undefined && (signal === null || typeof signal !== "object")) {
        throw new TypeError(`${fn}: options.signal expects an AbortSignal but got ${describe(signal)}`);
      }
      if (signal?.aborted) throw new Error(`${fn}: options.signal was aborted before training began`);
      const stop = stopFlag();
      let reason: Error | null = null;
      const halt = (why?: Error) => {
        reason ??= why ?? null;
        if (stop) Atomics.store(stop, 0, 1);
      };
      const aborted = () => halt();
      const abortable = signal as Partial<AbortSignal> | undefined;
      abortable?.addEventListener?.("abort", aborted);
      this.stops.add(halt);
      return this.write(async () => {
        const r = await this.written(fn, [X, Y, { ...rest, stop: stop ?? undefined }], { exclusive: true, stop: halt });
        return (r as { history: Sync.EpochLog[] }).history;
      })
        .catch((e: unknown) => {
          throw reason ?? e;
        })
        .finally(() => {
          abortable?.removeEventListener?.("abort", aborted);
          this.stops.delete(halt);
        });
    });
  }

  evaluate(X: NDArray, Y: Sync.Labels): Promise<{ loss: number; accuracy: number }> {
    return this.whenLive("evaluate", () =>
      this.read(
        () =>
          this.call("evaluate", [X, Y], { work: (s) => (s[0]?.[0] ?? 0) * this.info.work }) as Promise<{
            loss: number;
            accuracy: number;
          }>,
      ),
    );
  }

  /**
   * As Sequential.predict, micro-batched: requests arriving within `windowMs` of each other (up to
   * `maxBatch` examples) run as one batch and are split back, each the same bits as alone. Refused with
   * a BusyError when `maxQueue` requests are open; rejected with a TimeoutError after `options.timeout`.
   */
  predict(X: NDArray | Float32Array | Float64Array, options: AsyncPredictOptions = {}): Promise<NDArray> {
    const fn = "predict";
    return new Promise<NDArray>((resolve, reject) => {
      if (this.dropped) throw new Error(`${fn}: this model was disposed`);
      runtime(fn);
      if (options !== undefined && (options === null || typeof options !== "object")) {
        throw new TypeError(`${fn}: options expects an object but got ${describe(options)}`);
      }
      const { batchSize, checkFinite, timeout: asked } = { ...options };
      if (batchSize !== undefined) checkInteger(fn, "options.batchSize", batchSize, 1);
      const timeout = checkMs(fn, "options.timeout", asked, false, true);
      const x = examples(fn, X, this.inputShape, true);
      if (checkFinite === true) assertFinite(fn, "X", x);
      if (this.open >= this.batching.maxQueue) {
        throw new BusyError(`${fn}: the model's queue is full (${this.open} requests open); wait for some to finish`);
      }
      const m = x.shape[0];
      const req: Pending = { m, resolve, reject, timer: null, settled: false };
      this.open++;
      const settle = (f: () => void) => {
        if (req.settled) return;
        req.settled = true;
        this.open--;
        if (req.timer !== null) clearTimeout(req.timer);
        f();
      };
      req.resolve = (a) => settle(() => resolve(a));
      req.reject = (e) => settle(() => reject(e));
      if (timeout !== undefined) {
        // (a request timed out in a batch still fills its rows; its answer is dropped)
        req.timer = setTimeout(
          () => req.reject(new TimeoutError(`${fn}: no answer within options.timeout (${timeout} ms)`)),
          timeout,
        );
      }
      if (m === 0) return req.resolve(new NDArray(new Float64Array(0), [0, ...this.outputShape]));
      if (m >= this.batching.maxBatch || batchSize !== undefined) {
        // alone, cut into batches on every worker
        return void this.runAlone(req, x, batchSize ?? this.batching.maxBatch);
      }
      // copied at once into the batch being filled (the caller may reuse X as soon as this returns)
      if (this.filling && this.filling.n + m > this.batching.maxBatch) this.flush();
      const per = sizeOf(this.inputShape);
      const f = (this.filling ??= this.newBatch(per));
      copyStrided(x, f.data, f.n * per);
      f.requests.push(req);
      f.n += m;
      if (f.n === this.batching.maxBatch) this.flush();
      else if (this.running < this.rt.workers.length) {
        // a worker is idle: run with whatever this turn of the event loop brings
        if (!this.soon) {
          this.soon = true;
          // (after this turn of the event loop: requests arriving in the same turn join)
          void yieldToLoop().then(() => {
            this.soon = false;
            if (this.running < this.rt.workers.length) this.flush();
          });
        }
      } else this.timer ??= setTimeout(() => this.flush(), this.batching.windowMs);
    });
  }

  private newBatch(per: number): Filling {
    let run!: (parts: NDArray[]) => void;
    const given = new Promise<NDArray[]>((r) => (run = r));
    const f: Filling = { data: lent(this.batching.maxBatch * per), requests: [], n: 0, run };
    const answered = () => {
      // a worker is free: the requests that gathered meanwhile go now
      this.running--;
      if (this.filling) this.flush();
    };
    this.read(() =>
      given.then((parts) =>
        Promise.all(parts.map((x) => (this.call("predict", [x, {}]) as Promise<NDArray>).finally(answered))),
      ),
    ).then(
      (Ps) => {
        const size = sizeOf(this.outputShape);
        const P = Ps.length === 1 ? Ps[0].data : Float64Array.from(Ps.flatMap((p) => Array.from(p.data)));
        let row = 0;
        for (const r of f.requests) {
          const part = new NDArray(P.slice(row * size, (row + r.m) * size), [r.m, ...this.outputShape]);
          row += r.m;
          r.resolve(part);
        }
      },
      (e: unknown) => f.requests.forEach((r) => r.reject(e)),
    );
    return f;
  }

  /**
   * Runs the batch being filled: as one batch, or cut (at request boundaries) into one part per idle
   * worker, so that requests arriving together never wait for one worker while another is free.
   */
  private flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const f = this.filling;
    this.filling = null;
    if (!f) return;
    const per = sizeOf(this.inputShape);
    const k = Math.max(1, Math.min(f.requests.length, this.rt.workers.length - this.running));
    const parts: NDArray[] = [];
    for (let j = 0, r = 0, row = 0; j < k; j++) {
      // requests r.. whose rows make about the j-th k-th of the batch
      let rows = 0;
      while (r < f.requests.length && (rows === 0 || row + rows < Math.round(((j + 1) * f.n) / k))) {
        rows += f.requests[r++].m;
      }
      if (j === k - 1) while (r < f.requests.length) rows += f.requests[r++].m;
      if (rows === 0) continue;
      // the first part keeps the batch's buffer (moved to its worker); the others are copied out of it
      const data = j === 0 ? f.data : lent(rows * per);
      if (j > 0) data.set(f.data.subarray(row * per, (row + rows) * per));
      parts.push(new NDArray(data, [rows, ...this.inputShape]));
      row += rows;
    }
    this.running += parts.length;
    f.run(parts);
  }

  private predictOn(x: NDArray, options: Sync.PredictOptions = {}): Promise<NDArray> {
    return this.read(() => this.call("predict", [x, options]) as Promise<NDArray>);
  }

  /** A request of many examples: its rows in batches of `size`, side by side on the workers, put together. */
  private runAlone(req: Pending, x: NDArray, size: number): void {
    const m = x.shape[0];
    const parts: Promise<NDArray>[] = [];
    for (let i0 = 0; i0 < m; i0 += size) {
      const rows = Math.min(size, m - i0);
      const view = new NDArray(x.data, [rows, ...x.shape.slice(1)], x.strides, x.offset + i0 * x.strides[0]);
      parts.push(this.predictOn(view, { batchSize: rows }));
    }
    Promise.all(parts).then((Ps) => {
      if (Ps.length === 1) return req.resolve(Ps[0]);
      const per = sizeOf(this.outputShape);
      const out = new Float64Array(m * per);
      Ps.forEach((P, j) => out.set(P.data.subarray(0, P.size), j * size * per));
      req.resolve(new NDArray(out, [m, ...this.outputShape]));
    }, req.reject);
  }

  /**
   * Frees the model in every worker. Calls asked before it finish (a fit running now is stopped before
   * its next batch and rejects); calls asked after it are refused.
   */
  dispose(): Promise<void> {
    if (this.dropped) return Promise.resolve();
    for (const halt of this.stops) halt(new Error("fit: the model was disposed during training"));
    const done = this.write(() => {
      this.rt.models.delete(this.id);
      return Promise.all(
        this.rt.workers.map((_, w) => this.call("drop", [], { eligible: (j) => j === w }).catch(() => undefined)),
      ).then(() => undefined);
    });
    this.dropped = true;
    return done;
  }
}

/** Weights the model's copies are brought up to date with: in shared memory when there is some (no copy per worker). */
function weightsOf(arrays: Record<string, NDArray>): Weights {
  const out: Weights = {};
  for (const [k, a] of Object.entries(arrays)) {
    out[k] = { shape: [...a.shape], data: shared(a).data };
  }
  return out;
}

/**
 * As convwasm's sequential(), in every worker (the same seed, so the same weights); resolves to the
 * model. `batching` sets how predict() requests are batched.
 */
export async function sequential(
  inputShape: readonly number[],
  specs: readonly Sync.LayerSpec[],
  options: { seed?: number; batching?: BatchingOptions } = {},
): Promise<AsyncSequential> {
  const shape: unknown = Array.isArray(inputShape) ? [...inputShape] : inputShape;
  return create("sequential", shape, [shape, specs], ["inputShape", "layers"], options, false);
}

/**
 * As convwasm's model(inputs, outputs): a functional model (one input and one output), made in every
 * worker from the graph's description; resolves to the model, with the same methods as sequential()'s.
 */
export async function model(
  inputs: SymbolicTensor | readonly SymbolicTensor[],
  outputs: SymbolicTensor | readonly SymbolicTensor[],
  options: { seed?: number; batching?: BatchingOptions } = {},
): Promise<AsyncSequential> {
  const fn = "model";
  const [ins, outs] = [inputs, outputs].map((v) => (Array.isArray(v) ? [...v] : [v]));
  [ins, outs].forEach((list, j) =>
    list.forEach((t, i) => {
      if (!(t instanceof SymbolicTensor)) {
        const name = j === 0 ? "inputs" : "outputs";
        throw new TypeError(
          `${fn}: ${name}[${i}] expects a value of the graph (input(…) or a layer's output) but got ${describe(t)}`,
        );
      }
    }),
  );
  if (ins.length !== 1 || outs.length !== 1) {
    throw new RangeError(
      `${fn}: convwasm/async runs models of one input and one output, but this one has ${ins.length} and ${outs.length}`,
    );
  }
  const graph = describeGraph(fn, ins as SymbolicTensor[], outs as SymbolicTensor[]);
  return create(fn, graph.inputs[0], [graph], ["graph"], options, true);
}

/** Makes a model in every worker from `args` (a graph's description keeps every key of its specs). */
async function create(
  fn: string,
  shape: unknown,
  args: unknown[],
  names: string[],
  options: { seed?: number; batching?: BatchingOptions },
  graph: boolean,
): Promise<AsyncSequential> {
  const rt = runtime(fn);
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options expects an object but got ${describe(options)}`);
  }
  const { seed, batching = {} } = { ...options };
  if (batching === null || typeof batching !== "object") {
    throw new TypeError(`${fn}: options.batching expects an object but got ${describe(batching)}`);
  }
  const b = { ...batching };
  const cfg: Required<BatchingOptions> = {
    maxBatch: checkInteger(fn, "options.batching.maxBatch", b.maxBatch ?? 16, 1),
    windowMs: checkMs(fn, "options.batching.windowMs", b.windowMs ?? 2, true, false)!,
    maxQueue: checkInteger(fn, "options.batching.maxQueue", b.maxQueue ?? 1024, 1),
  };
  const per = Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d > 0) ? sizeOf(shape) : 1;
  if (cfg.maxBatch * per * 8 > MAX_BATCH_BYTES) {
    throw new RangeError(
      `${fn}: options.batching.maxBatch expects batches of at most ${MAX_BATCH_BYTES} bytes but ${cfg.maxBatch} ` +
        `examples of ${per} values make ${cfg.maxBatch * per * 8}`,
    );
  }
  const id = nextModel++;
  let create: (Request & { type: "model" }) | null = null;
  const made = await Promise.all(
    rt.workers.map((_, w) =>
      send(
        fn,
        [...names, "options"],
        [...args, { seed }],
        (_w, rid, o) =>
          (create = {
            type: "model",
            id: rid,
            model: id,
            method: "create",
            args: o.args,
            buffers: o.buffers,
            pool: false,
          }),
        { eligible: (j) => j === w, anyKeys: [graph] },
      ),
    ),
  );
  const model = new AsyncSequential(rt, made[0] as ConstructorParameters<typeof AsyncSequential>[1], id, cfg);
  // (how to make it again in a worker that release() starts)
  rt.models.set(id, { create: create!, replaced: () => model.replaced() });
  return model;
}
