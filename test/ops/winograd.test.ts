// Winograd F(2×2, 3×3), F(4×4, 3×3) and F(2×2, 5×5): accuracy against the direct loops and the float64
// oracle (PyTorch fixtures), with values scaled from 1e-3 to 1e3, on random shapes and the bench's layers;
// the same bits on 1, 2 and 3 threads; dW and db untouched; "auto" choosing; the algorithm option checked.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NDArray, RandomState, conv_backward, conv_forward, init, setThreads } from "convwasm";
import { winogradTuning } from "convwasm/internal";
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { expectIdentical, fixture, randn, shareSmallCalls } from "../helpers.js";

beforeAll(() => init());
afterAll(() => setThreads(availableParallelism() > 1 ? 2 : 1));
afterEach(() => {
  winogradTuning.tile = 0;
});
shareSmallCalls();

/**
 * The stated bounds: max |Winograd − reference| / max |reference| (the error relative to the output's
 * magnitude, as the transforms' rounding grows with it). F(2×2, 3×3) uses exact coefficients (½); F(4×4,
 * 3×3) rounds 1/6, 1/12, 1/24 and sums up to 36 terms per output with weights up to 8; F(2×2, 5×5) rounds
 * 1/3 and 2/3 as well, on the same 36 points.
 */
const BOUND = { 2: 1e-14, 4: 1e-13 } as const;
const BOUND5 = 1e-13;

function relError(a: NDArray, ref: NDArray): number {
  const [x, y] = [a.toFloat64Array(), ref.toFloat64Array()];
  let [num, den] = [0, 0];
  for (let i = 0; i < x.length; i++) {
    num = Math.max(num, Math.abs(x[i] - y[i]));
    den = Math.max(den, Math.abs(y[i]));
  }
  return num / den;
}

const scaled = (a: NDArray, s: number) =>
  new NDArray(
    Float64Array.from(a.toFloat64Array(), (v) => v * s),
    a.shape,
  );

describe("Winograd convolution", () => {
  for (const tile of [2, 4] as const) {
    it(`F(${tile}×${tile}, 3×3): within ${BOUND[tile]} of the direct loops on random shapes, pads and scales 1e-3..1e3 (Z, dA_prev, and dW by F(3×3, 2×2)); db the same bits`, () => {
      winogradTuning.tile = tile;
      let seed = 10;
      for (const [m, h, w, c, k, pad] of [
        [1, 5, 5, 1, 1, 1],
        [2, 7, 9, 16, 16, 1],
        [1, 8, 8, 3, 5, 0],
        [2, 11, 6, 17, 9, 2],
        [1, 13, 10, 4, 3, 1],
        [3, 9, 17, 8, 12, 1],
      ]) {
        for (const scale of [1e-3, 1, 1e3]) {
          const A = scaled(randn(seed++, m, h, w, c), scale);
          const W = scaled(randn(seed++, 3, 3, c, k), scale);
          const b = randn(seed++, k);
          const hp = { stride: 1, pad };
          const [Zd, cache] = conv_forward(A, W, b, hp, { algorithm: "direct" });
          const [Zw] = conv_forward(A, W, b, hp, { algorithm: "winograd" });
          expect(relError(Zw, Zd), `Z ${[m, h, w, c, k, pad]} × ${scale}`).toBeLessThan(BOUND[tile]);
          const dZ = scaled(randn(seed++, ...Zd.shape), scale);
          const [dAd, dWd, dbd] = conv_backward(dZ, cache, { algorithm: "direct" });
          const [dAw, dWw, dbw] = conv_backward(dZ, cache, { algorithm: "winograd" });
          expect(relError(dAw, dAd), `dA_prev ${[m, h, w, c, k, pad]} × ${scale}`).toBeLessThan(BOUND[tile]);
          // dW by F(3×3, 2×2) (exact coefficients, as F(2×2, 3×3)); db is the same sum
          expect(relError(dWw, dWd), `dW ${[m, h, w, c, k, pad]} × ${scale}`).toBeLessThan(BOUND[2]);
          expectIdentical(dbw, dbd);
        }
      }
    });
  }

  it(`F(2×2, 5×5): within ${BOUND5} of the direct loops forward on random shapes, pads 0..3 and scales 1e-3..1e3; the backward pass stays direct`, () => {
    let seed = 200;
    for (const [m, h, w, c, k, pad] of [
      [1, 5, 5, 1, 1, 2],
      [2, 14, 14, 16, 32, 2],
      [1, 9, 11, 5, 7, 0],
      [3, 13, 8, 17, 9, 1],
      [1, 7, 7, 3, 5, 3],
      [2, 6, 10, 24, 40, 2],
    ]) {
      for (const scale of [1e-3, 1, 1e3]) {
        const A = scaled(randn(seed++, m, h, w, c), scale);
        const W = scaled(randn(seed++, 5, 5, c, k), scale);
        const b = randn(seed++, k);
        const hp = { stride: 1, pad };
        const [Zd, cached] = conv_forward(A, W, b, hp, { algorithm: "direct" });
        const [Zw, cachew] = conv_forward(A, W, b, hp, { algorithm: "winograd" });
        expect(relError(Zw, Zd), `Z ${[m, h, w, c, k, pad]} × ${scale}`).toBeLessThan(BOUND5);
        const dZ = randn(seed++, ...Zd.shape);
        const direct = conv_backward(dZ, cached);
        conv_backward(dZ, cachew).forEach((g, i) => expectIdentical(g, direct[i]));
      }
    }
  });

  it("within 1e-12 of PyTorch float64 (Z, dA_prev and dW, scales 1e-3..1e3), and of the direct loops on the bench's resnet56 and vgg32 layers", () => {
    interface Case {
      seed: number;
      shape: [number, number, number, number, number];
      pad: number;
      scale: number;
      Z: number[];
      dA: number[];
      dW: number[];
    }
    const cases = fixture<Case[]>("winograd.json");
    expect(cases.length).toBe(15);
    for (const tile of [2, 4] as const) {
      winogradTuning.tile = tile;
      for (const { seed, shape, pad, scale, Z: z, dA: da, dW: dw } of cases) {
        const [m, h, w, c, k] = shape;
        const rs = new RandomState(seed);
        const A = scaled(rs.randn(m, h, w, c), scale);
        const W = scaled(rs.randn(3, 3, c, k), scale);
        const b = rs.randn(k);
        const [Z, cache] = conv_forward(A, W, b, { stride: 1, pad }, { algorithm: "winograd" });
        const dZ = scaled(rs.randn(...Z.shape), scale);
        const [dA, dW] = conv_backward(dZ, cache, { algorithm: "winograd" });
        const what = `F(${tile}) ${shape} pad ${pad} × ${scale}`;
        expect(relError(Z, new NDArray(Float64Array.from(z), Z.shape)), what).toBeLessThan(1e-12);
        expect(relError(dA, new NDArray(Float64Array.from(da), dA.shape)), what).toBeLessThan(1e-12);
        expect(relError(dW, new NDArray(Float64Array.from(dw), dW.shape)), what).toBeLessThan(1e-12);
      }
    }
    winogradTuning.tile = 0;
    for (const [m, h, c, k] of [
      [1, 56, 64, 64],
      [8, 32, 32, 64],
    ]) {
      const A = randn(40, m, h, h, c);
      const W = randn(41, 3, 3, c, k);
      const b = randn(42, k);
      const [Zd] = conv_forward(A, W, b, { stride: 1, pad: 1 }, { algorithm: "direct" });
      const [Zw] = conv_forward(A, W, b, { stride: 1, pad: 1 }, { algorithm: "winograd" });
      expect(relError(Zw, Zd)).toBeLessThan(1e-12);
    }
  });

  it("F(2×2, 5×5): within 1e-12 of PyTorch float64 (Z, scales 1e-3..1e3)", () => {
    interface Case {
      seed: number;
      shape: [number, number, number, number, number];
      pad: number;
      scale: number;
      Z: number[];
    }
    const cases = fixture<Case[]>("winograd5.json");
    expect(cases.length).toBe(12);
    for (const { seed, shape, pad, scale, Z: z } of cases) {
      const [m, h, w, c, k] = shape;
      const rs = new RandomState(seed);
      const A = scaled(rs.randn(m, h, w, c), scale);
      const W = scaled(rs.randn(5, 5, c, k), scale);
      const b = rs.randn(k);
      const [Z] = conv_forward(A, W, b, { stride: 1, pad }, { algorithm: "winograd" });
      expect(relError(Z, new NDArray(Float64Array.from(z), Z.shape)), `${shape} pad ${pad} × ${scale}`).toBeLessThan(
        1e-12,
      );
    }
  });

  it("gives the same bits on 1, 2 and 3 threads", async () => {
    const A = randn(50, 2, 20, 18, 32);
    const W = randn(51, 3, 3, 32, 40);
    const W5 = randn(54, 5, 5, 32, 40);
    const b = randn(52, 40);
    const hp = { stride: 1, pad: 1 };
    const results: NDArray[][] = [];
    for (const threads of [1, 2, 3]) {
      await setThreads(threads);
      const [Z, cache] = conv_forward(A, W, b, hp, { algorithm: "winograd" });
      const [dA] = conv_backward(randn(53, ...Z.shape), cache, { algorithm: "winograd" });
      const [Z5] = conv_forward(A, W5, b, { stride: 1, pad: 2 }, { algorithm: "winograd" });
      results.push([Z, dA, Z5]);
    }
    for (const r of results.slice(1)) r.forEach((a, i) => expectIdentical(a, results[0][i]));
  });

  it('"auto" takes Winograd for a large 3×3 layer and the direct loops (numpy\'s order) for small or other ones', () => {
    const A = randn(60, 1, 24, 24, 32);
    const W = randn(61, 3, 3, 32, 32);
    const b = randn(62, 32);
    const hp = { stride: 1, pad: 1 };
    const [direct] = conv_forward(A, W, b, hp, { algorithm: "direct" });
    const [winograd] = conv_forward(A, W, b, hp, { algorithm: "winograd" });
    expect(winograd.toFloat64Array()).not.toEqual(direct.toFloat64Array());
    expectIdentical(conv_forward(A, W, b, hp)[0], winograd);
    // 8 channels: direct
    const a8 = randn(63, 1, 24, 24, 8);
    const w8 = randn(64, 3, 3, 8, 8);
    const b8 = randn(65, 8);
    expectIdentical(conv_forward(a8, w8, b8, hp)[0], conv_forward(a8, w8, b8, hp, { algorithm: "direct" })[0]);
    // stride 2: direct
    const [s2] = conv_forward(A, W, b, { stride: 2, pad: 1 });
    expectIdentical(s2, conv_forward(A, W, b, { stride: 2, pad: 1 }, { algorithm: "direct" })[0]);
    // 5×5: Winograd from 8 input and 16 output channels on 2048 output pixels (a call transforms its own
    // filters); one 16×16 image, or 8 output channels: direct
    const [A5, W5, b5] = [randn(66, 8, 16, 16, 8), randn(67, 5, 5, 8, 16), randn(68, 16)];
    const same = { stride: 1, pad: 2 };
    const [w5] = conv_forward(A5, W5, b5, same, { algorithm: "winograd" });
    expect(w5.toFloat64Array()).not.toEqual(
      conv_forward(A5, W5, b5, same, { algorithm: "direct" })[0].toFloat64Array(),
    );
    expectIdentical(conv_forward(A5, W5, b5, same)[0], w5);
    const one = randn(69, 1, 16, 16, 8);
    expectIdentical(conv_forward(one, W5, b5, same)[0], conv_forward(one, W5, b5, same, { algorithm: "direct" })[0]);
    const W58 = randn(70, 5, 5, 8, 8);
    const b58 = randn(71, 8);
    expectIdentical(conv_forward(A5, W58, b58, same)[0], conv_forward(A5, W58, b58, same, { algorithm: "direct" })[0]);
  });

  it("refuses a bad algorithm, and Winograd asked of a layer it cannot compute, naming the op", async () => {
    const A = randn(70, 1, 6, 6, 2);
    const W5 = randn(71, 5, 5, 2, 2);
    const b = randn(72, 2);
    expect(() => conv_forward(A, W5, b, { stride: 1, pad: 2 }, { algorithm: "fft" as never })).toThrow(
      'conv_forward: options.algorithm expects "auto", "direct" or "winograd" but got string fft',
    );
    expect(() => conv_forward(A, W5, b, { stride: 2, pad: 2 }, { algorithm: "winograd" })).toThrow(
      'conv_forward: options.algorithm "winograd" expects a 3×3 or 5×5 convolution with stride 1, dilation 1 and one group, but this one is 5×5, stride 2×2, dilation 1×1, 1 group',
    );
    const [, cache5] = conv_forward(A, W5, b, { stride: 1, pad: 2 }, { algorithm: "winograd" });
    expect(() => conv_backward(randn(75, 1, 6, 6, 2), cache5, { algorithm: "winograd" })).toThrow(
      'conv_backward: options.algorithm "winograd" expects a 3×3 convolution with stride 1, dilation 1 and one group, but this one is 5×5, stride 1×1, dilation 1×1, 1 group',
    );
    const W3 = randn(73, 3, 3, 2, 2);
    const [, cache] = conv_forward(A, W3, b, { stride: 1, pad: 3 });
    expect(() => conv_backward(randn(74, 1, 10, 10, 2), cache, { algorithm: "winograd" })).toThrow(
      'conv_backward: options.algorithm "winograd" expects padding of at most 2 on each side for dA_prev',
    );
  });
});

describe("init({ algorithm })", () => {
  it("sets the default for calls that do not choose, and refuses a bad value", () => {
    const script = `import { init, RandomState, conv_forward } from "convwasm";
      const rs = new RandomState(1);
      const [A, W, b] = [rs.randn(1, 24, 24, 32), rs.randn(3, 3, 32, 32), rs.randn(32)];
      await init({ algorithm: "direct", threads: 1 });
      const [auto] = conv_forward(A, W, b, { stride: 1, pad: 1 });
      const [direct] = conv_forward(A, W, b, { stride: 1, pad: 1 }, { algorithm: "direct" });
      const [winograd] = conv_forward(A, W, b, { stride: 1, pad: 1 }, { algorithm: "winograd" });
      const same = (x, y) => x.data.every((v, i) => Object.is(v, y.data[i]));
      console.log(same(auto, direct), same(auto, winograd));`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    expect(out.trim()).toBe("true false");
    const bad = `import { init } from "convwasm"; init({ algorithm: "fast" }).catch((e) => console.log(e.message));`;
    expect(execFileSync(process.execPath, ["--input-type=module", "-e", bad], { encoding: "utf8" }).trim()).toBe(
      'init: algorithm expects "auto", "direct" or "winograd" but got string fast',
    );
  });
});
