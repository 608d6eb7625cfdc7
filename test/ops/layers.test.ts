// The layers around conv and pool (issue 11's functional ops): relu, flatten / reshape, dense, softmax and
// softmax cross-entropy. Against PyTorch float64 autograd (test/fixtures/layers.json, written by
// scripts/fixtures_layers.py), the plain-TS reference on random shapes and views, threads, and central
// finite differences.
import { availableParallelism } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  NDArray,
  RandomState,
  dense_backward,
  dense_forward,
  flatten,
  init,
  memory,
  relu,
  relu_backward,
  setThreads,
  softmax,
  softmax_cross_entropy,
  zeros,
} from "convwasm";
import * as reference from "convwasm/reference";
import { dot, expectClose, expectIdentical, fixture, randn, shareSmallCalls, stridedCopy } from "../helpers.js";

beforeAll(() => init());
afterAll(() => setThreads(availableParallelism() > 1 ? 2 : 1));
shareSmallCalls();

type Fixture = Record<string, any>;
const fx = fixture<Fixture>("layers.json");
const arr = (v: number[], shape: readonly number[]) => new NDArray(Float64Array.from(v), shape);
const scaled = (a: NDArray, s: number) =>
  new NDArray(
    a.toFloat64Array().map((v) => v * s),
    a.shape,
  );

describe("against PyTorch float64 autograd", () => {
  it("relu and relu_backward, Z=[3,4,5] with exact zeros (gradient 0 there)", () => {
    const f = fx.relu;
    const rs = new RandomState(f.seed);
    const Z = rs.randn(...f.shape);
    Z.data.fill(0, 0, f.zeros);
    const dA = rs.randn(...f.shape);
    const [A, cache] = relu(Z);
    expectIdentical(A, arr(f.A, f.shape));
    expectIdentical(relu_backward(dA, cache), arr(f.dZ, f.shape));
  });

  for (const name of ["dense", "dense_row_bias"]) {
    it(`${name}: X=[${fx[name].X}] W=[${fx[name].W}] b=[${fx[name].b}]`, () => {
      const f = fx[name];
      const rs = new RandomState(f.seed);
      const [X, W, b] = [rs.randn(...f.X), rs.randn(...f.W), rs.randn(...f.b)];
      const [Z, cache] = dense_forward(X, W, b);
      expectClose(Z, arr(f.Z, [f.X[0], f.W[1]]), 1e-12);
      const [dX, dW, db] = dense_backward(rs.randn(...Z.shape), cache);
      expectClose(dX, arr(f.dX, f.X), 1e-12);
      expectClose(dW, arr(f.dW, f.W), 1e-12);
      expect(db.shape).toEqual(f.b);
      expectClose(db, arr(f.db, f.b), 1e-12);
    });
  }

  it("softmax over the last axis, logits up to ±100 (max-subtracted)", () => {
    const f = fx.softmax;
    const Z = scaled(new RandomState(f.seed).randn(...f.shape), f.scale);
    expectClose(softmax(Z), arr(f.Y, f.shape), 1e-12);
  });

  it("softmax_cross_entropy with class indices and with one-hot rows: F.cross_entropy's loss and gradient", () => {
    const f = fx.cross_entropy;
    const Z = scaled(new RandomState(f.seed).randn(...f.shape), f.scale);
    const [loss, dZ] = softmax_cross_entropy(Z, f.labels);
    expect(Math.abs(loss - f.loss)).toBeLessThan(1e-12 * Math.abs(f.loss));
    expectClose(dZ, arr(f.dZ, f.shape), 1e-12);
    const onehot = zeros(f.shape);
    f.labels.forEach((y: number, i: number) => onehot.set(i, y, 1));
    const [loss2, dZ2] = softmax_cross_entropy(Z, onehot);
    expect(loss2).toBe(loss);
    expectIdentical(dZ2, dZ);
    expectIdentical(softmax_cross_entropy(Z, new NDArray(Float64Array.from(f.labels), [f.labels.length]))[1], dZ);
  });

  it("softmax_cross_entropy with target distributions (soft labels)", () => {
    const f = fx.cross_entropy_soft;
    const rs = new RandomState(f.seed);
    const Z = rs.randn(...f.shape);
    const T = new NDArray(
      rs
        .randn(...f.shape)
        .toFloat64Array()
        .map(Math.abs),
      f.shape,
    );
    for (let i = 0; i < f.shape[0]; i++) {
      let s = 0;
      for (let j = 0; j < f.shape[1]; j++) s += T.get(i, j);
      for (let j = 0; j < f.shape[1]; j++) T.set(i, j, T.get(i, j) / s);
    }
    const [loss, dZ] = softmax_cross_entropy(Z, T);
    expect(Math.abs(loss - f.loss)).toBeLessThan(1e-12);
    expectClose(dZ, arr(f.dZ, f.shape), 1e-12);
  });
});

describe("reshape and flatten: a view exactly where numpy gives one", () => {
  for (const c of fx.reshape as { name: string; shape: number[]; strides: number[]; to: number[]; view: boolean }[]) {
    it(`${c.name}: [${c.shape}] strides [${c.strides}] -> [${c.to}] (${c.view ? "view" : "copy"})`, () => {
      const data = Float64Array.from({ length: 120 }, (_, i) => i);
      const a = new NDArray(data, c.shape, c.strides, c.name === "a picked image split" ? 60 : 0);
      const r = a.reshape(...c.to);
      expect(r.shape).toEqual(c.to);
      expect(r.data === data).toBe(c.view);
      expect(Array.from(r.toFloat64Array())).toEqual(Array.from(a.toFloat64Array()));
    });
  }

  it("flatten(A [m,h,w,c]) -> [m, h*w*c] in C order (Keras channels_last Flatten), a view of a contiguous A", () => {
    const A = randn(1, 2, 3, 4, 5);
    const F = flatten(A);
    expect(F.shape).toEqual([2, 60]);
    expect(F.data.buffer).toBe(A.data.buffer);
    expect(Array.from(F.toFloat64Array())).toEqual(Array.from(A.toFloat64Array()));
    expect(flatten(stridedCopy(A)).toNested()).toEqual(F.toNested());
    expect(flatten(new NDArray(new Float64Array(0), [0, 3, 3, 2])).shape).toEqual([0, 18]);
    expect(() => A.reshape(7, -1)).toThrow(
      "NDArray.reshape: cannot reshape an array of size 120 (shape [2,3,4,5]) into [7,-1]",
    );
  });
});

describe("against the plain-TS reference (property: random shapes, views)", () => {
  it("relu / relu_backward on any shape and view, with NaN, ±Inf and ±0", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 1000 }),
        (shape, seed) => {
          const Z = randn(seed, ...shape);
          const specials = [NaN, Infinity, -Infinity, 0, -0];
          for (let i = 0; i < Z.size; i += 3) Z.data[i] = specials[(seed + i) % specials.length];
          const dA = randn(seed + 1, ...shape);
          const [A, cache] = relu(stridedCopy(Z));
          expectIdentical(A, reference.relu(Z));
          expectIdentical(relu_backward(stridedCopy(dA), cache), reference.relu_backward(dA, Z));
        },
      ),
      { numRuns: 100 },
    );
  });

  it("dense_forward / dense_backward on random shapes, contiguous and strided", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 20 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 1000 }),
        (m, n, k, flatBias, seed) => {
          const X = randn(seed, m, n);
          const W = randn(seed + 1, n, k);
          const b = flatBias ? randn(seed + 2, k) : randn(seed + 2, 1, k);
          const [Z, cache] = dense_forward(X, W, b);
          expectClose(Z, reference.dense_forward(X, W, b), 1e-12);
          const dZ = randn(seed + 3, m, k);
          const [dX, dW, db] = dense_backward(dZ, cache);
          const [rX, rW, rb] = reference.dense_backward(dZ, X, W);
          expectClose(dX, rX, 1e-12);
          expectClose(dW, rW, 1e-12);
          expectClose(new NDArray(db.toFloat64Array(), [k]), rb, 1e-12);
          const [Zs, cacheS] = dense_forward(stridedCopy(X), stridedCopy(W), stridedCopy(b));
          expectIdentical(Zs, Z);
          dense_backward(stridedCopy(dZ), cacheS).forEach((g, i) => expectIdentical(g, [dX, dW, db][i]));
        },
      ),
      { numRuns: 100 },
    );
    expect(memory().arenaBytesInUse).toBe(0);
  });

  it("softmax on any shape, and softmax_cross_entropy, against the reference", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 1000 }),
        (m, k, seed) => {
          const Z = scaled(randn(seed, 2, m, k), 10);
          expectClose(softmax(stridedCopy(Z)), reference.softmax(Z), 1e-13);
          const Z2 = Z.index(0);
          const labels = Array.from({ length: m }, (_, i) => (seed + i) % k);
          const Y = zeros([m, k]);
          labels.forEach((y, i) => Y.set(i, y, 1));
          const [loss, dZ] = softmax_cross_entropy(Z2, labels);
          const [rl, rdZ] = reference.softmax_cross_entropy(Z2, Y);
          expect(Math.abs(loss - rl)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(rl)));
          expectClose(dZ, rdZ, 1e-12);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("a dense layer big enough to be shared out gives the same bits on 1, 2 and 3 threads", async () => {
    const X = randn(5, 256, 300);
    const W = randn(6, 300, 130);
    const b = randn(7, 130);
    const dZ = randn(8, 256, 130);
    const results: NDArray[][] = [];
    for (const threads of [1, 2, 3]) {
      await setThreads(threads);
      const [Z, cache] = dense_forward(X, W, b);
      results.push([Z, ...dense_backward(dZ, cache)]);
    }
    for (const r of results.slice(1)) r.forEach((x, i) => expectIdentical(x, results[0][i]));
    expectClose(results[0][0], reference.dense_forward(X, W, b), 1e-12);
  });
});

describe("central finite differences", () => {
  it("dense_backward: dX, dW, db", () => {
    const [X, W, b] = [randn(11, 5, 7), randn(12, 7, 4), randn(13, 4)];
    const G = randn(14, 5, 4);
    const grads = dense_backward(G, dense_forward(X, W, b)[1]);
    [X, W, b].forEach((x, which) => {
      const g = grads[which].toFloat64Array();
      for (let j = 0; j < x.size; j++) {
        const v = x.data[j];
        x.data[j] = v + 1e-5;
        const up = dot(dense_forward(X, W, b)[0], G);
        x.data[j] = v - 1e-5;
        const down = dot(dense_forward(X, W, b)[0], G);
        x.data[j] = v;
        expect(Math.abs((up - down) / 2e-5 - g[j])).toBeLessThan(1e-8 * Math.max(1, Math.abs(g[j])));
      }
    });
  });

  it("softmax_cross_entropy: dZ", () => {
    const Z = randn(15, 4, 6);
    const labels = [0, 5, 2, 2];
    const [, dZ] = softmax_cross_entropy(Z, labels);
    const g = dZ.toFloat64Array();
    for (let j = 0; j < Z.size; j++) {
      const v = Z.data[j];
      Z.data[j] = v + 1e-5;
      const up = softmax_cross_entropy(Z, labels)[0];
      Z.data[j] = v - 1e-5;
      const down = softmax_cross_entropy(Z, labels)[0];
      Z.data[j] = v;
      expect(Math.abs((up - down) / 2e-5 - g[j])).toBeLessThan(1e-9);
    }
  });

  it("relu_backward away from 0", () => {
    const Z = randn(16, 3, 7);
    const G = randn(17, 3, 7);
    const dZ = relu_backward(G, relu(Z)[1]).toFloat64Array();
    for (let j = 0; j < Z.size; j++) {
      if (Math.abs(Z.data[j]) < 1e-3) continue;
      const v = Z.data[j];
      Z.data[j] = v + 1e-6;
      const up = dot(relu(Z)[0], G);
      Z.data[j] = v - 1e-6;
      const down = dot(relu(Z)[0], G);
      Z.data[j] = v;
      expect(Math.abs((up - down) / 2e-6 - dZ[j])).toBeLessThan(1e-8);
    }
  });
});

describe("errors name the function", () => {
  it("shapes that do not fit", () => {
    expect(() => dense_forward(randn(1, 3, 4), randn(2, 5, 2), randn(3, 2))).toThrow(
      "dense_forward: W expects 4 rows (X's features) but got shape [5,2] (X [3,4])",
    );
    expect(() => dense_forward(randn(1, 3, 4), randn(2, 4, 2), randn(3, 3))).toThrow(
      "dense_forward: b expects shape [1,2] or [2] for W [4,2] but got [3]",
    );
    expect(() => relu_backward(randn(1, 2, 3), randn(2, 3, 2))).toThrow(
      "relu_backward: dA expects shape [3,2] (the shape of relu's Z) but got [2,3]",
    );
    expect(() => softmax_cross_entropy(randn(1, 2, 3), [0, 3])).toThrow(
      "softmax_cross_entropy: Y expects class indices in 0..2 but got number 3 at 1",
    );
    expect(() => softmax_cross_entropy(randn(1, 2, 3), [0])).toThrow(
      "softmax_cross_entropy: Y expects 2 class indices (one per row of Z) but got 1",
    );
    expect(() => flatten(new NDArray(new Float64Array(1), []))).toThrow(
      "flatten: A expects at least one axis (the batch) but got a scalar",
    );
    expect(memory().arenaBytesInUse).toBe(0);
  });
});
