// Between ONNX's layouts (NCHW images, features in NCHW order) and the library's (NHWC), for what a model
// takes and gives: the sync model's and convwasm/async's. Plain arrays only (no library code).
import { NDArray, allocate, describe, messageOf } from "../core/ndarray.js";
import { examples, examplesIn } from "../model/layers.js";
import type { IoLayout } from "./import.js";

/** options.layout ("NCHW" by default) and the other options, each read once. */
export function layoutOption<T extends object>(fn: string, options: unknown): { nchw: boolean; rest: T | undefined } {
  if (options === undefined) return { nchw: true, rest: undefined };
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options expects an object but got ${describe(options)}`);
  }
  let layout: unknown;
  let rest: T;
  try {
    const copy = { ...(options as { layout?: unknown }) };
    layout = copy.layout ?? "NCHW";
    delete copy.layout;
    rest = copy as T;
  } catch (e) {
    throw new TypeError(`${fn}: reading options threw: ${messageOf(e)}`, { cause: e });
  }
  if (layout !== "NCHW" && layout !== "NHWC") {
    throw new TypeError(`${fn}: options.layout expects "NCHW" or "NHWC" but got ${describe(layout)}`);
  }
  return { nchw: layout === "NCHW", rest };
}

/** A value of the library's per-example shape as ONNX lays it out: an image [h, w, c] as [c, h, w]. */
export function ioOf(name: string, shape: readonly number[]): IoLayout {
  return shape.length === 3
    ? { name, shape: [shape[2], shape[0], shape[1]], layout: "image" }
    : { name, shape: [...shape], layout: "vector" };
}

/**
 * Examples given in ONNX's layout (checked against its per-example shape) as the library's. For a model's
 * plan (`keepF32`), a flat Float32Array stays float32, and images are a view of their NCHW planes as NHWC,
 * which the plan turns in WASM as it copies them in.
 */
export function fromOnnx(
  fn: string,
  X: unknown,
  io: IoLayout,
  name: string,
  flat: boolean,
  keepF32: true,
): NDArray | Float32Array;
export function fromOnnx(fn: string, X: unknown, io: IoLayout, name?: string, flat?: boolean): NDArray;
export function fromOnnx(fn: string, X: unknown, io: IoLayout, name = "X", flat = true, keepF32 = false) {
  if (keepF32 && flat && X instanceof Float32Array) {
    const m = examplesIn(fn, X, io.shape, name);
    if (io.layout === "vector") return X;
    const [c, h, w] = io.shape;
    const out = allocate(fn, "the input in NHWC", X.length, Float32Array);
    toNhwc(X, 0, [c * h * w, h * w, w, 1], [m, c, h, w], out);
    return out;
  }
  return toInternal(fn, examples(fn, X, io.shape, flat, name), io, keepF32);
}

/**
 * Examples in ONNX's layout [m, C, H, W] as the library's [m, H, W, C] (vectors as they are): a copy, or
 * with `view` a transposed view of the same data.
 */
export function toInternal(fn: string, x: NDArray, io: IoLayout, view = false): NDArray {
  if (io.layout === "vector") return x;
  if (view) return x.transpose(0, 2, 3, 1);
  const [m, c, h, w] = x.shape;
  const out = allocate(fn, "the input in NHWC", x.size);
  toNhwc(x.data, x.offset, x.strides, x.shape, out);
  return new NDArray(out, [m, h, w, c]);
}

/** `d` read as [m, C, H, W] through `strides` from `offset`, written to `out` in C order as [m, H, W, C]. */
function toNhwc(
  d: Float64Array | Float32Array,
  offset: number,
  strides: readonly number[],
  [m, c, h, w]: readonly number[],
  out: Float64Array | Float32Array,
): void {
  const [s0, s1, s2, s3] = strides;
  let k = 0;
  for (let i = 0; i < m; i++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++) {
        const base = offset + i * s0 + y * s2 + xx * s3;
        for (let ch = 0; ch < c; ch++) out[k++] = d[base + ch * s1];
      }
}

/**
 * A model output in the library's layout as ONNX's: NCHW images, vectors in ONNX's order and shape. An
 * output given as a flat Float32Array (predict's `output: "Float32Array"`) is given back as one.
 */
export function toOnnx(fn: string, y: NDArray, io: IoLayout): NDArray;
export function toOnnx(fn: string, y: NDArray | Float32Array, io: IoLayout): NDArray | Float32Array;
export function toOnnx(fn: string, y: NDArray | Float32Array, io: IoLayout): NDArray | Float32Array {
  const src = y instanceof NDArray ? y.data : y;
  const m = y instanceof NDArray ? y.shape[0] : y.length / io.shape.reduce((p, d) => p * d, 1);
  const wrap = (out: Float64Array | Float32Array) =>
    out instanceof Float32Array ? out : new NDArray(out, [m, ...io.shape]);
  const fresh = (what: string) =>
    src instanceof Float32Array ? allocate(fn, what, src.length, Float32Array) : allocate(fn, what, src.length);
  if (io.layout === "vector") {
    if (!io.perm) return wrap(src);
    const n = io.perm.length;
    const out = fresh("the output in ONNX's order");
    for (let i = 0; i < m; i++) for (let p = 0; p < n; p++) out[i * n + io.perm[p]] = src[i * n + p];
    return wrap(out);
  }
  const [c, h, w] = io.shape;
  const out = fresh("the output in NCHW");
  let k = 0;
  for (let i = 0; i < m; i++)
    for (let yx = 0; yx < h * w; yx++) for (let ch = 0; ch < c; ch++) out[(i * c + ch) * h * w + yx] = src[k++];
  return wrap(out);
}
