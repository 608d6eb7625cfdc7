import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  NDArray,
  RandomState,
  array,
  init,
  pool_forward,
  pool_backward,
  create_mask_from_window,
  distribute_value,
  poolForward,
  poolBackward,
  createMaskFromWindow,
  distributeValue,
} from "convwasm";
import * as reference from "convwasm/reference";
import { decode, dot, expectClose, expectIdentical, fixture, randn, stridedCopy, type Encoded } from "../helpers.js";

beforeAll(() => init());

type Dims = [m: number, h: number, w: number, c: number, f: number, stride: number];
const MODES = ["max", "average"] as const;

function name([m, h, w, c, f, s]: Dims): string {
  return `A=[${m},${h},${w},${c}] f=${f} s=${s}`;
}

function checkAgainstReference([m, h, w, c, f, stride]: Dims, seed: number): void {
  const A = randn(seed, m, h, w, c);
  const hp = { f, stride };
  for (const mode of MODES) {
    const [Y, cache] = pool_forward(A, hp, mode);
    expectClose(Y, reference.pool_forward(A, hp, mode), 1e-14);
    const dY = randn(seed + 1, ...Y.shape);
    expectClose(pool_backward(dY, cache, mode), reference.pool_backward(dY, A, hp, mode), 1e-14);
  }
}

describe("pool_forward / pool_backward against numpy (scripts/fixtures.py)", () => {
  type Out = { A: number[]; dA_prev: number[] };
  const cases = fixture<{ op: string; seed: number; dims: Dims; max: Out; average: Out }[]>("cases.json").filter(
    (c) => c.op === "pool",
  );
  for (const c of cases) {
    it(name(c.dims), () => {
      const [m, h, w, ch, f, stride] = c.dims;
      const rs = new RandomState(c.seed);
      const A = rs.randn(m, h, w, ch);
      for (const mode of MODES) {
        const [Y, cache] = pool_forward(A, { f, stride }, mode);
        expectClose(Y, decode(c[mode].A, [...Y.shape]), 1e-14);
        expectClose(pool_backward(rs.randn(...Y.shape), cache, mode), decode(c[mode].dA_prev, [m, h, w, ch]), 1e-14);
      }
    });
  }
});

describe("pool ops against the plain-TS reference", () => {
  const edges: [string, Dims][] = [
    ["1×1 input", [1, 1, 1, 1, 1, 1]],
    ["window == input", [2, 4, 4, 3, 4, 1]],
    ["stride > f", [2, 9, 9, 2, 2, 3]],
    ["overlapping windows", [2, 6, 6, 3, 3, 1]],
    ["non-square input", [1, 3, 10, 2, 2, 2]],
    ["one channel", [3, 5, 5, 1, 2, 2]],
    ["many channels", [1, 4, 4, 65, 2, 2]],
  ];
  for (const [label, dims] of edges) it(`${name(dims)} (${label})`, () => checkAgainstReference(dims, 5));

  it("random shapes (property)", () => {
    const dims = fc
      .tuple(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 6 }),
      )
      .chain(([m, h, w, c]) =>
        fc.tuple(
          fc.constant([m, h, w, c]),
          fc.integer({ min: 1, max: Math.min(h, w) }),
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 0, max: 1000 }),
        ),
      );
    fc.assert(
      fc.property(dims, ([[m, h, w, c], f, stride, seed]) => checkAgainstReference([m, h, w, c, f, stride], seed)),
      { numRuns: 150 },
    );
  });

  // large rows make several bands per image (bands of ~256 KiB): overlapping windows carry rows across
  // band boundaries, and windows with gaps between them leave rows untouched
  for (const dims of [
    [2, 40, 300, 16, 3, 1],
    [1, 41, 300, 16, 3, 2],
    [1, 40, 300, 16, 2, 3],
    [1, 37, 257, 17, 4, 4],
  ] as Dims[]) {
    it(`${name(dims)} (several bands per image)`, () => checkAgainstReference(dims, 9));
  }

  it("tied maxima all receive the gradient (A=[1,2,2,1] all equal, f=2)", () => {
    const A = array([
      [
        [[1], [1]],
        [[1], [1]],
      ],
    ]);
    const [, cache] = pool_forward(A, { f: 2, stride: 1 });
    expect(Array.from(pool_backward(array([[[[3]]]]), cache).toFloat64Array())).toEqual([3, 3, 3, 3]);
  });
});

describe("pool ops on strided views", () => {
  it("A=[2,6,5,3] as a transposed NCHW buffer and a strided dA: identical to contiguous", () => {
    const view = randn(31, 2, 3, 6, 5).transpose(0, 2, 3, 1);
    const A = new NDArray(view.toFloat64Array(), [2, 6, 5, 3]);
    for (const mode of MODES) {
      const hp = { f: 3, stride: 2 };
      const [Y, cache] = pool_forward(A, hp, mode);
      const [Yv, cacheV] = pool_forward(view, hp, mode);
      expectIdentical(Yv, Y);
      const dY = randn(32, ...Y.shape);
      expectIdentical(pool_backward(stridedCopy(dY), cacheV, mode), pool_backward(dY, cache, mode));
    }
  });
});

describe("pool ops on a strided view spread over several bands", () => {
  it("A=[2,30,300,16] as a transposed NCHW buffer, f=3 s=2: identical to contiguous", () => {
    const view = randn(33, 2, 16, 30, 300).transpose(0, 2, 3, 1);
    const A = new NDArray(view.toFloat64Array(), [2, 30, 300, 16]);
    const hp = { f: 3, stride: 2 };
    for (const mode of MODES) {
      const [Y, cache] = pool_forward(A, hp, mode);
      const [Yv, cacheV] = pool_forward(view, hp, mode);
      expectIdentical(Yv, Y);
      const dY = randn(34, ...Y.shape);
      expectIdentical(pool_backward(stridedCopy(dY), cacheV, mode), pool_backward(dY, cache, mode));
      expectClose(pool_backward(dY, cache, mode), reference.pool_backward(dY, A, hp, mode), 1e-14);
    }
  });
});

describe("pool_backward: central finite differences", () => {
  for (const dims of [
    [2, 5, 4, 3, 2, 1],
    [1, 6, 6, 2, 3, 2],
    [1, 4, 7, 1, 2, 3],
  ] as Dims[]) {
    it(name(dims), () => {
      const [m, h, w, c, f, stride] = dims;
      const A = randn(41, m, h, w, c);
      const hp = { f, stride };
      for (const mode of MODES) {
        const [Y, cache] = pool_forward(A, hp, mode);
        const G = randn(42, ...Y.shape);
        const g = pool_backward(G, cache, mode).toFloat64Array();
        // small enough that no window's maximum changes (random values have no near-ties at this scale)
        const eps = 1e-7;
        for (let j = 0; j < A.size; j++) {
          const keep = A.data[j];
          A.data[j] = keep + eps;
          const up = dot(pool_forward(A, hp, mode)[0], G);
          A.data[j] = keep - eps;
          const down = dot(pool_forward(A, hp, mode)[0], G);
          A.data[j] = keep;
          const numeric = (up - down) / (2 * eps);
          expect(Math.abs(numeric - g[j]), `${mode} dA_prev[${j}]: ${numeric} vs ${g[j]}`).toBeLessThan(1e-6);
        }
      }
    });
  }
});

describe("NaN and Inf propagate as numpy's", () => {
  it("A=[2,4,4,2] with NaN, ±Inf and ties, f=2 s=2; dA with an Inf", () => {
    const p = fixture<{ pool: { A_prev: Encoded; dims: Dims } & Record<"max" | "average", Record<string, Encoded>> }>(
      "nonfinite.json",
    ).pool;
    const [m, h, w, c, f, stride] = p.dims;
    const A = decode(p.A_prev, [m, h, w, c]);
    for (const mode of MODES) {
      const [Y, cache] = pool_forward(A, { f, stride }, mode);
      expectClose(Y, decode(p[mode].A, [...Y.shape]), 1e-14);
      expectClose(
        pool_backward(decode(p[mode].dA, [...Y.shape]), cache, mode),
        decode(p[mode].dA_prev, [m, h, w, c]),
        1e-14,
      );
    }
  });
});

describe("create_mask_from_window", () => {
  it("x=[2,3] from seed 1: the notebook's mask", () => {
    const x = new RandomState(1).randn(2, 3);
    expect(create_mask_from_window(x).toNested()).toEqual([
      [1, 0, 0],
      [0, 0, 0],
    ]);
  });
  it("every tied maximum is marked; a NaN marks nothing (x == max(x) with max NaN)", () => {
    expect(
      create_mask_from_window(
        array([
          [2, 1],
          [2, -3],
        ]),
      ).toNested(),
    ).toEqual([
      [1, 0],
      [1, 0],
    ]);
    expect(
      create_mask_from_window(
        array([
          [2, NaN],
          [2, -3],
        ]),
      ).toNested(),
    ).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect(create_mask_from_window(array([-Infinity, -Infinity])).toNested()).toEqual([1, 1]);
  });
  it("works on views and keeps the shape", () => {
    const x = randn(3, 3, 2).transpose();
    expect(create_mask_from_window(x).shape).toEqual([2, 3]);
    expect(createMaskFromWindow).toBe(create_mask_from_window);
  });
});

describe("distribute_value", () => {
  it("dz=2 shape=[2,2] -> 0.5 everywhere", () => {
    expect(distribute_value(2, [2, 2]).toNested()).toEqual([
      [0.5, 0.5],
      [0.5, 0.5],
    ]);
    expect(distribute_value(1, [3, 1]).toString()).toBe("[[0.33333333]\n [0.33333333]\n [0.33333333]]");
    expect(distributeValue).toBe(distribute_value);
    expect(poolForward).toBe(pool_forward);
    expect(poolBackward).toBe(pool_backward);
  });
});
