// A sequential model of the course's layers: built from weights or initialised (He / Glorot, seeded),
// trained through the functional ops (forward with caches, backward through every layer, SGD or Adam),
// and run by predict() inside WASM memory: the input copied in once, every layer's kernels on the
// previous layer's output in the arena, weights packed once when they change, bias + ReLU fused into the
// conv's stores, no caches, the output copied out once.
import {
  NDArray,
  allocate,
  assertFinite,
  copyStrided,
  describe,
  fmtShape,
  messageOf,
  sizeOf,
  snapshot,
} from "../ndarray.js";
import { RandomState } from "../random.js";
import { PoolHparameters, checkInteger, convArgs, pair, poolArgs } from "../shapes.js";
import { conv_backward, conv_forward } from "../ops/conv.js";
import { pool_backward, pool_forward } from "../ops/pool.js";
import { padImages } from "../ops/pad.js";
import { relu, relu_backward } from "../ops/relu.js";
import { dense_backward, dense_forward } from "../ops/dense.js";
import { softmax_cross_entropy, targets } from "../ops/softmax.js";
import { type Task, blocks8, gemmTask, task } from "../wasm/kernels.js";
import { guided, run, runTasks, shareFrom, type Context } from "../wasm/schedule.js";
import { Layout, copyPixelsOut } from "../ops/rows.js";
import { Optimizer, adam } from "./optimizers.js";
import { parseNpz, writeNpz } from "./npz.js";
import { examples, layers } from "./layers.js";
import type { Init, LayerSpec } from "./layers.js";

export { layers, digitsLayers } from "./layers.js";
export type { Init, LayerSpec } from "./layers.js";

/** A built layer: its spec, name, per-example input and output shapes, and parameters. */
interface Layer {
  spec: LayerSpec;
  name: string;
  input: number[];
  output: number[];
  W: NDArray | null;
  b: NDArray | null;
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
  validation?: [NDArray, Labels];
  onEpoch?: (log: EpochLog) => void;
  /** After every batch: its index, how many there are, and the batch's loss. */
  onBatch?: (batch: number, batches: number, loss: number) => void;
}

/** Class labels: m class indices, or one-hot rows [m, classes]. */
export type Labels = readonly number[] | NDArray;

/** A stand-in array of `shape` (one element, broadcast) for the shape checks of the ops' argument parsers. */
const fake = (shape: number[]) =>
  new NDArray(
    new Float64Array(1),
    shape,
    shape.map(() => 0),
  );
const fakeBatch = (shape: number[]) => fake([1, ...shape]);

/** A layer's geometry hyperparameters for the functional ops. */
function convHp(s: Extract<LayerSpec, { kind: "conv2d" }>) {
  return { stride: s.stride ?? 1, pad: s.pad ?? 0, dilation: s.dilation ?? 1, groups: s.groups ?? 1 };
}
function poolHp(s: Extract<LayerSpec, { kind: "maxPool" | "avgPool" }>): PoolHparameters {
  const { kind, stride, ...hp } = s;
  void kind;
  // (the stride defaults to the window, as Keras's)
  return { ...hp, stride: stride ?? hp.f };
}

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

/** Builds the layers on a per-example input shape: shapes checked, parameters initialised (seeded). */
function build(fn: string, inputShape: readonly number[], given: readonly LayerSpec[], rs: RandomState): Layer[] {
  let shape = [...inputShape];
  // each spec's fields read once (a getter runs now, not in the middle of building)
  const specs = given.map((s) => (typeof s === "object" && s !== null ? { ...s } : s));
  const counts: Record<string, number> = {};
  let params = 0;
  return specs.map((spec, i) => {
    const kind = spec?.kind;
    if (typeof kind !== "string" || !Object.hasOwn(layers, kind))
      throw new TypeError(`${fn}: layers[${i}] expects a layer (layers.conv2d(…), …) but got ${describe(spec)}`);
    const name = counts[kind] === undefined ? kind : `${kind}_${counts[kind]}`;
    counts[kind] = (counts[kind] ?? 0) + 1;
    const input = shape;
    let W: NDArray | null = null;
    let b: NDArray | null = null;
    const next = specs[i + 1]?.kind;
    const where = `${fn}: layers[${i}] (${name})`;
    const init = (fanIn: number, fanOut: number, wShape: number[], how: unknown) => {
      if (how !== undefined && how !== "he" && how !== "glorot") {
        throw new RangeError(`${where}: init expects "he" or "glorot" but got ${describe(how)}`);
      }
      const rule = how ?? (next === "relu" ? "he" : "glorot");
      const n = sizeOf(wShape);
      params += n;
      if (n > MAX_WASM_ELEMENTS || params > MAX_WASM_ELEMENTS) {
        throw new RangeError(
          `${where}: ${fmtShape(wShape)} makes ${params} parameters, more than WASM memory holds (${MAX_WASM_ELEMENTS} float64)`,
        );
      }
      const data = allocate(where, "W", n);
      if (rule === "he") {
        const std = Math.sqrt(2 / fanIn);
        for (let j = 0; j < n; j++) data[j] = rs.standardNormal() * std;
      } else {
        const limit = Math.sqrt(6 / (fanIn + fanOut));
        for (let j = 0; j < n; j++) data[j] = (2 * rs.random() - 1) * limit;
      }
      return new NDArray(data, wShape);
    };
    if (spec.kind === "conv2d") {
      if (input.length !== 3) throw new RangeError(`${where} expects an input [h, w, c] but gets ${fmtShape(input)}`);
      const [fh, fw] = pair(where, "size", spec.size, 1);
      const hp = convHp(spec);
      const groups = checkInteger(where, "groups", hp.groups, 1);
      const filters = checkInteger(where, "filters", spec.filters, 1);
      const wShape = [fh, fw, input[2] / groups, filters];
      if (!Number.isInteger(wShape[2]))
        throw new RangeError(`${where}: groups ${groups} does not divide ${input[2]} channels`);
      const { g } = convArgs(where, fakeBatch(input), fake(wShape), fake([filters]), hp);
      shape = [g.nH, g.nW, filters];
      W = init(fh * fw * wShape[2], fh * fw * (filters / groups), wShape, spec.init);
      b = new NDArray(new Float64Array(filters), [filters]);
    } else if (spec.kind === "maxPool" || spec.kind === "avgPool") {
      if (input.length !== 3) throw new RangeError(`${where} expects an input [h, w, c] but gets ${fmtShape(input)}`);
      const { g } = poolArgs(where, fakeBatch(input), poolHp(spec));
      shape = [g.nH, g.nW, input[2]];
    } else if (spec.kind === "flatten") {
      shape = [sizeOf(input)];
    } else if (spec.kind === "dense") {
      if (input.length !== 1)
        throw new RangeError(`${where} expects an input [n] (flatten first) but gets ${fmtShape(input)}`);
      const units = checkInteger(where, "units", spec.units, 1);
      W = init(input[0], units, [input[0], units], spec.init);
      b = new NDArray(new Float64Array(units), [units]);
      shape = [units];
    } else if (spec.kind === "softmax" && i !== specs.length - 1) {
      throw new RangeError(`${where} must be the last layer`);
    }
    if (sizeOf(shape) > MAX_WASM_ELEMENTS) {
      throw new RangeError(
        `${where}: its output ${fmtShape(shape)} has ${sizeOf(shape)} values an example, more than WASM memory holds (${MAX_WASM_ELEMENTS} float64)`,
      );
    }
    return { spec, name, input, output: shape, W, b };
  });
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

export interface PredictOptions {
  /** Examples per pass through the layers (the arena holds one pass's activations); default 256. */
  batchSize?: number;
  /** Refuse an input holding NaN or ±Infinity (a RangeError naming the first), instead of NaN outputs. */
  checkFinite?: boolean;
}

export class Sequential {
  readonly inputShape: readonly number[];
  private readonly layers: Layer[];
  private readonly rs: RandomState;
  /** Packed weights for predict(), made again only after the weights change. */
  private packed: Map<number, Float64Array> | null = null;

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
    this.inputShape = Object.freeze([...inputShape]);
    this.rs = new RandomState(checkInteger(fn, "seed", seed, 0));
    this.layers = build(fn, inputShape, specs, this.rs);
  }

  /** Multiply-adds of one example through the conv and dense layers (what predict() costs per example). */
  get work(): number {
    return this.layers.reduce((s, l) => s + (l.W ? sizeOf(l.output) * (l.W.size / l.W.shape[l.W.ndim - 1]) : 0), 0);
  }

  /** The per-example output shape. */
  get outputShape(): readonly number[] {
    return this.layers[this.layers.length - 1].output;
  }

  /** The model's own parameter arrays, by name ("conv2d/W", "conv2d/b", "dense/W", …), in training order. */
  private parameters(): Map<string, NDArray> {
    const out = new Map<string, NDArray>();
    for (const l of this.layers) {
      if (l.W) out.set(`${l.name}/W`, l.W);
      if (l.b) out.set(`${l.name}/b`, l.b);
    }
    return out;
  }

  /**
   * Copies of the parameters, by name ("conv2d/W", "conv2d/b", "dense/W", …). Changing a copy changes
   * nothing in the model: setWeights() does.
   */
  weights(): Record<string, NDArray> {
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
    const given = optionsOf<Record<string, unknown>>(fn, arrays, "arrays");
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
    for (const [target, data] of updates) target.data.set(data);
    this.packed = null;
  }

  /** The weights as the bytes of an .npz file (np.load gives the same names and arrays). */
  save(): Uint8Array {
    return writeNpz(this.weights());
  }

  /**
   * Loads weights from .npz bytes (as save() writes them, or np.savez with the same names and shapes):
   * every parameter, nothing else; all or nothing. A member larger than its parameter is refused unread.
   */
  load(bytes: Uint8Array): void {
    const expect = new Map([...this.parameters()].map(([k, a]) => [k, a.shape]));
    this.replace("load", parseNpz("load", bytes, { expect }), true);
  }

  /** A table like Keras's model.summary(): layers, output shapes, parameter counts. */
  summary(): string {
    const rows = this.layers.map((l) => [
      `${l.name} (${l.spec.kind})`,
      `(None, ${l.output.join(", ")})`,
      String((l.W?.size ?? 0) + (l.b?.size ?? 0)),
    ]);
    const head = ["Layer (type)", "Output Shape", "Param #"];
    const widths = head.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)) + 4);
    const line = (r: string[]) =>
      r
        .map((c, j) => c.padEnd(widths[j]))
        .join("")
        .trimEnd();
    const total = rows.reduce((s, r) => s + Number(r[2]), 0);
    const rule = (ch: string) => ch.repeat(widths.reduce((a, b) => a + b, 0));
    return [
      `Model: sequential, input (None, ${this.inputShape.join(", ")})`,
      rule("_"),
      line(head),
      rule("="),
      ...rows.flatMap((r, i) => [line(r), i < rows.length - 1 ? rule("_") : rule("=")]),
      `Total params: ${total}`,
      `Trainable params: ${total}`,
    ].join("\n");
  }

  /**
   * The training forward pass through the functional ops, up to the logits (before a final softmax),
   * with every layer's cache; then, from the logits' gradient, the backward pass: the parameters' gradients.
   */
  private step(X: NDArray, Y: NDArray): { loss: number; correct: number; grads: Float64Array[] } {
    const caches: unknown[] = [];
    let a = X;
    const body = this.layers[this.layers.length - 1].spec.kind === "softmax" ? this.layers.slice(0, -1) : this.layers;
    for (const l of body) {
      const s = l.spec;
      let out: [NDArray, unknown];
      if (s.kind === "conv2d") out = conv_forward(a, l.W!, l.b!, convHp(s));
      else if (s.kind === "relu") out = relu(a);
      else if (s.kind === "maxPool" || s.kind === "avgPool") {
        out = pool_forward(a, poolHp(s), s.kind === "maxPool" ? "max" : "average");
      } else if (s.kind === "flatten") out = [a.reshape(a.shape[0], -1), a.shape];
      else if (s.kind === "dense") out = dense_forward(a, l.W!, l.b!);
      else throw new RangeError(`fit: a ${s.kind} layer can only be the last`);
      [a] = out;
      caches.push(out[1]);
    }
    const [loss, dZ] = softmax_cross_entropy(a, Y);
    const predicted = argmaxRows(a);
    const truth = argmaxRows(Y);
    const correct = predicted.reduce((n, p, i) => n + (p === truth[i] ? 1 : 0), 0);
    const grads: Float64Array[] = [];
    let d = dZ;
    for (let j = body.length - 1; j >= 0; j--) {
      const l = body[j];
      const s = l.spec;
      const cache = caches[j] as never;
      if (s.kind === "conv2d" || s.kind === "dense") {
        const [dA, dW, db] = s.kind === "conv2d" ? conv_backward(d, cache) : dense_backward(d, cache);
        grads.unshift(dW.toFloat64Array(), db.toFloat64Array());
        d = dA;
      } else if (s.kind === "relu") d = relu_backward(d, cache);
      else if (s.kind === "maxPool" || s.kind === "avgPool")
        d = pool_backward(d, cache, s.kind === "maxPool" ? "max" : "average");
      else if (s.kind === "flatten") d = d.reshape(...(cache as number[]));
    }
    return { loss, correct, grads };
  }

  /** The parameters' data, in the order of the gradients step() returns. */
  private params(): Float64Array[] {
    return [...this.parameters().values()].map((a) => a.data);
  }

  /**
   * Trains on X [m, ...inputShape] and Y (class indices or one-hot rows) with softmax cross-entropy: the
   * model must end with softmax (the loss is taken on its input, the logits). Deterministic for the
   * model's seed, on any number of threads. Returns each epoch's figures.
   */
  fit(X: NDArray, Y: Labels, fitOptions?: FitOptions): EpochLog[] {
    const fn = "fit";
    const options = optionsOf<FitOptions>(fn, fitOptions);
    if (this.layers[this.layers.length - 1].spec.kind !== "softmax") {
      throw new RangeError(`${fn}: the model expects softmax as its last layer (it trains with softmax cross-entropy)`);
    }
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
    const history: EpochLog[] = [];
    const order = Int32Array.from({ length: m }, (_, i) => i);
    const batches = Math.ceil(m / batchSize);
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
        const r = this.step(take(x, idx), take(y, idx));
        optimizer.step(this.params(), r.grads);
        this.packed = null;
        lossSum += r.loss * idx.length;
        correct += r.correct;
        options.onBatch?.(bi, batches, r.loss);
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
        const v = this.evaluate(validation[0], validation[1]);
        log.valLoss = v.loss;
        log.valAccuracy = v.accuracy;
      }
      history.push(log);
      options.onEpoch?.(log);
    }
    return history;
  }

  /** Loss (softmax cross-entropy of the predictions) and accuracy on X, Y. */
  evaluate(X: NDArray, Y: Labels): { loss: number; accuracy: number } {
    const fn = "evaluate";
    const P = this.predict(X);
    const [m, k] = P.shape;
    const y = oneHot(fn, Y, m, k).toFloat64Array();
    const p = P.toFloat64Array();
    const predicted = argmaxRows(P);
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < k; j++) if (y[i * k + j] !== 0) loss -= y[i * k + j] * Math.log(p[i * k + j]);
      if (y[i * k + predicted[i]] === 1) correct++;
    }
    return { loss: loss / m, accuracy: correct / m };
  }

  /**
   * The model's output for X [m, ...inputShape] (or flat examples in a Float32Array, widened, or a
   * Float64Array), computed inside WASM memory in batches of at most
   * `batchSize` examples (the arena holds one batch's activations). Equal to the functional chain to 1e-12.
   */
  predict(X: NDArray | Float32Array | Float64Array, options?: PredictOptions): NDArray {
    const fn = "predict";
    const { batchSize = 256, checkFinite = false } = optionsOf<PredictOptions>(fn, options);
    const x = examples(fn, X, this.inputShape, true);
    checkInteger(fn, "options.batchSize", batchSize, 1);
    if (checkFinite) assertFinite(fn, "X", x);
    const m = x.shape[0];
    const outShape = [m, ...this.outputShape];
    const per = sizeOf(this.outputShape);
    const out = allocate(fn, "the output", m * per);
    for (let i0 = 0; i0 < m; i0 += batchSize) {
      const i1 = Math.min(m, i0 + batchSize);
      const part = new NDArray(x.data, [i1 - i0, ...x.shape.slice(1)], x.strides, x.offset + i0 * x.strides[0]);
      out.set(this.chain(fn, part), i0 * per);
    }
    return new NDArray(out, outShape);
  }

  /** Packs the weights for the chain once (until they change): conv filters in 8-channel blocks, dense rows. */
  private packs(): Map<number, Float64Array> {
    if (this.packed) return this.packed;
    const packs = new Map<number, Float64Array>();
    this.layers.forEach((l, j) => {
      if (l.spec.kind === "conv2d" && (l.spec.groups ?? 1) === 1) {
        // [taps, k] → [k8/8][taps][8], with input channels widened to the previous layer's stride (zeros)
        const [fh, fw, c, k] = l.W!.shape;
        const cs = this.strideOf(j);
        const k8 = blocks8(k);
        const w = l.W!.toFloat64Array();
        const p = new Float64Array(fh * fw * cs * k8);
        const taps = fh * fw * cs;
        for (let t = 0; t < fh * fw; t++)
          for (let ch = 0; ch < c; ch++)
            for (let o = 0; o < k; o++)
              p[Math.floor(o / 8) * taps * 8 + (t * cs + ch) * 8 + (o % 8)] = w[(t * c + ch) * k + o];
        packs.set(j, p);
      } else if (l.spec.kind === "dense") {
        // rows of W for the flattened input as it lies in the arena (channels of stride cs), zeros elsewhere
        const [n, k] = l.W!.shape;
        const k8 = blocks8(k);
        const { rows, map } = this.flatLayout(j);
        const w = l.W!.toFloat64Array();
        const p = new Float64Array(rows * k8);
        for (let r = 0; r < n; r++)
          for (let o = 0; o < k; o++) p[Math.floor(o / 8) * rows * 8 + map[r] * 8 + (o % 8)] = w[r * k + o];
        packs.set(j, p);
      }
    });
    return (this.packed = packs);
  }

  /**
   * Channels per pixel (or features) of layer j's input in the arena, as predict() chains the layers: a
   * conv's or a dense layer's output keeps its 8-wide blocks through ReLUs; pooling writes real channels.
   */
  private strideOf(j: number): number {
    for (let i = j - 1; i >= 0; i--) {
      const s = this.layers[i].spec;
      if (s.kind === "relu") continue;
      if (s.kind === "conv2d") return (s.groups ?? 1) === 1 ? blocks8(s.filters) : s.filters;
      if (s.kind === "dense") return blocks8(s.units);
      if (s.kind === "flatten") {
        const [h, w] = this.layers[i].input;
        return this.layers[i].input.length === 3 ? h * w * this.strideOf(i) : this.strideOf(i);
      }
      break;
    }
    const input = this.layers[j].input;
    return input[input.length - 1];
  }

  /** For dense layer j: the row of its flattened input in the arena for each of W's rows. */
  private flatLayout(j: number): { rows: number; map: Int32Array } {
    const n = this.layers[j].input[0];
    const prev = this.layers[j - 1];
    if (!prev || prev.spec.kind !== "flatten" || prev.input.length !== 3) {
      return { rows: this.strideOf(j), map: Int32Array.from({ length: n }, (_, r) => r) };
    }
    const [h, w, c] = prev.input;
    const cs = this.strideOf(j - 1);
    const map = new Int32Array(n);
    for (let p = 0; p < h * w; p++) for (let ch = 0; ch < c; ch++) map[p * c + ch] = p * cs + ch;
    return { rows: h * w * cs, map };
  }

  /** One batch through every layer inside WASM memory; returns its output, C order. */
  private chain(fn: string, x: NDArray): Float64Array {
    const m = x.shape[0];
    const packs = this.packs();
    const macs = m * this.work;
    // (a whole batch shares out from one conv's threshold: measured on the digits model, it pays from 6 images)
    return run(fn, macs >= shareFrom("conv_forward"), (ctx) => {
      const { arena, kernels } = ctx;
      // the activation: a pointer, its per-example shape [h, w, c] or [n], and channels per pixel in memory
      let ptr = arena.copyIn(fn, "X", x);
      let shape = [...this.inputShape];
      let cs = shape[shape.length - 1];
      const tasks = (list: Task[]) => runTasks(fn, ctx, list);
      /** Layer j's packed weights and its bias (widened to k8) in the arena, and whether a ReLU follows (fused). */
      const weightsIn = (j: number, k8: number) => {
        const packed = packs.get(j)!;
        const wpk = arena.alloc(fn, "W packed", packed.length * 8);
        arena.f64(wpk, packed.length).set(packed);
        const b8 = arena.zeros(fn, "b", k8);
        arena.f64(b8, this.layers[j].b!.size).set(this.layers[j].b!.data);
        return { wpk, b8, fused: this.layers[j + 1]?.spec.kind === "relu" ? 1 : 0 };
      };
      for (let j = 0; j < this.layers.length; j++) {
        const l = this.layers[j];
        const s = l.spec;
        if (s.kind === "conv2d" && (s.groups ?? 1) === 1) {
          const [h, w] = shape;
          const { g } = convArgs(fn, fakeBatch([h, w, l.W!.shape[2]]), l.W!, l.b!, convHp(s));
          const { top, bottom, left, right, hp, wp, nH, nW, fh, fw, sh, sw, dh, dw, k } = g;
          const k8 = blocks8(k);
          let xp = ptr;
          if (hp !== h || wp !== w) {
            xp = arena.alloc(fn, "padded", m * hp * wp * cs * 8);
            const image = { ptr, strides: [h * w * cs, w * cs, cs, 1], h, w, c: cs };
            padImages(kernels, image, { top, bottom, left, right }, xp, m);
          }
          const { wpk, b8, fused } = weightsIn(j, k8);
          const z = arena.alloc(fn, "Z", m * nH * nW * k8 * 8);
          const rows = m * nH;
          const work = rows * nW * k8 * fh * fw * cs;
          tasks(
            guided(ctx, work, "conv_forward", rows).map(([r0, r1]) =>
              task("conv_forward", {
                xp,
                hp,
                wp,
                c: cs,
                cg: cs,
                wpk,
                fh,
                fw,
                dilH: dh,
                dilW: dw,
                k8,
                b8,
                sh,
                sw,
                z,
                kp: k8,
                nH,
                nW,
                r0,
                r1,
                relu: fused,
              }),
            ),
          );
          [ptr, shape, cs] = [z, [nH, nW, k], k8];
          if (fused) j++;
        } else if (s.kind === "conv2d") {
          // a grouped or depthwise conv: through the op (copied out and back in)
          const a = this.view(arena, ptr, m, shape, cs);
          const [Z] = conv_forward(a, l.W!, l.b!, convHp(s));
          ptr = arena.copyIn(fn, "Z", Z);
          [shape, cs] = [[...Z.shape.slice(1)], Z.shape[3]];
        } else if (s.kind === "relu") {
          const n = m * sizeOf(shape.slice(0, -1)) * cs;
          tasks([task("relu_forward", { x: ptr, y: ptr, i0: 0, i1: n })]);
        } else if (s.kind === "maxPool" || s.kind === "avgPool") {
          const [h, w, c] = shape;
          const { g } = poolArgs(fn, fakeBatch(shape), poolHp(s));
          const { nH, nW, fh, fw, sh, sw } = g;
          if (g.hp !== h || g.wp !== w) {
            // padded pooling: through the op
            const [A] = pool_forward(
              this.view(arena, ptr, m, shape, cs),
              poolHp(s),
              s.kind === "maxPool" ? "max" : "average",
            );
            ptr = arena.copyIn(fn, "A", A);
          } else {
            const y = arena.alloc(fn, "A", m * nH * nW * c * 8);
            const strides = [h * w * cs, w * cs, cs, 1] as const;
            const parts = guided(ctx, m * nH * nW * c * fh * fw, "conv_forward", m);
            const [sx0, sx1, sx2, sx3] = strides;
            // (one set of arguments for both kernels: the max kernel reads no divisors)
            let [divH, divW] = [0, 0];
            if (s.kind === "avgPool") {
              divH = arena.alloc(fn, "divisors", (nH + nW) * 8);
              divW = divH + nH * 8;
              arena.f64(divH, nH).fill(fh);
              arena.f64(divW, nW).fill(fw);
            }
            const kernel = s.kind === "maxPool" ? "pool_forward_max" : "pool_forward_average";
            tasks(
              parts.map(([i0, i1]) => {
                const args = { x: ptr, sx0, sx1, sx2, sx3, c, fh, fw, sh, sw, y, nH, nW, i0, i1, divH, divW };
                return task(kernel, args);
              }),
            );
            ptr = y;
          }
          [shape, cs] = [[nH, nW, c], c];
        } else if (s.kind === "flatten") {
          // the same memory: the next dense layer's packed rows follow its layout
          shape = [sizeOf(shape.slice(0, -1)) * cs];
          cs = shape[0];
        } else if (s.kind === "dense") {
          const rowsIn = cs;
          const k = l.W!.shape[1];
          const k8 = blocks8(k);
          const { wpk, b8, fused } = weightsIn(j, k8);
          const z = arena.alloc(fn, "Z", m * k8 * 8);
          // a 1×1 conv over the batch as one row of m pixels
          tasks([gemmTask({ x: ptr, pixels: m, n: rowsIn, w: wpk, k8, b: b8, z, r0: 0, r1: 1, relu: fused })]);
          [ptr, shape, cs] = [z, [k], k8];
          if (fused) j++;
        } else if (s.kind === "softmax") {
          const k = shape[0];
          if (cs !== k) {
            // the classes packed to k per row first (the dense layer's 8-wide blocks)
            const v = arena.f64(ptr, m * cs);
            for (let i = 0; i < m; i++) v.copyWithin(i * k, i * cs, i * cs + k);
            cs = k;
          }
          tasks([task("softmax_forward", { z: ptr, k, y: ptr, r0: 0, r1: m })]);
        }
      }
      return this.view(arena, ptr, m, shape, cs).data;
    });
  }

  /** The arena's activation [m, ...shape] (channels of stride cs) as a new NDArray: the output, or a layer run as an op. */
  private view(arena: Context["arena"], ptr: number, m: number, shape: number[], cs: number): NDArray {
    const c = shape[shape.length - 1];
    const pixels = m * sizeOf(shape.slice(0, -1));
    const out = new Float64Array(pixels * c);
    copyPixelsOut(arena.f64(ptr, pixels * cs), out, Layout.grouped(c, 1, cs), 0, pixels);
    return new NDArray(out, [m, ...shape]);
  }
}

/** sequential(inputShape, layers, { seed }): a model of the layers, initialised from the seed. */
export function sequential(
  inputShape: readonly number[],
  specs: readonly LayerSpec[],
  options?: { seed?: number },
): Sequential {
  return new Sequential(inputShape, specs, options);
}
