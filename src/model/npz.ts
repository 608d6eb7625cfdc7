// numpy's .npz (a zip of .npy arrays) for model weights, read and written with fflate: weights trained
// with numpy, PyTorch or Keras move in through numpy (np.savez) and back out (np.load).
import { unzipSync, zipSync } from "fflate";
import { NDArray, describe, messageOf } from "../ndarray.js";

/** .npy version 1.0 of a float64 C-order array: magic, header dict padded to 64 bytes, little-endian data. */
function npy(a: NDArray): Uint8Array {
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(", ")})`;
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': ${shape}, }`;
  header += " ".repeat(64 - ((10 + header.length + 1) % 64)) + "\n";
  const out = new Uint8Array(10 + header.length + a.size * 8);
  out.set([0x93, ...Array.from("NUMPY", (ch) => ch.charCodeAt(0)), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const data = new DataView(out.buffer, 10 + header.length);
  a.toFloat64Array().forEach((v, i) => data.setFloat64(i * 8, v, true));
  return out;
}

/** Parses a .npy file: float64 or float32 (widened), little- or big-endian, C or Fortran order. */
function parseNpy(fn: string, name: string, bytes: Uint8Array): NDArray {
  const bad = (why: string) => new RangeError(`${fn}: ${name} is not an .npy array convwasm can read (${why})`);
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== "NUMPY") {
    throw bad("no .npy magic");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const [lenAt, start] = major === 1 ? [8, 10] : [8, 12];
  const headerLength = major === 1 ? view.getUint16(lenAt, true) : view.getUint32(lenAt, true);
  const header = String.fromCharCode(...bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([<>|=])([fi])(\d)'/.exec(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header);
  const fortran = /'fortran_order':\s*True/.test(header);
  if (!descr || !shapeText) throw bad(`header ${JSON.stringify(header.trim())}`);
  const [, order, kind, size] = descr;
  if (kind !== "f" || (size !== "8" && size !== "4"))
    throw bad(`dtype ${order}${kind}${size}; float64 or float32 expected`);
  const shape = shapeText[1]
    .split(",")
    .map((d) => d.trim())
    .filter((d) => d !== "")
    .map(Number);
  const n = shape.reduce((p, d) => p * d, 1);
  const bytesPer = Number(size);
  const offset = start + headerLength;
  if (bytes.length < offset + n * bytesPer)
    throw bad(`${n} elements announced, ${bytes.length - offset} bytes of data`);
  const little = order !== ">";
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const at = offset + i * bytesPer;
    data[i] = bytesPer === 8 ? view.getFloat64(at, little) : view.getFloat32(at, little);
  }
  if (!fortran) return new NDArray(data, shape);
  // Fortran order: the reversed shape in C order, transposed back
  const reversed = new NDArray(data, [...shape].reverse());
  return new NDArray(reversed.transpose().toFloat64Array(), shape);
}

/** np.savez: the arrays, named, as the bytes of an .npz file. */
export function writeNpz(arrays: Record<string, NDArray>): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [name, a] of Object.entries(arrays)) files[`${name}.npy`] = npy(a);
  return zipSync(files, { level: 0 });
}

/** np.load of an .npz file's bytes: its arrays by name. */
export function readNpz(fn: string, bytes: unknown): Record<string, NDArray> {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`${fn}: bytes expects the Uint8Array of an .npz file but got ${describe(bytes)}`);
  }
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    throw new RangeError(`${fn}: bytes is not an .npz (zip) file (${messageOf(e)})`);
  }
  const out: Record<string, NDArray> = {};
  for (const [file, data] of Object.entries(files)) {
    if (!file.endsWith(".npy")) continue;
    out[file.slice(0, -4)] = parseNpy(fn, file, data);
  }
  return out;
}
