import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  NDArray,
  RandomState,
  init,
  conv_forward,
  conv_backward,
  conv_single_step,
  convForward,
  convBackward,
} from "convwasm";
import * as reference from "convwasm/reference";
import { decode, dot, expectClose, expectIdentical, fixture, randn, stridedCopy, type Encoded } from "../helpers.js";

beforeAll(() => init());

type Dims = [m: number, h: number, w: number, c: number, f: number, k: number, stride: number, pad: number];

function name([m, h, w, c, f, k, s, p]: Dims): string {
  return `A=[${m},${h},${w},${c}] W=[${f},${f},${c},${k}] s=${s} p=${p}`;
}

function inputs(seed: number, [m, h, w, c, f, k]: Dims) {
  return { A: randn(seed, m, h, w, c), W: randn(seed + 1, f, f, c, k), b: randn(seed + 2, 1, 1, 1, k) };
}

/** conv_forward and conv_backward against the plain-TS reference, on one shape. */
function checkAgainstReference(dims: Dims, seed: number): void {
  const [, , , , , , stride, pad] = dims;
  const { A, W, b } = inputs(seed, dims);
  const [Z, cache] = conv_forward(A, W, b, { stride, pad });
  expectClose(Z, reference.conv_forward(A, W, b, { stride, pad }), 1e-12);
  const dZ = randn(seed + 3, ...Z.shape);
  const [dA, dW, db] = conv_backward(dZ, cache);
  const [rA, rW, rb] = reference.conv_backward(dZ, A, W, { stride, pad });
  expectClose(dA, rA, 1e-12);
  expectClose(dW, rW, 1e-12);
  expectClose(db, rb, 1e-12);
}

describe("conv_forward / conv_backward against numpy (scripts/fixtures.py)", () => {
  const cases = fixture<
    { op: string; seed: number; dims: Dims; Z: number[]; dA: number[]; dW: number[]; db: number[] }[]
  >("cases.json").filter((c) => c.op === "conv");
  for (const c of cases) {
    it(name(c.dims), () => {
      const [m, h, w, ch, f, k, stride, pad] = c.dims;
      // the fixture's draws: one RandomState, A then W then b then dZ
      const rs = new RandomState(c.seed);
      const A = rs.randn(m, h, w, ch);
      const W = rs.randn(f, f, ch, k);
      const b = rs.randn(1, 1, 1, k);
      const [Z, cache] = conv_forward(A, W, b, { stride, pad });
      expectClose(Z, decode(c.Z, [...Z.shape]), 1e-12);
      const [dA, dW, db] = conv_backward(rs.randn(...Z.shape), cache);
      expectClose(dA, decode(c.dA, [m, h, w, ch]), 1e-12);
      expectClose(dW, decode(c.dW, [f, f, ch, k]), 1e-12);
      expectClose(db, decode(c.db, [1, 1, 1, k]), 1e-12);
    });
  }
});

describe("conv_forward / conv_backward against the plain-TS reference", () => {
  const edges: [string, Dims][] = [
    ["1×1 input, 1×1 window", [1, 1, 1, 1, 1, 1, 1, 0]],
    ["window == input", [2, 4, 4, 3, 4, 5, 1, 0]],
    ["window == padded input", [2, 3, 3, 2, 5, 2, 1, 1]],
    ["stride > f", [2, 9, 9, 2, 2, 3, 4, 0]],
    ["stride > f with padding", [1, 8, 7, 3, 2, 4, 3, 2]],
    ["pad >= f", [1, 3, 3, 2, 2, 2, 1, 3]],
    ["pad 0", [3, 6, 6, 4, 3, 7, 1, 0]],
    ["non-square input", [2, 3, 11, 2, 3, 2, 2, 1]],
    ["one channel", [2, 7, 5, 1, 3, 1, 1, 1]],
    ["many filters", [1, 5, 5, 3, 3, 33, 1, 1]],
    ["stride larger than the input", [1, 3, 3, 1, 2, 2, 5, 0]],
    ["channels not a multiple of 8 (k8 padding), odd taps per row", [2, 6, 7, 3, 5, 13, 1, 2]],
    ["k a multiple of 8, taps per row a multiple of 8", [1, 5, 5, 8, 2, 16, 1, 0]],
    ["one tap per row past a block of 8", [1, 6, 6, 3, 3, 17, 2, 1]],
    ["large batch", [33, 5, 4, 2, 3, 9, 1, 1]],
  ];
  for (const [label, dims] of edges) it(`${name(dims)} (${label})`, () => checkAgainstReference(dims, 7));

  it("random shapes (property)", () => {
    const dims = fc
      .tuple(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 10 }),
      )
      .chain(([m, h, w, c]) =>
        fc.tuple(
          fc.constant([m, h, w, c]),
          fc.integer({ min: 0, max: 4 }),
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 20 }),
        ),
      )
      .chain(([[m, h, w, c], pad, stride, k]) =>
        fc.tuple(
          fc.constant([m, h, w, c, pad, stride, k]),
          fc.integer({ min: 1, max: Math.min(h, w) + 2 * pad }),
          fc.integer({ min: 0, max: 1000 }),
        ),
      );
    fc.assert(
      fc.property(dims, ([[m, h, w, c, pad, stride, k], f, seed]) => {
        checkAgainstReference([m, h, w, c, f, k, stride, pad], seed);
      }),
      { numRuns: 150 },
    );
  });
});

describe("rows of A_prev that no window reaches", () => {
  it("get a zero gradient even when the arena still holds another call's data (A=[2,28,25,20] f=5 s=2 p=0)", () => {
    const dims: Dims = [2, 28, 25, 20, 5, 9, 2, 0];
    // leave large values all over the arena first
    const big = new NDArray(
      randn(90, 4, 40, 40, 20)
        .toFloat64Array()
        .map((v) => v * 1e6),
      [4, 40, 40, 20],
    );
    conv_forward(big, randn(91, 3, 3, 20, 30), randn(92, 1, 1, 1, 30), { stride: 1, pad: 1 });
    checkAgainstReference(dims, 0);
  });
});

describe("an empty batch", () => {
  it("A=[0,4,4,3] W=[2,2,3,5] s=1 p=1: empty Z and dA_prev, zero dW and db", () => {
    const [Z, cache] = conv_forward(
      new NDArray(new Float64Array(0), [0, 4, 4, 3]),
      randn(1, 2, 2, 3, 5),
      randn(2, 1, 1, 1, 5),
      {
        stride: 1,
        pad: 1,
      },
    );
    expect(Z.shape).toEqual([0, 5, 5, 5]);
    const [dA, dW, db] = conv_backward(Z, cache);
    expect(dA.shape).toEqual([0, 4, 4, 3]);
    expect(Array.from(dW.toFloat64Array()).every((v) => v === 0)).toBe(true);
    expect(Array.from(db.toFloat64Array())).toEqual([0, 0, 0, 0, 0]);
  });
});

describe("conv ops on strided views", () => {
  it("A=[3,6,5,4] as a transposed NCHW buffer, W and b and dZ strided: identical to contiguous", () => {
    const nchw = randn(11, 3, 4, 6, 5);
    const view = nchw.transpose(0, 2, 3, 1);
    expect(view.isContiguous()).toBe(false);
    const A = new NDArray(view.toFloat64Array(), [3, 6, 5, 4]);
    const W = randn(12, 3, 3, 4, 5);
    const b = randn(13, 1, 1, 1, 5);
    const hp = { stride: 2, pad: 1 };
    const [Z, cache] = conv_forward(A, W, b, hp);
    const [Zv, cacheV] = conv_forward(view, stridedCopy(W), stridedCopy(b), hp);
    expectIdentical(Zv, Z);
    const dZ = randn(14, ...Z.shape);
    const grads = conv_backward(dZ, cache);
    conv_backward(stridedCopy(dZ), cacheV).forEach((g, i) => expectIdentical(g, grads[i]));
  });

  it("A=[3,5,5,2] picked out of a larger batch with index()", () => {
    const big = randn(15, 4, 3, 5, 5, 2);
    const pick = big.index(2);
    const W = randn(16, 3, 3, 2, 3);
    const b = randn(17, 1, 1, 1, 3);
    const hp = { stride: 1, pad: 1 };
    expectIdentical(
      conv_forward(pick, W, b, hp)[0],
      conv_forward(new NDArray(pick.toFloat64Array(), [3, 5, 5, 2]), W, b, hp)[0],
    );
  });
});

describe("conv_backward: central finite differences", () => {
  // L = sum(Z * G) is linear in A, W and b, so central differences are exact up to rounding
  const cases: Dims[] = [
    [2, 5, 4, 3, 3, 2, 2, 1],
    [1, 4, 4, 2, 2, 3, 1, 0],
    [1, 3, 5, 1, 3, 2, 3, 2],
  ];
  for (const dims of cases) {
    it(name(dims), () => {
      const [, , , , , , stride, pad] = dims;
      const { A, W, b } = inputs(21, dims);
      const hp = { stride, pad };
      const [Z, cache] = conv_forward(A, W, b, hp);
      const G = randn(24, ...Z.shape);
      const loss = () => dot(conv_forward(A, W, b, hp)[0], G);
      const grads = conv_backward(G, cache);
      [A, W, b].forEach((x, which) => {
        const g = grads[which].toFloat64Array();
        const eps = 1e-4;
        for (let j = 0; j < x.size; j += Math.max(1, Math.floor(x.size / 25))) {
          const keep = x.data[j];
          x.data[j] = keep + eps;
          const up = loss();
          x.data[j] = keep - eps;
          const down = loss();
          x.data[j] = keep;
          const numeric = (up - down) / (2 * eps);
          expect(Math.abs(numeric - g[j]), `${["dA", "dW", "db"][which]}[${j}]: ${numeric} vs ${g[j]}`).toBeLessThan(
            1e-8 * Math.max(1, Math.abs(g[j])),
          );
        }
      });
    });
  }
});

describe("NaN and Inf propagate as numpy's", () => {
  it("A=[1,3,3,2] with a NaN, W=[2,2,2,2] with an Inf, s=1 p=1 (0 * Inf in the padding is NaN)", () => {
    const c = fixture<{ conv: Record<string, Encoded> & { dims: Dims } }>("nonfinite.json").conv;
    const [m, h, w, ch, f, k] = c.dims;
    const A = decode(c.A, [m, h, w, ch]);
    const W = decode(c.W, [f, f, ch, k]);
    const b = decode(c.b, [1, 1, 1, k]);
    const [Z, cache] = conv_forward(A, W, b, { stride: 1, pad: 1 });
    expectClose(Z, decode(c.Z, [...Z.shape]), 1e-12);
    const [dA, dW, db] = conv_backward(decode(c.dZ, [...Z.shape]), cache);
    expectClose(dA, decode(c.dA, [m, h, w, ch]), 1e-12);
    expectClose(dW, decode(c.dW, [f, f, ch, k]), 1e-12);
    expectClose(db, decode(c.db, [1, 1, 1, k]), 1e-12);
  });
});

describe("conv_single_step", () => {
  it("a=[4,4,3] W=[4,4,3] b=[1,1,1]: the notebook's -6.99908945068, summed as numpy", () => {
    const rs = new RandomState(1);
    const a = rs.randn(4, 4, 3);
    const W = rs.randn(4, 4, 3);
    const b = rs.randn(1, 1, 1);
    expect(conv_single_step(a, W, b)).toBeCloseTo(-6.99908945068, 10);
    expect(conv_single_step(a, W, b.get(0, 0, 0))).toBe(conv_single_step(a, W, b));
    expect(conv_single_step(a.transpose(1, 0, 2), W.transpose(1, 0, 2), b)).toBeCloseTo(conv_single_step(a, W, b), 12);
  });
});

describe("camelCase aliases", () => {
  it("are the same functions", () => {
    expect(convForward).toBe(conv_forward);
    expect(convBackward).toBe(conv_backward);
  });
});
