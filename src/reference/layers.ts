// Plain-TS twins of the layers of ResNet and MobileNet (assembly/elementwise.ts): activations, BatchNorm,
// channel gates and global pooling, written from their definitions, one element at a time.
import { NDArray } from "../core/ndarray.js";
// (the activations' formulas live with their definitions; the rest is written out here)
import { REFERENCE, type ActivationName } from "../ops/activations.js";

/** An activation by name, elementwise, with the options' two numbers (its formula: src/ops/activations.ts's REFERENCE). */
export function activation(name: string, Z: NDArray, a = 0, b = 0): NDArray {
  const { f } = REFERENCE[name as ActivationName];
  return new NDArray(
    Z.toFloat64Array().map((x) => f(x, a, b)),
    Z.shape,
  );
}

/** Its gradient from dA and Z. */
export function activation_backward(name: string, dA: NDArray, Z: NDArray, a = 0, b = 0): NDArray {
  const { df } = REFERENCE[name as ActivationName];
  const z = Z.toFloat64Array();
  return new NDArray(
    dA.toFloat64Array().map((g, i) => df(g, z[i], a, b)),
    Z.shape,
  );
}

/** Per channel (the last axis): the mean and the biased variance over every other axis. */
function moments(x: Float64Array, c: number): [number[], number[]] {
  const n = x.length / c;
  const mean = Array.from({ length: c }, (_, ch) => {
    let s = 0;
    for (let p = 0; p < n; p++) s += x[p * c + ch];
    return s / n;
  });
  const variance = mean.map((mu, ch) => {
    let s = 0;
    for (let p = 0; p < n; p++) s += (x[p * c + ch] - mu) ** 2;
    return s / n;
  });
  return [mean, variance];
}

/** BatchNorm: (x − μ) / √(σ² + ε) · γ + β, with the batch's statistics unless `stats` gives them. */
export function batch_norm(
  X: NDArray,
  gamma: NDArray,
  beta: NDArray,
  epsilon: number,
  stats?: [NDArray, NDArray],
): NDArray {
  const x = X.toFloat64Array();
  const c = X.shape[X.ndim - 1];
  const [mean, variance] = stats ? [[...stats[0].toFloat64Array()], [...stats[1].toFloat64Array()]] : moments(x, c);
  const g = gamma.toFloat64Array();
  const b = beta.toFloat64Array();
  // (γ/σ first, as PyTorch's alpha: a subnormal γ underflows the same way)
  return new NDArray(
    x.map((v, i) => (v - mean[i % c]) * (g[i % c] / Math.sqrt(variance[i % c] + epsilon)) + b[i % c]),
    X.shape,
  );
}

/** BatchNorm's gradients [dX, dgamma, dbeta]: through the batch's statistics unless `stats` gives them. */
export function batch_norm_backward(
  dY: NDArray,
  X: NDArray,
  gamma: NDArray,
  epsilon: number,
  stats?: [NDArray, NDArray],
): [NDArray, NDArray, NDArray] {
  const x = X.toFloat64Array();
  const dy = dY.toFloat64Array();
  const c = X.shape[X.ndim - 1];
  const n = x.length / c;
  const [mean, variance] = stats ? [[...stats[0].toFloat64Array()], [...stats[1].toFloat64Array()]] : moments(x, c);
  const g = gamma.toFloat64Array();
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  const xhat = x.map((v, i) => (v - mean[i % c]) / Math.sqrt(variance[i % c] + epsilon));
  dy.forEach((d, i) => {
    dbeta[i % c] += d;
    dgamma[i % c] += d * xhat[i];
  });
  const dx = dy.map((d, i) => {
    const ch = i % c;
    const invstd = 1 / Math.sqrt(variance[ch] + epsilon);
    if (stats) return d * (invstd * g[ch]);
    // dX = (dY − mean(dY) − x̂ · mean(dY · x̂)) · γ/σ
    return (d - dbeta[ch] / n - xhat[i] * (dgamma[ch] / n)) * (invstd * g[ch]);
  });
  return [new NDArray(dx, X.shape), new NDArray(dgamma, [c]), new NDArray(dbeta, [c])];
}

/** X [m,h,w,c] times S [m,c] per channel, and the gradients [dX, dS]. */
export function multiply(X: NDArray, S: NDArray): NDArray {
  const [, h, w, c] = X.shape;
  const s = S.toFloat64Array();
  return new NDArray(
    X.toFloat64Array().map((v, i) => v * s[Math.floor(i / (h * w * c)) * c + (i % c)]),
    X.shape,
  );
}
export function multiply_backward(dY: NDArray, X: NDArray, S: NDArray): [NDArray, NDArray] {
  const [m, h, w, c] = X.shape;
  const x = X.toFloat64Array();
  const dS = new Float64Array(m * c);
  dY.toFloat64Array().forEach((g, i) => (dS[Math.floor(i / (h * w * c)) * c + (i % c)] += g * x[i]));
  return [multiply(dY, S), new NDArray(dS, S.shape)];
}

/** Each channel's mean or max over h and w: [m, c]. */
export function global_pool(A: NDArray, max: boolean): NDArray {
  const [m, h, w, c] = A.shape;
  const a = A.toFloat64Array();
  const out = new Float64Array(m * c);
  for (let i = 0; i < m; i++)
    for (let ch = 0; ch < c; ch++) {
      let r = max ? -Infinity : 0;
      for (let p = 0; p < h * w; p++) {
        const v = a[(i * h * w + p) * c + ch];
        r = max ? (v > r || Number.isNaN(v) ? v : r) : r + v;
      }
      out[i * c + ch] = max ? r : r / (h * w);
    }
  return new NDArray(out, [m, c]);
}
