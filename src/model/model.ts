// A model is a graph of layers (src/graph/graph.ts): built from a list by sequential(), or from input()
// and layers' apply() by model(), as Keras's functional API. Its layers are defined in kinds.ts; this
// file knows none by name. It trains through the functional ops (forward in topological order with
// every node's cache, then backward in reverse, gradients summed where a value has several readers or a
// layer several nodes), with SGD or Adam; predict() runs plan.ts's plan of the graph in WASM memory.
import {
  NDArray,
  allocate,
  assertFinite,
  assertFiniteValues,
  copyStrided,
  describe,
  fmtShape,
  messageOf,
  sizeOf,
  snapshot,
} from "../core/ndarray.js";
import { RandomState } from "../core/random.js";
import { checkInteger } from "../core/shapes.js";
import { add } from "../ops/merge.js";
import { softmax_cross_entropy, targets } from "../ops/softmax.js";
import { Optimizer, adam } from "./optimizers.js";
import { parseNpz, writeNpz } from "../io/npz.js";
import { examples, examplesIn } from "./layers.js";
import type { LayerSpec } from "./layers.js";
import { type KindDef, type ParamSpec, bool, kindOf } from "./kinds.js";
import { Plan, type PlanGraph } from "./plan.js";
import type { Precision } from "../kernels/kernels.js";
import { type GraphDescription, SymbolicTensor, describeGraph } from "../graph/graph.js";

export { layers, digitsLayers } from "./layers.js";
export type { Init, Layer as LayerObject, LayerSpec } from "./layers.js";
export { input, SymbolicTensor } from "../graph/graph.js";
export type { GraphDescription } from "../graph/graph.js";

/** A built layer: its spec, name, definition, per-example input and output shapes, and parameters. */
interface Layer {
  spec: LayerSpec;
  name: string;
  kind: KindDef;
  /** Its inputs' and its output's per-example shapes. */
  inputs: number[][];
  output: number[];
  params: Map<string, ParamSpec>;
}

/** One node of the built graph: its layer, the values it reads and the value it makes (indices). */
interface Step {
  layer: Layer;
  inputs: number[];
  output: number;
}

/** One epoch's figures, as fit() reports them to onEpoch and returns them. */
export interface EpochLog {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  examplesPerSecond: number;
  seconds: number;
}

export interface FitOptions {
  epochs?: number;
  /** Stops training (fit throws a named Error) when it reads true, checked before every batch: an AbortSignal. */
  signal?: { readonly aborted: boolean };
  batchSize?: number;
  optimizer?: Optimizer;
  /** Shuffle the examples every epoch (seeded by the model's seed). */
  shuffle?: boolean;
  /**
   * Augmentation: each training image [h, w, c] shifted by random whole pixels in −shift..shift along
   * both axes (zeros fill what comes in), drawn from the model's seed; the data itself is not changed.
   */
  augment?: { shift?: number };
  validation?: [NDArray, Labels];
  onEpoch?: (log: EpochLog) => void;
  /** After every batch: its index, how many there are, and the batch's loss. */
  onBatch?: (batch: number, batches: number, loss: number) => void;
}

/** Class labels: m class indices, or one-hot rows [m, classes]. */
export type Labels = readonly number[] | NDArray;

/** WASM32 memory (4 GiB) in float64s: no parameter array or activation of one example can be larger. */
const MAX_WASM_ELEMENTS = 2 ** 29;

/** An options argument: undefined (no options) or an object, whose own fields are read once here. */
function optionsOf<T extends object>(fn: string, options: unknown, name = "options"): Partial<T> {
  if (options === undefined) return {};
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: ${name} expects an object but got ${describe(options)}`);
  }
  try {
    return { ...(options as Partial<T>) };
  } catch (e) {
    throw new TypeError(`${fn}: reading ${name} threw: ${messageOf(e)}`, { cause: e });
  }
}

/** Activations a He initialisation is for (the default of a layer they follow, through a BatchNorm). */
const RELUS = new Set(["relu", "relu6", "leakyRelu", "clip"]);

/**
 * The graph a description holds, built: nodes in topological order (their order of creation), each
 * layer's shapes checked and parameters initialised (seeded, in that order). A layer applied at several
 * nodes shares its parameters.
 */
function buildGraph(
  fn: string,
  d: GraphDescription,
  rs: RandomState,
  whereOf: (i: number, name: string) => string,
  random: boolean,
): { shapes: number[][]; steps: Step[]; outputs: number[]; layers: Layer[] } {
  const first = d.inputs.length;
  const readers = new Map<number, number[]>();
  d.nodes.forEach((n, i) => n.inputs.forEach((v) => readers.set(v, [...(readers.get(v) ?? []), i])));
  const kindAt = (i: number) => (d.specs[d.nodes[i].layer] as { kind?: unknown } | null)?.kind as string;
  const shapes = d.inputs.map((s) => [...s]);
  const built = new Map<number, Layer>();
  const counts: Record<string, number> = {};
  let params = 0;
  const steps: Step[] = [];
  d.nodes.forEach(({ layer: li, inputs: ins }, i) => {
    const shared = built.get(li);
    let layer: Layer;
    if (shared) {
      const now = ins.map((v) => shapes[v]);
      if (now.map(fmtShape).join() !== shared.inputs.map(fmtShape).join()) {
        throw new RangeError(
          `${whereOf(i, shared.name)}: a shared layer expects its first inputs' shapes ${shared.inputs.map(fmtShape).join(", ")} but gets ${now.map(fmtShape).join(", ")}`,
        );
      }
      layer = shared;
    } else {
      const given = d.specs[li];
      const kind = kindOf(whereOf(i, "?").replace(/ \(\?\)$/, ""), given);
      // the spec's fields read once (a getter runs now, not in the middle of building)
      const spec = { ...given } as LayerSpec;
      const name = counts[spec.kind] === undefined ? spec.kind : `${spec.kind}_${counts[spec.kind]}`;
      counts[spec.kind] = (counts[spec.kind] ?? 0) + 1;
      const where = whereOf(i, name);
      const arity = kind.arity === "many" ? ins.length >= 2 : ins.length === kind.arity;
      if (!arity) {
        throw new RangeError(
          `${where} expects ${kind.arity === "many" ? "at least 2" : kind.arity} input${kind.arity === 1 ? "" : "s"} but gets ${ins.length}`,
        );
      }
      // He before a ReLU (through a BatchNorm), else Glorot
      const next = readers.get(first + i) ?? [];
      const after = next.length === 1 && kindAt(next[0]) === "batchNorm" ? (readers.get(first + next[0]) ?? []) : next;
      const he = after.length === 1 && RELUS.has(kindAt(after[0]));
      const init = (fanIn: number, fanOut: number, wShape: number[], how: unknown) => {
        if (how !== undefined && how !== "he" && how !== "glorot") {
          throw new RangeError(`${where}: init expects "he" or "glorot" but got ${describe(how)}`);
        }
        const n = sizeOf(wShape);
        params += n;
        if (n > MAX_WASM_ELEMENTS || params > MAX_WASM_ELEMENTS) {
          throw new RangeError(
            `${where}: ${fmtShape(wShape)} makes ${params} parameters, more than WASM memory holds (${MAX_WASM_ELEMENTS} float64)`,
          );
        }
        const data = allocate(where, "W", n);
        if (!random) return new NDArray(data, wShape);
        if ((how ?? (he ? "he" : "glorot")) === "he") {
          const std = Math.sqrt(2 / fanIn);
          for (let j = 0; j < n; j++) data[j] = rs.standardNormal() * std;
        } else {
          const limit = Math.sqrt(6 / (fanIn + fanOut));
          for (let j = 0; j < n; j++) data[j] = (2 * rs.random() - 1) * limit;
        }
        return new NDArray(data, wShape);
      };
      const inputsShapes = ins.map((v) => [...shapes[v]]);
      const b = kind.build({ where, inputs: inputsShapes, init }, spec);
      if (sizeOf(b.output) > MAX_WASM_ELEMENTS) {
        throw new RangeError(
          `${where}: its output ${fmtShape(b.output)} has ${sizeOf(b.output)} values an example, more than WASM memory holds (${MAX_WASM_ELEMENTS} float64)`,
        );
      }
      // a frozen layer's parameters are kept as they are by fit (and counted as non-trainable)
      if (!bool(where, "trainable", spec.trainable, true))
        for (const param of Object.values(b.params)) param.trainable = false;
      const p = new Map(Object.entries(b.params));
      layer = {
        spec,
        name,
        kind,
        inputs: inputsShapes,
        output: b.output,
        params: p,
      };
      built.set(li, layer);
    }
    steps.push({ layer, inputs: [...ins], output: shapes.length });
    shapes.push(layer.output);
  });
  steps.forEach((s, i) => {
    if (s.layer.spec.kind !== "softmax") return;
    const read = steps.some((r) => r.inputs.includes(s.output));
    if (read || !d.outputs.includes(s.output))
      throw new RangeError(`${whereOf(i, s.layer.name)} must be the last layer`);
  });
  return { shapes, steps, outputs: [...d.outputs], layers: [...new Set(steps.map((s) => s.layer))] };
}

/** Labels (class indices or one-hot rows) as one-hot rows [m, k], checked against the batch and the classes. */
function oneHot(fn: string, Y: unknown, m: number, k: number, name = "Y"): NDArray {
  return new NDArray(targets(fn, Y, m, k, "example", name), [m, k]);
}

/** Rows idx of X (any rank, any view), copied: only those rows are read (a batch costs its own size, not X's). */
function take(X: NDArray, idx: ArrayLike<number>): NDArray {
  const per = X.size / X.shape[0];
  const out = new Float64Array(idx.length * per);
  for (let j = 0; j < idx.length; j++) copyStrided(X.index(idx[j]), out, j * per);
  return new NDArray(out, [idx.length, ...X.shape.slice(1)]);
}

/** Each image of x [m, h, w, c] shifted in place by whole pixels dy, dx in −s..s (zeros come in). */
function shiftImages(x: NDArray, s: number, rs: RandomState): void {
  const [m, h, w, c] = x.shape;
  const d = x.data;
  const copy = new Float64Array(h * w * c);
  for (let i = 0; i < m; i++) {
    const dy = Math.floor(rs.random() * (2 * s + 1)) - s;
    const dx = Math.floor(rs.random() * (2 * s + 1)) - s;
    if (dy === 0 && dx === 0) continue;
    const base = i * h * w * c;
    copy.set(d.subarray(base, base + h * w * c));
    d.fill(0, base, base + h * w * c);
    for (let y = Math.max(0, dy); y < Math.min(h, h + dy); y++) {
      const from = ((y - dy) * w + Math.max(0, -dx)) * c;
      const len = (w - Math.abs(dx)) * c;
      d.set(copy.subarray(from, from + len), base + (y * w + Math.max(0, dx)) * c);
    }
  }
}

/** Argmax of each row. */
function argmaxRows(P: NDArray): Int32Array {
  const [m, k] = P.shape;
  const p = P.toFloat64Array();
  const out = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (p[i * k + j] > p[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}

/** `v` as a precision, or a TypeError naming `fn` and `what`. */
export function checkPrecision(fn: string, v: unknown, what = "options.precision"): Precision {
  if (v !== "f64" && v !== "f32") throw new TypeError(`${fn}: ${what} expects "f64" or "f32" but got ${describe(v)}`);
  return v;
}

export interface PredictOptions {
  /** Examples per pass through the layers (the arena holds one pass's activations); default 256. */
  batchSize?: number;
  /** Refuse an input holding NaN or ±Infinity (a RangeError naming the first), instead of NaN outputs. */
  checkFinite?: boolean;
  /**
   * "plan" (default): the graph inside WASM memory, BatchNorm folded, buffers reused; "ops": every layer
   * through its functional op, as fit's forward in inference mode (slower; to check the plan against).
   */
  engine?: "plan" | "ops";
  /**
   * The element type of the plan's arithmetic: "f64" (exact, the default unless compile() set another) or
   * "f32" (weights converted and packed once, activations float32 in WASM memory: about half the memory
   * traffic and twice the SIMD lanes; agrees with f64 to ~1e-6 relative). The output is float64 either way
   * unless `output` says otherwise.
   */
  precision?: Precision;
  /**
   * "NDArray" (default): each output a float64 NDArray [m, ...shape]; "Float32Array": each output's values
   * in C order as float32 (what an f32 plan computed, as it is; an f64 plan's narrowed).
   */
  output?: "NDArray" | "Float32Array";
}

/** compile()'s options read and checked: the precision they set (`current` where they name none). */
export function compiledPrecision(fn: string, options: unknown, current: Precision): Precision {
  return checkPrecision(fn, optionsOf<CompileOptions>(fn, options).precision ?? current);
}

/** compile()'s options: what predict() does by default. */
export interface CompileOptions {
  /** predict()'s default precision (see PredictOptions.precision). */
  precision?: Precision;
}

/** A trainable parameter: its layer, its name in that layer, its spec. */
interface Trainable {
  layer: Layer;
  name: string;
  param: ParamSpec;
}

export class Model {
  /** The per-example shapes of the inputs and outputs. */
  readonly inputShapes: readonly (readonly number[])[];
  readonly outputShapes: readonly (readonly number[])[];
  /** The (first) input's per-example shape. */
  readonly inputShape: readonly number[];
  protected readonly rs: RandomState;
  private readonly shapes: number[][];
  private readonly steps: Step[];
  private readonly outputs: number[];
  private readonly all: Layer[];
  /** predict()'s plans, one per precision (made when first used): the graph in inference mode inside WASM memory. */
  private readonly plans = new Map<Precision, Plan>();
  /** What the plans are made of. */
  private readonly planGraph: PlanGraph;
  /** predict()'s precision when its options name none (compile()). */
  private precision: Precision = "f64";
  /** The graph as plain data (what convwasm/async sends its workers to make the same model). */
  readonly description: GraphDescription;
  private gone = false;

  constructor(
    fn: string,
    graph: GraphDescription,
    seed: unknown,
    whereOf: (i: number, name: string) => string = (i, name) => `${fn}: node ${i} (${name})`,
    /** Draw the initial weights (false: zeros, for a model whose weights are set next, as an import's). */
    random = true,
  ) {
    this.rs = new RandomState(checkInteger(fn, "seed", seed ?? 0, 0));
    const g = buildGraph(fn, graph, this.rs, whereOf, random);
    this.description = graph;
    this.shapes = g.shapes;
    this.steps = g.steps;
    this.outputs = g.outputs;
    this.all = g.layers;
    this.inputShapes = graph.inputs.map((t) => Object.freeze([...t]));
    this.inputShape = this.inputShapes[0];
    this.outputShapes = g.outputs.map((v) => Object.freeze([...g.shapes[v]]));
    this.planGraph = { shapes: g.shapes, steps: g.steps, outputs: g.outputs, inputs: graph.inputs.length };
    this.plans.set("f64", new Plan(this.planGraph));
  }

  /** Whether dispose() was called (every method then throws). */
  get disposed(): boolean {
    return this.gone;
  }

  /**
   * Frees what the model holds, its parameters and its plans' packed weights, now rather than when the
   * model is unreachable; every later call throws, naming itself. Called during fit (from onBatch or
   * onEpoch) it stops the training after that callback, and fit throws. Idempotent.
   */
  dispose(): void {
    this.gone = true;
    this.plans.clear();
    const none = new NDArray(new Float64Array(0), [0]);
    for (const l of this.all) for (const p of l.params.values()) p.array = none;
  }

  /** Throws once dispose() was called: at a call's start, and again after reading its arguments (a getter may dispose). */
  protected live(fn: string): void {
    if (this.gone) throw new Error(`${fn}: this model was disposed`);
  }

  /** The plan of `precision`, made once. */
  private plan(precision: Precision = "f64"): Plan {
    let p = this.plans.get(precision);
    if (!p) this.plans.set(precision, (p = new Plan(this.planGraph, precision)));
    return p;
  }

  /** Forgets every plan's packed weights (the weights changed). */
  private invalidate(): void {
    for (const p of this.plans.values()) p.invalidate();
  }

  /**
   * Sets what predict() does by default: `{ precision: "f32" }` runs inference in float32 from now on
   * (training, evaluate() and the functional ops stay float64). All or nothing: a bad option changes nothing.
   */
  compile(options: CompileOptions): this {
    const fn = "compile";
    this.live(fn);
    this.precision = compiledPrecision(fn, options, this.precision);
    return this;
  }

  /** Multiply-adds of one example through the conv and dense layers (what predict() costs per example). */
  get work(): number {
    this.live("work");
    return this.plan().work;
  }

  /**
   * The graph as built: each node's layer (its name and spec, a layer applied twice listed at both nodes),
   * the values it reads and makes (indices: the inputs first, then each node's output), every value's
   * per-example shape, and which values are the outputs. Plain data (what an exporter walks).
   */
  graph(): {
    nodes: { layer: string; spec: LayerSpec; inputs: number[]; output: number }[];
    shapes: number[][];
    inputs: number;
    outputs: number[];
  } {
    this.live("graph");
    return {
      nodes: this.steps.map((s) => ({
        layer: s.layer.name,
        spec: { ...s.layer.spec },
        inputs: [...s.inputs],
        output: s.output,
      })),
      shapes: this.shapes.map((s) => [...s]),
      inputs: this.inputShapes.length,
      outputs: [...this.outputs],
    };
  }

  /** The (first) output's per-example shape. */
  get outputShape(): readonly number[] {
    return this.outputShapes[0];
  }

  /** The model's own arrays, by name ("conv2d/W", "batchNorm/moving_mean", …), parameters and state. */
  private parameters(): Map<string, NDArray> {
    return new Map([...this.specs()].map(([name, p]) => [name, p.array]));
  }

  /** Every parameter's and state array's spec, by the same names. */
  private specs(): Map<string, ParamSpec> {
    const out = new Map<string, ParamSpec>();
    for (const l of this.all) for (const [name, p] of l.params) out.set(`${l.name}/${name}`, p);
    return out;
  }

  /** The trainable parameters, in the order of the gradients. */
  private trainables(): Trainable[] {
    const out: Trainable[] = [];
    for (const layer of this.all)
      for (const [name, param] of layer.params) if (param.trainable) out.push({ layer, name, param });
    return out;
  }

  /**
   * Copies of the parameters and state, by name ("conv2d/W", "conv2d/b", "batchNorm/gamma",
   * "batchNorm/moving_mean", …). Changing a copy changes nothing in the model: setWeights() does.
   */
  weights(): Record<string, NDArray> {
    this.live("weights");
    const out: Record<string, NDArray> = {};
    for (const [name, a] of this.parameters()) out[name] = new NDArray(a.data.slice(), a.shape);
    return out;
  }

  /**
   * Replaces parameters by name (same shapes), e.g. from another framework's trained weights. All or
   * nothing: every name and shape is checked, and every array read, before any parameter changes.
   */
  setWeights(arrays: Record<string, NDArray>): void {
    this.replace("setWeights", arrays, false);
  }

  /** Checks `arrays` against the parameters (all of them when `whole`), then copies them in, all at once. */
  private replace(fn: string, arrays: unknown, whole: boolean): void {
    this.live(fn);
    const given = optionsOf<Record<string, unknown>>(fn, arrays, "arrays");
    this.live(fn);
    const mine = this.parameters();
    const names = () => [...mine.keys()].join(", ");
    if (whole) {
      const missing = [...mine.keys()].filter((n) => !Object.hasOwn(given, n));
      if (missing.length > 0) throw new RangeError(`${fn}: the .npz file lacks ${missing.join(", ")}`);
    }
    const updates: [NDArray, Float64Array][] = [];
    for (const name of Object.keys(given)) {
      const target = mine.get(name);
      if (!target)
        throw new RangeError(`${fn}: the model has no parameter ${JSON.stringify(name)} (it has ${names()})`);
      const v = snapshot(fn, name, given[name]);
      if (fmtShape(v.shape) !== fmtShape(target.shape)) {
        throw new RangeError(`${fn}: ${name} expects shape ${fmtShape(target.shape)} but got ${fmtShape(v.shape)}`);
      }
      updates.push([target, v.toFloat64Array()]);
    }
    this.live(fn);
    for (const [target, data] of updates) target.data.set(data);
    this.invalidate();
  }

  /**
   * Takes `arrays` as the parameters themselves, by name, without copying them (an import's freshly made
   * arrays, which nothing else holds; shapes checked as setWeights does). A copy costs its first touch.
   */
  protected adopt(fn: string, arrays: Record<string, NDArray>): void {
    this.live(fn);
    const params = this.specs();
    for (const [name, a] of Object.entries(arrays)) {
      const p = params.get(name);
      if (!p) throw new RangeError(`${fn}: the model has no parameter ${JSON.stringify(name)}`);
      if (fmtShape(a.shape) !== fmtShape(p.array.shape) || !a.isContiguous() || a.offset !== 0) {
        throw new RangeError(
          `${fn}: ${name} expects a contiguous array of shape ${fmtShape(p.array.shape)} but got ${fmtShape(a.shape)}`,
        );
      }
      p.array = a;
    }
    this.invalidate();
  }

  /** The weights and state as the bytes of an .npz file (np.load gives the same names and arrays). */
  save(): Uint8Array {
    this.live("save");
    return writeNpz(this.weights());
  }

  /**
   * Loads weights from .npz bytes (as save() writes them, or np.savez with the same names and shapes):
   * every parameter and state array, nothing else; all or nothing. A member larger than its array is refused unread.
   */
  load(bytes: Uint8Array): void {
    this.live("load");
    const expect = new Map([...this.parameters()].map(([k, a]) => [k, a.shape]));
    this.replace("load", parseNpz("load", bytes, { expect }), true);
  }

  /** A table like Keras's model.summary(): layers, output shapes, parameter counts (and, in a graph, inputs). */
  summary(): string {
    this.live("summary");
    const names = this.inputShapes.map((_, i) => (this.inputShapes.length === 1 ? "input" : `input_${i}`));
    const valueName = (v: number) =>
      v < this.inputShapes.length ? names[v] : this.steps.find((s) => s.output === v)!.layer.name;
    // (a chain reads as Keras's Sequential summary; a graph says what each layer reads)
    const graph = !(
      this.inputShapes.length === 1 &&
      this.outputs.length === 1 &&
      this.steps.every((st, i) => st.inputs.length === 1 && st.inputs[0] === (i === 0 ? 0 : this.steps[i - 1].output))
    );
    const seen = new Set<Layer>();
    const rows = this.steps.map(({ layer: l, inputs, output }) => {
      const count = seen.has(l) ? 0 : [...l.params.values()].reduce((s, p) => s + p.array.size, 0);
      seen.add(l);
      const row = [`${l.name} (${l.spec.kind})`, `(None, ${this.shapes[output].join(", ")})`, String(count)];
      return graph ? [...row, inputs.map(valueName).join(", ")] : row;
    });
    const head = ["Layer (type)", "Output Shape", "Param #", ...(graph ? ["Connected to"] : [])];
    const widths = head.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)) + 4);
    const line = (r: string[]) =>
      r
        .map((c, j) => c.padEnd(widths[j]))
        .join("")
        .trimEnd();
    let trainable = 0;
    let state = 0;
    for (const l of this.all)
      for (const p of l.params.values()) p.trainable ? (trainable += p.array.size) : (state += p.array.size);
    const rule = (ch: string) => ch.repeat(widths.reduce((a, b) => a + b, 0));
    const ins = this.inputShapes.map((s) => `(None, ${s.join(", ")})`).join(", ");
    const kib = (p: Precision) => (this.plan(p).peakBytes() / 1024).toFixed(1);
    return [
      `Model: ${graph ? "functional" : "sequential"}, input ${ins}`,
      rule("_"),
      line(head),
      rule("="),
      ...rows.flatMap((r, i) => [line(r), i < rows.length - 1 ? rule("_") : rule("=")]),
      `Total params: ${trainable + state}`,
      `Trainable params: ${trainable}`,
      ...(state > 0 ? [`Non-trainable params: ${state}`] : []),
      `predict's activations: ${kib("f64")} KiB an example in f64, ${kib("f32")} KiB in f32 (planned by liveness)`,
    ].join("\n");
  }

  /**
   * The graph forward from the inputs, node by node in topological order; with `training`, every node's
   * cache is kept (BatchNorm normalises with the batch and updates its running statistics, dropout
   * drops). `upTo` stops before that step (fit stops before the final softmax).
   */
  private forward(
    xs: NDArray[],
    training: boolean,
    upTo = this.steps.length,
  ): { values: (NDArray | null)[]; caches: unknown[] } {
    const values: (NDArray | null)[] = [...xs];
    const caches: unknown[] = [];
    // the last step reading each value: past it, the value is dropped (unless training keeps caches)
    const last = new Map<number, number>();
    this.steps.forEach((s, i) => s.inputs.forEach((v) => last.set(v, i)));
    const ctx = { training, seed: () => Math.floor(this.rs.random() * 2 ** 31) };
    for (let i = 0; i < upTo; i++) {
      const { layer, inputs, output } = this.steps[i];
      const p = Object.fromEntries([...layer.params].map(([k, v]) => [k, v.array]));
      const [y, cache] = layer.kind.forward(
        layer.spec,
        inputs.map((v) => values[v]!),
        p,
        ctx,
      );
      values[output] = y;
      if (training) caches[i] = cache;
      else for (const v of inputs) if (last.get(v) === i && !this.outputs.includes(v)) values[v] = null;
    }
    return { values, caches };
  }

  /** The one output of a trainable model, made by softmax from its logits. */
  private lossStep(fn: string): number {
    const last = this.steps.findIndex((s) => s.output === this.outputs[0]);
    if (
      this.outputs.length !== 1 ||
      this.inputShapes.length !== 1 ||
      last < 0 ||
      this.steps[last].layer.spec.kind !== "softmax"
    ) {
      throw new RangeError(`${fn}: the model expects softmax as its last layer (it trains with softmax cross-entropy)`);
    }
    return last;
  }

  /**
   * The training forward pass through the functional ops, up to the logits (before the final softmax),
   * with every node's cache; then, from the logits' gradient, the backward pass in reverse order,
   * summing the gradients of a value with several readers and of a layer applied at several nodes.
   */
  private step(X: NDArray, Y: NDArray): { loss: number; correct: number; grads: Float64Array[] } {
    const end = this.lossStep("fit");
    const { values, caches } = this.forward([X], true, end);
    const logits = values[this.steps[end].inputs[0]]!;
    const [loss, dZ] = softmax_cross_entropy(logits, Y);
    const predicted = argmaxRows(logits);
    const truth = argmaxRows(Y);
    const correct = predicted.reduce((n, p, i) => n + (p === truth[i] ? 1 : 0), 0);
    // the gradients of the values (by index) and of the parameters (by name), summed as they arrive
    const d = new Map<number, NDArray>([[this.steps[end].inputs[0], dZ]]);
    const grads = new Map<string, NDArray>();
    const accumulate = <K>(into: Map<K, NDArray>, key: K, g: NDArray) => {
      const had = into.get(key);
      into.set(key, had ? add(had, g) : g);
    };
    for (let i = end - 1; i >= 0; i--) {
      const { layer, inputs, output } = this.steps[i];
      const dy = d.get(output);
      if (!dy) continue;
      const p = Object.fromEntries([...layer.params].map(([k, v]) => [k, v.array]));
      const r = layer.kind.backward(layer.spec, dy, caches[i], p);
      d.delete(output);
      caches[i] = undefined;
      inputs.forEach((v, j) => {
        if (v >= this.inputShapes.length) accumulate(d, v, r.dx[j]);
      });
      for (const [name, g] of Object.entries(r.grads)) accumulate(grads, `${layer.name}/${name}`, g);
    }
    const out = this.trainables().map(({ layer, name, param }) => {
      const g = grads.get(`${layer.name}/${name}`);
      return g ? g.toFloat64Array() : new Float64Array(param.array.size);
    });
    return { loss, correct, grads: out };
  }

  /**
   * Trains on X [m, ...inputShape] and Y (class indices or one-hot rows) with softmax cross-entropy: the
   * model must end with softmax (the loss is taken on its input, the logits). Deterministic for the
   * model's seed, on any number of threads. Returns each epoch's figures.
   */
  fit(X: NDArray, Y: Labels, fitOptions?: FitOptions): EpochLog[] {
    const fn = "fit";
    this.live(fn);
    const options = optionsOf<FitOptions>(fn, fitOptions);
    this.lossStep(fn);
    const x = examples(fn, X, this.inputShape, false);
    const m = x.shape[0];
    if (m === 0) throw new RangeError(`${fn}: X expects at least one example but got shape ${fmtShape(x.shape)}`);
    const k = this.outputShape[0];
    const y = oneHot(fn, Y, m, k);
    const epochs = checkInteger(fn, "options.epochs", options.epochs ?? 1, 1);
    const batchSize = checkInteger(fn, "options.batchSize", options.batchSize ?? 32, 1);
    const optimizer = options.optimizer ?? adam();
    if (typeof optimizer?.step !== "function") {
      throw new TypeError(`${fn}: options.optimizer expects sgd(…) or adam(…) but got ${describe(optimizer)}`);
    }
    for (const cb of ["onEpoch", "onBatch"] as const) {
      if (options[cb] !== undefined && typeof options[cb] !== "function") {
        throw new TypeError(`${fn}: options.${cb} expects a function but got ${describe(options[cb])}`);
      }
    }
    const signal = options.signal;
    if (signal !== undefined && (signal === null || typeof signal !== "object")) {
      throw new TypeError(`${fn}: options.signal expects an AbortSignal but got ${describe(signal)}`);
    }
    const augment = optionsOf<{ shift: number }>(fn, options.augment, "options.augment");
    const shift = checkInteger(fn, "options.augment.shift", augment.shift ?? 0, 0);
    if (shift > 0 && this.inputShape.length !== 3) {
      throw new RangeError(
        `${fn}: options.augment.shift expects images [h, w, c] but the input is ${fmtShape(this.inputShape)}`,
      );
    }
    // the validation data checked before any training (a bad one must not cost an epoch)
    let validation: [NDArray, Labels] | undefined;
    if (options.validation !== undefined) {
      const v = options.validation;
      if (!Array.isArray(v) || v.length !== 2) {
        throw new TypeError(`${fn}: options.validation expects [X, Y] but got ${describe(v)}`);
      }
      const [vX, vY] = [v[0], v[1]];
      const vx = examples(fn, vX, this.inputShape, false, "options.validation[0]");
      oneHot(fn, vY, vx.shape[0], k, "options.validation[1]");
      validation = [vx, vY as Labels];
    }
    this.live(fn);
    const history: EpochLog[] = [];
    const order = Int32Array.from({ length: m }, (_, i) => i);
    const batches = Math.ceil(m / batchSize);
    const trainables = this.trainables();
    const params = trainables.map((t) => t.param.array.data);
    const decay = trainables.map((t) => t.param.decay);
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const t0 = performance.now();
      if (options.shuffle ?? true) {
        for (let i = m - 1; i > 0; i--) {
          const j = Math.floor(this.rs.random() * (i + 1));
          [order[i], order[j]] = [order[j], order[i]];
        }
      }
      let lossSum = 0;
      let correct = 0;
      for (let bi = 0; bi < batches; bi++) {
        if (signal?.aborted) throw new Error(`${fn}: stopped by options.signal after ${history.length} epochs`);
        const idx = order.subarray(bi * batchSize, Math.min(m, (bi + 1) * batchSize));
        const xb = take(x, idx);
        if (shift > 0) shiftImages(xb, shift, this.rs);
        const r = this.step(xb, take(y, idx));
        optimizer.step(params, r.grads, { decay, step: (epoch - 1) * batches + bi, steps: epochs * batches });
        this.invalidate();
        lossSum += r.loss * idx.length;
        correct += r.correct;
        options.onBatch?.(bi, batches, r.loss);
        if (this.gone) throw new Error(`${fn}: the model was disposed during training`);
      }
      const seconds = (performance.now() - t0) / 1000;
      const log: EpochLog = {
        epoch,
        loss: lossSum / m,
        accuracy: correct / m,
        examplesPerSecond: m / seconds,
        seconds,
      };
      if (validation) {
        // (not a subclass's evaluate: the validation data is in the model's own layout by now)
        const v = Model.prototype.evaluate.call(this, validation[0], validation[1]);
        log.valLoss = v.loss;
        log.valAccuracy = v.accuracy;
      }
      history.push(log);
      options.onEpoch?.(log);
      if (this.gone) throw new Error(`${fn}: the model was disposed during training`);
    }
    return history;
  }

  /**
   * Loss (softmax cross-entropy) and accuracy on X, Y: of the predictions where the model ends with
   * softmax, else of the softmax of its outputs, taken as logits (as torchvision's classifiers give them).
   */
  evaluate(X: NDArray, Y: Labels): { loss: number; accuracy: number } {
    const fn = "evaluate";
    this.live(fn);
    const P = Model.prototype.predictAll.call(this, [X], undefined, fn)[0];
    const [m, k] = P.shape;
    const y = oneHot(fn, Y, m, k).toFloat64Array();
    const p = P.toFloat64Array();
    const predicted = argmaxRows(P);
    const probabilities = this.steps.find((s) => s.output === this.outputs[0])?.layer.spec.kind === "softmax";
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < m; i++) {
      const row = p.subarray(i * k, (i + 1) * k);
      // -log softmax(z)_j = logsumexp(z) - z_j, the max taken out first
      let lse = 0;
      if (!probabilities) {
        const max = row.reduce((a, v) => Math.max(a, v), -Infinity);
        lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
      }
      for (let j = 0; j < k; j++) {
        const t = y[i * k + j];
        if (t !== 0) loss += t * (probabilities ? -Math.log(row[j]) : lse - row[j]);
      }
      if (y[i * k + predicted[i]] === 1) correct++;
    }
    return { loss: loss / m, accuracy: correct / m };
  }

  /**
   * The model's output for X [m, ...inputShape] (or flat examples in a Float32Array or Float64Array), in
   * inference mode (BatchNorm's running statistics, no dropout), in batches of at most `batchSize`
   * examples, by the plan in WASM memory (the arena holds one batch's values); equal to every layer run
   * through its op (engine "ops") to 1e-11. A Float32Array goes into WASM memory as it is (an f32 plan
   * copies it, an f64 plan widens it on the way). `{ output: "Float32Array" }` gives the values in C
   * order as float32 (an f32 plan's, unwidened). For several inputs or outputs, predictAll().
   */
  predict(X: NDArray | Float32Array | Float64Array, options: PredictOptions & { output: "Float32Array" }): Float32Array;
  predict(X: NDArray | Float32Array | Float64Array, options?: PredictOptions): NDArray;
  predict(X: NDArray | Float32Array | Float64Array, options?: PredictOptions): NDArray | Float32Array {
    const fn = "predict";
    this.live(fn);
    if (this.inputShapes.length !== 1 || this.outputs.length !== 1) {
      throw new RangeError(
        `${fn}: the model has ${this.inputShapes.length} inputs and ${this.outputs.length} outputs; predictAll() takes and gives a list`,
      );
    }
    return this.predictAll([X], options, fn)[0];
  }

  /** As predict(), for a model of several inputs and outputs: one array per input, one per output. */
  predictAll(
    Xs: readonly (NDArray | Float32Array | Float64Array)[],
    options: PredictOptions & { output: "Float32Array" },
    fn?: string,
  ): Float32Array[];
  predictAll(Xs: readonly (NDArray | Float32Array | Float64Array)[], options?: PredictOptions, fn?: string): NDArray[];
  predictAll(
    Xs: readonly (NDArray | Float32Array | Float64Array)[],
    options?: PredictOptions,
    fn = "predictAll",
  ): (NDArray | Float32Array)[] {
    this.live(fn);
    const o = optionsOf<PredictOptions>(fn, options);
    const { batchSize = 256, checkFinite = false, engine = "plan", output = "NDArray" } = o;
    if (engine !== "plan" && engine !== "ops") {
      throw new TypeError(`${fn}: options.engine expects "plan" or "ops" but got ${describe(engine)}`);
    }
    if (output !== "NDArray" && output !== "Float32Array") {
      throw new TypeError(`${fn}: options.output expects "NDArray" or "Float32Array" but got ${describe(output)}`);
    }
    const precision = checkPrecision(fn, o.precision ?? this.precision, "options.precision");
    if (engine === "ops" && precision !== "f64") {
      throw new RangeError(`${fn}: options.engine "ops" runs in f64 only, but options.precision is "${precision}"`);
    }
    if (!Array.isArray(Xs) || Xs.length !== this.inputShapes.length) {
      throw new TypeError(
        `${fn}: Xs expects ${this.inputShapes.length} arrays (one per input) but got ${describe(Xs)}`,
      );
    }
    const name = (i: number) => (Xs.length === 1 ? "X" : `Xs[${i}]`);
    // (a Float32Array is not widened here: the plan reads it in batches as it is)
    const xs = Xs.map(
      (X, i): { m: number; batch: (i0: number, i1: number) => NDArray | Float32Array; finite(): void } => {
        const shape = this.inputShapes[i];
        if (engine === "plan" && X instanceof Float32Array) {
          const [m, per] = [examplesIn(fn, X, shape, name(i)), sizeOf(shape)];
          return {
            m,
            batch: (i0, i1) => X.subarray(i0 * per, i1 * per),
            finite: () => assertFiniteValues(fn, name(i), X, [m, ...shape]),
          };
        }
        const x = examples(fn, X, shape, true, name(i));
        return {
          m: x.shape[0],
          batch: (i0, i1) => new NDArray(x.data, [i1 - i0, ...shape], x.strides, x.offset + i0 * x.strides[0]),
          finite: () => assertFinite(fn, name(i), x),
        };
      },
    );
    checkInteger(fn, "options.batchSize", batchSize, 1);
    const m = xs[0].m;
    xs.forEach((x, i) => {
      if (checkFinite) x.finite();
      if (x.m !== m) throw new RangeError(`${fn}: Xs[${i}] expects ${m} examples (as Xs[0]) but got ${x.m}`);
    });
    this.live(fn);
    const f32Out = output === "Float32Array";
    const outs = this.outputShapes.map((s) => ({
      per: sizeOf(s),
      data: f32Out
        ? allocate(fn, "the output", m * sizeOf(s), Float32Array)
        : allocate(fn, "the output", m * sizeOf(s)),
    }));
    for (let i0 = 0; i0 < m; i0 += batchSize) {
      const i1 = Math.min(m, i0 + batchSize);
      const parts = xs.map((x) => x.batch(i0, i1));
      if (engine === "plan") {
        const into = outs.map((o) => o.data);
        this.plan(precision).run(
          fn,
          parts,
          i1 - i0,
          into,
          outs.map((o) => i0 * o.per),
        );
      } else {
        const { values } = this.forward(parts as NDArray[], false);
        this.outputs.forEach((v, j) => outs[j].data.set(values[v]!.toFloat64Array(), i0 * outs[j].per));
      }
    }
    return outs.map((o, j) =>
      o.data instanceof Float32Array ? o.data : new NDArray(o.data, [m, ...this.outputShapes[j]]),
    );
  }
}

/** A sequential model: the layers applied one after the other (a chain of the graph). */
export class Sequential extends Model {
  constructor(inputShape: readonly number[], specs: readonly LayerSpec[], { seed = 0 }: { seed?: number } = {}) {
    const fn = "sequential";
    if (
      !Array.isArray(inputShape) ||
      inputShape.length === 0 ||
      !inputShape.every((d) => Number.isSafeInteger(d) && d > 0)
    ) {
      throw new RangeError(
        `${fn}: inputShape expects a per-example shape such as [28, 28, 1] but got ${describe(inputShape)}`,
      );
    }
    if (!Array.isArray(specs) || specs.length === 0)
      throw new TypeError(`${fn}: layers expects a non-empty array of layers`);
    // each entry its own layer (a spec listed twice gets two sets of weights)
    const graph: GraphDescription = {
      inputs: [[...inputShape]],
      specs: [...specs],
      nodes: specs.map((_, i) => ({ layer: i, inputs: [i] })),
      outputs: [specs.length],
    };
    super(fn, graph, seed, (i, name) => `${fn}: layers[${i}] (${name})`);
  }
}

/**
 * model(inputs, outputs, { seed }): the functional model of the graph between `inputs` (input(…) values)
 * and `outputs` (values made by layers' apply()), each a value or a list; parameters initialised from the seed.
 */
export function model(
  inputs: SymbolicTensor | readonly SymbolicTensor[],
  outputs: SymbolicTensor | readonly SymbolicTensor[],
  options?: { seed?: number },
): Model {
  const fn = "model";
  const list = (v: unknown, name: string) => {
    const a = Array.isArray(v) ? [...v] : [v];
    if (a.length === 0) throw new TypeError(`${fn}: ${name} expects at least one value`);
    a.forEach((t, i) => {
      if (!(t instanceof SymbolicTensor)) {
        throw new TypeError(
          `${fn}: ${name}[${i}] expects a value of the graph (input(…) or a layer's output) but got ${describe(t)}`,
        );
      }
      if (name === "inputs" && t.node) throw new TypeError(`${fn}: inputs[${i}] expects an input(…) but got ${t}`);
    });
    return a as SymbolicTensor[];
  };
  const ins = list(inputs, "inputs");
  if (new Set(ins).size !== ins.length) throw new RangeError(`${fn}: inputs lists one input twice`);
  const o = optionsOf<{ seed: number }>(fn, options);
  return new Model(fn, describeGraph(fn, ins, list(outputs, "outputs")), o.seed);
}

/** sequential(inputShape, layers, { seed }): a model of the layers, initialised from the seed. */
export function sequential(
  inputShape: readonly number[],
  specs: readonly LayerSpec[],
  options?: { seed?: number },
): Sequential {
  return new Sequential(inputShape, specs, options);
}
