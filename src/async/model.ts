// convwasm/async's models: sequential() and model() made in every worker, predict() micro-batched
// across the workers, writes (fit, setWeights, load) run on the first worker and copied to the others.
import type * as Sync from "../index.js";
import {
  NDArray,
  assertFinite,
  assertFiniteValues,
  copyStrided,
  describe,
  sizeOf,
  F64_BYTES,
} from "../core/ndarray.js";
import { checkInteger } from "../core/shapes.js";
import { examples, examplesIn } from "../model/layers.js";
import { checkPrecision, compiledPrecision } from "../model/model.js";
import { SymbolicTensor, describeGraph, type GraphDescription } from "../graph/graph.js";
import { lent, recycler, yieldToLoop } from "./wire.js";
import { type ModelMethod, type Request, type Weights } from "./protocol.js";
import { BusyError, TimeoutError, type Runtime, type Route, runtime, send } from "./scheduler.js";
import { cores, shared } from "./endpoint.js";

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
  /** The precision its requests asked for (requests of another precision start another batch). */
  precision: Sync.Precision;
  /** float32 for a float32 plan: the plan reads it as it is, and a Float32Array request is copied, not widened. */
  data: Float64Array | Float32Array;
  requests: Pending[];
  n: number;
  run: (parts: (NDArray | Float32Array)[]) => void;
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
/** Most bytes a batch that waits for a worker reserves before its requests come (it grows past it). */
const GATHER_BYTES = 2 ** 25;

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
  /** onBatch()'s listeners. */
  private readonly batchListeners = new Set<(examples: number) => void>();
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

  /** predict()'s precision when its options name none: compile({ precision }) sets it (as Model.compile). */
  private precision: Sync.Precision = "f64";

  /** As Model.compile: `{ precision: "f32" }` makes predict() run float32 plans from now on. */
  compile(options: Sync.CompileOptions): this {
    this.precision = compiledPrecision("compile", options, this.precision);
    return this;
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

  /** predict() requests accepted and not yet answered (queued or running): the queue's depth. */
  get pending(): number {
    return this.open;
  }

  /**
   * Calls `listener` with the examples of every predict() batch as it is sent to a worker (for metrics:
   * how well requests are being batched). Returns a function that removes it. A listener that throws
   * is removed; the batch runs regardless.
   */
  onBatch(listener: (examples: number) => void): () => void {
    if (typeof listener !== "function") {
      throw new TypeError(`onBatch: listener expects a function but got ${describe(listener)}`);
    }
    this.batchListeners.add(listener);
    return () => void this.batchListeners.delete(listener);
  }

  private batched(examples: number): void {
    for (const l of this.batchListeners) {
      try {
        l(examples);
      } catch {
        this.batchListeners.delete(l);
      }
    }
  }

  /**
   * As Sequential.predict, micro-batched: requests arriving within `windowMs` of each other (up to
   * `maxBatch` examples) run as one batch and are split back, each the same bits as alone. Refused with
   * a BusyError when `maxQueue` requests are open; rejected with a TimeoutError after `options.timeout`.
   */
  predict(
    X: NDArray | Float32Array | Float64Array,
    options: AsyncPredictOptions & { output: "Float32Array" },
  ): Promise<Float32Array>;
  predict(X: NDArray | Float32Array | Float64Array, options?: AsyncPredictOptions): Promise<NDArray>;
  predict(
    X: NDArray | Float32Array | Float64Array,
    options: AsyncPredictOptions = {},
  ): Promise<NDArray | Float32Array> {
    const fn = "predict";
    return new Promise<NDArray | Float32Array>((resolve, reject) => {
      if (this.dropped) throw new Error(`${fn}: this model was disposed`);
      runtime(fn);
      if (options !== undefined && (options === null || typeof options !== "object")) {
        throw new TypeError(`${fn}: options expects an object but got ${describe(options)}`);
      }
      const { batchSize, checkFinite, timeout: asked, precision: p, output = "NDArray" } = { ...options };
      if (batchSize !== undefined) checkInteger(fn, "options.batchSize", batchSize, 1);
      if (output !== "NDArray" && output !== "Float32Array") {
        throw new TypeError(`${fn}: options.output expects "NDArray" or "Float32Array" but got ${describe(output)}`);
      }
      const precision = checkPrecision(fn, p ?? this.precision);
      const timeout = checkMs(fn, "options.timeout", asked, false, true);
      // (flat examples are copied straight into the batch: never widened into an array of their own,
      // whose fresh pages would cost the event loop ~3 ms a MB)
      const flat = X instanceof Float32Array || X instanceof Float64Array;
      const x = flat ? X : examples(fn, X, this.inputShape, true);
      const m = x instanceof NDArray ? x.shape[0] : examplesIn(fn, x, this.inputShape);
      if (checkFinite === true) {
        if (x instanceof NDArray) assertFinite(fn, "X", x);
        else assertFiniteValues(fn, "X", x, [m, ...this.inputShape]);
      }
      if (this.open >= this.batching.maxQueue) {
        throw new BusyError(`${fn}: the model's queue is full (${this.open} requests open); wait for some to finish`);
      }
      const req: Pending = { m, resolve, reject, timer: null, settled: false };
      this.open++;
      const settle = (f: () => void) => {
        if (req.settled) return;
        req.settled = true;
        this.open--;
        if (req.timer !== null) clearTimeout(req.timer);
        f();
      };
      // (narrowed here: a batch's answer is one float64 buffer for all its requests)
      req.resolve = (a) =>
        settle(() =>
          resolve(output === "Float32Array" ? Float32Array.from(a.data.subarray(a.offset, a.offset + a.size)) : a),
        );
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
        return void this.runAlone(req, x, batchSize ?? this.batching.maxBatch, precision);
      }
      // copied at once into the batch being filled (the caller may reuse X as soon as this returns)
      const full = this.filling && this.filling.n + m > this.batching.maxBatch;
      if (full || (this.filling && this.filling.precision !== precision)) this.flush();
      const per = sizeOf(this.inputShape);
      const f = (this.filling ??= this.newBatch(precision));
      // (the batch's buffer grows as requests join, by doubling: a lone request's batch is its own size,
      // so its buffer is one of the recycler's, not fresh pages of maxBatch examples. A batch that will
      // wait for a worker gathers many: it starts with room for them (up to GATHER_BYTES), since each
      // doubling copies what it holds on this thread, megabytes at once for images)
      if ((f.n + m) * per > f.data.length) {
        const waits = this.running >= this.rt.workers.length;
        const room = waits
          ? Math.min(this.batching.maxBatch, Math.floor(GATHER_BYTES / f.data.BYTES_PER_ELEMENT / per)) * per
          : 0;
        const grown = lent(Math.max((f.n + m) * per, 2 * f.data.length, room), f.data instanceof Float32Array);
        grown.set(f.data.subarray(0, f.n * per));
        if (f.data.length > 0) recycler.give(f.data.buffer);
        f.data = grown;
      }
      if (x instanceof NDArray) copyStrided(x, f.data, f.n * per);
      else f.data.set(x, f.n * per);
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

  /** `rows` examples at the start of `data` as predict takes them: float32 flat (read as they are), float64 an NDArray. */
  private asInput(data: Float64Array | Float32Array, rows: number): NDArray | Float32Array {
    return data instanceof Float32Array
      ? data.subarray(0, rows * sizeOf(this.inputShape))
      : new NDArray(data, [rows, ...this.inputShape]);
  }

  private newBatch(precision: Sync.Precision): Filling {
    let run!: Filling["run"];
    const given = new Promise<(NDArray | Float32Array)[]>((r) => (run = r));
    const data = precision === "f32" ? new Float32Array(0) : new Float64Array(0);
    const f: Filling = { precision, data, requests: [], n: 0, run };
    const answered = () => {
      // a worker is free: the requests that gathered meanwhile go now
      this.running--;
      if (this.filling) this.flush();
    };
    this.read(() =>
      given.then((parts) =>
        Promise.all(parts.map((x) => (this.call("predict", [x, { precision }]) as Promise<NDArray>).finally(answered))),
      ),
    ).then(
      (Ps) => {
        const size = sizeOf(this.outputShape);
        const P = Ps.length === 1 ? Ps[0].data : Float64Array.from(Ps.flatMap((p) => Array.from(p.data)));
        let row = 0;
        const parts = f.requests.map((r) => {
          const part = new NDArray(P.slice(row * size, (row + r.m) * size), [r.m, ...this.outputShape]);
          row += r.m;
          return part;
        });
        // one answer per turn of the event loop: what each caller does with its answer (a server's
        // response) then runs between timers and I/O, not a whole batch's worth in one block
        const deliver = (i: number): void => {
          f.requests[i].resolve(parts[i]);
          if (i + 1 < parts.length) void yieldToLoop().then(() => deliver(i + 1));
        };
        deliver(0);
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
    const parts: (NDArray | Float32Array)[] = [];
    const sizes: number[] = [];
    for (let j = 0, r = 0, row = 0; j < k; j++) {
      // requests r.. whose rows make about the j-th k-th of the batch
      let rows = 0;
      while (r < f.requests.length && (rows === 0 || row + rows < Math.round(((j + 1) * f.n) / k))) {
        rows += f.requests[r++].m;
      }
      if (j === k - 1) while (r < f.requests.length) rows += f.requests[r++].m;
      if (rows === 0) continue;
      // the first part keeps the batch's buffer (lent to its worker); the others are copied out of it
      const data = j === 0 ? f.data : lent(rows * per, f.data instanceof Float32Array);
      if (j > 0) data.set(f.data.subarray(row * per, (row + rows) * per));
      parts.push(this.asInput(data, rows));
      sizes.push(rows);
      row += rows;
    }
    this.running += parts.length;
    for (const rows of sizes) this.batched(rows);
    f.run(parts);
  }

  private predictOn(x: NDArray | Float32Array | Float64Array, options: Sync.PredictOptions = {}): Promise<NDArray> {
    return this.read(() => this.call("predict", [x, options]) as Promise<NDArray>);
  }

  /** A request of many examples: its rows in batches of `size`, side by side on the workers, put together. */
  private runAlone(
    req: Pending,
    x: NDArray | Float32Array | Float64Array,
    size: number,
    precision: Sync.Precision,
  ): void {
    const m = req.m;
    const per = sizeOf(this.inputShape);
    const parts: Promise<NDArray>[] = [];
    for (let i0 = 0; i0 < m; i0 += size) {
      const rows = Math.min(size, m - i0);
      // copied now, as a batch's requests are: the caller may reuse X as soon as predict returns
      // (a server hands a decoded image's buffer back to its decoder then)
      const part = lent(rows * per, precision === "f32");
      if (x instanceof NDArray) {
        copyStrided(new NDArray(x.data, [rows, ...x.shape.slice(1)], x.strides, x.offset + i0 * x.strides[0]), part, 0);
      } else part.set(x.subarray(i0 * per, (i0 + rows) * per));
      this.batched(rows);
      parts.push(this.predictOn(this.asInput(part, rows), { batchSize: rows, precision }));
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

type Made = ConstructorParameters<typeof AsyncSequential>;

/** A model of a graph's description in every worker, made by `make` (convwasm/async's loadOnnx: its subclass). */
export function fromGraph<M extends AsyncSequential>(
  fn: string,
  graph: GraphDescription,
  options: { seed?: number; batching?: BatchingOptions },
  make: (...args: Made) => M,
  /** false: no weights drawn (they are set next, as an import's). */
  random = true,
): Promise<M> {
  return create(fn, graph.inputs[0], [graph], ["graph"], options, true, make, random);
}

/** Makes a model in every worker from `args` (a graph's description keeps every key of its specs). */
async function create<M extends AsyncSequential = AsyncSequential>(
  fn: string,
  shape: unknown,
  args: unknown[],
  names: string[],
  options: { seed?: number; batching?: BatchingOptions },
  graph: boolean,
  make: (...args: Made) => M = (...args: Made) => new AsyncSequential(...args) as M,
  random = true,
): Promise<M> {
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
  if (cfg.maxBatch * per * F64_BYTES > MAX_BATCH_BYTES) {
    throw new RangeError(
      `${fn}: options.batching.maxBatch expects batches of at most ${MAX_BATCH_BYTES} bytes but ${cfg.maxBatch} ` +
        `examples of ${per} values make ${cfg.maxBatch * per * F64_BYTES}`,
    );
  }
  const id = nextModel++;
  let create: (Request & { type: "model" }) | null = null;
  const made = await Promise.all(
    rt.workers.map((_, w) =>
      send(
        fn,
        [...names, "options"],
        [...args, random ? { seed } : { seed, random }],
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
  const model = make(rt, made[0] as Made[1], id, cfg);
  // (how to make it again in a worker that release() starts)
  rt.models.set(id, { create: create!, replaced: () => model.replaced() });
  return model;
}
