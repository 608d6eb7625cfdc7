// convwasm/async's loadOnnx: the ONNX file decoded and mapped here (src/onnx/import.ts: plain data, no
// library code), the model made in every worker from the graph's description, then given the weights;
// predict, evaluate and fit take and give ONNX's layouts as the synchronous OnnxModel's do.
import type { NDArray } from "../core/ndarray.js";
import type { SymbolicTensor } from "../graph/graph.js";
import type * as Sync from "../index.js";
import { importOnnx, readOnnx, type IoLayout } from "../onnx/import.js";
import { fromOnnx, ioOf, layoutOption, toOnnx } from "../onnx/layout.js";
import { AsyncSequential, fromGraph, type AsyncPredictOptions, type BatchingOptions } from "./model.js";

export interface AsyncLoadOnnxOptions {
  seed?: number;
  batching?: BatchingOptions;
  head?: { from: string; layers: (x: SymbolicTensor) => SymbolicTensor };
  trainable?: boolean;
  /** predict()'s precision: "f64" (default) or "f32" (a float32 plan). */
  precision?: Sync.Precision;
}

/** An imported model in the workers: AsyncSequential whose predict, evaluate and fit speak ONNX's layouts. */
export class AsyncOnnxModel extends AsyncSequential {
  /** (set by loadOnnx once the model is made) */
  io: { inputs: IoLayout[]; outputs: IoLayout[] } = { inputs: [], outputs: [] };

  override predict(
    X: NDArray | Float32Array | Float64Array,
    options: AsyncPredictOptions & { layout?: "NCHW" | "NHWC"; output: "Float32Array" },
  ): Promise<Float32Array>;
  override predict(
    X: NDArray | Float32Array | Float64Array,
    options?: AsyncPredictOptions & { layout?: "NCHW" | "NHWC" },
  ): Promise<NDArray>;
  override predict(
    X: NDArray | Float32Array | Float64Array,
    options?: AsyncPredictOptions & { layout?: "NCHW" | "NHWC" },
  ): Promise<NDArray | Float32Array> {
    const fn = "predict";
    let x: NDArray | Float32Array | Float64Array;
    let rest: AsyncPredictOptions | undefined;
    let nchw: boolean;
    try {
      ({ nchw, rest } = layoutOption<AsyncPredictOptions>(fn, options));
      x = nchw ? fromOnnx(fn, X, this.io.inputs[0]) : X;
    } catch (e) {
      return Promise.reject(e);
    }
    const y = super.predict(x, rest);
    return nchw ? y.then((p) => toOnnx(fn, p, this.io.outputs[0])) : y;
  }

  override evaluate(X: NDArray, Y: Sync.Labels): Promise<{ loss: number; accuracy: number }> {
    try {
      return super.evaluate(fromOnnx("evaluate", X, this.io.inputs[0], "X", false), Y);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  override fit(X: NDArray, Y: Sync.Labels, options?: Sync.FitOptions): Promise<Sync.EpochLog[]> {
    const fn = "fit";
    try {
      let o = options;
      if (options !== undefined && options !== null && typeof options === "object") {
        o = { ...options };
        if (Array.isArray(o.validation) && o.validation.length === 2) {
          o.validation = [
            fromOnnx(fn, o.validation[0], this.io.inputs[0], "options.validation[0]", false),
            o.validation[1],
          ];
        }
      }
      return super.fit(fromOnnx(fn, X, this.io.inputs[0], "X", false), Y, o);
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

/**
 * As convwasm/onnx's loadOnnx, in every worker (one input and one output): resolves to the model, whose
 * predict() is micro-batched as sequential()'s and takes NCHW (or { layout: "NHWC" }).
 */
export async function loadOnnx(
  bytes: Uint8Array | ArrayBuffer,
  options: AsyncLoadOnnxOptions = {},
): Promise<AsyncOnnxModel> {
  const fn = "loadOnnx";
  const { proto, options: o } = readOnnx<AsyncLoadOnnxOptions>(fn, bytes, options);
  const { seed, batching, head, trainable, precision } = o;
  const imported = importOnnx(proto, { head, trainable });
  if (imported.inputs.length !== 1 || imported.outputs.length !== 1) {
    throw new RangeError(
      `${fn}: convwasm/async runs models of one input and one output, but this one has ${imported.inputs.length} and ${imported.outputs.length}`,
    );
  }
  // (no weights drawn for the import's own layers: they are set next; a head's new layers are drawn)
  const random = head !== undefined;
  const m = await fromGraph(fn, imported.graph, { seed, batching }, (...args) => new AsyncOnnxModel(...args), random);
  m.io = {
    inputs: imported.inputs,
    outputs: head ? [ioOf("head", m.outputShape)] : imported.outputs,
  };
  try {
    await m.setWeights(imported.weights);
  } catch (e) {
    m.dispose();
    throw e;
  }
  if (precision) m.compile({ precision });
  return m;
}
