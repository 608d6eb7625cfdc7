// The layers of a sequential model as plain specs (Keras's names): what sequential() builds from. Pure
// data, so that convwasm/async can describe a model without loading the library.
import { NDArray, array, fmtShape, sizeOf, snapshot } from "../ndarray.js";
import type { Pair, Padding, PoolHparameters } from "../shapes.js";

export type Init = "he" | "glorot";

export type LayerSpec =
  | {
      kind: "conv2d";
      filters: number;
      size: Pair;
      stride?: Pair;
      pad?: Padding;
      dilation?: Pair;
      groups?: number;
      init?: Init;
    }
  | { kind: "relu" }
  | ({ kind: "maxPool" | "avgPool"; stride?: Pair } & Omit<PoolHparameters, "stride">)
  | { kind: "flatten" }
  | { kind: "dense"; units: number; init?: Init }
  | { kind: "softmax" };

/** A pooling layer's hyperparameters: pool_forward's, the stride defaulting to the window. */
type PoolSpec = Omit<PoolHparameters, "stride"> & { stride?: Pair };

/** The layers, as Keras names them. Initialisation defaults to He before a ReLU, else Glorot. */
export const layers = {
  conv2d: (o: Omit<Extract<LayerSpec, { kind: "conv2d" }>, "kind">): LayerSpec => ({ kind: "conv2d", ...o }),
  relu: (): LayerSpec => ({ kind: "relu" }),
  maxPool: (o: PoolSpec): LayerSpec => ({ kind: "maxPool", ...o }),
  avgPool: (o: PoolSpec): LayerSpec => ({ kind: "avgPool", ...o }),
  flatten: (): LayerSpec => ({ kind: "flatten" }),
  dense: (o: { units: number; init?: Init }): LayerSpec => ({ kind: "dense", ...o }),
  softmax: (): LayerSpec => ({ kind: "softmax" }),
};

/**
 * The network the notebook sends its reader to, sized for 28×28×1 digits: CONV 5×5×16 'same' → RELU →
 * MAXPOOL 2/2 → CONV 5×5×32 'same' → RELU → MAXPOOL 2/2 → FLATTEN → DENSE 10 → SOFTMAX.
 */
export function digitsLayers(): LayerSpec[] {
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

/**
 * A model's input X as a batch [m, ...inputShape] (checked, each field read once): an NDArray of that
 * shape or, where `flat` allows, whole examples in a Float32Array (widened) or Float64Array.
 */
export function examples(fn: string, X: unknown, inputShape: readonly number[], flat: boolean, name = "X"): NDArray {
  if (flat && (X instanceof Float32Array || X instanceof Float64Array)) {
    const per = sizeOf(inputShape);
    if (X.length % per !== 0) {
      throw new RangeError(
        `${fn}: ${name} expects whole examples of ${per} values (${fmtShape(inputShape)}) but got ${X.length}`,
      );
    }
    return array(X, [X.length / per, ...inputShape]);
  }
  const x = snapshot(fn, name, X);
  if (fmtShape(x.shape.slice(1)) !== fmtShape(inputShape)) {
    throw new RangeError(`${fn}: ${name} expects shape [m,${inputShape}] but got ${fmtShape(x.shape)}`);
  }
  return x;
}
