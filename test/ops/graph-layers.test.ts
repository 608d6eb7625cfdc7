// The layers of ResNet and MobileNet as functional ops: BatchNorm (training and inference), relu6, clip,
// leaky_relu, sigmoid, hard_sigmoid, hard_swish, swish, add, concat, multiply, global pooling, dropout.
// Against PyTorch float64 autograd (test/fixtures/graph.json, written by scripts/fixtures_graph.py), the
// plain-TS reference on random shapes and strided views, central finite differences, and named errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as C from "convwasm";
import { NDArray, init, memory } from "convwasm";
import * as reference from "convwasm/reference";
import { dot, expectClose, fixture, randn, stridedCopy } from "../helpers.js";

beforeAll(() => init());
afterAll(() => undefined);

type Fx = Record<string, any>;
const fx = fixture<{ ops: Fx }>("graph.json").ops;
const arr = (v: number[], shape: readonly number[]) => new NDArray(Float64Array.from(v), shape);
const ACTS = ["relu6", "clip", "leaky_relu", "sigmoid", "hard_sigmoid", "hard_swish", "swish"] as const;
type Act = (typeof ACTS)[number];
const fwd = (name: Act) => C[name] as (z: NDArray, o?: object) => [NDArray, C.ActivationCache];
const bwd = (name: Act) => C[`${name}_backward`] as (d: NDArray, c: C.ActivationCache) => NDArray;
/** The two numbers reference.activation takes for each activation's options (PyTorch's defaults). */
const params = (name: Act, o: Record<string, number | undefined>): [number, number] =>
  name === "clip"
    ? [o.min ?? -Infinity, o.max ?? Infinity]
    : name === "leaky_relu"
      ? [o.alpha ?? 0.01, 0]
      : name === "hard_sigmoid"
        ? [o.alpha ?? 1 / 6, o.beta ?? 0.5]
        : [0, 0];

describe("against PyTorch float64 autograd", () => {
  for (const name of ACTS) {
    it(`${name} and ${name}_backward`, () => {
      const f = fx[name];
      const Z = arr(f.Z, f.shape);
      const [A, cache] = fwd(name)(Z, f.options);
      expectClose(A, arr(f.A, f.shape), 1e-12);
      expectClose(bwd(name)(arr(f.dA, f.shape), cache), arr(f.dZ, f.shape), 1e-12);
    });
  }

  for (const mode of ["train", "eval"] as const) {
    it(`batch_norm and batch_norm_backward, ${mode === "train" ? "batch statistics" : "running statistics"}`, () => {
      const f = fx[`batch_norm_${mode}`];
      const X = arr(f.X, f.shape);
      const [gamma, beta] = [arr(f.gamma, [5]), arr(f.beta, [5])];
      const stats = mode === "eval" ? { mean: arr(f.mean, [5]), variance: arr(f.variance, [5]) } : {};
      const [Y, cache] = C.batch_norm(X, gamma, beta, stats);
      expectClose(Y, arr(f.Y, f.shape), 1e-10);
      const [dX, dgamma, dbeta] = C.batch_norm_backward(arr(f.dY, f.shape), cache);
      expectClose(dX, arr(f.dX, f.shape), 1e-10);
      expectClose(dgamma, arr(f.dgamma, [5]), 1e-10);
      expectClose(dbeta, arr(f.dbeta, [5]), 1e-10);
      if (mode === "train") {
        // the statistics a layer's running mean and (unbiased) variance are made from, PyTorch's momentum 0.1
        const [, , mu, sigma2] = cache;
        const n = 4 * 3 * 3;
        const rm = Array.from(mu, (m, ch) => 0.9 * f.mean[ch] + 0.1 * m);
        const rv = Array.from(sigma2, (v, ch) => 0.9 * f.variance[ch] + (0.1 * v * n) / (n - 1));
        expectClose(arr(rm, [5]), arr(f.running_mean, [5]), 1e-12);
        expectClose(arr(rv, [5]), arr(f.running_var, [5]), 1e-12);
      }
    });
  }

  it("multiply and multiply_backward (a gate per channel)", () => {
    const f = fx.multiply;
    const [Y, cache] = C.multiply(arr(f.X, [2, 3, 4, 5]), arr(f.S, [2, 5]));
    expectClose(Y, arr(f.Y, [2, 3, 4, 5]), 1e-12);
    const [dX, dS] = C.multiply_backward(arr(f.dY, [2, 3, 4, 5]), cache);
    expectClose(dX, arr(f.dX, [2, 3, 4, 5]), 1e-12);
    expectClose(dS, arr(f.dS, [2, 5]), 1e-12);
  });

  for (const name of ["global_avg_pool", "global_max_pool"] as const) {
    it(`${name} and ${name}_backward`, () => {
      const f = fx[name];
      const [Y, cache] = C[name](arr(f.A, [2, 3, 4, 5]));
      expectClose(Y, arr(f.Y, [2, 5]), 1e-12);
      const back = C[`${name}_backward`] as (d: NDArray, c: unknown) => NDArray;
      expectClose(back(arr(f.dY, [2, 5]), cache), arr(f.dA, [2, 3, 4, 5]), 1e-12);
    });
  }
});

/** A random [m, h, w, c] shape and a seed. */
const shape4 = fc.tuple(
  fc.integer({ min: 1, max: 3 }),
  fc.integer({ min: 1, max: 5 }),
  fc.integer({ min: 1, max: 5 }),
  fc.integer({ min: 1, max: 9 }),
);

describe("against the plain-TS reference, random shapes and strided views", () => {
  it("the activations, forward and backward", () => {
    fc.assert(
      fc.property(
        shape4,
        fc.integer({ min: 0, max: 1e6 }),
        fc.constantFrom(...ACTS),
        fc.boolean(),
        (s, seed, name, strided) => {
          const raw = randn(seed, ...s);
          const Z = strided ? stridedCopy(raw) : raw;
          const G = randn(seed + 1, ...s);
          const o =
            name === "clip"
              ? { min: -0.5, max: 1.5 }
              : name === "leaky_relu"
                ? { alpha: 0.2 }
                : name === "hard_sigmoid"
                  ? { alpha: 0.2 }
                  : {};
          const [a, b] = params(name, o);
          const [A, cache] = fwd(name)(Z, o);
          expectClose(A, reference.activation(name, raw, a, b), 1e-15);
          expectClose(bwd(name)(G, cache), reference.activation_backward(name, G, raw, a, b), 1e-15);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("batch_norm, both modes", () => {
    fc.assert(
      fc.property(
        shape4,
        fc.integer({ min: 0, max: 1e6 }),
        fc.boolean(),
        fc.boolean(),
        (s, seed, training, strided) => {
          const c = s[3];
          const raw = randn(seed, ...s);
          const X = strided ? stridedCopy(raw) : raw;
          const [gamma, beta, G] = [randn(seed + 1, c), randn(seed + 2, c), randn(seed + 3, ...s)];
          const stats: [NDArray, NDArray] = [
            randn(seed + 4, c),
            new NDArray(
              randn(seed + 5, c)
                .toFloat64Array()
                .map((v) => 0.5 + v * v),
              [c],
            ),
          ];
          const [Y, cache] = C.batch_norm(X, gamma, beta, training ? {} : { mean: stats[0], variance: stats[1] });
          expectClose(Y, reference.batch_norm(raw, gamma, beta, 1e-5, training ? undefined : stats), 1e-11);
          const got = C.batch_norm_backward(G, cache);
          const want = reference.batch_norm_backward(G, raw, gamma, 1e-5, training ? undefined : stats);
          // (dX's terms are of size |G|·|γ|/σ and cancel: with few values a channel, as [1,2,1,1], dX is
          // ~1e-7 while the terms are ~1, and the two orders of summation differ by the terms' rounding)
          const terms = (maxAbs(G) * maxAbs(gamma)) / Math.sqrt(minVariance(raw) + 1e-5);
          got.forEach((g, i) => expectClose(g, want[i], 1e-10, 1e-13 * terms));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("multiply, global pooling, add, concat", () => {
    fc.assert(
      fc.property(shape4, fc.integer({ min: 0, max: 1e6 }), (s, seed) => {
        const [m, , , c] = s;
        const X = randn(seed, ...s);
        const S = randn(seed + 1, m, c);
        const G = randn(seed + 2, ...s);
        expectClose(C.multiply(stridedCopy(X), S)[0], reference.multiply(X, S), 1e-15);
        const [dX, dS] = C.multiply_backward(G, C.multiply(X, S)[1]);
        const [rX, rS] = reference.multiply_backward(G, X, S);
        expectClose(dX, rX, 1e-15);
        expectClose(dS, rS, 1e-12);
        expectClose(C.global_avg_pool(stridedCopy(X))[0], reference.global_pool(X, false), 1e-13);
        expectClose(C.global_max_pool(stridedCopy(X))[0], reference.global_pool(X, true), 0);
        const sum = C.add(X, stridedCopy(G)).toFloat64Array();
        const x = X.toFloat64Array();
        G.toFloat64Array().forEach((g, i) => expect(sum[i]).toBe(x[i] + g));
        const [Y, widths] = C.concat([X, stridedCopy(G)]);
        expect(Y.shape).toEqual([...s.slice(0, 3), 2 * c]);
        expect(Y.get(m - 1, 0, 0, c)).toBe(G.get(m - 1, 0, 0, 0));
        const [a, b] = C.concat_backward(Y, widths);
        expect(Array.from(a.toFloat64Array())).toEqual(Array.from(x));
        expect(Array.from(b.toFloat64Array())).toEqual(Array.from(G.toFloat64Array()));
      }),
      { numRuns: 40 },
    );
  });

  it("dropout: seeded, inverted, its gradient through the same mask", () => {
    const X = randn(3, 4, 50);
    const [Y, mask] = C.dropout(X, { rate: 0.3, seed: 5 });
    const [Y2] = C.dropout(X, { rate: 0.3, seed: 5 });
    expect(Array.from(Y2.toFloat64Array())).toEqual(Array.from(Y.toFloat64Array()));
    const m = mask.toFloat64Array();
    const dropped = m.filter((v) => v === 0).length;
    expect(dropped).toBeGreaterThan(30);
    expect(dropped).toBeLessThan(90);
    m.forEach((v) => expect(v === 0 || v === 1 / 0.7).toBe(true));
    const x = X.toFloat64Array();
    Y.toFloat64Array().forEach((y, i) => expect(y).toBe(x[i] * m[i]));
    const G = randn(4, 4, 50);
    const g = G.toFloat64Array();
    C.dropout_backward(G, mask)
      .toFloat64Array()
      .forEach((d, i) => expect(d).toBe(g[i] * m[i]));
  });
});

describe("central finite differences", () => {
  /** Checks every input element's gradient of dot(f(inputs), G) against central differences. */
  function check(inputs: NDArray[], f: () => NDArray, G: NDArray, grads: NDArray[], h = 1e-5, tol = 1e-8) {
    inputs.forEach((x, which) => {
      const g = grads[which].toFloat64Array();
      for (let j = 0; j < x.size; j++) {
        const v = x.data[j];
        x.data[j] = v + h;
        const up = dot(f(), G);
        x.data[j] = v - h;
        const down = dot(f(), G);
        x.data[j] = v;
        expect(Math.abs((up - down) / (2 * h) - g[j])).toBeLessThan(tol * Math.max(1, Math.abs(g[j])));
      }
    });
  }

  it("batch_norm_backward in training: dX, dgamma, dbeta through the batch's statistics", () => {
    const [X, gamma, beta, G] = [randn(21, 3, 2, 2, 4), randn(22, 4), randn(23, 4), randn(24, 3, 2, 2, 4)];
    const grads = C.batch_norm_backward(G, C.batch_norm(X, gamma, beta)[1]);
    check([X, gamma, beta], () => C.batch_norm(X, gamma, beta)[0], G, grads);
  });

  it("the smooth activations, multiply, global average pooling", () => {
    for (const name of ["sigmoid", "swish", "hard_swish", "leaky_relu"] as const) {
      const Z = randn(25, 3, 7);
      const G = randn(26, 3, 7);
      check([Z], () => fwd(name)(Z)[0], G, [bwd(name)(G, fwd(name)(Z)[1])]);
    }
    const [X, S, G] = [randn(27, 2, 3, 3, 4), randn(28, 2, 4), randn(29, 2, 3, 3, 4)];
    check([X, S], () => C.multiply(X, S)[0], G, C.multiply_backward(G, C.multiply(X, S)[1]));
    const dY = randn(30, 2, 4);
    check([X], () => C.global_avg_pool(X)[0], dY, [C.global_avg_pool_backward(dY, C.global_avg_pool(X)[1])]);
  });
});

describe("errors name the function and the argument", () => {
  it("shapes, options and caches", () => {
    const X = randn(1, 2, 3, 3, 4);
    expect(() => C.batch_norm(X, randn(2, 3), randn(3, 4))).toThrow(
      "batch_norm: gamma expects shape [4] (one per channel of X) but got [3]",
    );
    expect(() => C.batch_norm(X, randn(2, 4), randn(3, 4), { mean: randn(4, 4) })).toThrow(
      "batch_norm: options.mean and options.variance expect to be given together",
    );
    expect(() => C.batch_norm(X, randn(2, 4), randn(3, 4), { epsilon: -1 })).toThrow(
      "batch_norm: options.epsilon expects a finite number ≥ 0 but got number -1",
    );
    expect(() => C.batch_norm_backward(X, [] as never)).toThrow(
      "batch_norm_backward: cache expects the 6-element cache returned by batch_norm",
    );
    expect(() => C.clip(X, { min: 2, max: 1 })).toThrow("clip: options.min expects at most options.max (1) but got 2");
    expect(() => C.leaky_relu(X, { alpha: NaN })).toThrow(
      "leaky_relu: options.alpha expects a finite number but got number NaN",
    );
    expect(() => C.relu6_backward(randn(3, 2, 2), C.relu6(X)[1])).toThrow(
      "relu6_backward: dA expects shape [2,3,3,4] (the shape of relu6's Z) but got [2,2]",
    );
    expect(() => C.add(X, randn(4, 2, 3, 3, 3))).toThrow("add: B expects A's shape [2,3,3,4] but got [2,3,3,3]");
    expect(() => C.concat([X, randn(5, 2, 3, 4, 4)])).toThrow(
      "concat: arrays[1] expects shape [2,3,3,*] (arrays[0]'s but its last axis) but got [2,3,4,4]",
    );
    expect(() => C.multiply(X, randn(6, 2, 3))).toThrow(
      "multiply: S expects shape [2,4] or [2,1,1,4] (a gate per channel) but got [2,3]",
    );
    expect(() => C.global_avg_pool(randn(7, 2, 3))).toThrow("global_avg_pool: A expects");
    expect(() => C.dropout(X, { rate: 1 })).toThrow(
      "dropout: options.rate expects a number in [0, 1) but got number 1",
    );
    // and the library keeps working, nothing left in the arena
    expect(memory().arenaBytesInUse).toBe(0);
    expectClose(C.relu6(X)[0], reference.activation("relu6", X), 0);
  });
});

const maxAbs = (a: NDArray) => a.toFloat64Array().reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** The smallest variance of a channel (the last axis) over the other axes. */
function minVariance(x: NDArray): number {
  const c = x.shape[x.shape.length - 1];
  const v = x.toFloat64Array();
  const n = v.length / c;
  let least = Infinity;
  for (let k = 0; k < c; k++) {
    let [sum, sq] = [0, 0];
    for (let i = k; i < v.length; i += c) sum += v[i];
    const mean = sum / n;
    for (let i = k; i < v.length; i += c) sq += (v[i] - mean) ** 2;
    least = Math.min(least, sq / n);
  }
  return least;
}
