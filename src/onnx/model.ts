// loadOnnx: an ONNX model as a convwasm Model (the same predict, evaluate, summary, fit, save), whose
// predict takes and gives ONNX's layouts (NCHW images) by default, or the library's own with
// { layout: "NHWC" } (no transposes).
import { NDArray, describe, messageOf } from "../core/ndarray.js";
import type { SymbolicTensor } from "../graph/graph.js";
import { Model, type EpochLog, type FitOptions, type Labels, type PredictOptions } from "../model/model.js";
import type { Precision } from "../kernels/kernels.js";
import { importOnnx, readOnnx, type IoLayout } from "./import.js";
import { fromOnnx, ioOf, layoutOption, toOnnx } from "./layout.js";

export interface OnnxPredictOptions extends PredictOptions {
  /** "NCHW" (default): inputs and outputs as the ONNX graph declares them; "NHWC": the library's layout. */
  layout?: "NCHW" | "NHWC";
}

export interface LoadOnnxOptions {
  /** Seeds the model's RandomState (a head's initial weights, dropout and shuffling when it is trained). */
  seed?: number;
  /**
   * Fine-tuning: the graph up to the value named `from` (such as the flatten before the classifier; the
   * rest of the file is left out), then `layers(x)`, new layers applied to it (their output is the model's).
   */
  head?: { from: string; layers: (x: SymbolicTensor) => SymbolicTensor };
  /** false: the imported layers frozen (fit trains only the head's). Default true. */
  trainable?: boolean;
  /** predict()'s precision: "f64" (default, exact) or "f32" (a float32 plan; see Model.compile). */
  precision?: Precision;
}

const FN = "loadOnnx";

/** An imported model: a Model whose predict speaks ONNX's layouts. */
export class OnnxModel extends Model {
  /** The ONNX graph's input and output names, in order. */
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** The default domain's opset the model imports. */
  readonly opset: number;
  private readonly io: { inputs: IoLayout[]; outputs: IoLayout[] };

  constructor(bytes: unknown, options?: LoadOnnxOptions) {
    const { proto, options: o } = readOnnx<LoadOnnxOptions>(FN, bytes, options);
    const imported = importOnnx(proto, { head: o.head, trainable: o.trainable });
    // (a head's new layers start from random weights; an import's own are taken below)
    super(FN, imported.graph, o.seed, (i, name) => `${FN}: layer ${i} (${name})`, o.head !== undefined);
    if (o.head) imported.outputs[0] = ioOf("head", this.outputShapes[0]);
    this.io = { inputs: imported.inputs, outputs: imported.outputs };
    this.inputNames = imported.inputs.map((i) => i.name);
    this.outputNames = imported.outputs.map((o) => o.name);
    this.opset = imported.opset;
    this.adopt(FN, imported.weights);
    if (o.precision) this.compile({ precision: o.precision });
  }

  /** The ONNX per-example shapes of the inputs and outputs (NCHW images). */
  get onnxInputShapes(): readonly (readonly number[])[] {
    return this.io.inputs.map((i) => i.shape);
  }
  get onnxOutputShapes(): readonly (readonly number[])[] {
    return this.io.outputs.map((o) => o.shape);
  }

  /** As Model.evaluate, X in ONNX's layout (NCHW images). */
  override evaluate(X: NDArray, Y: Labels): { loss: number; accuracy: number } {
    this.live("evaluate");
    return super.evaluate(this.internal("evaluate", X, 0), Y);
  }

  /** As Model.fit, X (and options.validation's) in ONNX's layout (NCHW images). */
  override fit(X: NDArray, Y: Labels, options?: FitOptions): EpochLog[] {
    const fn = "fit";
    this.live(fn);
    if (options === undefined || options === null || typeof options !== "object")
      return super.fit(this.internal(fn, X, 0), Y, options);
    let o: FitOptions;
    try {
      o = { ...options };
    } catch (e) {
      throw new TypeError(`${fn}: reading options threw: ${messageOf(e)}`, { cause: e });
    }
    if (Array.isArray(o.validation) && o.validation.length === 2) {
      o.validation = [this.internal(fn, o.validation[0], 0, "options.validation[0]"), o.validation[1]];
    }
    return super.fit(this.internal(fn, X, 0), Y, o);
  }

  /** Examples of input i in ONNX's layout as the model's own. */
  private internal(fn: string, X: unknown, i: number, name = "X"): NDArray {
    return fromOnnx(fn, X, this.io.inputs[i], name, false);
  }

  override predict(
    X: NDArray | Float32Array | Float64Array,
    options: OnnxPredictOptions & { output: "Float32Array" },
  ): Float32Array;
  override predict(X: NDArray | Float32Array | Float64Array, options?: OnnxPredictOptions): NDArray;
  override predict(X: NDArray | Float32Array | Float64Array, options?: OnnxPredictOptions): NDArray | Float32Array {
    return super.predict(X, options);
  }

  override predictAll(
    Xs: readonly (NDArray | Float32Array | Float64Array)[],
    options: OnnxPredictOptions & { output: "Float32Array" },
    fn?: string,
  ): Float32Array[];
  override predictAll(
    Xs: readonly (NDArray | Float32Array | Float64Array)[],
    options?: OnnxPredictOptions,
    fn?: string,
  ): NDArray[];
  override predictAll(
    Xs: readonly (NDArray | Float32Array | Float64Array)[],
    options?: OnnxPredictOptions,
    fn = "predictAll",
  ): (NDArray | Float32Array)[] {
    this.live(fn);
    const { nchw, rest } = layoutOption<PredictOptions>(fn, options);
    if (!nchw) return super.predictAll(Xs, rest, fn);
    if (!Array.isArray(Xs) || Xs.length !== this.io.inputs.length) {
      throw new TypeError(`${fn}: Xs expects ${this.io.inputs.length} arrays (one per input) but got ${describe(Xs)}`);
    }
    const name = (i: number) => (Xs.length === 1 ? "X" : `Xs[${i}]`);
    const xs = Xs.map((X, i) => fromOnnx(fn, X, this.io.inputs[i], name(i), true, true));
    return super.predictAll(xs, rest, fn).map((y, i) => toOnnx(fn, y, this.io.outputs[i]));
  }
}

/**
 * loadOnnx(bytes, { seed }) -> the ONNX model in `bytes` (a .onnx file's contents) as a convwasm model:
 * every node mapped to a layer or evaluated at load, weights (float32, float64 or float16) transposed
 * once to the library's layouts, computed in float64. A node it cannot run is an error that lists every
 * such node with its op type; no partial model is made.
 */
export function loadOnnx(bytes: Uint8Array | ArrayBuffer, options?: LoadOnnxOptions): OnnxModel {
  return new OnnxModel(bytes, options);
}
