// ONNX tensors as float64 arrays (initializers, Constant nodes, and the shape arithmetic exporters emit
// around reshapes, evaluated once at load). A model's batch size is not known at load: it is NaN in shapes
// here, which every operation carries and which only a reshape's leading dimension may hold.
import { DT, type TensorProto } from "./proto.js";
import { half } from "../core/float16.js";
import { F64_BYTES } from "../core/ndarray.js";

export interface Tensor {
  shape: number[];
  data: Float64Array;
  /** An integer or boolean type (Cast and Div truncate for it). */
  int: boolean;
  /**
   * The values as the file holds them where making `data` costs a copy (float32, or float64 not 8-byte
   * aligned): the weights' transposes read them straight (valuesOf), and `data` is made only if something
   * reads it.
   */
  raw?: Float32Array | DataView;
}

/**
 * A tensor's values where they are, for a loop over them that makes no copy: element i is
 * `view ? view.getFloat64(i * 8, true) : array[i]` (the file's unaligned float64 bytes, or an array).
 */
export function valuesOf(t: Tensor): { array: Float32Array | Float64Array | null; view: DataView | null } {
  return t.raw instanceof DataView ? { array: null, view: t.raw } : { array: t.raw ?? t.data, view: null };
}

export const sizeOfShape = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

const BYTES: Record<number, number> = {
  [DT.FLOAT]: 4,
  [DT.DOUBLE]: 8,
  [DT.FLOAT16]: 2,
  [DT.INT64]: 8,
  [DT.INT32]: 4,
  [DT.INT8]: 1,
  [DT.UINT8]: 1,
  [DT.BOOL]: 1,
};
const NAMES: Record<number, string> = {
  [DT.FLOAT]: "float",
  [DT.DOUBLE]: "double",
  [DT.FLOAT16]: "float16",
  [DT.INT64]: "int64",
  [DT.INT32]: "int32",
  [DT.INT8]: "int8",
  [DT.UINT8]: "uint8",
  [DT.BOOL]: "bool",
};

const LITTLE = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

export const isFloatType = (t: number) => t === DT.FLOAT || t === DT.DOUBLE || t === DT.FLOAT16;

/** A TensorProto's values (raw_data little-endian, or its typed field) as float64. */
export function readTensor(where: string, t: TensorProto): Tensor {
  const dims = t.dims ?? [];
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new RangeError(`${where}: dims expects sizes ≥ 0 but got [${dims.join(",")}]`);
  }
  if (t.dataLocation === 1) {
    const file = t.externalData?.find((e) => e.key === "location")?.value ?? "?";
    throw new RangeError(
      `${where}: its data is in an external file (${file}); loadOnnx takes one self-contained model (save it with onnx.save_model(..., save_as_external_data=False))`,
    );
  }
  const type = t.dataType ?? 0;
  const bytes = BYTES[type];
  if (bytes === undefined)
    throw new TypeError(`${where}: data type ${type} is not supported (${Object.values(NAMES).join(", ")})`);
  const n = sizeOfShape(dims);
  if (n > 2 ** 29) throw new RangeError(`${where}: ${n} values are more than WASM memory holds`);
  const raw = t.rawData;
  let data: Float64Array;
  if (raw && raw.length > 0) {
    if (raw.length !== n * bytes) {
      throw new RangeError(
        `${where}: raw_data holds ${raw.length} bytes but [${dims.join(",")}] ${NAMES[type]} takes ${n * bytes}`,
      );
    }
    if (LITTLE && (type === DT.FLOAT || type === DT.DOUBLE)) {
      // the usual weights: float64 in place where aligned (a view of the file's bytes, which the import
      // only reads); else read on demand, since every copy is fresh memory, which costs its first touch
      // here (~3.4 ms a MB: a quarter of a float64 resnet18's load went to copies nothing needed)
      if (type === DT.DOUBLE && raw.byteOffset % F64_BYTES === 0) {
        return { shape: [...dims], data: new Float64Array(raw.buffer as ArrayBuffer, raw.byteOffset, n), int: false };
      }
      const float32 = () => {
        const aligned = raw.byteOffset % 4 === 0 ? raw : new Uint8Array(raw);
        return new Float32Array(aligned.buffer as ArrayBuffer, aligned.byteOffset, n);
      };
      const source = type === DT.FLOAT ? float32() : new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      let made: Float64Array | undefined;
      return {
        shape: [...dims],
        int: false,
        raw: source,
        get data() {
          return (made ??=
            source instanceof Float32Array
              ? Float64Array.from(source)
              : new Float64Array(new Uint8Array(source.buffer, source.byteOffset, source.byteLength).slice().buffer));
        },
      };
    }
    data = new Float64Array(n);
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < n; i++) {
      data[i] =
        type === DT.FLOAT
          ? v.getFloat32(i * 4, true)
          : type === DT.DOUBLE
            ? v.getFloat64(i * F64_BYTES, true)
            : type === DT.FLOAT16
              ? half(v.getUint16(i * 2, true))
              : type === DT.INT64
                ? Number(v.getBigInt64(i * BigInt64Array.BYTES_PER_ELEMENT, true))
                : type === DT.INT32
                  ? v.getInt32(i * 4, true)
                  : type === DT.INT8
                    ? v.getInt8(i)
                    : v.getUint8(i);
    }
  } else {
    const field =
      type === DT.FLOAT
        ? t.floatData
        : type === DT.DOUBLE
          ? t.doubleData
          : type === DT.INT64
            ? t.int64Data
            : t.int32Data; // int32, int8, uint8, bool and float16's bits
    data = new Float64Array(n);
    const values = field ?? [];
    if (values.length !== n) {
      throw new RangeError(`${where}: holds ${values.length} values but [${dims.join(",")}] takes ${n}`);
    }
    for (let i = 0; i < n; i++) data[i] = type === DT.FLOAT16 ? half(values[i]) : Number(values[i]);
  }
  return { shape: [...dims], data, int: !isFloatType(type) };
}

export const scalar = (v: number, int = false): Tensor => ({ shape: [], data: Float64Array.of(v), int });
/** A 1-D tensor of `values`. */
export const list = (values: number[], int = false): Tensor => ({
  shape: [values.length],
  data: Float64Array.from(values),
  int,
});

const stridesOf = (shape: readonly number[]) => {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
};

/** An axis in [-rank, rank) as an index in [0, rank). */
export function axisOf(where: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new RangeError(`${where}: axis ${axis} is outside a tensor of rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** numpy broadcasting of two tensors, elementwise. */
export function broadcast(where: string, a: Tensor, b: Tensor, f: (x: number, y: number) => number): Tensor {
  const rank = Math.max(a.shape.length, b.shape.length);
  const pa = [...new Array(rank - a.shape.length).fill(1), ...a.shape];
  const pb = [...new Array(rank - b.shape.length).fill(1), ...b.shape];
  const shape = pa.map((d, i) => {
    if (d !== pb[i] && d !== 1 && pb[i] !== 1) {
      throw new RangeError(`${where}: shapes [${a.shape}] and [${b.shape}] do not broadcast`);
    }
    return d === 1 ? pb[i] : d;
  });
  const sa = stridesOf(pa).map((s, i) => (pa[i] === 1 ? 0 : s));
  const sb = stridesOf(pb).map((s, i) => (pb[i] === 1 ? 0 : s));
  const out = new Float64Array(sizeOfShape(shape));
  const idx = new Array<number>(rank).fill(0);
  for (let k = 0; k < out.length; k++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < rank; d++) {
      ia += idx[d] * sa[d];
      ib += idx[d] * sb[d];
    }
    out[k] = f(a.data[ia], b.data[ib]);
    for (let d = rank - 1; d >= 0 && ++idx[d] === shape[d]; d--) idx[d] = 0;
  }
  return { shape, data: out, int: a.int && b.int };
}

/** Slices of `t` along `axis`: [start, end) with step, as numpy's t[start:end:step] on that axis. */
export function sliceAxis(t: Tensor, axis: number, pick: number[]): Tensor {
  const shape = [...t.shape];
  const outer = sizeOfShape(shape.slice(0, axis));
  const inner = sizeOfShape(shape.slice(axis + 1));
  const n = shape[axis];
  shape[axis] = pick.length;
  const out = new Float64Array(sizeOfShape(shape));
  let k = 0;
  for (let o = 0; o < outer; o++) {
    for (const j of pick) {
      out.set(t.data.subarray((o * n + j) * inner, (o * n + j + 1) * inner), k);
      k += inner;
    }
  }
  return { shape, data: out, int: t.int };
}

/** Tensors joined along `axis`. */
export function concatAxis(where: string, ts: Tensor[], axis: number): Tensor {
  const first = ts[0].shape;
  ts.forEach((t) => {
    if (t.shape.length !== first.length || t.shape.some((d, i) => i !== axis && d !== first[i])) {
      throw new RangeError(`${where}: shapes [${first}] and [${t.shape}] do not join along axis ${axis}`);
    }
  });
  const shape = [...first];
  shape[axis] = ts.reduce((s, t) => s + t.shape[axis], 0);
  const outer = sizeOfShape(first.slice(0, axis));
  const out = new Float64Array(sizeOfShape(shape));
  let k = 0;
  for (let o = 0; o < outer; o++) {
    for (const t of ts) {
      const len = sizeOfShape(t.shape.slice(axis));
      out.set(t.data.subarray(o * len, (o + 1) * len), k);
      k += len;
    }
  }
  return { shape, data: out, int: ts.every((t) => t.int) };
}

/** `t` with its axes permuted (ONNX Transpose). */
export function transpose(t: Tensor, perm: readonly number[]): Tensor {
  const shape = perm.map((p) => t.shape[p]);
  const from = stridesOf(t.shape);
  const out = new Float64Array(t.data.length);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < out.length; k++) {
    let i = 0;
    for (let d = 0; d < shape.length; d++) i += idx[d] * from[perm[d]];
    out[k] = t.data[i];
    for (let d = shape.length - 1; d >= 0 && ++idx[d] === shape[d]; d--) idx[d] = 0;
  }
  return { shape, data: out, int: t.int };
}

/** The axes a Squeeze drops: `axes` (any sign), or every axis of size 1 when it gives none. */
export function squeezeAxes(where: string, shape: readonly number[], axes: number[] | undefined): Set<number> {
  const list = axes ?? shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
  return new Set(list.map((a) => axisOf(where, a, shape.length)));
}

/** The shape after an Unsqueeze inserts 1s at `axes` (indices of the result, any sign). */
export function unsqueezed(where: string, shape: readonly number[], axes: number[]): number[] {
  const rank = shape.length + axes.length;
  const add = new Set(axes.map((a) => axisOf(where, a, rank)));
  const out: number[] = [];
  for (let i = 0, j = 0; i < rank; i++) out.push(add.has(i) ? 1 : shape[j++]);
  return out;
}

/** A reshape's target (0 copies the input's dimension unless allowzero, one -1 takes the rest). */
export function reshapeTarget(where: string, from: readonly number[], target: readonly number[], allowzero: boolean) {
  const dims = target.map((d, i) => (d === 0 && !allowzero ? from[i] : d));
  const rest = dims.indexOf(-1);
  if (dims.filter((d) => d === -1).length > 1) throw new RangeError(`${where}: the shape [${target}] has two -1`);
  // the batch (NaN) on both sides cancels
  const real = (s: number[]) => sizeOfShape(s.filter((d) => !Number.isNaN(d)));
  const batch = dims.some(Number.isNaN) && from.some(Number.isNaN);
  if (rest >= 0) {
    const known = dims.reduce((a, d, i) => (i === rest || (batch && Number.isNaN(d)) ? a : a * d), 1);
    // (a -1 that takes the batch and nothing else, as x.view(-1, 400) exports: the batch)
    const isBatch = !batch && from.some(Number.isNaN) && !dims.some(Number.isNaN) && known === real([...from]);
    dims[rest] = isBatch ? NaN : (batch ? real([...from]) : sizeOfShape(from)) / known;
  }
  const withBatch = dims.some(Number.isNaN) && from.some(Number.isNaN);
  const ok = withBatch ? real(dims) === real([...from]) : sizeOfShape(dims) === sizeOfShape(from);
  if (!ok || dims.some((d) => d < 0 || (!Number.isInteger(d) && !Number.isNaN(d)))) {
    throw new RangeError(`${where}: cannot reshape [${from}] to [${target}]`);
  }
  return dims;
}
