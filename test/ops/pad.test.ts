import { beforeAll, describe, expect, it } from "vitest";
import { init, zero_pad, zeroPad } from "convwasm";
import { zero_pad as reference } from "convwasm/reference";
import { expectIdentical, randn, stridedCopy } from "../helpers.js";

beforeAll(() => init());

describe("zero_pad", () => {
  const shapes: [number[], number][] = [
    [[1, 1, 1, 1], 0],
    [[1, 1, 1, 1], 3],
    [[4, 3, 3, 2], 2],
    [[2, 5, 2, 3], 1],
    [[3, 2, 7, 1], 4],
  ];
  for (const [shape, pad] of shapes) {
    it(`x=[${shape}] pad=${pad} matches the reference, contiguous and strided`, () => {
      const x = randn(shape.length + pad, ...shape);
      const expected = reference(x, pad);
      expectIdentical(zero_pad(x, pad), expected);
      expectIdentical(zero_pad(stridedCopy(x), pad), expected);
      expectIdentical(zeroPad(x.transpose(0, 2, 1, 3), pad), reference(x.transpose(0, 2, 1, 3), pad));
    });
  }

  it("keeps NaN and Inf and pads with +0", () => {
    const x = randn(1, 1, 2, 2, 1);
    x.set(0, 0, 0, 0, NaN);
    x.set(0, 1, 1, 0, -Infinity);
    const p = zero_pad(x, 1);
    expect(p.get(0, 1, 1, 0)).toBeNaN();
    expect(p.get(0, 2, 2, 0)).toBe(-Infinity);
    expect(Object.is(p.get(0, 0, 0, 0), 0)).toBe(true);
  });
});
