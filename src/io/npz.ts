// numpy's .npz (a zip of .npy arrays) for model weights and data, read and written with fflate: weights
// trained with numpy, PyTorch or Keras move in through numpy (np.savez) and back out (np.load). Files are
// hostile input: every member's declared size is checked (against a ceiling, and against the shapes a
// caller expects) before anything is inflated, and the .npy header is parsed as the Python literal it is.
import { unzipSync, zipSync } from "fflate";
import { NDArray, describe, fmtShape, messageOf, snapshot, F64_BYTES } from "../core/ndarray.js";
import { half } from "../core/float16.js";

/** .npy version 1.0 of a float64 C-order array: magic, header dict padded to 64 bytes, little-endian data. */
function npy(a: NDArray): Uint8Array {
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(", ")})`;
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': ${shape}, }`;
  header += " ".repeat(64 - ((10 + header.length + 1) % 64)) + "\n";
  const out = new Uint8Array(10 + header.length + a.size * F64_BYTES);
  out.set([0x93, ...Array.from("NUMPY", (ch) => ch.charCodeAt(0)), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const data = new DataView(out.buffer, 10 + header.length);
  a.toFloat64Array().forEach((v, i) => data.setFloat64(i * F64_BYTES, v, true));
  return out;
}

/** numpy's own limit on a header's length (np.load's max_header_size): longer ones are refused unread. */
const MAX_HEADER = 10_000;
/** The 12 bytes before a version 2/3 header, and room for the longest header numpy reads. */
const MAX_PREAMBLE = 12 + MAX_HEADER;

type HeaderValue = string | boolean | number[] | number;

/**
 * The header dict of an .npy file, parsed as the Python literal it is (ast.literal_eval, as numpy does):
 * string keys; values a string, True/False, an integer or a tuple of integers (a Python 2 `3L` too).
 * Nothing is read out of the inside of a string.
 */
function pythonDict(text: string, bad: (why: string) => Error): Map<string, HeaderValue> {
  let i = 0;
  const space = () => {
    while (i < text.length && " \t\r\n".includes(text[i])) i++;
  };
  const expect = (ch: string) => {
    space();
    if (text[i] !== ch) throw bad(`header: '${ch}' expected at ${i} of ${JSON.stringify(text.trim())}`);
    i++;
  };
  const str = (): string => {
    space();
    const q = text[i];
    if (q !== "'" && q !== '"') throw bad(`header: a string expected at ${i} of ${JSON.stringify(text.trim())}`);
    let s = "";
    for (i++; i < text.length && text[i] !== q; i++) {
      if (text[i] === "\\") {
        i++;
        if (i >= text.length) break;
      }
      s += text[i];
    }
    if (text[i] !== q) throw bad("header: a string is not closed");
    i++;
    return s;
  };
  const int = (): number => {
    space();
    const m = /^[+-]?\d+L?/.exec(text.slice(i, i + 40));
    if (!m) throw bad(`header: an integer expected at ${i} of ${JSON.stringify(text.trim())}`);
    i += m[0].length;
    if (/^[\w.]/.test(text.slice(i, i + 1))) throw bad(`header: ${JSON.stringify(m[0] + text[i])}… is not an integer`);
    return Number(m[0].replace("L", ""));
  };
  const value = (): HeaderValue => {
    space();
    if (text[i] === "'" || text[i] === '"') return str();
    if (text.startsWith("True", i) || text.startsWith("False", i)) {
      const t = text[i] === "T";
      i += t ? 4 : 5;
      return t;
    }
    if (text[i] === "(") {
      i++;
      const dims: number[] = [];
      let commas = 0;
      space();
      while (text[i] !== ")") {
        dims.push(int());
        space();
        if (text[i] === ",") {
          i++;
          commas++;
          space();
        } else if (text[i] !== ")") throw bad(`header: ',' or ')' expected at ${i} of ${JSON.stringify(text.trim())}`);
      }
      i++;
      // (2) is the integer 2 in Python, not a tuple
      return dims.length === 1 && commas === 0 ? dims[0] : dims;
    }
    return int();
  };
  const out = new Map<string, HeaderValue>();
  expect("{");
  space();
  while (text[i] !== "}") {
    const key = str();
    expect(":");
    if (out.has(key)) throw bad(`header: the key ${JSON.stringify(key)} appears twice`);
    out.set(key, value());
    space();
    if (text[i] === ",") i++;
    else if (text[i] !== "}") throw bad(`header: ',' or '}' expected at ${i} of ${JSON.stringify(text.trim())}`);
    space();
  }
  i++;
  if (text.slice(i).trim() !== "") throw bad(`header: ${JSON.stringify(text.slice(i, i + 20))} after the dict`);
  return out;
}

interface NpyHeader {
  /** Bytes before the data. */
  start: number;
  little: boolean;
  /** The element type: float, signed or unsigned integer, bool (numpy's kind letters). */
  kind: "f" | "i" | "u" | "b";
  /** Bytes per element. */
  size: number;
  fortran: boolean;
  shape: number[];
  /** Elements: the product of the shape. */
  n: number;
}

/** An .npy file's preamble and header, checked as numpy checks it (versions 1.0, 2.0, 3.0). */
function npyHeader(bytes: Uint8Array, bad: (why: string) => Error): NpyHeader {
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== "NUMPY") {
    throw bad("no .npy magic");
  }
  const [major, minor] = [bytes[6], bytes[7]];
  if (major < 1 || major > 3 || minor !== 0) throw bad(`.npy version ${major}.${minor}; numpy writes 1.0, 2.0, 3.0`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [pre, length] =
    major === 1 ? [10, view.getUint16(8, true)] : [12, bytes.length >= 12 ? view.getUint32(8, true) : 0];
  if (length > MAX_HEADER) throw bad(`a header of ${length} bytes, over numpy's limit of ${MAX_HEADER}`);
  if (bytes.length < pre + length) throw bad(`a header of ${length} bytes in a file of ${bytes.length}`);
  const text = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(pre, pre + length));
  const dict = pythonDict(text, bad);
  const keys = [...dict.keys()].sort().join(", ");
  if (keys !== "descr, fortran_order, shape") {
    throw bad(`header keys ${keys}; numpy's are descr, fortran_order, shape`);
  }
  const descr = dict.get("descr");
  const fortran = dict.get("fortran_order");
  const shape = dict.get("shape");
  const d =
    typeof descr === "string"
      ? (/^([<>=])(f)([248])$/.exec(descr) ??
        /^([<>=])([iu])([248])$/.exec(descr) ??
        /^([<>=|])([iu])(1)$/.exec(descr) ??
        /^([<>=|])(b)(1)$/.exec(descr))
      : null;
  if (!d) throw bad(`dtype ${JSON.stringify(descr)}; a float (16, 32, 64 bits), an integer or a bool expected`);
  if (typeof fortran !== "boolean") throw bad(`fortran_order ${JSON.stringify(fortran)}; True or False expected`);
  if (!Array.isArray(shape)) throw bad(`shape ${JSON.stringify(shape)}; a tuple expected`);
  let n = 1;
  for (const s of shape) {
    if (!Number.isSafeInteger(s) || s < 0) throw bad(`shape (${shape.join(", ")}): a dimension is not a size`);
    n *= s;
  }
  if (!Number.isSafeInteger(n * F64_BYTES)) throw bad(`shape (${shape.join(", ")}) overflows`);
  const kind = d[2] as NpyHeader["kind"];
  return { start: pre + length, little: d[1] !== ">", kind, size: Number(d[3]), fortran, shape, n };
}

/** Reads element `i` of an .npy's data as a number (exactly: float64 holds every value but 64-bit integers past 2^53). */
function reader(view: DataView, kind: NpyHeader["kind"], size: number, little: boolean): (i: number) => number {
  if (kind === "f")
    return size === 8
      ? (i) => view.getFloat64(i * 8, little)
      : size === 4
        ? (i) => view.getFloat32(i * 4, little)
        : (i) => half(view.getUint16(i * 2, little));
  if (kind === "b") return (i) => (view.getUint8(i) === 0 ? 0 : 1);
  const signed = kind === "i";
  if (size === 1) return signed ? (i) => view.getInt8(i) : (i) => view.getUint8(i);
  if (size === 2) return signed ? (i) => view.getInt16(i * 2, little) : (i) => view.getUint16(i * 2, little);
  if (size === 4) return signed ? (i) => view.getInt32(i * 4, little) : (i) => view.getUint32(i * 4, little);
  return signed ? (i) => Number(view.getBigInt64(i * 8, little)) : (i) => Number(view.getBigUint64(i * 8, little));
}

/**
 * Parses a .npy file: floats (64, 32 and 16 bits), integers and bools, as float64; little- or
 * big-endian, C or Fortran order. A 64-bit integer past 2^53, which float64 cannot hold, is refused.
 */
function parseNpy(bytes: Uint8Array, bad: (why: string) => Error): NDArray {
  const h = npyHeader(bytes, bad);
  const { start, n, size, little, shape, kind } = h;
  if (bytes.length !== start + n * size) {
    throw bad(`shape (${shape.join(", ")}) needs ${n * size} bytes of data but the member has ${bytes.length - start}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, n * size);
  const data = new Float64Array(n);
  const read = reader(view, kind, size, little);
  for (let i = 0; i < n; i++) data[i] = read(i);
  if ((kind === "i" || kind === "u") && size === 8) {
    const i = data.findIndex((v) => !Number.isSafeInteger(v));
    if (i >= 0) {
      const exact = kind === "i" ? view.getBigInt64(i * 8, little) : view.getBigUint64(i * 8, little);
      throw bad(`element ${i} is ${exact}, a 64-bit integer past 2^53, which float64 cannot hold exactly`);
    }
  }
  if (!h.fortran) return new NDArray(data, shape);
  // Fortran order: the reversed shape in C order, transposed back
  const reversed = new NDArray(data, [...shape].reverse());
  return new NDArray(reversed.transpose().toFloat64Array(), shape);
}

/** np.savez: the arrays, named, as the bytes of an .npz file (float64, C order; np.load reads it); deterministic. */
export function writeNpz(arrays: Record<string, NDArray>): Uint8Array {
  const fn = "writeNpz";
  if (arrays === null || typeof arrays !== "object") {
    throw new TypeError(`${fn}: arrays expects an object of NDArrays by name but got ${describe(arrays)}`);
  }
  const files: Record<string, Uint8Array> = Object.create(null) as Record<string, Uint8Array>;
  for (const name of Object.keys(arrays)) files[`${name}.npy`] = npy(snapshot(fn, name, arrays[name]));
  // (a fixed time stamp: the same arrays always make the same bytes)
  return zipSync(files, { level: 0, mtime: "1980-01-01T00:00:00" });
}

export interface ReadNpzOptions {
  /** Most bytes the members may inflate to, all together (default 1 GiB): a larger file is refused unread. */
  maxBytes?: number;
  /**
   * The arrays the caller expects, by name: a member named otherwise, or declaring more bytes than its
   * expected shape needs, is refused before it is inflated (a model's load() passes its parameters).
   */
  expect?: ReadonlyMap<string, readonly number[]>;
}

const DEFAULT_MAX_BYTES = 2 ** 30;

/**
 * np.load of an .npz file's bytes: its .npy members by name (without ".npy"; other members are ignored),
 * float64/32/16 widened to float64. Refused with a RangeError naming `fn` and the member: a member that
 * would inflate past `maxBytes` (checked from the zip's directory, before inflating), a header numpy
 * would not read, data shorter or longer than the header's shape, a name given twice.
 */
export function readNpz(bytes: Uint8Array, options?: ReadNpzOptions): Record<string, NDArray> {
  return parseNpz("readNpz", bytes, options);
}

/** readNpz for `fn` (a model's load()), its errors named after it. */
export function parseNpz(fn: string, bytes: unknown, options: ReadNpzOptions = {}): Record<string, NDArray> {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`${fn}: bytes expects the Uint8Array of an .npz file but got ${describe(bytes)}`);
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options expects an object but got ${describe(options)}`);
  }
  const { maxBytes = DEFAULT_MAX_BYTES, expect } = options;
  if (typeof maxBytes !== "number" || !(maxBytes >= 0)) {
    throw new RangeError(`${fn}: options.maxBytes expects a number of bytes >= 0 but got ${describe(maxBytes)}`);
  }
  // first the directory alone (nothing inflated): names, and sizes against the ceiling and the expected shapes
  const wanted = new Set<string>();
  let total = 0;
  let entries = 0;
  try {
    unzipSync(bytes, {
      filter: ({ name, originalSize }) => {
        // (a directory entry takes at least 46 bytes: a count past that is a crafted end record)
        if (++entries > bytes.length / 46)
          throw new RangeError(`${fn}: bytes is not an .npz file (its directory lies)`);
        if (!name.endsWith(".npy")) return false;
        const key = name.slice(0, -4);
        const bad = (why: string) => new RangeError(`${fn}: member ${JSON.stringify(name)}: ${why}`);
        if (!Number.isSafeInteger(originalSize) || originalSize < 0)
          throw bad("its size in the zip directory is unreadable");
        if (wanted.has(key)) throw bad("appears twice in the file");
        const shape = expect?.get(key);
        if (expect && !shape) {
          throw bad(`is not one of the arrays expected (${[...expect.keys()].join(", ") || "none"})`);
        }
        if (shape && originalSize > MAX_PREAMBLE + shape.reduce((p, d) => p * d, 1) * F64_BYTES) {
          throw bad(`declares ${originalSize} bytes, more than an array of shape ${fmtShape(shape)} needs`);
        }
        total += originalSize;
        if (total > maxBytes) {
          throw bad(`would inflate the file's arrays past options.maxBytes (${maxBytes} bytes; ${total} declared)`);
        }
        wanted.add(key);
        return false;
      },
    });
  } catch (e) {
    if (e instanceof RangeError && e.message.startsWith(`${fn}: `)) throw e;
    throw new RangeError(`${fn}: bytes is not an .npz (zip) file (${messageOf(e)})`);
  }
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter: ({ name }) => name.endsWith(".npy") });
  } catch (e) {
    throw new RangeError(`${fn}: bytes is not an .npz (zip) file (${messageOf(e)})`);
  }
  // (a null prototype: a member named __proto__ or constructor is an array like any other)
  const out = Object.create(null) as Record<string, NDArray>;
  for (const key of wanted) {
    const file = `${key}.npy`;
    const bad = (why: string) =>
      new RangeError(`${fn}: member ${JSON.stringify(file)} is not an .npy array convwasm can read (${why})`);
    out[key] = parseNpy(files[file], bad);
  }
  return out;
}
