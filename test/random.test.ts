import { describe, expect, it } from "vitest";
import { RandomState, random } from "convwasm";
import { fixture } from "./helpers.js";

/** Distance in units in the last place between two doubles of the same sign. */
function ulps(a: number, b: number): number {
  const buf = new BigInt64Array(2);
  new Float64Array(buf.buffer).set([a, b]);
  return Math.abs(Number(buf[0] - buf[1]));
}

describe("RandomState reproduces numpy's legacy stream", () => {
  it("permutation(n) as np.random.RandomState(seed).permutation(n) (values from numpy 2.4)", () => {
    expect(Array.from(new RandomState(0).permutation(10))).toEqual([2, 8, 4, 9, 1, 6, 7, 3, 0, 5]);
    const p = new RandomState(0).permutation(10000);
    expect(Array.from(p.subarray(0, 8))).toEqual([9394, 898, 2398, 5906, 2343, 8225, 5506, 6451]);
    expect(Array.from(p.subarray(-4))).toEqual([4859, 3264, 9845, 2732]);
    expect(p.reduce((s, v, i) => s + v * i, 0)).toBe(249197439393);
    // it continues the stream: randn(3), then permutation(7), then random_sample()
    const rs = new RandomState(5);
    rs.randn(3);
    expect(Array.from(rs.permutation(7))).toEqual([2, 1, 4, 6, 5, 0, 3]);
    expect(rs.random()).toBe(0.8082816830332671);
    expect(() => rs.permutation(-1)).toThrow("permutation: n expects an integer in [0, 2**31) but got -1");
  });

  for (const { seed, values } of fixture<{ seed: number; values: number[] }[]>("randn.json")) {
    it(`seed ${seed}: randn(${values.length}) within 1 ulp of numpy`, () => {
      const got = new RandomState(seed).randn(values.length).toFloat64Array();
      values.forEach((v, i) => expect(ulps(got[i], v), `value ${i}: ${got[i]} vs ${v}`).toBeLessThanOrEqual(1));
    });
  }

  it("seed(1) then randn(3) gives the documented values; the cached second normal is used", () => {
    const rs = new RandomState(1);
    expect(Array.from(rs.randn(3).toFloat64Array())).toEqual([
      1.6243453636632417, -0.6117564136500754, -0.5281717522634557,
    ]);
  });

  it("randn(a, b) continues the same stream as randn(a * b); reseeding restarts it", () => {
    const rs = new RandomState(5);
    const a = rs.randn(2, 3).toFloat64Array();
    rs.seed(5);
    expect(Array.from(rs.randn(6).toFloat64Array())).toEqual(Array.from(a));
    expect(typeof rs.randn()).toBe("number");
  });

  it("module-level random.seed / random.randn", () => {
    random.seed(1);
    expect(random.randn(4, 3, 3, 2).get(1, 1, 0, 0)).toBeCloseTo(0.90085595, 8);
  });

  it("rejects bad seeds and shapes", () => {
    expect(() => new RandomState(-1)).toThrow("seed: expects an integer in [0, 2**32) but got -1");
    expect(() => new RandomState(2 ** 32)).toThrow(RangeError);
    expect(() => new RandomState(1.5)).toThrow(RangeError);
    expect(() => new RandomState(1).randn(2, -1)).toThrow("randn: dimensions expect integers >= 0 but got [2,-1]");
  });
});
