import { describe, expect, it } from "vitest";
import { NDArray, array, zeros } from "convwasm";
import { fixture, decode, type Encoded } from "./helpers.js";

describe("NDArray", () => {
  it("array(Float64Array, shape) shares the data; shape, strides, size, ndim", () => {
    const data = Float64Array.from({ length: 24 }, (_, i) => i);
    const a = array(data, [2, 3, 4]);
    expect(a.data).toBe(data);
    expect(a.shape).toEqual([2, 3, 4]);
    expect(a.strides).toEqual([12, 4, 1]);
    expect(a.size).toBe(24);
    expect(a.ndim).toBe(3);
    expect(a.get(1, 2, 3)).toBe(23);
    expect(a.get(-1, -1, -1)).toBe(23);
  });

  it("array(nested) and array(number[], shape) copy", () => {
    const a = array([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.toFloat64Array())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(array([1, 2, 3, 4], [2, 2]).get(1, 0)).toBe(3);
    expect(array([1, 2, 3]).shape).toEqual([3]);
    expect(array(5).shape).toEqual([]);
  });

  it("zeros(shape)", () => {
    const z = zeros([2, 0, 3]);
    expect(z.size).toBe(0);
    expect(Array.from(zeros([2, 2]).toFloat64Array())).toEqual([0, 0, 0, 0]);
  });

  it("set writes through views", () => {
    const a = zeros([2, 3]);
    a.index(1).set(2, 7);
    a.transpose().set(0, 1, 5);
    expect(a.get(1, 2)).toBe(7);
    expect(a.get(1, 0)).toBe(5);
  });

  it("index(...) is numpy's A[i, j]: a view of the remaining axes", () => {
    const a = array(
      Float64Array.from({ length: 24 }, (_, i) => i),
      [2, 3, 4],
    );
    const v = a.index(1, 2);
    expect(v.shape).toEqual([4]);
    expect(v.offset).toBe(20);
    expect(v.data).toBe(a.data);
    expect(Array.from(v.toFloat64Array())).toEqual([20, 21, 22, 23]);
    expect(a.index().shape).toEqual([2, 3, 4]);
  });

  it("transpose is a view with permuted strides; toFloat64Array copies in C order", () => {
    const a = array(
      Float64Array.from({ length: 6 }, (_, i) => i),
      [2, 3],
    );
    const t = a.transpose();
    expect(t.shape).toEqual([3, 2]);
    expect(t.strides).toEqual([1, 3]);
    expect(t.isContiguous()).toBe(false);
    expect(Array.from(t.toFloat64Array())).toEqual([0, 3, 1, 4, 2, 5]);
    const b = array(
      Float64Array.from({ length: 24 }, (_, i) => i),
      [2, 3, 4],
    ).transpose(2, 0, 1);
    expect(b.shape).toEqual([4, 2, 3]);
    expect(b.get(3, 1, 2)).toBe(1 * 12 + 2 * 4 + 3);
    expect(b.toNested()).toEqual(
      Array.from({ length: 4 }, (_, i) =>
        Array.from({ length: 2 }, (_, j) => Array.from({ length: 3 }, (_, k) => j * 12 + k * 4 + i)),
      ),
    );
  });

  it("bad construction and indexing throw clear errors", () => {
    expect(() => array([1, 2, 3], [2, 2])).toThrow("array: data has 3 elements but shape [2,2] needs 4");
    expect(() => array(new Float64Array(4), [2, NaN])).toThrow("array: shape expects integers >= 0 but got [2,NaN]");
    expect(() => array(new Float64Array(4), [2, Infinity])).toThrow(RangeError);
    expect(() => array(new Float64Array(4), [-1, -4])).toThrow(RangeError);
    expect(() => array([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => zeros([1.5])).toThrow(/zeros: shape expects integers/);
    const a = zeros([2, 3]);
    expect(() => a.get(2, 0)).toThrow("NDArray.get: index 2 is out of bounds for axis 0 with size 2");
    expect(() => a.get(0)).toThrow("NDArray.get: expects 2 indices for shape [2,3] but got 1");
    expect(() => a.index(0, 0, 0)).toThrow(/at most 2 indices/);
    expect(() => a.transpose(0, 0)).toThrow(/not a permutation/);
    expect(() => new NDArray(new Float64Array(5), [2, 3])).toThrow(/reaches elements 0..5 but data has 5/);
  });

  it("mean() sums pairwise like numpy, to the last bit", () => {
    for (const { values, mean } of fixture<{ values: number[]; mean: number }[]>("mean.json")) {
      expect(array(Float64Array.from(values)).mean()).toBe(mean);
    }
  });
});

describe("NDArray.toString prints like numpy", () => {
  const cases =
    fixture<{ shape: number[]; data: (number | null)[]; special: (Encoded[number] | null)[]; str: string }[]>(
      "print.json",
    );
  for (const c of cases) {
    const values = c.data.map((v, i) => (v === null ? (c.special[i] as Encoded[number]) : v));
    it(`shape [${c.shape}] ${c.str.slice(0, 40).replace(/\n/g, " ")}`, () => {
      expect(decode(values, c.shape).toString()).toBe(c.str);
    });
  }

  it("0-d arrays print as Python's repr", () => {
    expect(array(0.048995203528855794).toString()).toBe("0.048995203528855794");
    expect(array(1e-5).toString()).toBe("1e-05");
    expect(array(1e16).toString()).toBe("1e+16");
    expect(array(2).toString()).toBe("2.0");
    expect(array(-0).toString()).toBe("-0.0");
  });

  it("strided views print their own elements", () => {
    const a = array([
      [1, 2],
      [3, 4.5],
    ]);
    expect(a.transpose().toString()).toBe("[[1.  3. ]\n [2.  4.5]]");
    expect(zeros([0]).toString()).toBe("[]");
  });
});
