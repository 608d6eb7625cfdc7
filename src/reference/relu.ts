// Plain-TS relu / relu_backward: the oracle for the WASM kernels (assembly/relu.ts).
import { NDArray } from "../core/ndarray.js";

export function relu(Z: NDArray): NDArray {
  // np.maximum(0, Z): NaN stays NaN, −0 gives +0
  return new NDArray(
    Z.toFloat64Array().map((z) => (z !== z ? z : z > 0 ? z : 0)),
    Z.shape,
  );
}

export function relu_backward(dA: NDArray, Z: NDArray): NDArray {
  const z = Z.toFloat64Array();
  return new NDArray(
    dA.toFloat64Array().map((g, i) => (z[i] > 0 ? g : 0)),
    Z.shape,
  );
}
