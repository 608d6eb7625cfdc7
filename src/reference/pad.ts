// Plain-TS zero_pad: the oracle for the WASM kernel and the naive baseline in benchmarks.
import { NDArray } from "../core/ndarray.js";

export function zero_pad(X: NDArray, pad: number): NDArray {
  const [m, h, w, c] = X.shape;
  const x = X.toFloat64Array();
  const hp = h + 2 * pad;
  const wp = w + 2 * pad;
  const out = new Float64Array(m * hp * wp * c);
  for (let i = 0; i < m; i++)
    for (let y = 0; y < h; y++)
      for (let xw = 0; xw < w; xw++)
        for (let ch = 0; ch < c; ch++)
          out[((i * hp + y + pad) * wp + xw + pad) * c + ch] = x[((i * h + y) * w + xw) * c + ch];
  return new NDArray(out, [m, hp, wp, c]);
}
