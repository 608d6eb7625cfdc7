// The layers of a model as plain specs (Keras's names): what sequential() and the functional API build
// from. Pure data, so that convwasm/async can describe a model without loading the library.
import { NDArray, array, fmtShape, sizeOf, snapshot } from "../core/ndarray.js";
import type { Pair, Padding, PoolHparameters } from "../core/shapes.js";
import { type SymbolicTensor, applyLayer } from "../graph/graph.js";

export type Init = "he" | "glorot";

/** Options shared by the convolutions: the geometry of conv_forward, the bias (default on) and the initialiser. */
interface ConvOptions {
  size: Pair;
  stride?: Pair;
  pad?: Padding;
  dilation?: Pair;
  /** A bias per filter (default true; ResNet's convs before BatchNorm go without). */
  bias?: boolean;
  init?: Init;
}

/** What every layer takes: `trainable: false` freezes it (fit leaves its parameters; a BatchNorm then uses its running statistics). */
interface Common {
  trainable?: boolean;
}

export type LayerSpec = Common &
  (
    | ({ kind: "conv2d"; filters: number; groups?: number } & ConvOptions)
    | ({ kind: "depthwiseConv2d"; multiplier?: number } & ConvOptions)
    | ({ kind: "separableConv2d"; filters: number; multiplier?: number } & ConvOptions)
    | { kind: "relu" | "relu6" | "sigmoid" | "hardSwish" | "swish" }
    | { kind: "clip"; min?: number; max?: number }
    | { kind: "leakyRelu"; alpha?: number }
    | { kind: "hardSigmoid"; alpha?: number; beta?: number }
    | ({ kind: "maxPool" | "avgPool"; stride?: Pair } & Omit<PoolHparameters, "stride">)
    | { kind: "globalAvgPool" | "globalMaxPool" }
    | { kind: "flatten" }
    | { kind: "dense"; units: number; bias?: boolean; init?: Init }
    | { kind: "batchNorm"; epsilon?: number; momentum?: number }
    | { kind: "dropout"; rate: number }
    | { kind: "zeroPadding2d"; pad: Pair | readonly [readonly [number, number], readonly [number, number]] }
    | { kind: "add" | "concat" | "multiply" }
    | { kind: "softmax" }
  );

export type LayerKind = LayerSpec["kind"];

/** A layer as layers.* makes it: its spec, which apply() puts in a functional graph. */
export type Layer<S extends LayerSpec = LayerSpec> = S & {
  /** The layer applied to a value (or, for add, concat and multiply, a list of values): its output. */
  apply(inputs: SymbolicTensor | readonly SymbolicTensor[]): SymbolicTensor;
};

/** A pooling layer's hyperparameters: pool_forward's, the stride defaulting to the window. */
type PoolSpec = Omit<PoolHparameters, "stride"> & { stride?: Pair };
type Options<K extends LayerKind> = Omit<Extract<LayerSpec, { kind: K }>, "kind">;

/** A spec with apply() (not enumerable: a spec's own keys are its options, as it is sent and copied). */
function make<S extends LayerSpec>(spec: S): Layer<S> {
  Object.defineProperty(spec, "apply", {
    value(this: S, inputs: unknown) {
      return applyLayer(this, inputs);
    },
  });
  return spec as Layer<S>;
}

/**
 * The layers, as Keras names them. Initialisation defaults to He before a ReLU, else Glorot. Each is
 * a plain spec (for sequential()) with apply() (for the functional API: input() → apply → model()).
 */
export const layers = {
  conv2d: (o: Options<"conv2d">) => make({ kind: "conv2d" as const, ...o }),
  depthwiseConv2d: (o: Options<"depthwiseConv2d">) => make({ kind: "depthwiseConv2d" as const, ...o }),
  separableConv2d: (o: Options<"separableConv2d">) => make({ kind: "separableConv2d" as const, ...o }),
  relu: () => make({ kind: "relu" as const }),
  relu6: () => make({ kind: "relu6" as const }),
  clip: (o: Options<"clip"> = {}) => make({ kind: "clip" as const, ...o }),
  leakyRelu: (o: Options<"leakyRelu"> = {}) => make({ kind: "leakyRelu" as const, ...o }),
  sigmoid: () => make({ kind: "sigmoid" as const }),
  hardSigmoid: (o: Options<"hardSigmoid"> = {}) => make({ kind: "hardSigmoid" as const, ...o }),
  hardSwish: () => make({ kind: "hardSwish" as const }),
  swish: () => make({ kind: "swish" as const }),
  /** swish's other name (PyTorch's SiLU). */
  silu: () => make({ kind: "swish" as const }),
  maxPool: (o: PoolSpec) => make({ kind: "maxPool" as const, ...o }),
  avgPool: (o: PoolSpec) => make({ kind: "avgPool" as const, ...o }),
  globalAvgPool: () => make({ kind: "globalAvgPool" as const }),
  globalMaxPool: () => make({ kind: "globalMaxPool" as const }),
  flatten: () => make({ kind: "flatten" as const }),
  dense: (o: Options<"dense">) => make({ kind: "dense" as const, ...o }),
  /** BatchNorm over the channels: momentum is the new batch's weight in the running statistics (PyTorch's 0.1; Keras's 0.99 is 0.01 here). */
  batchNorm: (o: Options<"batchNorm"> = {}) => make({ kind: "batchNorm" as const, ...o }),
  dropout: (o: Options<"dropout">) => make({ kind: "dropout" as const, ...o }),
  zeroPadding2d: (o: Options<"zeroPadding2d">) => make({ kind: "zeroPadding2d" as const, ...o }),
  add: () => make({ kind: "add" as const }),
  concat: () => make({ kind: "concat" as const }),
  /** A feature map times a gate per channel: apply([x [h,w,c], s [c]]) (squeeze-and-excitation). */
  multiply: () => make({ kind: "multiply" as const }),
  softmax: () => make({ kind: "softmax" as const }),
};

/**
 * The network the notebook sends its reader to, sized for 28×28×1 digits: CONV 5×5×16 'same' → RELU →
 * MAXPOOL 2/2 → CONV 5×5×32 'same' → RELU → MAXPOOL 2/2 → FLATTEN → DENSE 10 → SOFTMAX.
 */
export function digitsLayers(): Layer[] {
  return [
    layers.conv2d({ filters: 16, size: 5, pad: "same" }),
    layers.relu(),
    layers.maxPool({ f: 2, stride: 2 }),
    layers.conv2d({ filters: 32, size: 5, pad: "same" }),
    layers.relu(),
    layers.maxPool({ f: 2, stride: 2 }),
    layers.flatten(),
    layers.dense({ units: 10 }),
    layers.softmax(),
  ];
}

/** The number of examples of `inputShape` whose values, in C order, are X; a RangeError if not whole. */
export function examplesIn(
  fn: string,
  X: Float32Array | Float64Array,
  inputShape: readonly number[],
  name = "X",
): number {
  const per = sizeOf(inputShape);
  if (X.length % per !== 0) {
    throw new RangeError(
      `${fn}: ${name} expects whole examples of ${per} values (${fmtShape(inputShape)}) but got ${X.length}`,
    );
  }
  return X.length / per;
}

/**
 * A model's input X as a batch [m, ...inputShape] (checked, each field read once): an NDArray of that
 * shape or, where `flat` allows, whole examples in a Float32Array (widened) or Float64Array.
 */
export function examples(fn: string, X: unknown, inputShape: readonly number[], flat: boolean, name = "X"): NDArray {
  if (flat && (X instanceof Float32Array || X instanceof Float64Array)) {
    return array(X, [examplesIn(fn, X, inputShape, name), ...inputShape]);
  }
  const x = snapshot(fn, name, X);
  if (fmtShape(x.shape.slice(1)) !== fmtShape(inputShape)) {
    throw new RangeError(`${fn}: ${name} expects shape [m,${inputShape}] but got ${fmtShape(x.shape)}`);
  }
  return x;
}
