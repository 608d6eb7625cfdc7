// An ONNX graph as convwasm's graph: each node either evaluated at load (constants and the shape
// arithmetic around reshapes) or made into a layer (model/layers.ts), weights transposed once to the
// library's layouts. ONNX's images are NCHW; inside, a 4-D value is the library's [h, w, c] per example,
// and a Flatten of a value with h·w > 1 keeps the NHWC order with the permutation noted, which the Gemm
// that reads it takes into its weights' rows (so the results are those of the NCHW graph).
import { NDArray, describe, messageOf } from "../core/ndarray.js";
import { describeGraph, input, SymbolicTensor, type GraphDescription } from "../graph/graph.js";
import { layers, type LayerSpec } from "../model/layers.js";
import { checkPrecision } from "../model/model.js";
import type { Precision } from "../kernels/kernels.js";
import { DT, decodeModel, type AttributeProto, type ModelProto, type NodeProto } from "./proto.js";
import {
  axisOf,
  broadcast,
  concatAxis,
  isFloatType,
  list,
  readTensor,
  reshapeTarget,
  scalar,
  sizeOfShape,
  sliceAxis,
  squeezeAxes,
  transpose,
  unsqueezed,
  valuesOf,
  type Tensor,
} from "./tensor.js";

const FN = "loadOnnx";

/** A value computed at load. */
interface Const extends Tensor {
  kind: "const";
}

/**
 * A value computed when the model runs: its ONNX shape (NaN for the batch), its node in convwasm's graph,
 * and how its per-example values are laid out: "image" [h, w, c] for ONNX [N, C, H, W]; "vector" [n]
 * for ONNX [N, n] or [N, C, 1, 1], with `perm[p]` the ONNX index of the value at position p (absent:
 * the same order).
 */
interface Live {
  kind: "live";
  shape: number[];
  t: SymbolicTensor;
  layout: "image" | "vector";
  perm?: Int32Array;
  /**
   * A 5-D view [N, g, C/g, H, W] of an image (ShuffleNet's channel shuffle: reshape, transpose, reshape),
   * its data the image's; `shuffled` after the transpose of its two group axes.
   */
  view?: { groups: number; shuffled: boolean };
  /** An image transposed to [N, H, W, C] (its data the image's, which is NHWC already): what a flatten in that order reads. */
  nhwc?: boolean;
  /** What made it, where a later node can merge with it (a bias into a MatMul's dense, x·sigmoid(x) into swish). */
  from?: { op: "matmul"; spec: LayerSpec; readers: number } | { op: "sigmoid" | "hardSwishGate"; of: Live };
}

type Value = Const | Live;

/** How a graph input or output is laid out, for predict's conversions from and to ONNX's layout. */
export interface IoLayout {
  name: string;
  /** The ONNX per-example shape (the batch dimension left out). */
  shape: number[];
  layout: "image" | "vector";
  perm?: Int32Array;
}

export interface Imported {
  graph: GraphDescription;
  /** The model's arrays by its names ("conv2d_3/W"), in its layouts. */
  weights: Record<string, NDArray>;
  inputs: IoLayout[];
  outputs: IoLayout[];
  opset: number;
}

/** The ops loadOnnx maps (beside the Constant and shape ops it evaluates at load). */
export const SUPPORTED = [
  "Conv",
  "BatchNormalization",
  "Relu",
  "LeakyRelu",
  "Clip",
  "Sigmoid",
  "HardSigmoid",
  "HardSwish",
  "Add",
  "Sum",
  "Sub",
  "Mul",
  "Div",
  "MaxPool",
  "AveragePool",
  "GlobalAveragePool",
  "GlobalMaxPool",
  "ReduceMean",
  "Concat",
  "Split",
  "Slice",
  "Flatten",
  "Reshape",
  "Transpose",
  "Squeeze",
  "Unsqueeze",
  "Gemm",
  "MatMul",
  "Softmax",
  "Dropout",
  "Identity",
  "Constant",
  "Pad",
  "Shape",
  "Gather",
  "Cast",
  "ConstantOfShape",
] as const;

class Unsupported extends Error {}

/** The inputs an op must be given (ONNX's schemas; the opset where that changed): what a crafted file may leave out. */
function requiredInputs(op: string, opset: number): number {
  if (["Conv", "Add", "Sub", "Mul", "Div", "Gemm", "MatMul", "Gather"].includes(op)) return 2;
  if (op === "BatchNormalization") return 5;
  if (op === "Reshape") return 2;
  if (op === "Pad") return opset >= 11 ? 2 : 1;
  if (op === "Slice") return opset >= 10 ? 3 : 1;
  return op === "Constant" ? 0 : 1;
}

const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i] || (Number.isNaN(d) && Number.isNaN(b[i])));
const fmt = (s: readonly number[]) => `[${s.map((d) => (Number.isNaN(d) ? "N" : d)).join(",")}]`;

/** A node's attributes by name, read as ONNX's spec types them, with its defaults. */
class Attributes {
  private readonly map = new Map<string, AttributeProto>();
  constructor(
    private readonly where: string,
    list: AttributeProto[] | undefined,
  ) {
    for (const a of list ?? []) {
      if (a.refAttrName) throw new Unsupported(`attribute ${a.name} refers to a function's attribute`);
      this.map.set(a.name ?? "", a);
    }
  }
  has = (name: string) => this.map.has(name);
  int(name: string, fallback: number): number {
    const a = this.map.get(name);
    return a ? Number(a.i ?? 0) : fallback;
  }
  float(name: string, fallback: number): number {
    const a = this.map.get(name);
    return a ? float32Intent(a.f ?? 0) : fallback;
  }
  /** A list of floats as stored (a Constant's values, not a number of the model's to read as meant). */
  floats(name: string): number[] | undefined {
    const a = this.map.get(name);
    return a ? [...(a.floats ?? [])] : undefined;
  }
  ints(name: string, fallback?: number[]): number[] | undefined {
    const a = this.map.get(name);
    return a ? (a.ints ?? []).map(Number) : fallback;
  }
  string(name: string, fallback: string): string {
    const a = this.map.get(name);
    return a ? new TextDecoder().decode(a.s ?? new Uint8Array()) : fallback;
  }
  tensor(name: string): Tensor | undefined {
    const a = this.map.get(name);
    return a?.t ? readTensor(`${this.where}: attribute ${name}`, a.t) : undefined;
  }
  /** Refuses an attribute whose value is not the one the import honours. */
  only(name: string, ok: (a: AttributeProto) => boolean, what: string) {
    const a = this.map.get(name);
    if (a && !ok(a)) throw new Unsupported(`attribute ${name}: only ${what} is supported`);
  }
}

/**
 * The number a float32 attribute stands for: ONNX stores attributes in float32, so a model exported from
 * float64 says 0.2 as 0.200000003. Taken as the shortest decimal that rounds to it (0.2), or a fraction
 * n/d with d ≤ 16 where that is a float32 of 8 digits (1/6, hard sigmoid's slope), as float64 meant it.
 */
export function float32Intent(f: number): number {
  if (!Number.isFinite(f) || Math.fround(f) !== f) return f;
  for (let digits = 1; digits <= 9; digits++) {
    const short = Number(f.toPrecision(digits));
    if (Math.fround(short) === f) {
      if (digits < 8) return short;
      for (let d = 3; d <= 16; d++) {
        const n = Math.round(f * d);
        if (Math.fround(n / d) === f) return n / d;
      }
      return short;
    }
  }
  return f;
}

/** A Conv's or a pool's padding on each side: pads, or auto_pad's (SAME_UPPER puts the odd one at the end). */
function padsOf(
  at: Attributes,
  inHW: number[],
  k: number[],
  s: number[],
  d: number[],
): [[number, number], [number, number]] {
  const auto = at.string("auto_pad", "NOTSET");
  if (auto === "VALID")
    return [
      [0, 0],
      [0, 0],
    ];
  if (auto === "SAME_UPPER" || auto === "SAME_LOWER") {
    const side = (i: number): [number, number] => {
      const out = Math.ceil(inHW[i] / s[i]);
      const total = Math.max(0, (out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - inHW[i]);
      const small = Math.floor(total / 2);
      return auto === "SAME_UPPER" ? [small, total - small] : [total - small, small];
    };
    return [side(0), side(1)];
  }
  if (auto !== "NOTSET") throw new Unsupported(`attribute auto_pad: ${auto} is not an ONNX value`);
  const p = at.ints("pads", [0, 0, 0, 0])!;
  if (p.length !== 4 || p.some((v) => !(v >= 0))) {
    throw new Unsupported(`attribute pads: expects 4 sizes ≥ 0 for a 2-D window but got [${p}]`);
  }
  return [
    [p[0], p[2]],
    [p[1], p[3]],
  ];
}

/** ONNX [k, c/g, fh, fw] kernels as convwasm's [fh, fw, c/g, k]. */
function convKernel(w: Tensor): NDArray {
  const [k, cg, fh, fw] = w.shape;
  const out = new Float64Array(k * cg * fh * fw);
  // (straight from the file's bytes where they are not float64 in place: no copy of its own)
  const { array, view } = valuesOf(w);
  let i = 0;
  for (let o = 0; o < k; o++)
    for (let c = 0; c < cg; c++)
      for (let y = 0; y < fh; y++)
        for (let x = 0; x < fw; x++, i++)
          out[((y * fw + x) * cg + c) * k + o] = view ? view.getFloat64(i * 8, true) : array![i];
  return new NDArray(out, [fh, fw, cg, k]);
}

/** What to import: the whole graph, or up to one of its values with new layers after it (fine-tuning). */
export interface ImportOptions {
  /** The graph up to the value named `from` (the rest is left out), then `layers` applied to it: the new output. */
  head?: { from: string; layers: (x: SymbolicTensor) => SymbolicTensor };
  /** false: every imported layer frozen (fit trains only the head's). */
  trainable?: boolean;
  /** predict()'s precision (see Model.compile): "f64" (default) or "f32". */
  precision?: Precision;
}

/**
 * loadOnnx's bytes decoded and its options copied (each field read once) and checked: where both entries'
 * loadOnnx start.
 */
export function readOnnx<O extends ImportOptions>(
  fn: string,
  bytes: unknown,
  options: unknown,
): { proto: ModelProto; options: O } {
  const data = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes instanceof Uint8Array ? bytes : undefined;
  if (!data) throw new TypeError(`${fn}: bytes expects a Uint8Array or an ArrayBuffer but got ${describe(bytes)}`);
  if (options !== undefined && (options === null || typeof options !== "object")) {
    throw new TypeError(`${fn}: options expects an object but got ${describe(options)}`);
  }
  let o: O;
  try {
    o = { ...(options as O) };
    if (o.head !== null && typeof o.head === "object") o.head = { ...o.head };
  } catch (e) {
    throw new TypeError(`${fn}: reading options threw: ${messageOf(e)}`, { cause: e });
  }
  if (o.trainable !== undefined && typeof o.trainable !== "boolean") {
    throw new TypeError(`${fn}: options.trainable expects true or false but got ${describe(o.trainable)}`);
  }
  if (o.precision !== undefined) checkPrecision(fn, o.precision);
  const h = o.head as { from?: unknown; layers?: unknown } | null | undefined;
  if (
    h !== undefined &&
    (h === null || typeof h !== "object" || typeof h.from !== "string" || typeof h.layers !== "function")
  ) {
    throw new TypeError(
      `${fn}: options.head expects { from: a value's name, layers: x => output } but got ${describe(h)}`,
    );
  }
  try {
    return { proto: decodeModel(data), options: o };
  } catch (e) {
    throw new RangeError(`${fn}: bytes are not an ONNX model (${messageOf(e)})`, { cause: e });
  }
}

export function importOnnx(m: ModelProto, options: ImportOptions = {}): Imported {
  const { head, trainable = true } = options;
  const g = m.graph;
  if (!g) throw new TypeError(`${FN}: the model has no graph`);
  const opsets = m.opsetImport ?? [];
  const opset = Number(opsets.find((o) => !o.domain || o.domain === "ai.onnx")?.version ?? 0);
  if (!(opset >= 7 && opset <= 21)) {
    throw new RangeError(
      `${FN}: opset expects 7 to 21 (the default domain's) but the model imports ${opset || "none"}`,
    );
  }
  const values = new Map<string, Value>();
  const initNames = new Set<string>();
  for (const t of g.initializer ?? []) {
    const name = t.name ?? "";
    // (assigned, not spread: a spread would read `data`, which a weight may never need made)
    values.set(
      name,
      Object.assign(readTensor(`${FN}: initializer ${JSON.stringify(name)}`, t), { kind: "const" as const }),
    );
    initNames.add(name);
  }

  // the graph's inputs: each a float image [N, C, H, W] or vector [N, n]
  const inputs: IoLayout[] = [];
  /** The first input's batch size where the graph fixes one (a reshape to [B, -1] keeps the batch). */
  let batch = NaN;
  const inputTensors: SymbolicTensor[] = [];
  for (const v of g.input ?? []) {
    const name = v.name ?? "";
    if (initNames.has(name)) continue;
    const tt = v.type?.tensorType;
    const where = `${FN}: input ${JSON.stringify(name)}`;
    if (!tt || !isFloatType(tt.elemType ?? 0)) throw new TypeError(`${where} expects a float tensor`);
    const dims = (tt.shape?.dim ?? []).map((d, i) => (i === 0 ? NaN : Number(d.dimValue ?? 0)));
    const b = tt.shape?.dim?.[0]?.dimValue;
    if (inputs.length === 0 && b) batch = Number(b);
    if (!(dims.length === 4 || dims.length === 2) || dims.slice(1).some((d) => !(d > 0))) {
      throw new RangeError(
        `${where} expects a shape [N, C, H, W] or [N, n] with known sizes but got ${fmt(dims)} (${(tt.shape?.dim ?? []).map((d) => d.dimParam || d.dimValue).join(", ")})`,
      );
    }
    const image = dims.length === 4;
    const t = input(image ? [dims[2], dims[3], dims[1]] : [dims[1]], { name });
    inputTensors.push(t);
    inputs.push({ name, shape: dims.slice(1), layout: image ? "image" : "vector" });
    values.set(name, { kind: "live", shape: dims, t, layout: image ? "image" : "vector" });
  }
  if (inputs.length === 0) throw new RangeError(`${FN}: the graph has no input besides its initializers`);

  const readers = new Map<string, number>();
  for (const n of g.node ?? []) for (const i of n.input ?? []) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  for (const o of g.output ?? []) readers.set(o.name ?? "", (readers.get(o.name ?? "") ?? 0) + 1);
  // only the nodes the outputs (or the head's value) depend on: what else the file holds is not run
  const targets = head ? [head.from] : (g.output ?? []).map((o) => o.name ?? "");
  const maker = new Map<string, number>();
  (g.node ?? []).forEach((n, i) => (n.output ?? []).forEach((o) => o && maker.set(o, i)));
  const needed = new Set<number>();
  const stack = targets.filter((t) => maker.has(t));
  if (head && !maker.has(head.from) && !values.has(head.from)) {
    throw new RangeError(
      `${FN}: options.head.from expects the name of a value of the graph but got ${JSON.stringify(head.from)}`,
    );
  }
  while (stack.length > 0) {
    const i = maker.get(stack.pop()!)!;
    if (needed.has(i)) continue;
    needed.add(i);
    for (const v of g.node![i].input ?? []) if (maker.has(v)) stack.push(v);
  }

  const weights = new Map<LayerSpec, Record<string, NDArray>>();
  const problems: string[] = [];
  const failed = new Set<string>();

  (g.node ?? []).forEach((node, index) => {
    if (!needed.has(index)) return;
    const op = node.opType ?? "";
    const where = `${FN}: node ${index} (${op}${node.name ? ` ${JSON.stringify(node.name)}` : ""})`;
    const ins = node.input ?? [];
    if (ins.some((i) => i && failed.has(i))) {
      (node.output ?? []).forEach((o) => failed.add(o));
      return;
    }
    try {
      if (node.domain && node.domain !== "ai.onnx") throw new Unsupported(`its domain ${node.domain} is not ONNX's`);
      if (!(SUPPORTED as readonly string[]).includes(op)) throw new Unsupported(`the op is not supported`);
      const outs = convert(node, op, where);
      (node.output ?? []).forEach((name, i) => {
        if (!name) return;
        if (i >= outs.length) {
          if ((readers.get(name) ?? 0) > 0) throw new Unsupported(`its output ${i} (${name}) is not supported`);
          return;
        }
        values.set(name, outs[i]);
      });
    } catch (e) {
      // a crafted file can make a check fail where none is written: still this node's error, by name
      if (!(e instanceof Unsupported) && !(e instanceof Error && e.message.startsWith(FN))) {
        throw new RangeError(`${where}: cannot be read (${e instanceof Error ? e.message : String(e)})`, { cause: e });
      }
      if (!(e instanceof Unsupported)) throw e;
      problems.push(`node ${index} ${op}${node.name ? ` ${JSON.stringify(node.name)}` : ""}: ${e.message}`);
      (node.output ?? []).forEach((o) => failed.add(o));
    }
  });
  if (problems.length > 0) {
    throw new RangeError(`${FN}: the model has ${problems.length} node(s) it cannot run:\n  ${problems.join("\n  ")}`);
  }

  const outputs: IoLayout[] = [];
  const outputTensors: SymbolicTensor[] = [];
  if (head) {
    const v = values.get(head.from);
    if (!v || v.kind !== "live" || v.view) {
      throw new RangeError(
        `${FN}: options.head.from expects a value computed from the inputs (an image or a vector) but ${JSON.stringify(head.from)} is not`,
      );
    }
    let out: unknown;
    try {
      out = head.layers(v.t);
    } catch (e) {
      throw new TypeError(`${FN}: options.head.layers threw: ${e instanceof Error ? e.message : String(e)}`, {
        cause: e,
      });
    }
    if (!(out instanceof SymbolicTensor)) {
      throw new TypeError(
        `${FN}: options.head.layers expects to return a layer's output but returned ${describe(out)}`,
      );
    }
    outputTensors.push(out);
    // the head's output in the library's layout, told as ONNX's: NCHW for an image, as it is for a vector
    outputs.push({ name: "head", shape: [], layout: "vector" });
  }
  for (const o of head ? [] : (g.output ?? [])) {
    const name = o.name ?? "";
    const v = values.get(name);
    if (!v || v.kind !== "live" || (v.shape.length > 0 && !Number.isNaN(v.shape[0]))) {
      throw new RangeError(`${FN}: output ${JSON.stringify(name)} expects a value computed from the inputs`);
    }
    if (v.view) throw new RangeError(`${FN}: output ${JSON.stringify(name)} is a 5-D view of an image, not supported`);
    // (an output that is an input as it came, as a graph of an Identity or Dropout alone: a layer that
    // copies it, since a model's outputs are values its layers make)
    const t = inputTensors.includes(v.t) ? layer(layers.dropout({ rate: 0 }), v, v.shape, v.layout).t : v.t;
    outputTensors.push(t);
    // (an image transposed to NHWC is the library's own order: given as it is, [N, H, W, C])
    outputs.push({ name, shape: v.shape.slice(1), layout: v.nhwc ? "vector" : v.layout, perm: v.perm });
  }
  if (outputs.length === 0) throw new RangeError(`${FN}: the graph has no output`);

  const graph = describeGraph(FN, inputTensors, outputTensors);
  // the model's names for its layers' arrays: as model.ts names them, kind then kind_1, … in node order
  const named: Record<string, NDArray> = {};
  const counts: Record<string, number> = {};
  const seen = new Set<number>();
  for (const n of graph.nodes) {
    if (seen.has(n.layer)) continue;
    seen.add(n.layer);
    const spec = graph.specs[n.layer] as LayerSpec;
    const name = counts[spec.kind] === undefined ? spec.kind : `${spec.kind}_${counts[spec.kind]}`;
    counts[spec.kind] = (counts[spec.kind] ?? 0) + 1;
    for (const [k, a] of Object.entries(weights.get(spec) ?? {})) named[`${name}/${k}`] = a;
  }
  return { graph, weights: named, inputs, outputs, opset };

  // ---- the nodes ----

  function get(name: string | undefined, where: string): Value {
    const v = values.get(name ?? "");
    if (!v) {
      const why = maker.has(name ?? "")
        ? "before the node that makes it (ONNX lists nodes in topological order)"
        : "which no node, input or initializer makes";
      throw new RangeError(`${where}: reads ${JSON.stringify(name)}, ${why}`);
    }
    return v;
  }
  function constant(name: string | undefined, what: string, where: string): Const {
    const v = get(name, where);
    if (v.kind !== "const") throw new Unsupported(`${what} must be a constant (an initializer)`);
    return v;
  }
  /** An optional input given as a constant (absent or "": undefined). */
  function optional(node: NodeProto, i: number, what: string, where: string): Const | undefined {
    const name = node.input?.[i];
    return name ? constant(name, what, where) : undefined;
  }
  /** A computed input (a channel shuffle's 5-D view only where `view`: elementwise ops, reshapes). */
  function live(node: NodeProto, where: string, i = 0, view = false): Live {
    const v = get(node.input?.[i], where);
    if (v.kind !== "live") throw new Unsupported(`input ${i} expects a value computed from the model's inputs`);
    if (v.view && !view)
      throw new Unsupported(`input ${i} ${fmt(v.shape)} is a 5-D view, which only a reshape back to 4-D takes`);
    if (v.nhwc && !view) {
      throw new Unsupported(
        `input ${i} ${fmt(v.shape)} is an image transposed to NHWC, which only a flatten or a transpose back takes`,
      );
    }
    return v;
  }
  /**
   * The image's channels src[0], src[1], …: a 1×1 conv whose weights pick them (exact: one 1·x and
   * zeros), frozen, for Split, Slice and the channel shuffle (which have no layer of their own).
   */
  function pick(x: Live, src: number[]): Live {
    const [c, h, w] = image(x);
    const k = src.length;
    const W = new Float64Array(c * k);
    src.forEach((from, j) => (W[from * k + j] = 1));
    const spec = layers.conv2d({ filters: k, size: 1, bias: false, trainable: false });
    return layer(spec, x, [NaN, k, h, w], "image", { W: new NDArray(W, [1, 1, c, k]) });
  }
  /** Squeeze's and Unsqueeze's axes: an input from opset 13, an attribute before. */
  function axesOf(input: Const | undefined, at: Attributes): number[] | undefined {
    return opset >= 13 ? (input ? ints(input) : undefined) : at.ints("axes");
  }
  function ints(c: Const) {
    return Array.from(c.data);
  }
  function k(data: Tensor): Const {
    return { kind: "const", ...data };
  }
  function layer(
    spec: LayerSpec,
    from: Live | Live[],
    shape: number[],
    layout: Live["layout"],
    w?: Record<string, NDArray>,
  ): Live {
    if (!trainable) spec.trainable = false;
    const t = (spec as LayerSpec & { apply(x: unknown): SymbolicTensor }).apply(
      Array.isArray(from) ? from.map((f) => f.t) : from.t,
    );
    if (w) weights.set(spec, w);
    return { kind: "live", shape, t, layout };
  }
  /** A 4-D live value (an image, or a vector with ONNX shape [N, C, 1, 1]). */
  function image(x: Live, what = "input 0"): [number, number, number] {
    if (x.shape.length !== 4) throw new Unsupported(`${what} expects a 4-D value [N, C, H, W] but got ${fmt(x.shape)}`);
    return [x.shape[1], x.shape[2], x.shape[3]];
  }
  /** A vector in ONNX's order (a flatten of an image made it NHWC-ordered: refused where order matters). */
  function ordered(x: Live, what: string) {
    if (x.perm)
      throw new Unsupported(`${what} reads a flattened image in NCHW order, which only Gemm and MatMul can take`);
  }

  function convert(node: NodeProto, op: string, where: string): Value[] {
    const at = new Attributes(where, node.attribute);
    const ins = node.input ?? [];
    const need = requiredInputs(op, opset);
    if (ins.length < need || ins.slice(0, need).some((n) => !n)) {
      throw new RangeError(
        `${where}: expects ${need} input(s) but has ${ins.filter(Boolean).length} (${JSON.stringify(ins)})`,
      );
    }
    const inputs = ins.map((n) => (n ? get(n, where) : undefined));
    // every input a constant: evaluated now (shape arithmetic, folded weights)
    if (inputs.length > 0 && inputs.every((v) => !v || v.kind === "const") && op !== "Constant") {
      return [k(evaluate(op, at, inputs as (Const | undefined)[], where))];
    }
    switch (op) {
      case "Constant": {
        const t =
          at.tensor("value") ??
          (at.has("value_float")
            ? scalar(at.float("value_float", 0))
            : at.has("value_int")
              ? scalar(at.int("value_int", 0), true)
              : at.has("value_floats")
                ? list(at.floats("value_floats")!)
                : at.has("value_ints")
                  ? list(at.ints("value_ints")!, true)
                  : undefined);
        if (!t) throw new Unsupported(`only value, value_float(s) and value_int(s) are supported`);
        return [k(t)];
      }
      case "Identity":
      case "Dropout": {
        if (op === "Dropout" && (node.output?.length ?? 0) > 1 && node.output![1]) {
          throw new Unsupported(`its mask output is not supported`);
        }
        const tm = optional(node, 2, "training_mode", where);
        if (tm && tm.data[0] !== 0) throw new Unsupported(`training_mode true is not supported (inference)`);
        return [live(node, where, 0, true)];
      }
      case "Cast": {
        const to = at.int("to", 0);
        if (!isFloatType(to)) throw new Unsupported(`a cast of a computed value to type ${to} is not supported`);
        return [live(node, where, 0, true)];
      }
      case "Shape": {
        const x = live(node, where);
        const r = x.shape.length;
        const clamp = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
        const s = x.shape.slice(clamp(at.int("start", 0)), clamp(at.int("end", r)));
        return [k({ shape: [s.length], data: Float64Array.from(s), int: true })];
      }
      case "Conv":
        return [conv(node, at, where)];
      case "BatchNormalization": {
        const x = live(node, where);
        if (at.int("training_mode", 0) !== 0) throw new Unsupported(`training_mode 1 is not supported (inference)`);
        at.only("spatial", (a) => Number(a.i) === 1, "spatial 1");
        if ((node.output ?? []).slice(1).some((o) => o && (readers.get(o) ?? 0) > 0)) {
          throw new Unsupported(`its running statistics outputs are not supported`);
        }
        const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => constant(ins[i], `input ${i}`, where));
        const c = x.shape[1];
        if (x.perm || ![scale, bias, mean, variance].every((p) => p.data.length === c)) {
          throw new Unsupported(`expects a value [N, C, …] in order and 4 vectors [${c}]`);
        }
        const vec = (p: Const) => new NDArray(Float64Array.from(p.data), [c]);
        const spec = layers.batchNorm({ epsilon: at.float("epsilon", 1e-5), momentum: 1 - at.float("momentum", 0.9) });
        return [
          layer(spec, x, x.shape, x.layout, {
            gamma: vec(scale),
            beta: vec(bias),
            moving_mean: vec(mean),
            moving_variance: vec(variance),
          }),
        ];
      }
      case "Relu":
      case "Sigmoid":
      case "HardSwish":
      case "LeakyRelu":
      case "HardSigmoid":
      case "Clip": {
        const x = live(node, where, 0, true);
        let spec: LayerSpec;
        if (op === "Relu") spec = layers.relu();
        else if (op === "Sigmoid") spec = layers.sigmoid();
        else if (op === "HardSwish") spec = layers.hardSwish();
        else if (op === "LeakyRelu") spec = layers.leakyRelu({ alpha: at.float("alpha", 0.01) });
        else if (op === "HardSigmoid")
          spec = layers.hardSigmoid({ alpha: at.float("alpha", 0.2), beta: at.float("beta", 0.5) });
        else {
          const bound = (i: number, name: string, fallback: number) => {
            if (opset < 11) return at.float(name, fallback);
            const c = optional(node, i, name, where);
            return c ? c.data[0] : fallback;
          };
          const [lo, hi] = [bound(1, "min", -Infinity), bound(2, "max", Infinity)];
          spec =
            lo === 0 && hi === 6
              ? layers.relu6()
              : lo === 0 && hi === Infinity
                ? layers.relu()
                : layers.clip({ min: lo, max: hi });
        }
        const y = layer(spec, x, x.shape, x.layout);
        y.perm = x.perm;
        y.view = x.view;
        y.nhwc = x.nhwc;
        if (op === "Sigmoid") y.from = { op: "sigmoid", of: x };
        const hs = spec as { alpha?: number; beta?: number };
        if (op === "HardSigmoid" && hs.alpha === 1 / 6 && hs.beta === 0.5) y.from = { op: "hardSwishGate", of: x };
        return [y];
      }
      case "Sum": {
        const xs = inputs.map((v) => {
          if (!v || v.kind !== "live" || v.view || v.nhwc || v.perm)
            throw new Unsupported(`only a sum of computed values in ONNX's order is supported`);
          return v;
        });
        if (xs.some((x) => x.layout !== xs[0].layout || !same(x.shape, xs[0].shape)))
          throw new Unsupported(`only a sum of values of one shape is supported`);
        return [xs.length === 1 ? xs[0] : layer(layers.add(), xs, xs[0].shape, xs[0].layout)];
      }
      case "Add":
      case "Mul":
      case "Sub":
      case "Div":
        return [binary(node, op, where)];
      case "MaxPool":
      case "AveragePool":
        return [pool(node, op, at, where)];
      case "GlobalAveragePool":
      case "GlobalMaxPool":
      case "ReduceMean": {
        const x = live(node, where);
        const [c] = image(x);
        let keep = true;
        if (op === "ReduceMean") {
          const axes =
            opset >= 18
              ? optional(node, 1, "axes", where)
                ? ints(optional(node, 1, "axes", where)!)
                : undefined
              : at.ints("axes");
          const set = new Set((axes ?? []).map((a) => axisOf(where, a, 4)));
          if (!(set.size === 2 && set.has(2) && set.has(3)))
            throw new Unsupported(`only axes [2, 3] (H and W) are supported`);
          keep = at.int("keepdims", 1) === 1;
        }
        const shape = keep ? [NaN, c, 1, 1] : [NaN, c];
        if (x.layout === "vector") return [{ ...x, shape }];
        const spec = op === "GlobalMaxPool" ? layers.globalMaxPool() : layers.globalAvgPool();
        return [layer(spec, x, shape, "vector")];
      }
      case "Flatten":
      case "Reshape":
      case "Squeeze":
      case "Unsqueeze":
        return [reshape(node, op, at, where)];
      case "Transpose": {
        const x = live(node, where, 0, true);
        const perm = at.ints(
          "perm",
          x.shape.map((_, i) => x.shape.length - 1 - i),
        )!;
        if (perm.every((p, i) => p === i)) return [x];
        // NCHW → NHWC (before a flatten in the library's order) and back
        if (
          x.layout === "image" &&
          !x.view &&
          x.shape.length === 4 &&
          perm.join() === (x.nhwc ? "0,3,1,2" : "0,2,3,1")
        ) {
          const [n, a, b, c] = x.shape;
          return [{ ...x, shape: x.nhwc ? [n, c, a, b] : [n, b, c, a], nhwc: !x.nhwc }];
        }
        if (!x.view || perm.join() !== "0,2,1,3,4") {
          throw new Unsupported(`a transpose [${perm}] of ${fmt(x.shape)} is not supported (only a channel shuffle's)`);
        }
        const [n, a, b, h, w] = x.shape;
        return [{ ...x, shape: [n, b, a, h, w], view: { groups: x.view.groups, shuffled: !x.view.shuffled } }];
      }
      case "Split": {
        const x = live(node, where);
        const [c] = image(x);
        if (x.layout !== "image") throw new Unsupported(`splits a value that is not an image`);
        const axis = axisOf(where, at.int("axis", 0), 4);
        if (axis !== 1) throw new Unsupported(`axis ${axis}: only the channels (axis 1) are supported`);
        const outs = node.output?.length ?? 0;
        const given = opset >= 13 ? optional(node, 1, "split", where) : undefined;
        const sizes = given
          ? ints(given)
          : (at.ints("split") ??
            Array.from(
              { length: outs },
              (_, i) => Math.ceil(c / outs) - (i === outs - 1 ? Math.ceil(c / outs) * outs - c : 0),
            ));
        if (sizes.length !== outs || sizes.some((d) => !(d >= 0)) || sizes.reduce((a, b) => a + b, 0) !== c) {
          throw new RangeError(`${where}: split [${sizes}] does not cut ${c} channels into ${outs} outputs`);
        }
        let from = 0;
        return sizes.map((d) =>
          pick(
            x,
            Array.from({ length: d }, () => from++),
          ),
        );
      }
      case "Slice": {
        const x = live(node, where);
        const [c] = image(x);
        if (x.layout !== "image" || opset < 10)
          throw new Unsupported(`only a slice of an image's channels (opset ≥ 10) is supported`);
        const [starts, ends, axes, steps] = [1, 2, 3, 4].map((i) =>
          optional(node, i, ["", "starts", "ends", "axes", "steps"][i], where),
        );
        const ax = axes ? ints(axes).map((a) => axisOf(where, a, 4)) : ints(starts!).map((_, i) => i);
        if (ax.length !== 1 || ax[0] !== 1 || (steps && steps.data[0] !== 1)) {
          throw new Unsupported(`only a slice of the channels (axis 1, step 1) is supported`);
        }
        const clamp = (v: number) => Math.min(c, Math.max(0, v < 0 ? v + c : v));
        const [s0, e0] = [clamp(starts!.data[0]), clamp(ends!.data[0])];
        return [
          pick(
            x,
            Array.from({ length: Math.max(0, e0 - s0) }, (_, i) => s0 + i),
          ),
        ];
      }
      case "Concat": {
        const xs = inputs.map((v) => {
          if (!v || v.kind !== "live") throw new Unsupported(`joins computed values and constants`);
          if (v.view || v.nhwc) throw new Unsupported(`reads a 5-D view or an NHWC image, which only a reshape takes`);
          return v;
        });
        const axis = axisOf(where, at.int("axis", 0), xs[0].shape.length);
        if (axis !== 1) throw new Unsupported(`axis ${axis}: only the channels (axis 1) are supported`);
        xs.forEach((x, i) => {
          ordered(x, `input ${i}`);
          if (
            x.layout !== xs[0].layout ||
            !same(x.shape.slice(2), xs[0].shape.slice(2)) ||
            x.shape.length !== xs[0].shape.length
          ) {
            throw new Unsupported(`input ${i} ${fmt(x.shape)} does not join ${fmt(xs[0].shape)} along the channels`);
          }
        });
        if (xs.length === 1) return [xs[0]];
        const shape = [...xs[0].shape];
        shape[1] = xs.reduce((s, x) => s + x.shape[1], 0);
        return [layer(layers.concat(), xs, shape, xs[0].layout)];
      }
      case "Gemm":
      case "MatMul":
        return [dense(node, op, at, where)];
      case "Softmax": {
        const x = live(node, where);
        const axis = axisOf(where, at.int("axis", opset >= 13 ? -1 : 1), x.shape.length);
        if (x.shape.length !== 2 || axis !== 1) {
          throw new Unsupported(
            `only a softmax over the features of [N, n] is supported, not axis ${axis} of ${fmt(x.shape)}`,
          );
        }
        // (over all the features: a flattened image's, in the library's order, come out in the same order)
        const y = layer(layers.softmax(), x, x.shape, "vector");
        y.perm = x.perm;
        return [y];
      }
      case "Pad": {
        const x = live(node, where);
        image(x);
        if (x.layout !== "image") throw new Unsupported(`pads a value that is not an image`);
        const mode = at.string("mode", "constant");
        if (mode !== "constant") throw new Unsupported(`mode ${mode}: only constant is supported`);
        const pads = opset >= 11 ? ints(constant(ins[1], "pads", where)) : at.ints("pads", [])!;
        const value = opset >= 11 ? (optional(node, 2, "constant_value", where)?.data[0] ?? 0) : at.float("value", 0);
        if (opset >= 18 && ins[3]) throw new Unsupported(`the axes input is not supported`);
        if (value !== 0) throw new Unsupported(`constant_value ${value}: only 0 is supported`);
        if (pads.length !== 8 || pads.some((p) => p < 0) || pads[0] || pads[1] || pads[4] || pads[5]) {
          throw new Unsupported(`only pads ≥ 0 on H and W are supported, not [${pads}]`);
        }
        const shape = [NaN, x.shape[1], x.shape[2] + pads[2] + pads[6], x.shape[3] + pads[3] + pads[7]];
        const spec = layers.zeroPadding2d({
          pad: [
            [pads[2], pads[6]],
            [pads[3], pads[7]],
          ],
        });
        return [layer(spec, x, shape, "image")];
      }
      default:
        throw new Unsupported(`the op is not supported on computed values (only on constants)`);
    }
  }

  function conv(node: NodeProto, at: Attributes, where: string): Live {
    const x = live(node, where);
    const [c, h, w] = image(x);
    const W = constant(node.input?.[1], "the weights (input 1)", where);
    const B = optional(node, 2, "the bias (input 2)", where);
    if (W.shape.length !== 4) throw new Unsupported(`only 2-D convolutions are supported (weights ${fmt(W.shape)})`);
    const [kOut, cg, fh, fw] = W.shape;
    const group = at.int("group", 1);
    if (cg * group !== c || kOut % group !== 0) {
      throw new RangeError(`${where}: weights ${fmt(W.shape)} with group ${group} do not fit ${c} input channels`);
    }
    const ks = at.ints("kernel_shape", [fh, fw])!;
    if (ks[0] !== fh || ks[1] !== fw)
      throw new RangeError(`${where}: kernel_shape [${ks}] is not the weights' ${fmt(W.shape)}`);
    const s = at.ints("strides", [1, 1])!;
    const d = at.ints("dilations", [1, 1])!;
    const pad = padsOf(at, [h, w], [fh, fw], s, d);
    if (B && B.data.length !== kOut) throw new RangeError(`${where}: bias ${fmt(B.shape)} expects [${kOut}]`);
    const b: Record<string, NDArray> = B ? { b: new NDArray(Float64Array.from(B.data), [kOut]) } : {};
    if (x.layout === "vector") {
      // a 1×1 conv of a pooled [N, C, 1, 1] value (squeeze-and-excitation): a dense layer
      if (fh !== 1 || fw !== 1 || group !== 1 || pad.flat().some(Boolean)) {
        throw new Unsupported(`a conv other than 1×1 of a pooled value [N, C, 1, 1] is not supported`);
      }
      const t = transpose({ shape: [kOut, c], data: W.data, int: false }, [1, 0]);
      const spec = layers.dense({ units: kOut, bias: !!B });
      return layer(spec, x, [NaN, kOut, 1, 1], "vector", { W: new NDArray(t.data, t.shape), ...b });
    }
    const out = (n: number, i: number) =>
      Math.floor((n + pad[i][0] + pad[i][1] - ((i ? fw : fh) - 1) * d[i] - 1) / s[i]) + 1;
    const spec = layers.conv2d({
      filters: kOut,
      size: [fh, fw],
      stride: [s[0], s[1]],
      pad,
      dilation: [d[0], d[1]],
      groups: group,
      bias: !!B,
    });
    return layer(spec, x, [NaN, kOut, out(h, 0), out(w, 1)], "image", { W: convKernel(W), ...b });
  }

  function pool(node: NodeProto, op: string, at: Attributes, where: string): Live {
    const x = live(node, where);
    const [c, h, w] = image(x);
    if (x.layout !== "image") throw new Unsupported(`pools a value that is not an image`);
    const f = at.ints("kernel_shape")!;
    if (!f || f.length !== 2) throw new Unsupported(`only 2-D windows are supported`);
    const s = at.ints("strides", [1, 1])!;
    at.only("dilations", (a) => (a.ints ?? []).every((v) => Number(v) === 1), "dilations 1");
    at.only("storage_order", (a) => Number(a.i) === 0, "storage_order 0");
    const pad = padsOf(at, [h, w], f, s, [1, 1]);
    const ceil = at.int("ceil_mode", 0) === 1;
    const include = at.int("count_include_pad", 0) === 1;
    const out = (n: number, i: number) => {
      const span = n + pad[i][0] + pad[i][1] - f[i];
      let o = (ceil ? Math.ceil(span / s[i]) : Math.floor(span / s[i])) + 1;
      if (ceil && (o - 1) * s[i] >= n + pad[i][0]) o--;
      return o;
    };
    const hp = { f: [f[0], f[1]] as [number, number], stride: [s[0], s[1]] as [number, number], pad, ceil_mode: ceil };
    const spec = op === "MaxPool" ? layers.maxPool(hp) : layers.avgPool({ ...hp, count_include_pad: include });
    return layer(spec, x, [NaN, c, out(h, 0), out(w, 1)], "image");
  }

  function binary(node: NodeProto, op: string, where: string): Live {
    const [a, b] = [get(node.input?.[0], where), get(node.input?.[1], where)];
    if ((a.kind === "live" && (a.view || a.nhwc)) || (b.kind === "live" && (b.view || b.nhwc))) {
      throw new Unsupported(`reads a 5-D view, which only a reshape back to 4-D takes`);
    }
    if (a.kind === "live" && b.kind === "live") {
      if (op === "Add" && same(a.shape, b.shape) && a.layout === b.layout && !a.perm && !b.perm) {
        return layer(layers.add(), [a, b], a.shape, a.layout);
      }
      if (op === "Mul") {
        for (const [x, y] of [
          [a, b],
          [b, a],
        ]) {
          // x · sigmoid(x): swish (SiLU); x · hard_sigmoid(x) (slope 1/6, offset 1/2): hard swish (before opset 14)
          if (y.from && y.from.op !== "matmul" && y.from.of === x && same(x.shape, y.shape)) {
            const s = layer(y.from.op === "sigmoid" ? layers.swish() : layers.hardSwish(), x, x.shape, x.layout);
            s.perm = x.perm;
            return s;
          }
          // an image times a gate per channel [N, C, 1, 1] (squeeze-and-excitation)
          if (
            x.layout === "image" &&
            y.layout === "vector" &&
            y.shape.length === 4 &&
            y.shape[1] === x.shape[1] &&
            y.shape[2] === 1 &&
            y.shape[3] === 1
          ) {
            return layer(layers.multiply(), [x, y], x.shape, "image");
          }
        }
      }
      throw new Unsupported(`${fmt(a.shape)} ${op} ${fmt(b.shape)} of two computed values is not supported`);
    }
    const [x, c] = (a.kind === "live" ? [a, b] : [b, a]) as [Live, Const];
    // a bias after a MatMul's dense layer: into its bias
    const units = x.shape[x.shape.length - 1];
    if (
      op === "Add" &&
      x.from?.op === "matmul" &&
      x.from.readers === 1 &&
      sizeOfShape(c.shape) === units &&
      c.shape.every((d, i) => i === c.shape.length - 1 || d === 1)
    ) {
      const spec = x.from.spec as LayerSpec & { bias?: boolean };
      const w = weights.get(spec)!;
      spec.bias = true;
      w.b = new NDArray(Float64Array.from(c.data), [units]);
      return { ...x, from: undefined };
    }
    // a constant per channel (or one for all): an affine map, a frozen batchNorm with mean 0, variance 1 and
    // epsilon 0 (so γ·x + β; fit leaves it, predict folds it into a conv before it)
    const first = a.kind === "live";
    const per = x.layout === "image" ? x.shape[1] : x.shape[x.shape.length - 1];
    const rank = x.shape.length;
    const lead = [...new Array(Math.max(0, rank - c.shape.length)).fill(1), ...c.shape];
    const channelAxis = x.layout === "image" ? 1 : rank - 1;
    const n = sizeOfShape(c.shape);
    const perChannel =
      n === per && lead.length === rank && lead.every((d, i) => (i === channelAxis ? d === per : d === 1));
    if (!x.view && !x.nhwc && (n === 1 || perChannel) && (op !== "Div" || first)) {
      const v = (i: number) => c.data[n === 1 ? 0 : x.perm ? x.perm[i] : i];
      const gamma = new Float64Array(per);
      const beta = new Float64Array(per);
      for (let i = 0; i < per; i++) {
        const k = v(i);
        [gamma[i], beta[i]] =
          op === "Add" ? [1, k] : op === "Sub" ? (first ? [1, -k] : [-1, k]) : op === "Mul" ? [k, 0] : [1 / k, 0];
      }
      const spec = layers.batchNorm({ epsilon: 0, trainable: false });
      const y = layer(spec, x, x.shape, x.layout, {
        gamma: new NDArray(gamma, [per]),
        beta: new NDArray(beta, [per]),
        moving_mean: new NDArray(new Float64Array(per), [per]),
        moving_variance: new NDArray(new Float64Array(per).fill(1), [per]),
      });
      y.perm = x.perm;
      return y;
    }
    throw new Unsupported(`${op} of a computed value and a constant ${fmt(c.shape)} is not supported`);
  }

  function reshape(node: NodeProto, op: string, at: Attributes, where: string): Live {
    const x = live(node, where, 0, true);
    let target: number[];
    if (op === "Flatten") {
      const axis = axisOf(where, at.int("axis", 1), x.shape.length + 1);
      if (axis !== 1) throw new Unsupported(`axis ${axis}: only 1 (keep the batch) is supported`);
      target = [NaN, sizeOfShape(x.shape.slice(1))];
    } else if (op === "Reshape") {
      const s = ints(constant(node.input?.[1], "the shape (input 1)", where));
      // a graph exported with a fixed batch B reshapes to [B, …]: the batch, whatever it is when run
      if (s[0] === batch) s[0] = 0;
      const t = reshapeTarget(where, x.shape, s, at.int("allowzero", 0) === 1);
      // the batch stays first: NaN (from Shape) or the leading -1/0 that took it
      if (!Number.isNaN(t[0]) && !(s[0] === 0 || s[0] === -1))
        throw new Unsupported(`a reshape must keep the batch first, not ${fmt(s)}`);
      target = [NaN, ...t.slice(1)];
      if (target.slice(1).some(Number.isNaN))
        throw new Unsupported(`a reshape to ${fmt(s)} mixes the batch into other dimensions`);
    } else {
      const axes = axesOf(optional(node, 1, "axes", where), at);
      if (op === "Squeeze") {
        const drop = squeezeAxes(where, x.shape, axes);
        if (drop.has(0)) throw new Unsupported(`squeezes the batch`);
        target = x.shape.filter((_, i) => !drop.has(i));
      } else {
        if (!axes) throw new RangeError(`${where}: expects axes`);
        target = unsqueezed(where, x.shape, axes);
      }
    }
    if (same(target, x.shape)) return x;
    if (x.nhwc) {
      // [N, H, W, C] flattened: the library's own order
      if (!same(target, [NaN, sizeOfShape(x.shape.slice(1))]))
        throw new Unsupported(`a reshape of the NHWC image ${fmt(x.shape)} to ${fmt(target)}`);
      return layer(layers.flatten(), x, target, "vector");
    }
    if (x.view) {
      // the channel shuffle's view back to [N, C, H, W]: after the transpose, channel j is (j mod g)·C/g + ⌊j/g⌋
      const [n, a, b, h, w] = x.shape;
      if (!same(target, [n, a * b, h, w]))
        throw new Unsupported(`a reshape of the 5-D view ${fmt(x.shape)} to ${fmt(target)}`);
      const back = { ...x, shape: target, view: undefined };
      if (!x.view.shuffled) return back;
      const g = x.view.groups;
      const cg = (a * b) / g;
      return pick(
        back,
        Array.from({ length: a * b }, (_, j) => (j % g) * cg + Math.floor(j / g)),
      );
    }
    if (x.layout === "image" && target.length === 5 && x.shape.length === 4) {
      const [, c, h, w] = x.shape;
      if (same(target, [NaN, target[1], c / target[1], h, w]) && Number.isInteger(c / target[1])) {
        return { ...x, shape: target, view: { groups: target[1], shuffled: false } };
      }
    }
    const real = (s: number[]) => s.filter((d, i) => i === 0 || d !== 1);
    // [N, C, 1, 1] ↔ [N, C]: the same values
    if (x.layout === "vector" && same(real(target), real(x.shape))) return { ...x, shape: target };
    const [c, h, w] = x.layout === "image" ? image(x) : [0, 0, 0];
    // a 1×1 image's channels as a vector of any shape [N, C, 1, …]
    const pooled = x.layout === "image" && h * w === 1 && same(real(target), [NaN, c]);
    if (target.length !== 2 && !pooled) {
      throw new Unsupported(`a reshape of ${fmt(x.shape)} to ${fmt(target)} is not supported (only a flatten)`);
    }
    if (x.layout === "vector") return { ...x, shape: target };
    const flat = layer(layers.flatten(), x, target, "vector");
    if (h * w > 1) {
      // NHWC position (y·w + x)·c + ch holds ONNX's feature ch·h·w + y·w + x
      const perm = new Int32Array(c * h * w);
      for (let yx = 0; yx < h * w; yx++) for (let ch = 0; ch < c; ch++) perm[yx * c + ch] = ch * h * w + yx;
      flat.perm = perm;
    }
    return flat;
  }

  function dense(node: NodeProto, op: string, at: Attributes, where: string): Live {
    const x = live(node, where);
    if (x.shape.length !== 2) throw new Unsupported(`expects a computed value [N, n] but got ${fmt(x.shape)}`);
    const B = constant(node.input?.[1], "input 1 (the weights)", where);
    const n = x.shape[1];
    let transB = false;
    let alpha = 1;
    if (op === "Gemm") {
      if (at.int("transA", 0) !== 0) throw new Unsupported(`transA 1 of a computed value is not supported`);
      transB = at.int("transB", 0) !== 0;
      alpha = at.float("alpha", 1);
    }
    if (B.shape.length !== 2 || B.shape[transB ? 1 : 0] !== n) {
      throw new RangeError(`${where}: weights ${fmt(B.shape)} do not fit an input ${fmt(x.shape)}`);
    }
    const units = B.shape[transB ? 0 : 1];
    // W [n, units] (its rows in the input's order) in one pass over the file's values where it has them, in
    // tiles: a classifier's weights are the biggest array of many networks (400 MB in float32 for VGG's
    // first), and every array made on the way is fresh memory (~3.4 ms a MB here)
    const { array, view } = valuesOf(B);
    const data = new Float64Array(n * units);
    const TILE = 64;
    for (let p0 = 0; p0 < n; p0 += TILE)
      for (let j0 = 0; j0 < units; j0 += TILE)
        for (let p = p0; p < Math.min(n, p0 + TILE); p++) {
          const row = x.perm ? x.perm[p] : p;
          for (let j = j0; j < Math.min(units, j0 + TILE); j++) {
            const i = transB ? j * n + row : row * units + j;
            data[p * units + j] = alpha * (view ? view.getFloat64(i * 8, true) : array![i]);
          }
        }
    const C = op === "Gemm" ? optional(node, 2, "input 2 (the bias)", where) : undefined;
    const w: Record<string, NDArray> = { W: new NDArray(data, [n, units]) };
    if (C) {
      const beta = at.float("beta", 1);
      // one bias per unit, or one for all ([units], [1, units], [1], a scalar)
      const n = sizeOfShape(C.shape);
      if (!((n === units || n === 1) && C.shape.slice(0, -1).every((d) => d === 1))) {
        throw new Unsupported(`a bias ${fmt(C.shape)} other than one per unit is not supported`);
      }
      w.b = new NDArray(
        Float64Array.from({ length: units }, (_, j) => beta * C.data[n === 1 ? 0 : j]),
        [units],
      );
    }
    const spec = layers.dense({ units, bias: !!C });
    const y = layer(spec, x, [NaN, units], "vector", w);
    if (op === "MatMul") y.from = { op: "matmul", spec, readers: readers.get(node.output?.[0] ?? "") ?? 0 };
    return y;
  }

  /** A node whose inputs are all constants, computed now. */
  function evaluate(op: string, at: Attributes, xs: (Const | undefined)[], where: string): Tensor {
    const x = xs[0]!;
    const intDiv = (p: number, q: number) => Math.trunc(p / q);
    switch (op) {
      case "Identity":
      case "Dropout":
        return x;
      case "Cast": {
        const to = at.int("to", DT.FLOAT);
        const int = !isFloatType(to);
        return {
          shape: x.shape,
          data: int ? x.data.map((v) => (Number.isNaN(v) ? v : to === DT.BOOL ? +(v !== 0) : Math.trunc(v))) : x.data,
          int,
        };
      }
      case "Add":
      case "Sub":
      case "Mul":
      case "Div": {
        const y = xs[1]!;
        const f =
          op === "Add"
            ? (p: number, q: number) => p + q
            : op === "Sub"
              ? (p: number, q: number) => p - q
              : op === "Mul"
                ? (p: number, q: number) => p * q
                : x.int && y.int
                  ? intDiv
                  : (p: number, q: number) => p / q;
        return broadcast(where, x, y, f);
      }
      case "Gather": {
        const axis = axisOf(where, at.int("axis", 0), x.shape.length);
        const idx = xs[1]!;
        const n = x.shape[axis];
        const pick = Array.from(idx.data, (i) => {
          if (!(i >= -n && i < n)) throw new RangeError(`${where}: index ${i} is outside [${-n}, ${n})`);
          return i < 0 ? i + n : i;
        });
        const t = sliceAxis(x, axis, pick);
        return { ...t, shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] };
      }
      case "Unsqueeze":
      case "Squeeze":
      case "Flatten":
      case "Reshape": {
        let shape: number[];
        if (op === "Reshape") shape = reshapeTarget(where, x.shape, ints(xs[1]!), at.int("allowzero", 0) === 1);
        else if (op === "Flatten") {
          const axis = axisOf(where, at.int("axis", 1), x.shape.length + 1);
          shape = [sizeOfShape(x.shape.slice(0, axis)), sizeOfShape(x.shape.slice(axis))];
        } else {
          const axes = axesOf(xs[1], at);
          if (op === "Squeeze") {
            const drop = squeezeAxes(where, x.shape, axes);
            shape = x.shape.filter((_, i) => !drop.has(i));
          } else shape = unsqueezed(where, x.shape, axes ?? []);
        }
        return { ...x, shape };
      }
      case "Concat": {
        const list = xs.filter((v): v is Const => !!v);
        return concatAxis(where, list, axisOf(where, at.int("axis", 0), list[0].shape.length));
      }
      case "Transpose": {
        const perm = at.ints(
          "perm",
          x.shape.map((_, i) => x.shape.length - 1 - i),
        )!;
        return transpose(x, perm);
      }
      case "Slice": {
        const r = x.shape.length;
        const [starts, ends, axes, steps] =
          opset >= 10
            ? [1, 2, 3, 4].map((i) => (xs[i] ? ints(xs[i]!) : undefined))
            : [at.ints("starts"), at.ints("ends"), at.ints("axes"), undefined];
        let t: Tensor = x;
        (starts ?? []).forEach((s0, j) => {
          const axis = axisOf(where, axes?.[j] ?? j, r);
          const n = t.shape[axis];
          const step = steps?.[j] ?? 1;
          if (step === 0) throw new RangeError(`${where}: a step of 0`);
          const norm = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v < 0 ? v + n : v));
          const pick: number[] = [];
          if (step > 0) for (let i = norm(s0, 0, n); i < norm(ends![j], 0, n); i += step) pick.push(i);
          else for (let i = norm(s0, -1, n - 1); i > norm(ends![j], -1, n - 1); i += step) pick.push(i);
          t = sliceAxis(t, axis, pick);
        });
        return t;
      }
      case "ConstantOfShape": {
        const shape = ints(x);
        if (shape.some((d) => !(d >= 0))) throw new Unsupported(`a shape [${shape}] that depends on the batch`);
        const v = at.tensor("value") ?? scalar(0);
        return { shape, data: new Float64Array(sizeOfShape(shape)).fill(v.data[0]), int: v.int };
      }
      default:
        throw new Unsupported(`the op is not supported on constants`);
    }
  }
}
