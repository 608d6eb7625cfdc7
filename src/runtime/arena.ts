// The one arena in WASM linear memory, owned by the TypeScript side: a bump allocator reset after every
// call. Views are made fresh on every access, never kept across a possible memory.grow (they detach).
import { NDArray, copyStrided, cStrides, spanOf, F64_BYTES } from "../core/ndarray.js";

const PAGE = 65536;
/** What a WASM32 memory can address: 65536 pages of 64 KiB. */
const WASM32_BYTES = 65536 * PAGE;
const ALIGN = 16;

function human(bytes: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} bytes` : `${v.toFixed(1)} ${units[u]} (${bytes} bytes)`;
}

/** An input as the kernels see it: a pointer and element strides relative to it. */
export interface Placed {
  ptr: number;
  strides: number[];
}

export class Arena {
  private top: number;

  constructor(
    private readonly memory: WebAssembly.Memory,
    readonly base: number,
  ) {
    this.base = Math.ceil(base / ALIGN) * ALIGN;
    this.top = this.base;
  }

  get bytesInUse(): number {
    return this.top - this.base;
  }

  get wasmBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Runs `body` and frees everything it allocated, whether it returns or throws. */
  scope<T>(body: () => T): T {
    const mark = this.top;
    try {
      return body();
    } finally {
      this.top = mark;
    }
  }

  /** `bytes` of scratch (16-byte aligned, contents undefined); grows the memory on demand. */
  alloc(fn: string, what: string, bytes: number): number {
    const ptr = this.top;
    const end = ptr + Math.ceil(bytes / ALIGN) * ALIGN;
    if (!Number.isFinite(end) || end > WASM32_BYTES) {
      throw new RangeError(
        `${fn}: ${what} needs ${human(bytes)}; with the ${human(ptr - this.base)} already placed for this call ` +
          `the arena would need ${human(end)}, beyond the ${human(WASM32_BYTES)} that WASM32 can address`,
      );
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // grow at least geometrically so that a sequence of growing calls stays linear
      const want = Math.min(WASM32_BYTES, Math.max(end, have * 2));
      try {
        this.memory.grow(Math.ceil((want - have) / PAGE));
      } catch {
        try {
          this.memory.grow(Math.ceil((end - have) / PAGE));
        } catch (e) {
          throw new RangeError(
            `${fn}: ${what} needs ${human(bytes)}, but WASM memory could not grow from ${human(have)} to ${human(end)} (${String(e)})`,
          );
        }
      }
    }
    this.top = end;
    return ptr;
  }

  /** Grows the memory to hold `bytes` of arena and touches every page of it (first touch is slow). */
  reserve(fn: string, bytes: number): void {
    this.scope(() => {
      const ptr = this.alloc(fn, "the reserved arena", bytes);
      new Uint8Array(this.memory.buffer, ptr, bytes).fill(0);
    });
  }

  /** A fresh Float64Array over `n` elements at `ptr` (valid until the next alloc). */
  f64(ptr: number, n: number): Float64Array {
    return new Float64Array(this.memory.buffer, ptr, n);
  }

  /** A fresh Float32Array over `n` elements at `ptr` (valid until the next alloc): an f32 plan's values. */
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  /** Scratch of `n` float64 zeros. */
  zeros(fn: string, what: string, n: number): number {
    const ptr = this.alloc(fn, what, n * F64_BYTES);
    this.f64(ptr, n).fill(0);
    return ptr;
  }

  /** Copies `a` into the arena in C order; kernels that need contiguous data take this. */
  copyIn(fn: string, what: string, a: NDArray): number {
    const ptr = this.alloc(fn, what, a.size * F64_BYTES);
    this.write(ptr, a);
    return ptr;
  }

  /** Writes the elements of `a` in C order at `ptr` (already allocated). */
  write(ptr: number, a: NDArray): void {
    const n = a.size;
    if (a.isContiguous()) this.f64(ptr, n).set(a.data.subarray(a.offset, a.offset + n));
    else copyStrided(a, this.f64(ptr, n), 0);
  }

  /** Copies `a` in C order with its last axis widened to `width` (zero-filled), e.g. channels to 8s. */
  copyInWidened(fn: string, what: string, a: NDArray, width: number): number {
    const last = a.shape[a.ndim - 1];
    if (width === last) return this.copyIn(fn, what, a);
    const rows = a.size / last;
    const ptr = this.zeros(fn, what, rows * width);
    const src = a.isContiguous() ? a.data.subarray(a.offset, a.offset + a.size) : a.toFloat64Array();
    const dst = this.f64(ptr, rows * width);
    for (let r = 0; r < rows; r++) dst.set(src.subarray(r * last, (r + 1) * last), r * width);
    return ptr;
  }

  /**
   * Copies `a` for a kernel that reads through strides: a view whose elements span little more than
   * its size (a transpose, say) is copied as one block and read strided in WASM; others are gathered.
   */
  copyInStrided(fn: string, what: string, a: NDArray): Placed {
    const span = spanOf(a.shape, a.strides);
    const nonNegative = a.strides.every((s) => s >= 0);
    if (a.isContiguous() || !nonNegative || span > 2 * a.size) {
      return { ptr: this.copyIn(fn, what, a), strides: cStrides(a.shape) };
    }
    const ptr = this.alloc(fn, what, span * F64_BYTES);
    this.f64(ptr, span).set(a.data.subarray(a.offset, a.offset + span));
    return { ptr, strides: [...a.strides] };
  }

  /** A new NDArray holding a copy of the arena region at `ptr` seen with `shape` (and strides/offset). */
  copyOut(ptr: number, shape: readonly number[], strides = cStrides(shape), offset = 0): NDArray {
    if (shape.some((d) => d === 0)) return new NDArray(new Float64Array(0), shape);
    const view = new NDArray(this.f64(ptr, offset + spanOf(shape, strides)), shape, strides, offset);
    return new NDArray(view.toFloat64Array(), shape);
  }
}
