// The ONNX fixtures of scripts/fixtures_onnx.py: the torchvision models are committed without their
// weights, each of which is fill() of its name (the script's, repeated here bit for bit); this writes
// them back so that loadOnnx gets the file torch.onnx.export wrote.
import { readFileSync } from "node:fs";
import protobuf from "protobufjs/light.js";
import { ONNX_SCHEMA } from "../src/onnx/schema.js";
import { decodeModel, encodeModel } from "../src/onnx/proto.js";
import { NDArray } from "convwasm";

const ModelProto = protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType("onnx.ModelProto");
const dir = new URL("./fixtures/onnx/", import.meta.url);

function fnv1a(name: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(name)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** n values in [lo, hi): the murmur3 finaliser of (fnv1a(name) + i·0x9E3779B9) mod 2^32, as in the script. */
export function fill(name: string, n: number, lo: number, hi: number): Float64Array {
  const seed = fnv1a(name);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let h = (seed + Math.imul(i, 0x9e3779b9)) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
    out[i] = lo + (hi - lo) * ((h >>> 0) / 4294967296);
  }
  return out;
}

export interface OnnxFixture {
  input: number[];
  output: number[];
  y: number[];
  files: Record<"f64" | "f32", { file: string; opset: number; ops: string[] }>;
}

export const onnxFixture = (name: string): OnnxFixture =>
  JSON.parse(readFileSync(new URL(`${name}.json`, dir), "utf8")) as OnnxFixture;

/** A fixture file's bytes with its filled weights written back. */
export function onnxBytes(file: string): Uint8Array {
  const m = ModelProto.decode(readFileSync(new URL(file, dir))) as unknown as {
    graph: {
      initializer: { name: string; dims: unknown[]; dataType: number; docString?: string; rawData?: Uint8Array }[];
    };
  };
  for (const t of m.graph.initializer) {
    if (!t.docString?.startsWith("{")) continue;
    const [lo, hi] = (JSON.parse(t.docString) as { fill: [number, number] }).fill;
    const n = t.dims.reduce<number>((a, d) => a * Number(d), 1);
    const v = fill(t.name, n, lo, hi);
    t.rawData = new Uint8Array(t.dataType === 11 ? Float64Array.from(v).buffer : Float32Array.from(v).buffer);
    t.docString = "";
  }
  return ModelProto.encode(m as unknown as protobuf.Message).finish();
}

/** The largest difference relative to the expected output's largest magnitude. */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
  return err / scale;
}

/** The fixture's input, [N, C, H, W]: fill("input") in [-1, 1). */
export const onnxInput = (f: OnnxFixture) =>
  new NDArray(
    fill(
      "input",
      f.input.reduce((a, b) => a * b, 1),
      -1,
      1,
    ),
    f.input,
  );

type Attr = { name: string; i?: number; f?: number; ints?: number[]; s?: Uint8Array; type: number };
export const attr = {
  int: (name: string, i: number): Attr => ({ name, i, type: 2 }),
  float: (name: string, f: number): Attr => ({ name, f, type: 1 }),
  ints: (name: string, ints: number[]): Attr => ({ name, ints, type: 7 }),
  string: (name: string, s: string): Attr => ({ name, s: new TextEncoder().encode(s), type: 3 }),
};

/** A double tensor initializer. */
export const doubles = (name: string, dims: number[], values: ArrayLike<number>) => ({
  name,
  dims,
  dataType: 11,
  rawData: new Uint8Array(Float64Array.from(values).buffer),
});

/** A model's bytes from hand-written nodes: one double input [N, ...shape] named "input", one output "output". */
export function makeModel(
  nodes: { opType: string; input: string[]; output: string[]; attribute?: Attr[]; name?: string; domain?: string }[],
  initializer: object[],
  shape: number[],
  opset = 13,
): Uint8Array {
  const dims = (s: number[]) => ({ dim: [{ dimParam: "N" }, ...s.map((d) => ({ dimValue: d }))] });
  const m = ModelProto.fromObject({
    irVersion: 8,
    opsetImport: [{ domain: "", version: opset }],
    graph: {
      name: "case",
      node: nodes,
      initializer,
      input: [{ name: "input", type: { tensorType: { elemType: 11, shape: dims(shape) } } }],
      output: [{ name: "output", type: { tensorType: { elemType: 11 } } }],
    },
  });
  return ModelProto.encode(m).finish();
}

/** A fixture's file (weights written back), its input declared [N, C, size, size] (the digits net's kept). */
export function zoo(name: string, precision: "f64" | "f32", size: number): { bytes: Uint8Array; shape: number[] } {
  const f = onnxFixture(name);
  const m = decodeModel(onnxBytes(f.files[precision].file));
  const dims = m.graph!.input![0].type!.tensorType!.shape!.dim!;
  if (name !== "digits") dims[2] = dims[3] = { dimValue: size };
  for (const o of m.graph!.output!) o.type = { tensorType: { elemType: o.type!.tensorType!.elemType } };
  return { bytes: encodeModel(m), shape: dims.slice(1).map((d) => Number(d.dimValue)) };
}
