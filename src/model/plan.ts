// predict()'s plan: a model's graph run in inference mode inside WASM memory, as onnxruntime's session
// does. Made once per model: BatchNorm folded into the conv before it (W·γ/σ, (b − μ)·γ/σ + β), a
// ResNet block's residual add and a ReLU or ReLU6 into the conv's (or dense layer's) stores where each
// is the only reader of what comes before; each value's channels per pixel in memory (a conv writes
// blocks of 8, or 16 in a float32 plan; the lanes past a value's channels hold finite values that the
// next layer's zero weights ignore) and the copies where a layer needs another width. Run per
// batch: the input copied in once, every value given a place in one region by liveness (a buffer is
// reused once its last reader has run; an elementwise layer writes over its input when that input dies
// there), packed weights made once until the weights change, the outputs copied out once. Every layer
// kind has a kernel path here; a kind added without one runs through its op (copied out and back in).
import { NDArray, copyStrided, sizeOf, F64_BYTES } from "../core/ndarray.js";
import { convArgs, poolArgs } from "../core/shapes.js";
import { padImages } from "../ops/pad.js";
import { divisors } from "../ops/pool.js";
import { ACTIVATIONS, type ActivationName, activationParams } from "../ops/activations.js";
import { type Tile, useWinograd, winogradFilters, winogradFromArena, winogradRepack } from "../ops/winograd.js";
import {
  BLOCK,
  ELEMENT_BYTES,
  type Precision,
  type Task,
  gemmTask,
  kernelFor,
  runKernel,
  task,
} from "../kernels/kernels.js";
import { guided, run, runTasks, shareFrom, type Context } from "../runtime/schedule.js";
import type { Arena } from "../runtime/arena.js";
import { ACTIVATION_OF, type KindDef, type ParamSpec, convHp, fake, poolHp } from "./kinds.js";
import type { LayerSpec } from "./layers.js";

/**
 * `a`'s elements in C order to read: its own data where contiguous (a model's weights: copying them took
 * 28 ms of squeezenet1_1's first predict, fresh memory costing its first touch here), else a copy.
 */
const values = (a: NDArray) => (a.isContiguous() ? a.data.subarray(a.offset, a.offset + a.size) : a.toFloat64Array());

/** A batch of images [m, h, w, c] whose channels are planes: each image's c·h·w elements contiguous as NCHW. */
function planes(a: NDArray): boolean {
  if (a.ndim !== 4) return false;
  const [, h, w, c] = a.shape;
  const [, s1, s2, s3] = a.strides;
  return c > 1 && s3 === h * w && s1 === w && s2 === 1;
}

/** What the planner needs of a model's built graph. */
export interface PlanLayer {
  spec: LayerSpec;
  kind: KindDef;
  output: number[];
  params: Map<string, ParamSpec>;
}
export interface PlanGraph {
  /** Per-example shapes of every value: the inputs, then each step's output. */
  shapes: number[][];
  steps: { layer: PlanLayer; inputs: number[]; output: number }[];
  outputs: number[];
  inputs: number;
}

/** One step of the plan: a layer (with what it absorbed) or a copy to another channel width. */
interface Op {
  /** The model's step, or −1 for a copy. */
  step: number;
  inputs: number[];
  output: number;
  /** A conv's BatchNorm folded in (the BN step's index). */
  bn: number;
  /** The activation fused into a conv's or dense layer's stores: 0 none, 1 ReLU, 2 ReLU6 (store8Act's codes). */
  act: number;
  /** A residual added in a conv's stores (the add it absorbed): then inputs[1] is the value added. */
  res: boolean;
  /** The output may be written over this input (an elementwise layer), if that input dies here. */
  inPlace: number | null;
  /** It has no kernel path here: it runs through its op (decided when the plan is made). */
  viaOp: boolean;
}

/** A step's weights as its kernels read them, in the plan's element type. */
interface Prepared {
  /** The bias in blocks of channels (a folded BatchNorm's included). */
  bias: Float64Array | Float32Array;
  /** The Winograd tile (0: direct). */
  tile: number;
  /** The packed filters (per group; a separable conv's depthwise then pointwise; Winograd's U). */
  packs: (Float64Array | Float32Array)[];
}

/** The activations run by act_forward, by layer kind (kinds.ts's table). */
const ACT: Partial<Record<string, ActivationName>> = ACTIVATION_OF;

type ConvSpec = Extract<LayerSpec, { kind: "conv2d" }>;

/** The geometry of a conv step on its input shape (a separable conv's: its depthwise part's). */
function convGeometry(l: PlanLayer, input: number[]) {
  const W = (l.params.get("W") ?? l.params.get("depthwise_W"))!.array;
  const groups = l.spec.kind === "conv2d" ? (l.spec.groups ?? 1) : input[2];
  const k = W.shape[3];
  return convArgs("predict", fake([1, ...input]), fake([...W.shape]), fake([k]), convHp(l.spec as ConvSpec, groups)).g;
}

/**
 * How a conv-like step runs: "dense" (one group: the packed micro-kernels, or Winograd), "depthwise" (one
 * input channel per group, any channel multiplier: the depthwise kernels on the input's channels
 * repeated), "grouped" (the dense kernels per group), "separable" (depthwise, then a 1×1 conv).
 */
type ConvMode = "dense" | "depthwise" | "grouped" | "separable";
function convMode(l: PlanLayer, input: number[]): ConvMode | null {
  const s = l.spec;
  if (s.kind === "depthwiseConv2d") return "depthwise";
  if (s.kind === "separableConv2d") return "separable";
  if (s.kind !== "conv2d") return null;
  const groups = s.groups ?? 1;
  return groups === 1 ? "dense" : groups === input[2] ? "depthwise" : "grouped";
}

/** zeroPadding2d's pad as [top, bottom, left, right] (checked when the model was built). */
function padSides(pad: unknown): [number, number, number, number] {
  if (typeof pad === "number") return [pad, pad, pad, pad];
  const [a, b] = pad as [unknown, unknown];
  if (typeof a === "number") return [a, a, b as number, b as number];
  const [[t, bo], [l, r]] = pad as [[number, number], [number, number]];
  return [t, bo, l, r];
}

/** Whether a step runs on kernels here (else through its op), and the channels per pixel it needs of its inputs. */
function kernelPath(
  l: PlanLayer,
  shapes: number[][],
  ins: number[],
  blocks: (k: number) => number,
): { ok: boolean; need: (number | null)[] } {
  const s = l.spec;
  const inShape = shapes[ins[0]];
  const c = inShape[inShape.length - 1];
  const mode = convMode(l, inShape);
  if (mode === "depthwise") {
    // (one filter per channel: the input as the kernel reads it, widened to blocks, unless it needs repeating)
    const k = l.params.get("W")!.array.shape[3];
    return { ok: true, need: [k === c ? blocks(c) : null] };
  }
  if (mode !== null) return { ok: true, need: [null] };
  switch (s.kind) {
    case "flatten":
      return { ok: true, need: [c] };
    case "add":
    case "concat":
    case "multiply":
      // (add's and multiply's inputs at the first one's width: the constructor sets them)
      return { ok: true, need: ins.map(() => null) };
    case "relu":
    case "batchNorm":
    case "dropout":
    case "maxPool":
    case "avgPool":
    case "globalAvgPool":
    case "globalMaxPool":
    case "zeroPadding2d":
    case "dense":
    case "softmax":
      return { ok: true, need: [null] };
    default:
      return { ok: ACT[s.kind] !== undefined, need: [null] };
  }
}

export class Plan {
  private readonly ops: Op[] = [];
  /** Channels per pixel of every value (copies included) in memory. */
  private readonly cs: number[];
  private readonly shapes: number[][];
  private readonly outputs: number[];
  private readonly inputs: number;
  /** Packed weights and vectors per step, made once until the weights change. */
  private prepared = new Map<number, Prepared>();
  /**
   * A concat's inputs that their convs write straight into its output (pixel stride the concat's width):
   * by value, the concat's output value and the channel where the part starts.
   */
  private readonly into = new Map<number, { value: number; at: number }>();
  /**
   * Model inputs read only by a direct conv that pads them: copied in straight to the padded layout (the
   * conv's [hp, wp] with zeros around), which saves the conv a copy of its own.
   */
  private readonly paddedIn = new Map<number, { hp: number; wp: number; top: number; left: number }>();
  /** Multiply-adds of one example (for sharing a batch out to threads). */
  readonly work: number;
  /** Bytes of an element of every value, packed weight and vector: 8 (f64) or 4 (f32). */
  private readonly el: number;
  /** Channels rounded up to the micro-kernels' blocks (8 f64, 16 f32). */
  private readonly blocks: (k: number) => number;

  constructor(
    private readonly g: PlanGraph,
    /** The element type the plan computes in (the model's weights stay float64; f32 packs a copy). */
    readonly precision: Precision = "f64",
  ) {
    this.el = ELEMENT_BYTES[precision];
    const block = BLOCK[precision];
    this.blocks = (k) => Math.ceil(k / block) * block;
    const { steps, shapes, outputs } = g;
    this.shapes = shapes.map((s) => [...s]);
    this.outputs = outputs;
    this.inputs = g.inputs;
    const readers = new Map<number, number[]>();
    steps.forEach((s, i) => s.inputs.forEach((v) => readers.set(v, [...(readers.get(v) ?? []), i])));
    const only = (v: number, kind: string) => {
      const r = readers.get(v) ?? [];
      return r.length === 1 && steps[r[0]].layer.spec.kind === kind && !outputs.includes(v) ? r[0] : -1;
    };
    const cs: number[] = shapes.slice(0, g.inputs).map((s) => s[s.length - 1]);
    /** The value holding each model value (a fused step's output is its conv's). */
    const alias = new Map<number, number>();
    const at = (v: number) => alias.get(v) ?? v;
    const absorbed = new Set<number>();
    let work = 0;
    steps.forEach((st, i) => {
      if (absorbed.has(i)) return;
      const l = st.layer;
      const path = kernelPath(l, shapes, st.inputs, this.blocks);
      // (add's inputs all at the first one's width; multiply's gate at its map's)
      if (path.ok && (l.spec.kind === "add" || l.spec.kind === "multiply")) {
        path.need = st.inputs.map((_, j) => (j === 0 ? null : cs[at(st.inputs[0])]));
      }
      const ins = st.inputs.map((v, j) => {
        const need = path.ok ? path.need[j] : shapes[at(v)][shapes[at(v)].length - 1];
        return need === null || cs[at(v)] === need ? at(v) : this.copy(at(v), need, cs);
      });
      let output = st.output;
      let bn = -1;
      let act = 0;
      let res = false;
      const mode = convMode(l, shapes[st.inputs[0]]);
      const convLike = path.ok && mode !== null;
      if (convLike) {
        bn = only(output, "batchNorm");
        if (bn >= 0) {
          absorbed.add(bn);
          alias.set(steps[bn].output, output);
          output = steps[bn].output;
        }
      }
      if (convLike && mode === "dense") {
        // the residual add after it, where the add's other input is ready by now (a ResNet block's end)
        const a = only(output, "add");
        const other = a >= 0 ? steps[a].inputs.find((u) => u !== output) : undefined;
        if (
          a >= 0 &&
          steps[a].inputs.length === 2 &&
          other !== undefined &&
          (other < g.inputs || other - g.inputs < i)
        ) {
          const width = this.blocks(l.output[l.output.length - 1]);
          ins.push(cs[at(other)] === width ? at(other) : this.copy(at(other), width, cs));
          absorbed.add(a);
          alias.set(steps[a].output, st.output);
          output = steps[a].output;
          res = true;
        }
      }
      if (path.ok && (convLike || l.spec.kind === "dense")) {
        const r = readers.get(output) ?? [];
        const s = r.length === 1 && !outputs.includes(output) ? steps[r[0]].layer.spec : null;
        const code = !s
          ? 0
          : s.kind === "relu"
            ? 1
            : s.kind === "relu6" || (s.kind === "clip" && s.min === 0 && s.max === 6)
              ? 2
              : 0;
        if (code !== 0) {
          absorbed.add(r[0]);
          act = code;
          output = steps[r[0]].output;
        }
      }
      const v = st.output;
      if (output !== v) alias.set(output, v);
      const shape = l.output;
      const c = shape[shape.length - 1];
      let width = c;
      if (path.ok) {
        const k = l.spec.kind;
        if (mode === "grouped") width = c;
        else if (mode !== null || k === "dense") width = this.blocks(c);
        else if (k === "flatten") width = sizeOf(shape);
        else if (k === "concat") width = c;
        else if (["relu", "batchNorm", "dropout", "add", "multiply", "zeroPadding2d"].includes(k) || ACT[k]) {
          width = cs[ins[0]];
        }
      }
      cs[v] = width;
      for (const p of l.params.values()) if (p.decay) work += (sizeOf(shape) / c) * p.array.size;
      const elementwise =
        path.ok &&
        ["relu", "batchNorm", "dropout", "add", "flatten", "multiply"].concat(Object.keys(ACT)).includes(l.spec.kind);
      this.ops.push({
        step: i,
        inputs: ins,
        output: v,
        bn,
        act,
        res,
        inPlace: elementwise ? 0 : null,
        viaOp: !path.ok,
      });
    });
    // the model's outputs as the values that hold them
    this.outputs = outputs.map(at);
    this.cs = cs;
    this.work = work;
    // (the ops reading each value, once per input they take it as: the steps' readers above, after fusion)
    const opReaders = new Map<number, number[]>();
    this.ops.forEach((op, i) => op.inputs.forEach((v) => opReaders.set(v, [...(opReaders.get(v) ?? []), i])));
    this.placeConcatParts(opReaders);
    this.padInputs(opReaders);
  }

  /** Finds paddedIn's inputs (`readers`: the ops reading each value). */
  private padInputs(readers: Map<number, number[]>): void {
    for (let v = 0; v < this.inputs; v++) {
      const r = readers.get(v) ?? [];
      const op = r.length === 1 ? this.ops[r[0]] : null;
      if (!op || op.step < 0 || op.viaOp || op.inputs[0] !== v || this.outputs.includes(v)) continue;
      const l = this.g.steps[op.step].layer;
      if (l.spec.kind !== "conv2d" || convMode(l, this.shapes[v]) !== "dense" || this.tileOf(r[0]) !== 0) continue;
      const { hp, wp, h, w, top, left } = convGeometry(l, this.shapes[v]);
      if (hp !== h || wp !== w) this.paddedIn.set(v, { hp, wp, top, left });
    }
  }

  /**
   * Lets the direct convs that feed a concat, and nothing else, write their channels into its output
   * (their stores take a pixel stride), so that the concat copies only its other inputs: squeezenet's fire
   * modules copied 1.3 ms a predict. A part qualifies when its channels fill whole blocks (the kernel
   * writes a block's every channel), it adds no residual (read at its own stride) and is no output.
   */
  private placeConcatParts(readers: Map<number, number[]>): void {
    const producer = new Map(this.ops.map((op, i) => [op.output, i]));
    this.ops.forEach((op) => {
      if (op.step < 0 || op.viaOp || this.g.steps[op.step].layer.spec.kind !== "concat") return;
      let at = 0;
      for (const v of op.inputs) {
        const shape = this.shapes[v];
        const c = shape[shape.length - 1];
        const j = producer.get(v);
        const p = j === undefined ? null : this.ops[j];
        const l = p && p.step >= 0 ? this.g.steps[p.step].layer : null;
        const ok =
          p !== null &&
          l !== null &&
          !p.viaOp &&
          !p.res &&
          l.spec.kind === "conv2d" &&
          readers.get(v)?.length === 1 &&
          !this.outputs.includes(v) &&
          this.cs[v] === c &&
          convMode(l, this.shapes[p.inputs[0]]) === "dense" &&
          this.tileOf(j!) === 0;
        if (ok) this.into.set(v, { value: op.output, at });
        at += c;
      }
    });
  }

  /** A copy of value v at `width` channels per pixel: a new value, its step queued. */
  private copy(v: number, width: number, cs: number[]): number {
    const u = this.shapes.length;
    this.shapes.push([...this.shapes[v]]);
    cs[u] = width;
    this.ops.push({ step: -1, inputs: [v], output: u, bn: -1, act: 0, res: false, inPlace: null, viaOp: false });
    return u;
  }

  /** Forgets the packed weights (the model's weights changed). */
  invalidate(): void {
    this.prepared.clear();
  }

  /** Bytes of a value for m examples. */
  private bytes(v: number, m: number): number {
    const s = this.shapes[v];
    const p = this.paddedIn.get(v);
    const pixels = p ? p.hp * p.wp : sizeOf(s) / s[s.length - 1];
    return Math.ceil((m * pixels * this.cs[v] * this.el) / 64) * 64;
  }

  /**
   * Where every value lives for a batch of m: offsets in one region by liveness (first fit, freed after
   * its last reader), the region's size, and which steps write over their input.
   */
  private layout(m: number): { offsets: number[]; size: number; over: boolean[] } {
    const last = new Map<number, number>();
    this.ops.forEach((op, i) => op.inputs.forEach((v) => last.set(v, i)));
    const kept = new Set(this.outputs);
    const offsets: number[] = [];
    let free: [number, number][] = [];
    let top = 0;
    const take = (n: number) => {
      const i = free.findIndex(([a, b]) => b - a >= n);
      if (i < 0) return (top += n) - n;
      const [a, b] = free[i];
      if (b - a === n) free.splice(i, 1);
      else free[i] = [a + n, b];
      return a;
    };
    const give = (a: number, n: number) => {
      free.push([a, a + n]);
      free.sort((x, y) => x[0] - y[0]);
      free = free.reduce<[number, number][]>((out, iv) => {
        const prev = out[out.length - 1];
        if (prev && prev[1] === iv[0]) prev[1] = iv[1];
        else out.push([...iv]);
        return out;
      }, []);
    };
    for (let v = 0; v < this.inputs; v++) offsets[v] = take(this.bytes(v, m));
    const over: boolean[] = [];
    this.ops.forEach((op, i) => {
      const src = op.inPlace === null ? -1 : op.inputs[op.inPlace];
      const dies = (v: number) => last.get(v) === i && !kept.has(v);
      over[i] = src >= 0 && dies(src) && this.bytes(src, m) === this.bytes(op.output, m);
      const part = this.into.get(op.output);
      if (part) {
        // a concat's part: inside the concat's output, placed when its first part is computed
        offsets[part.value] ??= take(this.bytes(part.value, m));
        offsets[op.output] = offsets[part.value] + part.at * this.el;
      } else if (offsets[op.output] === undefined) {
        offsets[op.output] = over[i] ? offsets[src] : take(this.bytes(op.output, m));
      }
      for (const v of new Set(op.inputs)) {
        if (dies(v) && !this.into.has(v) && !(over[i] && v === src)) give(offsets[v], this.bytes(v, m));
      }
    });
    return { offsets, size: Math.max(top, 64), over };
  }

  /** Bytes of the values' region for one example (what summary() reports). */
  peakBytes(): number {
    return this.layout(1).size;
  }

  /**
   * Each step's packed weights (BatchNorm folded in, computed in float64, then narrowed for an f32 plan),
   * made once until the weights change: the bias in blocks, the Winograd tile (0: direct) and the packs.
   * A 3×3 conv where Winograd pays gets its filters' transform here, once, not per call.
   */
  private weights(fn: string, ctx: Context, i: number): Prepared {
    const got = this.prepared.get(i);
    if (got) return got;
    const blocks = this.blocks;
    const op = this.ops[i];
    const l = this.g.steps[op.step].layer;
    const separable = l.spec.kind === "separableConv2d";
    const W = l.params.get(separable ? "pointwise_W" : "W")!.array;
    const b = l.params.get("b")?.array;
    const kOut = W.shape[W.ndim - 1];
    // per output channel: scale (γ/σ) and bias ((b − μ)·γ/σ + β), from a folded BatchNorm
    const scale = new Float64Array(kOut).fill(1);
    const bias = new Float64Array(kOut);
    if (b) bias.set(values(b));
    if (op.bn >= 0) {
      const bn = this.g.steps[op.bn].layer;
      const p = (n: string) => values(bn.params.get(n)!.array);
      const [gamma, beta, mean, variance] = [p("gamma"), p("beta"), p("moving_mean"), p("moving_variance")];
      const eps = (bn.spec as { epsilon?: number }).epsilon ?? 1e-5;
      for (let o = 0; o < kOut; o++) {
        scale[o] = gamma[o] / Math.sqrt(variance[o] + eps);
        bias[o] = (bias[o] - mean[o]) * scale[o] + beta[o];
      }
    }
    const k8 = blocks(kOut);
    const w = values(W);
    const cs = this.cs[op.inputs[0]];
    const mode = convMode(l, this.shapes[op.inputs[0]]);
    /** Each channel's filter [taps][width], widened: the depthwise kernels' layout. */
    const widened = (a: NDArray, width: number, sc: Float64Array | null) => {
      const v = values(a);
      const k = a.shape[3];
      const taps = a.shape[0] * a.shape[1];
      const out = new Float64Array(taps * width);
      for (let t = 0; t < taps; t++) for (let o = 0; o < k; o++) out[t * width + o] = v[t * k + o] * (sc ? sc[o] : 1);
      return out;
    };
    /** [taps, c] of `v` → [k8/B][taps·cs][B]: input channels widened to cs (zeros), output channels in blocks of B. */
    const B = BLOCK[this.precision];
    const pack = (v: Float64Array, fh: number, fw: number, c: number, k: number, cs: number, first = 0, kAll = k) => {
      const taps = fh * fw * cs;
      const out = new Float64Array(taps * blocks(k));
      for (let t = 0; t < fh * fw; t++)
        for (let ch = 0; ch < c; ch++)
          for (let o = 0; o < k; o++)
            out[Math.floor(o / B) * taps * B + (t * cs + ch) * B + (o % B)] =
              v[(t * c + ch) * kAll + first + o] * scale[first + o];
      return out;
    };
    let packs: Float64Array[];
    let b8 = new Float64Array(k8);
    b8.set(bias);
    if (mode === "depthwise") packs = [widened(W, k8, scale)];
    else if (mode === "separable") {
      const D = l.params.get("depthwise_W")!.array;
      const c8 = blocks(D.shape[3]);
      packs = [widened(D, c8, null), pack(w, 1, 1, W.shape[2], kOut, c8)];
    } else if (mode === "grouped") {
      // per group j: its filters [fh, fw, cg, kg] packed as the dense kernels read them; biases in blocks per group
      const [fh, fw, cg] = W.shape;
      const groups = (l.spec as ConvSpec).groups!;
      const kg = kOut / groups;
      const kg8 = blocks(kg);
      packs = Array.from({ length: groups }, (_, j) => pack(w, fh, fw, cg, kg, cg, j * kg, kOut));
      b8 = new Float64Array(groups * kg8);
      for (let j = 0; j < groups; j++) b8.set(bias.subarray(j * kg, (j + 1) * kg), j * kg8);
    } else if (l.spec.kind === "dense") {
      // rows of W for the input as it lies in memory (cs ≥ n rows, zeros past n), in column blocks
      packs = [pack(w, 1, 1, W.shape[0], kOut, cs)];
    } else if (this.tileOf(i) !== 0) {
      // [f, f, cs, k] (input channels widened, zeros), then U = G g Gᵀ
      const [f, , c] = W.shape as [3 | 5, number, number];
      const wide = new Float64Array(f * f * cs * kOut);
      for (let t = 0; t < f * f; t++)
        for (let ch = 0; ch < c; ch++)
          for (let o = 0; o < kOut; o++) wide[(t * cs + ch) * kOut + o] = w[(t * c + ch) * kOut + o] * scale[o];
      const tile = this.tileOf(i) as Tile;
      const U = winogradFilters(fn, ctx, wide, cs, kOut, tile, f);
      packs = [this.precision === "f32" ? winogradRepack(U, (tile + f - 1) ** 2, cs, kOut, B) : U];
    } else {
      const [fh, fw, c] = W.shape;
      packs = [pack(w, fh, fw, c, kOut, cs)];
    }
    const narrow = (v: Float64Array) => (this.precision === "f64" ? v : Float32Array.from(v));
    const out: Prepared = { bias: narrow(b8), tile: mode === "dense" ? this.tileOf(i) : 0, packs: packs.map(narrow) };
    this.prepared.set(i, out);
    return out;
  }

  /**
   * The Winograd tile of conv step i where it fits and pays (as conv_forward's "auto" decides), else 0.
   * An f32 plan takes F(2×2) wherever Winograd pays: F(4×4)'s transforms are float64 kernels, and its
   * larger coefficients would cost float32 more of its precision.
   */
  private tileOf(i: number): number {
    const op = this.ops[i];
    const l = this.g.steps[op.step].layer;
    if (convMode(l, this.shapes[op.inputs[0]]) !== "dense") return 0;
    const g = convGeometry(l, this.shapes[op.inputs[0]]);
    const tile =
      useWinograd("predict", undefined, { ...g, c: this.cs[op.inputs[0]] }, false, this.precision, true) ?? 0;
    return this.precision === "f32" && tile !== 0 ? 2 : tile;
  }

  /**
   * The outputs for a batch of m: each input an array of its examples or their values in C order (a
   * Float32Array is copied in as it is, narrowed or widened to the plan's type on the way and nowhere
   * else); output j's values in C order written into `into[j]` (float64 or float32) from element `at[j]`,
   * converted as they are copied (no array of their own: a conv layer's 2 MB output, allocated fresh and
   * copied again, cost down16's f32 plan more than its kernel in a profile).
   */
  run(
    fn: string,
    xs: (NDArray | Float32Array)[],
    m: number,
    into: readonly (Float64Array | Float32Array)[],
    at: readonly number[],
  ): void {
    run(
      fn,
      m * this.work >= shareFrom("conv_forward"),
      (ctx) => {
        const { arena } = ctx;
        const { offsets, size, over } = this.layout(m);
        const base = arena.alloc(fn, "the values", size);
        const ptr = (v: number) => base + offsets[v];
        xs.forEach((x, v) => (this.paddedIn.has(v) ? this.writePadded(ctx, ptr(v), x, v) : this.write(ctx, ptr(v), x)));
        this.ops.forEach((op, i) => arena.scope(() => this.step(fn, ctx, m, i, op, ptr, over[i])));
        this.outputs.forEach((v, j) => this.read(arena, ptr(v), m, v, into[j], at[j]));
      },
      this.precision,
    );
  }

  /** Value v of the batch in C order (the lanes past its channels left out) into `out` from `at`. */
  private read(arena: Arena, p: number, m: number, v: number, out: Float64Array | Float32Array, at = 0): void {
    const s = this.shapes[v];
    const c = s[s.length - 1];
    const cs = this.cs[v];
    const pixels = m * (sizeOf(s) / c);
    const src = this.view(arena, p, pixels * cs);
    if (cs === c) return out.set(src, at);
    for (let q = 0; q < pixels; q++) out.set(src.subarray(q * cs, q * cs + c), at + q * c);
  }

  /** `n` elements of the plan's type at `ptr` (a fresh view: valid until the next alloc). */
  private view(arena: Arena, ptr: number, n: number): Float64Array | Float32Array {
    return this.precision === "f64" ? arena.f64(ptr, n) : arena.f32(ptr, n);
  }

  /**
   * `a`'s elements in C order at `ptr`, in the plan's type (converted as they are copied). Images laid out
   * as NCHW planes and seen as NHWC (ONNX's input as loadOnnx's predict takes it) are copied a plane at a
   * time and turned in WASM (transpose_planes): gathering them in JavaScript took 1.4 ms of squeezenet1_1's
   * predict.
   */
  private write({ arena, kernels }: Context, ptr: number, a: NDArray | Float32Array): void {
    if (a instanceof Float32Array) return this.view(arena, ptr, a.length).set(a);
    if (planes(a)) {
      const [m, h, w, c] = a.shape;
      const n = h * w;
      return arena.scope(() => {
        const src = arena.alloc("predict", "an image's planes", n * c * this.el);
        for (let i = 0; i < m; i++) {
          const at = a.offset + i * a.strides[0];
          this.view(arena, src, n * c).set(a.data.subarray(at, at + n * c));
          const dst = ptr + i * n * c * this.el;
          runKernel(kernels, kernelFor("transpose_planes", this.precision), { src, c, n, dst });
        }
      });
    }
    if (this.precision === "f64") return arena.write(ptr, a);
    const dst = arena.f32(ptr, a.size);
    if (a.isContiguous()) dst.set(a.data.subarray(a.offset, a.offset + a.size));
    else copyStrided(a, dst, 0);
  }

  /**
   * Input v (in paddedIn) in its conv's padded layout at `ptr`: zeros, and each image row copied into place
   * from a contiguous array (converted on the way); other arrays through write() and the pad kernel.
   */
  private writePadded(ctx: Context, ptr: number, a: NDArray | Float32Array, v: number): void {
    const { arena, kernels } = ctx;
    const { hp, wp, top, left } = this.paddedIn.get(v)!;
    const [h, w, c] = this.shapes[v];
    const m = a instanceof Float32Array ? a.length / (h * w * c) : a.shape[0];
    if (!(a instanceof Float32Array) && !a.isContiguous()) {
      return arena.scope(() => {
        const src = arena.alloc("predict", "the input", m * h * w * c * this.el);
        this.write(ctx, src, a);
        const images = { ptr: src, strides: [h * w * c, w * c, c, 1], h, w, c };
        const pads = { top, bottom: hp - h - top, left, right: wp - w - left };
        padImages(kernels, images, pads, ptr, m, this.precision);
      });
    }
    const data = a instanceof Float32Array ? a : a.data.subarray(a.offset, a.offset + a.size);
    const dst = this.view(arena, ptr, m * hp * wp * c);
    dst.fill(0);
    const row = w * c;
    for (let i = 0; i < m; i++)
      for (let y = 0; y < h; y++) {
        const from = (i * h + y) * row;
        dst.set(data.subarray(from, from + row), ((i * hp + top + y) * wp + left) * c);
      }
  }

  /** Scratch of `n` zeros of the plan's type. */
  private zeros(arena: Arena, fn: string, what: string, n: number): number {
    const p = arena.alloc(fn, what, n * this.el);
    this.view(arena, p, n).fill(0);
    return p;
  }

  /** `v` copied into fresh scratch. */
  private put(arena: Arena, fn: string, what: string, v: Float64Array | Float32Array): number {
    const p = arena.alloc(fn, what, v.length * this.el);
    this.view(arena, p, v.length).set(v);
    return p;
  }

  private step(
    fn: string,
    ctx: Context,
    m: number,
    i: number,
    op: Op,
    ptr: (v: number) => number,
    over: boolean,
  ): void {
    const { arena, kernels } = ctx;
    const tasks = (list: Task[]) => runTasks(fn, ctx, list);
    const [el, prec, blocks] = [this.el, this.precision, this.blocks];
    const view = (p: number, n: number) => this.view(arena, p, n);
    const put = (what: string, v: Float64Array | Float32Array) => this.put(arena, fn, what, v);
    const x = ptr(op.inputs[0]);
    const y = ptr(op.output);
    const xShape = this.shapes[op.inputs[0]];
    const xc = xShape[xShape.length - 1];
    const xcs = this.cs[op.inputs[0]];
    const pixels = m * (sizeOf(xShape) / xc);
    if (op.step < 0) {
      // a copy to another width: the channels, zeros past them
      const cs = this.cs[op.output];
      view(y, pixels * cs).fill(0);
      const c = Math.min(xc, xcs);
      runKernel(kernels, kernelFor("copy_channels", prec), { x, xs: xcs, c, y, ys: cs, p0: 0, p1: pixels });
      return;
    }
    const l = this.g.steps[op.step].layer;
    const s = l.spec;
    const act = op.act;
    const res = op.res ? ptr(op.inputs[1]) : 0;
    const n = pixels * xcs;
    if (op.viaOp) {
      // through the op, in inference mode: copied out and back in
      const ins = op.inputs.map((v) => {
        const a = new NDArray(new Float64Array(m * sizeOf(this.shapes[v])), [m, ...this.shapes[v]]);
        this.read(arena, ptr(v), m, v, a.data);
        return a;
      });
      const p = Object.fromEntries([...l.params].map(([k, a]) => [k, a.array]));
      const [out] = l.kind.forward(s, ins, p, { training: false, seed: () => 0 });
      this.write(ctx, y, out);
      return;
    }
    switch (s.kind) {
      case "conv2d":
      case "depthwiseConv2d":
      case "separableConv2d": {
        const g = convGeometry(l, xShape);
        const { top, bottom, left, right, hp, wp, nH, nW, fh, fw, sh, sw, dh, dw, k } = g;
        const [h, w] = xShape;
        const mode = convMode(l, xShape)!;
        const { bias, tile, packs } = this.weights(fn, ctx, i);
        /** Images [m, h, w, width] at `src` (pixel stride `width`) zero-padded as the conv needs. */
        const padded = (src: number, width: number) => {
          if (hp === h && wp === w) return src;
          // (an input copied in padded already: paddedIn)
          if (op.inputs[0] < this.inputs && this.paddedIn.has(op.inputs[0])) return src;
          const xp = arena.alloc(fn, "padded", m * hp * wp * width * el);
          const images = { ptr: src, strides: [h * w * width, w * width, width, 1], h, w, c: width };
          padImages(kernels, images, { top, bottom, left, right }, xp, m, prec);
          return xp;
        };
        const rows = m * nH;
        if (mode === "dense" && tile !== 0) {
          const images = { ptr: x, strides: [h * w * xcs, w * xcs, xcs, 1], h, w, c: xcs };
          const shape = { f: fh as 3 | 5, m, h, w, c: xcs, k, top, left, nH, nW };
          const work = m * nH * nW * blocks(k) * fh * fw * xcs;
          // (the output transform fuses a ReLU alone: a residual or ReLU6 follows it, in place)
          const alone = act === 1 && res === 0 ? 1 : 0;
          winogradFromArena(fn, ctx, images, packs[0], bias, shape, y, work, tile as Tile, alone, prec);
          const n8 = rows * nW * blocks(k);
          if (res !== 0) tasks([task(kernelFor("add_forward", prec), { a: y, b: res, y, i0: 0, i1: n8 })]);
          if (act === 1 && !alone) tasks([task(kernelFor("relu_forward", prec), { x: y, y, i0: 0, i1: n8 })]);
          const relu6 = { kind: ACTIVATIONS.relu6, x: y, y, i0: 0, i1: n8, a: 0, b: 0 };
          if (act === 2) tasks([task(kernelFor("act_forward", prec), relu6)]);
          return;
        }
        if (mode === "dense") {
          const [xp, wpk, b8, k8] = [padded(x, xcs), put("W packed", packs[0]), put("b", bias), blocks(k)];
          // (a concat's part: its pixels as wide as the concat's)
          const part = this.into.get(op.output);
          const kp = part ? this.cs[part.value] : k8;
          const parts = guided(ctx, rows * nW * k8 * fh * fw * xcs, "conv_forward", rows);
          // prettier-ignore
          tasks(parts.map(([r0, r1]) => task(kernelFor("conv_forward", prec), { xp, hp, wp, c: xcs, cg: xcs, wpk, fh, fw, dilH: dh,
            dilW: dw, k8, b8, sh, sw, z: y, kp, nH, nW, r0, r1, act, res })));
          return;
        }
        if (mode === "grouped") {
          // each group's channels read in place (pixel stride xcs); its outputs in blocks, then packed to k
          const groups = g.groups;
          const [cg, kg] = [xShape[2] / groups, k / groups];
          const kg8 = blocks(kg);
          const width = groups * kg8;
          const [xp, b8] = [padded(x, xcs), put("b", bias)];
          const z = arena.alloc(fn, "Z by group", rows * nW * width * el);
          const wpks = packs.map((v) => put("W packed", v));
          const parts = guided(ctx, rows * nW * width * fh * fw * cg, "conv_forward", rows);
          // prettier-ignore
          tasks(parts.flatMap(([r0, r1]) => wpks.map((wpk, j) => task(kernelFor("conv_forward", prec), { xp: xp + j * cg * el, hp, wp,
            c: xcs, cg, wpk, fh, fw, dilH: dh, dilW: dw, k8: kg8, b8: b8 + j * kg8 * el, sh, sw, z: z + j * kg8 * el,
            kp: width, nH, nW, r0, r1, act, res: 0 }))));
          const [src, dst] = [view(z, rows * nW * width), view(y, rows * nW * k)];
          for (let q = 0; q < rows * nW; q++)
            for (let j = 0; j < groups; j++)
              dst.set(src.subarray(q * width + j * kg8, q * width + j * kg8 + kg), q * k + j * kg);
          return;
        }
        // depthwise (a separable conv's first part): the input's channels repeated by the multiplier, in blocks
        const c = xShape[2];
        const dwk = mode === "separable" ? l.params.get("depthwise_W")!.array.shape[3] : k;
        const c8 = blocks(dwk);
        let src = x;
        if (xcs !== c8 || dwk !== c) {
          src = this.zeros(arena, fn, "channels repeated", (pixels * c8) | 0);
          const [from, to, mult] = [view(x, pixels * xcs), view(src, pixels * c8), dwk / c];
          for (let q = 0; q < pixels; q++)
            for (let o = 0; o < dwk; o++) to[q * c8 + o] = from[q * xcs + Math.floor(o / mult)];
        }
        const xp = padded(src, c8);
        const dwz = mode === "separable" ? arena.alloc(fn, "depthwise output", rows * nW * c8 * el) : y;
        const dwb = mode === "separable" ? this.zeros(arena, fn, "no bias", c8) : put("b", bias);
        const wd = put("W widened", packs[0]);
        const parts = guided(ctx, rows * nW * c8 * fh * fw, "conv_forward_depthwise", rows);
        // prettier-ignore
        tasks(parts.map(([r0, r1]) => task(kernelFor("conv_forward_depthwise", prec), { xp, hp, wp, c8, w: wd, fh, fw, dilH: dh,
          dilW: dw, b: dwb, sh, sw, z: dwz, nH, nW, r0, r1, act: mode === "separable" ? 0 : act })));
        if (mode === "separable") {
          // the pointwise 1×1 conv on the depthwise output (c8 channels a pixel)
          const [wpk, b8, k8] = [put("W packed", packs[1]), put("b", bias), bias.length];
          const pw = guided(ctx, rows * nW * k8 * c8, "conv_forward", rows);
          // prettier-ignore
          tasks(pw.map(([r0, r1]) => task(kernelFor("conv_forward", prec), { xp: dwz, hp: nH, wp: nW, c: c8, cg: c8, wpk, fh: 1, fw: 1,
            dilH: 1, dilW: 1, k8, b8, sh: 1, sw: 1, z: y, kp: k8, nH, nW, r0, r1, act, res: 0 })));
        }
        return;
      }
      case "dense": {
        const { bias, packs } = this.weights(fn, ctx, i);
        const [k8, wpk, b8] = [bias.length, put("W packed", packs[0]), put("b", bias)];
        // a 1×1 conv over the batch as one row of m pixels
        tasks([gemmTask({ x, pixels: m, n: xcs, w: wpk, k8, b: b8, z: y, r0: 0, r1: 1, act, precision: prec })]);
        return;
      }
      case "relu":
        tasks([task(kernelFor("relu_forward", prec), { x, y, i0: 0, i1: n })]);
        return;
      case "dropout":
        if (!over) view(y, n).set(view(x, n));
        return;
      case "flatten":
        if (!over && y !== x) view(y, n).set(view(x, n));
        return;
      case "batchNorm": {
        const p = (name: string) => values(l.params.get(name)!.array);
        const eps = s.epsilon ?? 1e-5;
        const [gamma, beta, mean, variance] = [p("gamma"), p("beta"), p("moving_mean"), p("moving_variance")];
        const v = this.zeros(arena, fn, "per-channel values", 3 * xcs);
        const [sub, scale, add] = [v, v + xcs * el, v + 2 * xcs * el];
        const [mv, sv, av] = [sub, scale, add].map((q) => view(q, xcs));
        for (let ch = 0; ch < xc; ch++) {
          mv[ch] = mean[ch];
          sv[ch] = gamma[ch] / Math.sqrt(variance[ch] + eps);
          av[ch] = beta[ch];
        }
        runKernel(kernels, kernelFor("channel_affine", prec), { x, pixels, c: xcs, sub, scale, add, y });
        return;
      }
      case "add": {
        const add = kernelFor("add_forward", prec);
        tasks([task(add, { a: x, b: ptr(op.inputs[1]), y, i0: 0, i1: n })]);
        for (const v of op.inputs.slice(2)) tasks([task(add, { a: y, b: ptr(v), y, i0: 0, i1: n })]);
        return;
      }
      case "maxPool":
      case "avgPool": {
        const [h, w, c] = xShape;
        const { g } = poolArgs(fn, fake([1, ...xShape]), poolHp(s));
        const { nH, nW, fh, fw, sh, sw, top, left, hp, wp } = g;
        const max = s.kind === "maxPool";
        let src = x;
        if (hp !== h || wp !== w) {
          // padded: −∞ never wins a max; zeros add nothing to a sum (the divisors count what they must)
          src = arena.alloc(fn, "padded", m * hp * wp * xcs * el);
          const [from, to] = [view(x, pixels * xcs), view(src, m * hp * wp * xcs)];
          to.fill(max ? -Infinity : 0);
          for (let j = 0; j < m; j++)
            for (let r = 0; r < h; r++) {
              const at = (j * h + r) * w * xcs;
              to.set(from.subarray(at, at + w * xcs), ((j * hp + top + r) * wp + left) * xcs);
            }
        }
        const [sx0, sx1, sx2, sx3] = [hp * wp * xcs, wp * xcs, xcs, 1];
        // (one set of arguments for both kernels: the max kernel reads no divisors)
        const { divH, divW } = max ? { divH: 0, divW: 0 } : divisors(fn, arena, g);
        const kernel = kernelFor(max ? "pool_forward_max" : "pool_forward_average", prec);
        const parts = guided(ctx, m * nH * nW * c * fh * fw, "conv_forward", m);
        tasks(
          parts.map(([i0, i1]) => {
            const args = { x: src, sx0, sx1, sx2, sx3, c, fh, fw, sh, sw, y, nH, nW, i0, i1, divH, divW };
            return task(kernel, args);
          }),
        );
        return;
      }
      case "zeroPadding2d": {
        const [h, w] = xShape;
        const [oh, ow] = this.shapes[op.output];
        const [top, , left] = padSides(s.pad);
        const images = { ptr: x, strides: [h * w * xcs, w * xcs, xcs, 1], h, w, c: xcs };
        padImages(kernels, images, { top, bottom: oh - h - top, left, right: ow - w - left }, y, m, prec);
        return;
      }
      case "concat": {
        const out = this.cs[op.output];
        let at = 0;
        for (const v of op.inputs) {
          const vs = this.shapes[v];
          const [c, cs] = [vs[vs.length - 1], this.cs[v]];
          const args = { x: ptr(v), xs: cs, c, y: y + at * el, ys: out, p0: 0, p1: pixels };
          // (a part its conv wrote in place is there already)
          if (!this.into.has(v)) runKernel(kernels, kernelFor("copy_channels", prec), args);
          at += c;
        }
        return;
      }
      case "multiply": {
        // a gate per channel of each image (its width that of the map), times the image's pixels
        const per = pixels / m;
        const gate = ptr(op.inputs[1]);
        for (let j = 0; j < m; j++) {
          const [xi, yi] = [x + j * per * xcs * el, y + j * per * xcs * el];
          runKernel(kernels, kernelFor("channel_affine", prec), {
            x: xi,
            pixels: per,
            c: xcs,
            sub: 0,
            scale: gate + j * xcs * el,
            add: 0,
            y: yi,
          });
        }
        return;
      }
      case "globalAvgPool":
      case "globalMaxPool": {
        const per = pixels / m;
        const sums = arena.zeros(fn, "per-channel values", 2 * xcs);
        // (the sums and maxima are float64 whatever the plan's type)
        const out = (j: number) => view(y + j * xc * el, xc);
        for (let j = 0; j < m; j++) {
          const xi = x + j * per * xcs * el;
          arena.f64(sums, 2 * xcs).fill(0);
          if (s.kind === "globalAvgPool") {
            runKernel(kernels, kernelFor("channel_moments", prec), {
              x: xi,
              pixels: per,
              c: xcs,
              shift: 0,
              s1: sums,
              s2: sums + xcs * F64_BYTES,
            });
            const r = arena.f64(sums, xc);
            out(j).set(r.map((t) => t / per));
          } else {
            const args = { x: xi, pixels: per, c: xcs, y: sums, arg: sums + xcs * F64_BYTES };
            runKernel(kernels, kernelFor("channel_max", prec), args);
            out(j).set(arena.f64(sums, xc));
          }
        }
        return;
      }
      case "softmax": {
        const k = xc;
        const src = view(x, m * xcs);
        const dst = view(y, m * k);
        for (let j = 0; j < m; j++) dst.set(src.subarray(j * xcs, j * xcs + k), j * k);
        tasks([task(kernelFor("softmax_forward", prec), { z: y, k, y, r0: 0, r1: m })]);
        return;
      }
      default: {
        const name = ACT[s.kind]!;
        // (the layer's options as the op reads them, defaults included)
        const [a, b] = activationParams(fn, name, s);
        tasks([task(kernelFor("act_forward", prec), { kind: ACTIVATIONS[name], x, y, i0: 0, i1: n, a, b })]);
      }
    }
  }
}
