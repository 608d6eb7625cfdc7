import { describe, expect, it, beforeAll } from "vitest";
import { init, random, zero_pad, conv_forward, conv_backward, pool_forward, pool_backward } from "convwasm";
import { replayNotebook, formatChecks } from "convwasm/notebook";
import { fixture, decode, expectClose } from "./helpers.js";

interface Notebook {
  zero_pad: { x_pad: number[]; shape: number[] };
  conv_forward: { Z: number[]; mean: number };
  conv_backward: { dA: number[]; dW: number[]; db: number[]; meanA: number; meanW: number; meanb: number };
  pool_forward: { max: number[]; average: number[] };
  pool_backward: { meandA: number; max: number[]; average: number[] };
}

const nb = fixture<Notebook>("notebook.json");
beforeAll(() => init());

describe("the notebook replay", () => {
  it("every cell's value matches the notebook's expected output", async () => {
    const checks = await replayNotebook();
    expect(checks.length).toBe(19);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(formatChecks(checks)).toContain("all 19 notebook values match ✓");
  });
});

describe("the notebook's cells, every element against numpy", () => {
  it("zero_pad x=[4,3,3,2] pad=2", () => {
    random.seed(1);
    expectClose(zero_pad(random.randn(4, 3, 3, 2), 2), decode(nb.zero_pad.x_pad, nb.zero_pad.shape), 0);
  });

  it("conv_forward / conv_backward A=[10,4,4,3] W=[2,2,3,8] s=2 p=2", () => {
    random.seed(1);
    const A = random.randn(10, 4, 4, 3);
    const W = random.randn(2, 2, 3, 8);
    const b = random.randn(1, 1, 1, 8);
    const [Z, cache] = conv_forward(A, W, b, { pad: 2, stride: 2 });
    expectClose(Z, decode(nb.conv_forward.Z, [10, 4, 4, 8]), 1e-12);
    expect(Z.mean()).toBeCloseTo(nb.conv_forward.mean, 15);
    const [dA, dW, db] = conv_backward(Z, cache);
    expectClose(dA, decode(nb.conv_backward.dA, [10, 4, 4, 3]), 1e-12);
    expectClose(dW, decode(nb.conv_backward.dW, [2, 2, 3, 8]), 1e-12);
    expectClose(db, decode(nb.conv_backward.db, [1, 1, 1, 8]), 1e-12);
    expect(Math.abs(dA.mean() / nb.conv_backward.meanA - 1)).toBeLessThan(1e-12);
    expect(Math.abs(dW.mean() / nb.conv_backward.meanW - 1)).toBeLessThan(1e-12);
    expect(Math.abs(db.mean() / nb.conv_backward.meanb - 1)).toBeLessThan(1e-12);
  });

  it("pool_forward A=[2,4,4,3] f=3 s=2, max and average", () => {
    random.seed(1);
    const A = random.randn(2, 4, 4, 3);
    expectClose(pool_forward(A, { stride: 2, f: 3 })[0], decode(nb.pool_forward.max, [2, 1, 1, 3]), 0);
    expectClose(
      pool_forward(A, { stride: 2, f: 3 }, "average")[0],
      decode(nb.pool_forward.average, [2, 1, 1, 3]),
      1e-14,
    );
  });

  it("pool_backward A=[5,5,3,2] f=2 s=1, max and average", () => {
    random.seed(1);
    const A = random.randn(5, 5, 3, 2);
    const [, cache] = pool_forward(A, { stride: 1, f: 2 });
    const dA = random.randn(5, 4, 2, 2);
    expect(dA.mean()).toBe(nb.pool_backward.meandA);
    expectClose(pool_backward(dA, cache, "max"), decode(nb.pool_backward.max, [5, 5, 3, 2]), 0);
    expectClose(pool_backward(dA, cache, "average"), decode(nb.pool_backward.average, [5, 5, 3, 2]), 1e-14);
  });
});
