// Every geometry of conv and pool (issue 10): per-axis windows and strides, per-side padding and
// "same"/"valid", dilation, groups and depthwise (with channel multipliers), b as [n_C]; padded pooling
// with ceil_mode and count_include_pad. Against PyTorch float64 (test/fixtures/geometry.json, written by
// scripts/fixtures_geometry.py), the plain-TS reference on random shapes (contiguous and strided, 1-3
// threads), and central finite differences.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  NDArray,
  RandomState,
  conv_backward,
  conv_forward,
  init,
  pool_backward,
  pool_forward,
  setThreads,
} from "convwasm";
import type { ConvHparameters, PoolHparameters } from "convwasm";
import * as reference from "convwasm/reference";
import { availableParallelism } from "node:os";
import { dot, expectClose, expectIdentical, fixture, randn, shareSmallCalls, stridedCopy } from "../helpers.js";

beforeAll(() => init());
afterAll(() => setThreads(availableParallelism() > 1 ? 2 : 1));
shareSmallCalls();

type ConvFixture = {
  op: "conv";
  name: string;
  seed: number;
  A: number[];
  W: number[];
  b: number[];
  hp: ConvHparameters;
  Z: number[];
  Zshape: number[];
  dA: number[];
  dW: number[];
  db: number[];
};
type PoolFixture = {
  op: "pool";
  name: string;
  seed: number;
  A: number[];
  hp: PoolHparameters;
  mode: "max" | "average";
  Y: number[];
  Yshape: number[];
  dA: number[];
};
const cases = fixture<(ConvFixture | PoolFixture)[]>("geometry.json");
const arr = (v: number[], shape: readonly number[]) => new NDArray(Float64Array.from(v), shape);

describe("conv_forward / conv_backward against PyTorch float64 (autograd)", () => {
  for (const c of cases.filter((x): x is ConvFixture => x.op === "conv")) {
    it(`${c.name}: A=[${c.A}] W=[${c.W}] ${JSON.stringify(c.hp)}`, () => {
      const rs = new RandomState(c.seed);
      const A = rs.randn(...c.A);
      const W = rs.randn(...c.W);
      const b = rs.randn(...c.b);
      const [Z, cache] = conv_forward(A, W, b, c.hp);
      expect(Z.shape).toEqual(c.Zshape);
      expectClose(Z, arr(c.Z, c.Zshape), 1e-12);
      const [dA, dW, db] = conv_backward(rs.randn(...Z.shape), cache);
      expectClose(dA, arr(c.dA, c.A), 1e-12);
      expectClose(dW, arr(c.dW, c.W), 1e-12);
      expect(db.shape).toEqual(c.b); // db in the shape b had
      expectClose(db, arr(c.db, c.b), 1e-12);
    });
  }
});

describe("pool_forward / pool_backward against PyTorch float64 (and numpy loops for asymmetric padding)", () => {
  for (const c of cases.filter((x): x is PoolFixture => x.op === "pool")) {
    it(`${c.name}: A=[${c.A}] ${JSON.stringify(c.hp)} ${c.mode}`, () => {
      const rs = new RandomState(c.seed);
      const A = rs.randn(...c.A);
      const [Y, cache] = pool_forward(A, c.hp, c.mode);
      expect(Y.shape).toEqual(c.Yshape);
      expectClose(Y, arr(c.Y, c.Yshape), 1e-13);
      expectClose(pool_backward(rs.randn(...Y.shape), cache, c.mode), arr(c.dA, c.A), 1e-13);
    });
  }
});

/** A random conv geometry (every option) and its inputs. */
const convCase = fc
  .record({
    m: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 9 }),
    w: fc.integer({ min: 1, max: 9 }),
    groups: fc.integer({ min: 1, max: 3 }),
    cg: fc.integer({ min: 1, max: 4 }),
    kg: fc.integer({ min: 1, max: 5 }),
    fh: fc.integer({ min: 1, max: 4 }),
    fw: fc.integer({ min: 1, max: 4 }),
    sh: fc.integer({ min: 1, max: 3 }),
    sw: fc.integer({ min: 1, max: 3 }),
    dh: fc.integer({ min: 1, max: 3 }),
    dw: fc.integer({ min: 1, max: 3 }),
    pad: fc.oneof(
      fc.constantFrom<"same" | "valid">("same", "valid"),
      fc.integer({ min: 0, max: 3 }),
      fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
      fc.tuple(
        fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
        fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
      ),
    ),
    depthwise: fc.boolean(),
    flatBias: fc.boolean(),
    seed: fc.integer({ min: 0, max: 10000 }),
  })
  .map((r) => {
    // depthwise: one input channel per group (groups = n_C_prev), any channel multiplier
    const [groups, cg] = r.depthwise ? [r.groups + r.cg, 1] : [r.groups, r.cg];
    const c = groups * cg;
    const k = groups * r.kg;
    const hp: ConvHparameters = { stride: [r.sh, r.sw], pad: r.pad, dilation: [r.dh, r.dw], groups };
    return { ...r, c, k, hp, cg, groups };
  });

/** Runs conv_forward/conv_backward on `x`'s inputs (or null when the geometry is refused as too small). */
function convOn(
  x: {
    m: number;
    h: number;
    w: number;
    c: number;
    k: number;
    cg: number;
    fh: number;
    fw: number;
    hp: ConvHparameters;
    flatBias: boolean;
    seed: number;
  },
  strided: boolean,
) {
  const rs = new RandomState(x.seed);
  const A = rs.randn(x.m, x.h, x.w, x.c);
  const W = rs.randn(x.fh, x.fw, x.cg, x.k);
  const b = x.flatBias ? rs.randn(x.k) : rs.randn(1, 1, 1, x.k);
  let out: [NDArray, ReturnType<typeof conv_forward>[1]];
  try {
    out = strided ? conv_forward(stridedCopy(A), stridedCopy(W), stridedCopy(b), x.hp) : conv_forward(A, W, b, x.hp);
  } catch (e) {
    expect((e as Error).message).toMatch(/^conv_forward: the \d+×\d+ window.* is larger than the padded input/);
    return null;
  }
  const [Z, cache] = out;
  const dZ = rs.randn(...Z.shape);
  return { A, W, b, Z, dZ, grads: conv_backward(strided ? stridedCopy(dZ) : dZ, cache) };
}

describe("conv geometry against the plain-TS reference (property: every option, contiguous and strided)", () => {
  it("random shapes, strides, windows, paddings, dilations, groups, depthwise multipliers", () => {
    let checked = 0;
    fc.assert(
      fc.property(convCase, (x) => {
        const r = convOn(x, false);
        if (r === null) return;
        checked++;
        expectClose(r.Z, reference.conv_forward(r.A, r.W, r.b, x.hp), 1e-12);
        const [rA, rW, rb] = reference.conv_backward(r.dZ, r.A, r.W, x.hp);
        expectClose(r.grads[0], rA, 1e-12);
        expectClose(r.grads[1], rW, 1e-12);
        expectClose(new NDArray(r.grads[2].toFloat64Array(), rb.shape), rb, 1e-12);
        // a strided view of every input gives the same bits
        const s = convOn(x, true)!;
        expectIdentical(s.Z, r.Z);
        s.grads.forEach((g, i) => expectIdentical(g, r.grads[i]));
      }),
      { numRuns: 200 },
    );
    expect(checked).toBeGreaterThan(100);
  });

  it("layers big enough to be shared out give the same bits on 1, 2 and 3 threads (grouped, depthwise, dilated)", async () => {
    const layers: [string, number[], number[], ConvHparameters][] = [
      ["groups 4, 'same'", [2, 24, 24, 32], [3, 3, 8, 32], { stride: 1, pad: "same", groups: 4 }],
      ["depthwise, multiplier 2, stride 2", [2, 40, 40, 24], [3, 3, 1, 48], { stride: 2, pad: "same", groups: 24 }],
      ["depthwise, dilation 2", [1, 48, 48, 32], [3, 3, 1, 32], { stride: 1, pad: "same", dilation: 2, groups: 32 }],
      [
        "dilation [2,1], stride [1,2]",
        [2, 32, 32, 16],
        [3, 3, 16, 24],
        {
          stride: [1, 2],
          pad: [
            [2, 1],
            [1, 1],
          ],
          dilation: [2, 1],
        },
      ],
    ];
    for (const [, a, w, hp] of layers) {
      const A = randn(1, ...a);
      const W = randn(2, ...w);
      const b = randn(3, w[3]);
      const results: NDArray[][] = [];
      for (const threads of [1, 2, 3]) {
        await setThreads(threads);
        const [Z, cache] = conv_forward(A, W, b, hp);
        results.push([Z, ...conv_backward(randn(4, ...Z.shape), cache)]);
      }
      for (const r of results.slice(1)) r.forEach((x, i) => expectIdentical(x, results[0][i]));
      const [rZ] = [reference.conv_forward(A, W, b, hp)];
      expectClose(results[0][0], rZ, 1e-12);
    }
  });
});

describe("conv_backward over every option: central finite differences", () => {
  const geometries: [number[], number[], ConvHparameters][] = [
    [[1, 6, 5, 4], [3, 2, 2, 4], { stride: [2, 1], pad: "same", dilation: [1, 2], groups: 2 }],
    [
      [2, 5, 6, 3],
      [3, 3, 1, 6],
      {
        stride: 1,
        pad: [
          [0, 2],
          [1, 0],
        ],
        groups: 3,
      },
    ],
    [[1, 7, 6, 2], [2, 3, 2, 3], { stride: [1, 2], pad: "same", dilation: 2 }],
  ];
  for (const [a, w, hp] of geometries) {
    it(`A=[${a}] W=[${w}] ${JSON.stringify(hp)}`, () => {
      const A = randn(5, ...a);
      const W = randn(6, ...w);
      const b = randn(7, w[3]);
      const [Z, cache] = conv_forward(A, W, b, hp);
      const G = randn(8, ...Z.shape);
      const grads = conv_backward(G, cache);
      [A, W, b].forEach((x, which) => {
        const g = grads[which].toFloat64Array();
        for (let j = 0; j < x.size; j += Math.max(1, Math.floor(x.size / 20))) {
          const v = x.data[j];
          x.data[j] = v + 1e-4;
          const up = dot(conv_forward(A, W, b, hp)[0], G);
          x.data[j] = v - 1e-4;
          const down = dot(conv_forward(A, W, b, hp)[0], G);
          x.data[j] = v;
          expect(Math.abs((up - down) / 2e-4 - g[j])).toBeLessThan(1e-7 * Math.max(1, Math.abs(g[j])));
        }
      });
    });
  }
});

/** A random pooling geometry: per-axis window and stride, padding of every form, ceil_mode, count_include_pad. */
const poolCase = fc.record({
  m: fc.integer({ min: 1, max: 2 }),
  h: fc.integer({ min: 1, max: 9 }),
  w: fc.integer({ min: 1, max: 9 }),
  c: fc.integer({ min: 1, max: 11 }),
  f: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
  stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  pad: fc.oneof(
    fc.constantFrom<"same" | "valid">("same", "valid"),
    fc.integer({ min: 0, max: 2 }),
    fc.tuple(
      fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
      fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
    ),
  ),
  ceil_mode: fc.boolean(),
  count_include_pad: fc.boolean(),
  mode: fc.constantFrom<"max" | "average">("max", "average"),
  seed: fc.integer({ min: 0, max: 10000 }),
});

describe("pool geometry against the plain-TS reference (property: every option, contiguous and strided)", () => {
  it("random shapes, windows, strides, paddings, ceil_mode, count_include_pad", () => {
    let checked = 0;
    fc.assert(
      fc.property(poolCase, ({ m, h, w, c, f, stride, pad, ceil_mode, count_include_pad, mode, seed }) => {
        const hp: PoolHparameters = { f, stride, pad, ceil_mode, count_include_pad };
        const A = randn(seed, m, h, w, c);
        let Y: NDArray;
        let cache: ReturnType<typeof pool_forward>[1];
        try {
          [Y, cache] = pool_forward(A, hp, mode);
        } catch (e) {
          expect((e as Error).message).toMatch(
            /^pool_forward: (the \d+×\d+ window is larger|the (first|last) window along)/,
          );
          expect(() => reference.pool_forward(A, hp, mode)).toThrow();
          return;
        }
        checked++;
        expectIdentical(Y, reference.pool_forward(A, hp, mode));
        const dY = randn(seed + 1, ...Y.shape);
        const dA = pool_backward(dY, cache, mode);
        expectClose(dA, reference.pool_backward(dY, A, hp, mode), 1e-14);
        const [Ys, cacheS] = pool_forward(stridedCopy(A), hp, mode);
        expectIdentical(Ys, Y);
        expectIdentical(pool_backward(stridedCopy(dY), cacheS, mode), dA);
      }),
      { numRuns: 300 },
    );
    expect(checked).toBeGreaterThan(150);
  });

  it("a window over padding only is a RangeError saying which", () => {
    const A = randn(9, 1, 4, 4, 1);
    expect(() => pool_forward(A, { f: 2, stride: 2, pad: 2 })).toThrow(
      "pool_forward: the first window along the height covers only padding (window 2, stride 2, padding [2,2], input 4); every window must cover an input element",
    );
    expect(() =>
      pool_forward(A, {
        f: 2,
        stride: 2,
        pad: [
          [0, 0],
          [0, 2],
        ],
      }),
    ).toThrow(/^pool_forward: the last window along the width covers only padding/);
    expect(() => pool_forward(A, { f: 2, stride: 1, ceil_mode: 1 as never })).toThrow(
      "pool_forward: hparameters.ceil_mode expects true or false but got number 1",
    );
  });

  it("padding never wins a max: an all-negative input padded with zeros-would-be keeps its negative maximum", () => {
    const A = new NDArray(new Float64Array(9).fill(-5), [1, 3, 3, 1]);
    const [Y] = pool_forward(A, { f: 3, stride: 1, pad: 1 });
    expect(Array.from(Y.toFloat64Array()).every((v) => v === -5)).toBe(true);
  });
});
