// The conv kernels take a range of output rows (r0..r1 of the batch's m*nH rows), so work can be split
// (across threads, later): split ranges must give exactly what one call gives.
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "convwasm";
import { wasm } from "convwasm/internal";
import { randn } from "../helpers.js";

beforeAll(() => init());

// A=[2,5,6,3] padded by 1, W=[3,3,3,10] (k8 = 16), stride 2: nH = 3, nW = 3, 6 output rows in all
const [m, h, w, c, f, k, k8, stride, pad] = [2, 5, 6, 3, 3, 10, 16, 2, 1];
const [hp, wp] = [h + 2 * pad, w + 2 * pad];
const [nH, nW] = [Math.floor((hp - f) / stride) + 1, Math.floor((wp - f) / stride) + 1];
const rows = m * nH;
const splits = [
  [0, rows],
  [0, 1, rows],
  [0, 2, 3, rows],
  [0, 1, 2, 3, 4, 5, rows],
];

/** Runs `body` with random inputs placed in the arena; returns the named outputs after each split. */
function run(
  body: (ranges: [number, number][], at: (name: string) => number) => void,
  outputs: Record<string, number>,
) {
  const { arena } = wasm("test").single;
  return splits.map((cuts) =>
    arena.scope(() => {
      const ptrs: Record<string, number> = {};
      const inputs: Record<string, number> = {
        xp: m * hp * wp * c,
        wpk: f * f * c * k8,
        wt: f * Math.ceil((f * c) / 8) * 8 * k,
        b8: k8,
        dz: m * nH * nW * k8,
      };
      Object.entries(inputs).forEach(([name, n], j) => {
        ptrs[name] = arena.alloc("test", name, n * 8);
        arena.f64(ptrs[name], n).set(randn(50 + j, n).toFloat64Array());
      });
      for (const [name, n] of Object.entries(outputs)) ptrs[name] = arena.zeros("test", name, n);
      const ranges = cuts.slice(1).map((end, q) => [cuts[q], end] as [number, number]);
      body(ranges, (name) => ptrs[name]);
      return Object.fromEntries(
        Object.entries(outputs).map(([name, n]) => [name, Array.from(arena.f64(ptrs[name], n))]),
      );
    }),
  );
}

describe("conv kernels on split ranges of output rows", () => {
  /** conv_backward_filter on the test's geometry, for output rows r0..r1 and tap units u0..u1. */
  const filter = (at: (name: string) => number, r0: number, r1: number, u0: number, u1: number) =>
    wasm("test").single.kernels.conv_backward_filter(at("xp"), hp, wp, c, c, f, f, 1, 1, k8, stride, stride, at("dz"),
      k8, nH, nW, at("dw"), r0, r1, u0, u1); // prettier-ignore
  it(`conv_forward A=[${m},${h},${w},${c}] W=[${f},${f},${c},${k}] s=${stride} p=${pad}: any split gives the same Z`, () => {
    const { kernels: K } = wasm("test").single;
    const forward = (at: (name: string) => number, r0: number, r1: number) =>
      K.conv_forward(
        at("xp"),
        hp,
        wp,
        c,
        c,
        at("wpk"),
        f,
        f,
        1,
        1,
        k8,
        at("b8"),
        stride,
        stride,
        at("z"),
        k8,
        nH,
        nW,
        r0,
        r1,
        0,
        0,
      );
    const results = run(
      (ranges, at) => {
        for (const [r0, r1] of ranges) forward(at, r0, r1);
      },
      { z: rows * nW * k8 },
    );
    for (const r of results) expect(r).toEqual(results[0]);
    // and a range covers its rows only: rows 1..2 alone leave rows 0 and 3.. untouched (zero)
    const [part] = run((_, at) => forward(at, 1, 3), { z: rows * nW * k8 });
    const row = nW * k8;
    expect(part.z.slice(row, 3 * row)).toEqual(results[0].z.slice(row, 3 * row));
    expect(part.z.slice(0, row).every((v) => v === 0)).toBe(true);
    expect(part.z.slice(3 * row).every((v) => v === 0)).toBe(true);
  });

  it("conv_backward_filter, conv_backward_bias and conv_backward_input: consecutive ranges in order give one call's dW, db and dA_prev", () => {
    const { kernels: K } = wasm("test").single;
    const units = f * Math.ceil((f * c) / 2);
    const results = run(
      (ranges, at) => {
        for (const [r0, r1] of ranges) {
          filter(at, r0, r1, 0, units);
          K.conv_backward_bias(at("dz"), k8, k8, nW, at("db"), r0, r1);
          K.conv_backward_input(
            at("wt"),
            f,
            f,
            c,
            c,
            1,
            1,
            k,
            k8,
            stride,
            stride,
            at("dz"),
            nH,
            nW,
            at("dxp"),
            hp,
            wp,
            r0,
            r1,
          );
        }
      },
      { dw: f * f * c * k8, db: k8, dxp: m * hp * wp * c },
    );
    for (const r of results) expect(r).toEqual(results[0]);
    expect(results[0].dw.some((v) => v !== 0)).toBe(true);
    expect(results[0].db.some((v) => v !== 0)).toBe(true);
  });

  it("conv_backward_filter: any split of the tap units (units of 2 taps; f*c = 9 is odd) gives one call's dW", () => {
    const units = f * Math.ceil((f * c) / 2); // 15: each kernel row ends with a single tap
    const results = [
      [0, units],
      [0, 4, units],
      [0, 5, 9, 10, units],
    ].map(
      (cuts) =>
        run(
          (_, at) => {
            for (let q = 1; q < cuts.length; q++) filter(at, 0, rows, cuts[q - 1], cuts[q]);
          },
          { dw: f * f * c * k8 },
        )[0],
    );
    for (const r of results) expect(r).toEqual(results[0]);
  });
});
