// Float32 inference plans (issue 23): predict(x, { precision: "f32" }) and compile({ precision }). The f32
// plan runs the *_f32 kernels (the same AssemblyScript source as the f64 ones) on float32 activations and
// weights narrowed once; it must agree with the f64 plan within 1e-5 of each output's largest magnitude on
// graphs of every layer kind, give the same bits on 1–3 threads, and need about half the memory.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { availableParallelism } from "node:os";
import {
  NDArray,
  digitsLayers,
  init,
  input,
  layers,
  memory,
  model,
  sequential,
  setThreads,
  type SymbolicTensor,
} from "convwasm";
import { randn, shareSmallCalls } from "../helpers.js";
import { readFileSync } from "node:fs";
import { digits } from "../../examples/digits/data.js";
import { resnetDigits } from "../../examples/resnet/net.js";
import { blockList, randomModel, randomStatistics } from "./graphs.js";

beforeAll(() => init());
afterAll(() => setThreads(availableParallelism() > 1 ? 2 : 1));
// (small layers shared out to the pool too, so that 2 and 3 threads split them)
shareSmallCalls();

/** max |a − b| / max |b|: the error relative to the output's largest magnitude. */
function relToMax(a: NDArray, b: NDArray): number {
  expect(a.shape).toEqual(b.shape);
  let [d, top] = [0, 0];
  for (let i = 0; i < b.size; i++) {
    d = Math.max(d, Math.abs(a.data[i] - b.data[i]));
    top = Math.max(top, Math.abs(b.data[i]));
  }
  return top === 0 ? d : d / top;
}

describe("the f32 plan agrees with the f64 plan", () => {
  it("on random graphs of every layer kind, the same bits on 1, 2 and 3 threads", async () => {
    await fc.assert(
      fc.asyncProperty(
        blockList,
        fc.integer({ min: 1, max: 19 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        async (blocks, c, m, max) => {
          const mdl = randomModel(blocks, c, max, true);
          const X = randn(m + c, m, 7, 6, c);
          const f64 = mdl.predictAll([X]);
          let first: number[][] | null = null;
          for (const threads of [1, 2, 3]) {
            await setThreads(threads);
            const f32 = mdl.predictAll([X], { precision: "f32" });
            f32.forEach((o, j) => expect(relToMax(o, f64[j])).toBeLessThan(1e-5));
            const bits = f32.map((o) => Array.from(o.data));
            if (first) expect(bits).toEqual(first);
            first = bits;
          }
          expect(memory().arenaBytesInUse).toBe(0);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("elementwise layers on values whose size is no multiple of f32x4's 4 lanes (their tails, up to 3 elements)", () => {
    // (a fast-check run found ReLU's f32 tail doing 1 of up to 3 elements: a 1.5e-2 error at 15 channels)
    for (const c of [1, 2, 3, 5, 7, 11, 13, 15]) {
      const x = input([7, 6, c]);
      const r = layers.relu().apply(x) as SymbolicTensor;
      const y = layers.add().apply([x, r]) as SymbolicTensor;
      const m = model(x, [r, y, layers.conv2d({ filters: 3, size: 3, pad: 1 }).apply(r) as SymbolicTensor]);
      const X = randn(c, 3, 7, 6, c);
      const f64 = m.predictAll([X]);
      m.predictAll([X], { precision: "f32" }).forEach((o, j) =>
        expect(relToMax(o, f64[j]), `c ${c}`).toBeLessThan(1e-6),
      );
    }
  });

  it("the f32 plan's values are float32: each output is a float32 number widened", () => {
    const m = sequential([8, 8, 3], [layers.conv2d({ filters: 5, size: 3, pad: 1 }), layers.relu(), layers.flatten()]);
    const out = m.predict(randn(2, 2, 8, 8, 3), { precision: "f32" });
    for (const v of out.data) expect(Math.fround(v)).toBe(v);
  });

  it("Winograd-sized 3×3 layers (32 channels, 16×16, where the f64 plan uses Winograd) within 1e-5, on 1–3 threads", async () => {
    const x = input([16, 16, 32]);
    let h: SymbolicTensor = x;
    for (let i = 0; i < 3; i++) {
      const c = layers.conv2d({ filters: 32, size: 3, pad: 1, bias: i === 0 }).apply(h);
      h = layers.relu().apply(layers.add().apply([layers.batchNorm().apply(c), h]));
    }
    const m = model(x, layers.dense({ units: 5 }).apply(layers.globalAvgPool().apply(h)));
    randomStatistics(m, 7);
    const X = randn(8, 2, 16, 16, 32);
    const f64 = m.predict(X);
    const runs: number[][] = [];
    for (const threads of [1, 2, 3]) {
      await setThreads(threads);
      const f32 = m.predict(X, { precision: "f32" });
      expect(relToMax(f32, f64)).toBeLessThan(1e-5);
      runs.push(Array.from(f32.data));
    }
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
  });
});

describe("the trained networks read the same digits in f32", () => {
  it("the digits network (pretrained.npz) and the small ResNet (its pretrained.npz): the same class for all 2,000 test digits", () => {
    const { test } = digits();
    for (const [m, file] of [
      [sequential([28, 28, 1], digitsLayers()), "../../examples/digits/pretrained.npz"],
      [resnetDigits(), "../../examples/resnet/pretrained.npz"],
    ] as const) {
      m.load(readFileSync(new URL(file, import.meta.url)));
      const [P64, P32] = [m.predict(test.X), m.predict(test.X, { precision: "f32" })];
      expect(relToMax(P32, P64)).toBeLessThan(1e-5);
      const top = (P: NDArray, i: number) => {
        const row = Array.from(P.data.subarray(i * 10, i * 10 + 10));
        return row.indexOf(Math.max(...row));
      };
      for (let i = 0; i < test.y.length; i++) expect(top(P32, i)).toBe(top(P64, i));
    }
  });
});

describe("compile() and the option", () => {
  it("compile({ precision }) sets predict's default; an option overrides it for one call", () => {
    const m = sequential(
      [6, 6, 2],
      [layers.conv2d({ filters: 3, size: 3 }), layers.flatten(), layers.dense({ units: 4 })],
    );
    const X = randn(3, 2, 6, 6, 2);
    const [f64, f32] = [m.predict(X), m.predict(X, { precision: "f32" })];
    expect(Array.from(f32.data)).not.toEqual(Array.from(f64.data));
    expect(m.compile({ precision: "f32" })).toBe(m);
    expect(Array.from(m.predict(X).data)).toEqual(Array.from(f32.data));
    expect(Array.from(m.predict(X, { precision: "f64" }).data)).toEqual(Array.from(f64.data));
    m.compile({ precision: "f64" });
    expect(Array.from(m.predict(X).data)).toEqual(Array.from(f64.data));
  });

  it("refuses another precision with the function's name; a failed compile() changes nothing", () => {
    const m = sequential([4, 4, 1], [layers.flatten(), layers.dense({ units: 2 })]);
    const X = randn(4, 1, 4, 4, 1);
    const f32 = m.predict(X, { precision: "f32" });
    m.compile({ precision: "f32" });
    expect(() => m.compile({ precision: "f16" as never })).toThrow(
      'compile: options.precision expects "f64" or "f32" but got string f16',
    );
    expect(Array.from(m.predict(X).data)).toEqual(Array.from(f32.data));
    expect(() => m.predict(X, { precision: 32 as never })).toThrow(
      'predict: options.precision expects "f64" or "f32" but got number 32',
    );
    expect(() => m.predict(X, { engine: "ops" })).toThrow(
      'predict: options.engine "ops" runs in f64 only, but options.precision is "f32"',
    );
    expect(memory().arenaBytesInUse).toBe(0);
  });

  it("packs the weights again after they change (setWeights, fit)", () => {
    const x = input([6, 6, 2]);
    const h = layers.relu().apply(layers.batchNorm().apply(layers.conv2d({ filters: 4, size: 3, pad: 1 }).apply(x)));
    const m = model(x, layers.softmax().apply(layers.dense({ units: 3 }).apply(layers.globalAvgPool().apply(h))));
    const X = randn(5, 4, 6, 6, 2);
    const before = m.predict(X, { precision: "f32" });
    m.fit(X, [0, 1, 2, 0], { batchSize: 4 });
    randomStatistics(m, 40);
    const after = m.predict(X, { precision: "f32" });
    expect(Array.from(after.data)).not.toEqual(Array.from(before.data));
    expect(relToMax(after, m.predict(X))).toBeLessThan(1e-5);
  });

  it("a Float32Array of whole examples goes in as it is, in batches, to either plan", () => {
    const m = sequential([4, 4, 2], [layers.conv2d({ filters: 3, size: 3 }), layers.flatten()]);
    const X = randn(6, 5, 4, 4, 2);
    const flat = Float32Array.from(X.data);
    const widened = new NDArray(Float64Array.from(flat), [5, 4, 4, 2]);
    for (const precision of ["f32", "f64"] as const) {
      const whole = m.predict(widened, { precision });
      // batches of 2 read the Float32Array through subarrays: the same bits as the widened NDArray
      expect(Array.from(m.predict(flat, { precision, batchSize: 2 }).data)).toEqual(Array.from(whole.data));
    }
    expect(memory().arenaBytesInUse).toBe(0);
  });

  it("output: Float32Array gives the f32 plan's values as they are, in C order; an f64 plan's narrowed", () => {
    const m = sequential([6, 6, 3], [layers.conv2d({ filters: 4, size: 3, pad: 1 }), layers.relu(), layers.flatten()]);
    const X = randn(7, 3, 6, 6, 3);
    for (const precision of ["f32", "f64"] as const) {
      const nd = m.predict(X, { precision });
      const f32 = m.predict(Float32Array.from(X.data), { precision, output: "Float32Array", batchSize: 2 });
      expect(f32).toBeInstanceOf(Float32Array);
      expect(f32.length).toBe(nd.size);
      const fromX = m.predict(X, { precision, output: "Float32Array" });
      expect(Array.from(fromX)).toEqual(Array.from(nd.data, Math.fround));
      if (precision === "f32") expect(Array.from(f32)).toEqual(Array.from(nd.data));
    }
    // predictAll gives one Float32Array per output; engine "ops" narrows its float64 outputs
    const x = input([6, 6, 3]);
    const y = layers.conv2d({ filters: 2, size: 1 }).apply(x) as SymbolicTensor;
    const two = model(x, [y, layers.flatten().apply(y) as SymbolicTensor]);
    const outs = two.predictAll([X], { output: "Float32Array" });
    expect(outs.map((o) => [o.constructor, o.length])).toEqual([
      [Float32Array, 3 * 6 * 6 * 2],
      [Float32Array, 3 * 72],
    ]);
    expect(Array.from(two.predictAll([X], { engine: "ops", output: "Float32Array" })[1])).toEqual(
      Array.from(two.predictAll([X])[1].data, Math.fround),
    );
  });

  it("names a wrong output option, a Float32Array of part of an example and a non-finite float32 value", () => {
    const m = sequential([2, 2, 1], [layers.flatten(), layers.dense({ units: 2 })]);
    expect(() => m.predict(new Float32Array(4), { output: "float32" as never })).toThrow(
      'predict: options.output expects "NDArray" or "Float32Array" but got string float32',
    );
    expect(() => m.predict(new Float32Array(6), { precision: "f32" })).toThrow(
      "predict: X expects whole examples of 4 values ([2,2,1]) but got 6",
    );
    const bad = new Float32Array(8);
    bad[6] = NaN;
    expect(() => m.predict(bad, { precision: "f32", checkFinite: true })).toThrow(
      "predict: X expects finite values but X[1,1,0,0] is NaN",
    );
    expect(memory().arenaBytesInUse).toBe(0);
    expect(m.predict(new Float32Array(0), { output: "Float32Array" })).toEqual(new Float32Array(0));
  });
});

describe("memory", () => {
  it("the f32 plan's activations take half the f64 plan's (summary reports both)", () => {
    const specs = Array.from({ length: 6 }, (_, i) =>
      i % 2 === 0 ? layers.conv2d({ filters: 16, size: 3, pad: 1 }) : layers.relu(),
    );
    const m = sequential([16, 16, 16], specs);
    const [, f64, f32] = /predict's activations: ([\d.]+) KiB an example in f64, ([\d.]+) KiB in f32/
      .exec(m.summary())!
      .map(Number);
    expect(f64).toBeGreaterThan(0);
    // (to the summary's 0.1 KiB: with the input's slot padded for its conv, 72.5 KiB halves to 36.25)
    expect(Math.abs(f32 - f64 / 2)).toBeLessThanOrEqual(0.05 + 1e-9);
  });
});
