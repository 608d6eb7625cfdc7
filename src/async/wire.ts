// Values crossing between the calling thread and convwasm/async's workers. Arrays travel as regions of
// buffers, never as structured clones of big objects: a SharedArrayBuffer is passed as is (no copy at
// all); of any other buffer, the range the call's arrays reach is copied into a recycled ArrayBuffer,
// in slices between which the calling thread's event loop runs, and that copy is transferred (moved, not
// copied). Views keep their shapes, strides and offsets, and arrays sharing a buffer still share one in
// the worker, so the ops' own checks (an out overlapping an input) see what the caller passed.
import { NDArray, describe, extent, indexOf, messageOf, snapshot, F64_BYTES } from "../core/ndarray.js";
import type { Optimizer, OptimizerConfig } from "../model/optimizers.js";

const TYPED = { Float64Array, Float32Array, Uint8Array, Int32Array } as const;
type TypedName = keyof typeof TYPED;
type Typed = Float64Array | Float32Array | Uint8Array | Int32Array;

/** A view of buffer `buffer` of the message: shape, strides, offset (elements from the buffer's start). */
interface View {
  buffer: number;
  shape: number[];
  strides: number[];
  offset: number;
}

/** An encoded value (plain objects are wrapped, so no user key can pass for a tag). */
export type Wire =
  | null
  | undefined
  | boolean
  | number
  | string
  | Wire[]
  | { $obj: Record<string, Wire> }
  /** An argument array (number `$nd` of the call), and whether an op may write it (options.out). */
  | ({ $nd: number; out?: true } & View)
  | { $typed: TypedName; buffer: number; byteOffset: number; length: number }
  | { $fn: number }
  | { $opt: number; config: OptimizerConfig }
  /** Results: argument array number $arg itself; a view of the call's buffers; a new buffer's view. */
  | { $arg: number }
  | ({ $in: true } & View)
  | ({ $new: true } & View)
  | { $newTyped: TypedName; buffer: number; byteOffset: number; length: number };

/** Bytes copied per slice before the calling thread lets its event loop run. */
const SLICE_BYTES = 1 << 18;
const MAX_DEPTH = 32;
/** Values one call's plain arguments may hold (numbers in plain arrays included): past it, a named RangeError. */
const MAX_VALUES = 1 << 20;

export const isShared = (b: ArrayBufferLike): boolean =>
  typeof SharedArrayBuffer === "function" && b instanceof SharedArrayBuffer;

const f64Over = (b: ArrayBufferLike) => new Float64Array(b, 0, Math.floor(b.byteLength / F64_BYTES));

/** Lets the event loop run (a macrotask: timers and I/O get their turn). */
export function yieldToLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => void };
  if (g.setImmediate) return new Promise((r) => g.setImmediate!(r));
  return new Promise((r) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      r();
    };
    port2.postMessage(null);
  });
}

/**
 * Every call's copies, one after another: a slice at a time, with the event loop let run after each
 * SLICE_BYTES copied in all (not per call: 64 calls of 100 KB arriving at once must not copy 6 MB in one
 * tick). A small copy when little was copied since the last turn of the loop happens at once.
 */
class Copier {
  private since = 0;
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;

  /**
   * Copies bytes [lo, lo + n) of `source` into `to`. The caller may detach (transfer) or shrink its buffer
   * while the event loop runs between slices: `gone` is thrown then, and `to` must not be sent.
   */
  copy(source: ArrayBufferLike, lo: number, n: number, to: Uint8Array, gone: () => Error): Promise<void> {
    const slice = (at: number, end: number) => {
      if (source.byteLength < lo + n) throw gone();
      to.set(new Uint8Array(source, lo + at, end - at), at);
    };
    if (this.queued === 0 && this.since + n <= SLICE_BYTES) {
      try {
        slice(0, n);
      } catch (e) {
        return Promise.reject(e);
      }
      this.since += n;
      if (this.since === n) void yieldToLoop().then(() => (this.since = 0));
      return Promise.resolve();
    }
    this.queued++;
    const run = async () => {
      for (let at = 0; at < n;) {
        if (this.since >= SLICE_BYTES) {
          await yieldToLoop();
          this.since = 0;
        }
        const end = Math.min(n, at + SLICE_BYTES - this.since);
        slice(at, end);
        this.since += end - at;
        at = end;
      }
    };
    const done = this.chain.then(run).finally(() => this.queued--);
    this.chain = done.catch(() => undefined);
    return done;
  }
}
const copier = new Copier();

/**
 * ArrayBuffers that came back from the workers, reused so the calling thread rarely touches fresh
 * memory; and the library's own batch buffers, shared memory where there is some (`lent`).
 */
class Recycler<B extends ArrayBufferLike> {
  private readonly free = new Map<number, B[]>();
  private bytes = 0;
  /** Most bytes of spare buffers kept (init() sets it to maxQueueBytes). */
  limit = 64 << 20;

  constructor(private readonly make: (bytes: number) => B) {}

  take(n: number): B {
    const size = n <= 4096 ? 4096 : 2 ** Math.ceil(Math.log2(n));
    const b = this.free.get(size)?.pop();
    if (b) {
      this.bytes -= size;
      return b;
    }
    return this.make(size);
  }

  /** Drops every spare buffer (convwasm/async's release()). */
  clear(): void {
    this.free.clear();
    this.bytes = 0;
  }

  give(b: B): void {
    const size = b.byteLength;
    if (size < 4096 || (size & (size - 1)) !== 0 || this.bytes + size > this.limit) return;
    const list = this.free.get(size) ?? [];
    list.push(b);
    this.free.set(size, list);
    this.bytes += size;
  }
}
const copies = new Recycler((n) => new ArrayBuffer(n));
/**
 * Batch buffers in shared memory: lent to a worker by reference and taken back when it answers. A
 * buffer moved (transferred) back to this thread counts as new external memory here until a full
 * collection finds its old wrapper, so megabytes of batches moving to and fro made V8 run a full GC of
 * the calling thread every few batches (5-20 ms pauses of a server's event loop). Not in a page that
 * is not cross-origin isolated, which cannot post shared memory.
 */
const batches =
  typeof SharedArrayBuffer === "function" &&
  (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false
    ? new Recycler((n) => new SharedArrayBuffer(n))
    : null;

/** The spare buffers of both kinds. */
export const recycler = {
  set limit(bytes: number) {
    copies.limit = bytes;
    if (batches) batches.limit = bytes;
  },
  clear(): void {
    copies.clear();
    batches?.clear();
  },
  /** Gives back a buffer of either kind (a shared one is only ever the library's own). */
  give(b: ArrayBufferLike): void {
    if (isShared(b)) batches?.give(b as SharedArrayBuffer);
    else copies.give(b as ArrayBuffer);
  },
};

/** Buffers the library filled itself (a predict batch): sent to the worker as they are, no copy. */
const own = new WeakSet<ArrayBufferLike>();

/**
 * An array of n elements (float64, or float32 where `f32`) over a recycled buffer of the library's own
 * (its contents are garbage).
 */
export function lent(n: number): Float64Array;
export function lent(n: number, f32: boolean): Float64Array | Float32Array;
export function lent(n: number, f32 = false): Float64Array | Float32Array {
  const b: ArrayBufferLike = (batches ?? copies).take(n * (f32 ? 4 : F64_BYTES));
  own.add(b);
  return f32 ? new Float32Array(b, 0, n) : new Float64Array(b, 0, n);
}

function read(fn: string, o: object, key: string | number, path: string): unknown {
  try {
    return (o as Record<string | number, unknown>)[key];
  } catch (e) {
    throw new TypeError(`${fn}: reading ${path} threw: ${messageOf(e)}`, { cause: e });
  }
}

/** A buffer of the caller's that some argument reaches: the byte range sent, and what was sent. */
interface Region {
  source: ArrayBufferLike;
  lo: number;
  hi: number;
  sent: ArrayBufferLike | null;
  /** The argument that first reached it, for errors. */
  path: string;
}

/** Which keys of a plain object an op or method may read: the others are never read nor sent. */
export type Keys = (key: string) => boolean;

/**
 * One call's arguments on their way out: encode() walks them (reading each field once), send() copies
 * the regions and says what to post and transfer; answer() turns the worker's answer back into values
 * over the caller's own buffers, after copying what an op wrote into an `out` back into it.
 */
export class Outgoing {
  private readonly regions: Region[] = [];
  private readonly byBuffer = new Map<ArrayBufferLike, number>();
  /** Where each encoded view starts (bytes in its source buffer), placed relative to its region in send(). */
  private readonly placements: { start: number; region: number; place: (bytes: number) => void }[] = [];
  private readonly arrays: { given: unknown; view: NDArray; wire: View & { out?: true } }[] = [];
  readonly callbacks: ((...args: unknown[]) => unknown)[] = [];
  private values = 0;

  constructor(
    private readonly fn: string,
    private readonly optimizerId: (o: Optimizer) => number,
    private readonly keys: Keys,
  ) {}

  /** Bytes send() copies (buffers neither shared nor the library's own). */
  get bytes(): number {
    let n = 0;
    for (const r of this.regions) if (!isShared(r.source) && !own.has(r.source)) n += Math.max(0, r.hi - r.lo);
    return n;
  }

  /** The shapes of the arrays among the arguments, in the order met. */
  get shapes(): number[][] {
    return this.arrays.map((a) => a.wire.shape);
  }

  private region(buffer: ArrayBufferLike, lo: number, hi: number, path: string): number {
    let i = this.byBuffer.get(buffer);
    if (i === undefined) {
      i = this.regions.push({ source: buffer, lo, hi, sent: null, path }) - 1;
      this.byBuffer.set(buffer, i);
    } else {
      const r = this.regions[i];
      r.lo = Math.min(r.lo, lo);
      r.hi = Math.max(r.hi, hi);
    }
    return i;
  }

  encode(value: unknown, path: string, depth = 0, keys: Keys = this.keys): Wire {
    if (depth > MAX_DEPTH) throw new RangeError(`${this.fn}: ${path} is nested more than ${MAX_DEPTH} deep`);
    if (++this.values > MAX_VALUES) {
      throw new RangeError(
        `${this.fn}: the arguments hold more than ${MAX_VALUES} values in plain arrays and objects (at ${path}); pass large data as an NDArray`,
      );
    }
    if (value === null || value === undefined) return value;
    switch (typeof value) {
      case "boolean":
      case "number":
      case "string":
        return value;
      case "function":
        return { $fn: this.callbacks.push(value as (...args: unknown[]) => unknown) - 1 };
      case "object":
        break;
      default:
        throw new TypeError(`${this.fn}: ${path} cannot be sent to a worker (${describe(value)})`);
    }
    if (value instanceof NDArray) return this.array(value, path);
    for (const name of Object.keys(TYPED) as TypedName[]) {
      if (value instanceof TYPED[name]) return this.typed(name, value as Typed, path);
    }
    if (Array.isArray(value)) {
      const n = read(this.fn, value, "length", path) as number;
      return Array.from({ length: n }, (_, i) =>
        this.encode(read(this.fn, value, i, path), `${path}[${i}]`, depth + 1, keys),
      );
    }
    const o = value as Partial<Optimizer>;
    if (typeof o.step === "function" && typeof o.config === "object" && o.config !== null) {
      return { $opt: this.optimizerId(value as Optimizer), config: { ...o.config } };
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`${this.fn}: ${path} cannot be sent to a worker (${describe(value)})`);
    }
    const out: Record<string, Wire> = {};
    for (const key of Object.keys(value)) {
      // (only the keys the op reads: the sync API ignores the others, and so must this, unread)
      if (!keys(key)) continue;
      const w = (out[key] = this.encode(read(this.fn, value, key, path), `${path}.${key}`, depth + 1, keys));
      if (key === "out") markOut(w);
    }
    return { $obj: out };
  }

  private array(x: NDArray, path: string): Wire {
    const v = snapshot(this.fn, path, x);
    const base = v.data.byteOffset;
    const [lo, hi] = v.size === 0 ? [v.offset, v.offset - 1] : extent(v.shape, v.strides, v.offset);
    const region = this.region(v.data.buffer, base + lo * F64_BYTES, base + hi * F64_BYTES + F64_BYTES, path);
    const wire = { $nd: this.arrays.length, buffer: region, shape: [...v.shape], strides: [...v.strides], offset: 0 };
    this.placements.push({ start: base + v.offset * F64_BYTES, region, place: (b) => (wire.offset = b / F64_BYTES) });
    this.arrays.push({ given: x, view: v, wire });
    return wire;
  }

  private typed(name: TypedName, t: Typed, path: string): Wire {
    const start = t.byteOffset;
    const region = this.region(t.buffer, start - (start % F64_BYTES), start + t.byteLength, path);
    const wire = { $typed: name, buffer: region, byteOffset: 0, length: t.length };
    this.placements.push({ start, region, place: (b) => (wire.byteOffset = b) });
    return wire;
  }

  /**
   * Copies every unshared region into a recycled buffer (in slices, letting the event loop run between
   * them when there is much) and places the views; the buffers to post, and those to transfer.
   */
  async send(): Promise<{ buffers: ArrayBufferLike[]; transfer: ArrayBuffer[] }> {
    const transfer: ArrayBuffer[] = [];
    for (const r of this.regions) {
      if (isShared(r.source) || own.has(r.source)) {
        [r.lo, r.hi, r.sent] = [0, r.source.byteLength, r.source];
        if (!own.delete(r.source)) continue;
        if (isShared(r.source)) this.lentShared.push(r.source as SharedArrayBuffer);
        else transfer.push(r.source as ArrayBuffer);
        continue;
      }
      const n = Math.max(0, r.hi - r.lo);
      const copy = copies.take(n);
      // (a copy left half-filled is never sent: the call fails, and the buffer goes back as garbage)
      await copier
        .copy(r.source, r.lo, n, new Uint8Array(copy), () => this.gone(r, "while it was copied to a worker"))
        .catch((e: unknown) => {
          copies.give(copy);
          throw e;
        });
      r.sent = copy;
      transfer.push(copy);
    }
    for (const p of this.placements) p.place(p.start - this.regions[p.region].lo);
    return { buffers: this.regions.map((r) => r.sent!), transfer };
  }

  /** The library's own shared buffers this call lent: free again once the worker has answered. */
  private readonly lentShared: SharedArrayBuffer[] = [];

  /** Takes back the shared buffers lent (the worker answered, done or failed: it reads them no more). */
  giveBack(): void {
    for (const b of this.lentShared.splice(0)) recycler.give(b);
  }

  /**
   * The worker's answer over the caller's buffers: first what an op wrote into an `out` that was copied
   * is copied back into the caller's array; the returned copies are kept for later calls.
   */
  answer(value: Wire, buffers: ArrayBufferLike[], returned: (ArrayBuffer | null)[]): unknown {
    for (const b of returned) if (b) recycler.give(b);
    for (const a of this.arrays) {
      const back = returned[a.wire.buffer];
      if (!a.wire.out || !back || a.view.size === 0) continue;
      const r = this.regions[a.wire.buffer];
      if (r.source.byteLength < r.hi) throw this.gone(r, "before the answer arrived");
      const src = new NDArray(f64Over(back), a.wire.shape, a.wire.strides, a.wire.offset);
      const dst = a.view;
      if (src.isContiguous() && dst.isContiguous()) {
        dst.data.set(src.data.subarray(src.offset, src.offset + src.size), dst.offset);
      } else {
        for (let k = 0; k < dst.size; k++) dst.data[indexOf(dst, k)] = src.data[indexOf(src, k)];
      }
    }
    return this.decodeAnswer(value, buffers);
  }

  /** The error of a caller's buffer detached (transferred away) or shrunk while the call held it. */
  private gone(r: Region, when: string): Error {
    return new TypeError(`${this.fn}: ${r.path}'s buffer was detached or shrunk ${when}; the call is abandoned`);
  }

  private decodeAnswer(w: Wire, buffers: ArrayBufferLike[]): unknown {
    if (w === null || typeof w !== "object") return w;
    if (Array.isArray(w)) return w.map((x) => this.decodeAnswer(x, buffers));
    if ("$obj" in w) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(w.$obj)) out[k] = this.decodeAnswer(v, buffers);
      return out;
    }
    if ("$arg" in w) return this.arrays[w.$arg].given;
    if ("$in" in w) {
      // a view of an argument's buffer: the same elements of the caller's own buffer
      const r = this.regions[w.buffer];
      if (r.source.byteLength < r.hi) throw this.gone(r, "before the answer arrived");
      const data = new Float64Array(r.source, r.lo, Math.floor((r.hi - r.lo) / F64_BYTES));
      return new NDArray(data, w.shape, w.strides, w.offset);
    }
    if ("$new" in w) return new NDArray(f64Over(buffers[w.buffer]), w.shape, w.strides, w.offset);
    if ("$newTyped" in w) return new TYPED[w.$newTyped](buffers[w.buffer] as ArrayBuffer, w.byteOffset, w.length);
    throw new TypeError(`${this.fn}: an unknown answer from the worker (${JSON.stringify(w).slice(0, 80)})`);
  }
}

function markOut(w: Wire): void {
  if (w === null || typeof w !== "object") return;
  if (Array.isArray(w)) w.forEach(markOut);
  else if ("$nd" in w) w.out = true;
}

/** The worker's side of one call: the arguments decoded over the posted buffers, and the answer encoded. */
export class Incoming {
  private readonly f64: Float64Array[];
  private readonly arrays: NDArray[] = [];
  private readonly fresh: ArrayBufferLike[] = [];

  constructor(
    private readonly buffers: ArrayBufferLike[],
    private readonly callback: (k: number) => (...args: unknown[]) => void,
    private readonly optimizer: (id: number, config: OptimizerConfig) => Optimizer,
  ) {
    this.f64 = buffers.map(f64Over);
  }

  decode(w: Wire): unknown {
    if (w === null || typeof w !== "object") return w;
    if (Array.isArray(w)) return w.map((x) => this.decode(x));
    if ("$obj" in w) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(w.$obj)) out[k] = this.decode(v);
      return out;
    }
    if ("$nd" in w) return (this.arrays[w.$nd] = new NDArray(this.f64[w.buffer], w.shape, w.strides, w.offset));
    if ("$typed" in w) return new TYPED[w.$typed](this.buffers[w.buffer] as ArrayBuffer, w.byteOffset, w.length);
    if ("$fn" in w) return this.callback(w.$fn);
    if ("$opt" in w) return this.optimizer(w.$opt, w.config);
    throw new TypeError(`an unknown value from the calling thread (${JSON.stringify(w).slice(0, 80)})`);
  }

  /** The answer: arrays that are arguments or views of their buffers by reference, new ones by buffer. */
  encode(value: unknown): Wire {
    if (value === null || value === undefined) return value;
    if (typeof value !== "object") return value as Wire;
    if (value instanceof NDArray) {
      const k = this.arrays.indexOf(value);
      if (k >= 0) return { $arg: k };
      const view = { shape: [...value.shape], strides: [...value.strides] };
      const offset = value.data.byteOffset / F64_BYTES + value.offset;
      const i = this.buffers.indexOf(value.data.buffer);
      if (i >= 0) return { $in: true, buffer: i, offset, ...view };
      return { $new: true, buffer: this.freshIndex(value.data.buffer), offset, ...view };
    }
    for (const name of Object.keys(TYPED) as TypedName[]) {
      if (value instanceof TYPED[name]) {
        const t = value as Typed;
        return { $newTyped: name, buffer: this.freshIndex(t.buffer), byteOffset: t.byteOffset, length: t.length };
      }
    }
    if (Array.isArray(value)) return value.map((x) => this.encode(x));
    const out: Record<string, Wire> = {};
    for (const [k, v] of Object.entries(value)) out[k] = this.encode(v);
    return { $obj: out };
  }

  private freshIndex(b: ArrayBufferLike): number {
    const i = this.fresh.indexOf(b);
    return i >= 0 ? i : this.fresh.push(b) - 1;
  }

  /** The answer's new buffers (moved to the calling thread), and the call's copies given back. */
  hand(): { buffers: ArrayBufferLike[]; returned: (ArrayBuffer | null)[]; transfer: ArrayBuffer[] } {
    const returned = this.buffers.map((b) => (isShared(b) ? null : (b as ArrayBuffer)));
    const transfer = [
      ...this.fresh.filter((b) => !isShared(b)),
      ...returned.filter((b) => b !== null),
    ] as ArrayBuffer[];
    return { buffers: this.fresh, returned, transfer };
  }
}
