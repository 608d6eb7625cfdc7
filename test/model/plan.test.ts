// predict()'s plan (issue 21): the graph in inference mode inside WASM memory, BatchNorm folded into the
// conv before it, ReLU fused into the stores, values placed by liveness, channel widths copied where a
// layer needs another. Checked against every layer run through its op (engine "ops") on random graphs
// of every layer kind, channel counts off the 8-wide blocks, shortcuts, shared layers, several outputs.
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { NDArray, init, input, layers, memory, model, sequential, setThreads, type SymbolicTensor } from "convwasm";
import { expectClose, randn } from "../helpers.js";
import { blockList, randomModel, randomStatistics } from "./graphs.js";

beforeAll(() => init());

describe("the plan agrees with every layer run through its op", () => {
  it("on random graphs of every layer kind, 1 and 2 threads", async () => {
    await fc.assert(
      fc.asyncProperty(
        blockList,
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        async (blocks, c, m, max) => {
          const mdl = randomModel(blocks, c, max);
          const X = randn(m + c, m, 7, 6, c);
          const ops = mdl.predictAll([X], { engine: "ops" });
          for (const threads of [1, 2]) {
            await setThreads(threads);
            mdl.predictAll([X]).forEach((o, j) => expectClose(o, ops[j], 1e-11));
          }
          expect(memory().arenaBytesInUse).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("channel counts off the blocks of 8 meet at a shortcut (a copy to the same width), then a dense head", () => {
    const x = input([5, 5, 3]);
    const c = layers.batchNorm().apply(layers.conv2d({ filters: 3, size: 3, pad: 1, bias: false }).apply(x));
    const y = layers
      .softmax()
      .apply(layers.dense({ units: 2 }).apply(layers.flatten().apply(layers.relu().apply(layers.add().apply([x, c])))));
    const m = model(x, y);
    randomStatistics(m, 3);
    const X = randn(9, 4, 5, 5, 3);
    expectClose(m.predict(X), m.predict(X, { engine: "ops" }), 1e-12);
  });

  it("an input copied in straight to its conv's padding: from an NDArray, a strided view and a Float32Array, in both precisions", () => {
    const m = sequential([6, 5, 3], [layers.conv2d({ filters: 4, size: 3, stride: 2, pad: [2, 1] }), layers.relu()]);
    const X = randn(10, 3, 6, 5, 3);
    const wide = new NDArray(new Float64Array(2 * X.size), [3, 6, 5, 6]);
    const view = new NDArray(wide.data, [3, 6, 5, 3], [180, 30, 6, 2], 1);
    X.toFloat64Array().forEach((v, i) => (wide.data[1 + 2 * i] = v));
    const want = m.predict(X, { engine: "ops" });
    expectClose(m.predict(X), want, 1e-12);
    expectClose(m.predict(view), want, 1e-12);
    const x32 = Float32Array.from(X.toFloat64Array());
    const f32 = m.predict(X, { precision: "f32" });
    expectClose(f32, want, 1e-5);
    expect(Array.from(m.predict(view, { precision: "f32" }).data)).toEqual(Array.from(f32.data));
    expect(Array.from(m.predict(x32, { precision: "f32" }).data)).toEqual(Array.from(f32.data));
    expect(memory().arenaBytesInUse).toBe(0);
  });
});

describe("memory", () => {
  it("reuses a value's buffer once its last reader has run: a chain of 12 layers needs about two", () => {
    const specs = Array.from({ length: 12 }, (_, i) =>
      i % 2 === 0 ? layers.conv2d({ filters: 8, size: 3, pad: 1 }) : layers.sigmoid(),
    );
    const m = sequential([16, 16, 8], specs);
    const text = m.summary();
    const kib = Number(text.match(/predict's activations: ([\d.]+) KiB an example/)![1]);
    // one value is 16·16·8 float64 = 16 KiB; the input and two conv outputs alive at once at most
    expect(kib).toBeLessThanOrEqual(3 * 16);
    expect(kib).toBeGreaterThanOrEqual(2 * 16);
    const X = randn(1, 3, 16, 16, 8);
    expectClose(m.predict(X), m.predict(X, { engine: "ops" }), 1e-12);
  });

  it("folds BatchNorm again after the weights change (fit, setWeights, load)", () => {
    const x = input([6, 6, 2]);
    const h = layers.relu().apply(layers.batchNorm().apply(layers.conv2d({ filters: 4, size: 3, pad: 1 }).apply(x)));
    const m = model(x, layers.softmax().apply(layers.dense({ units: 3 }).apply(layers.globalAvgPool().apply(h))));
    const X = randn(5, 4, 6, 6, 2);
    const before = m.predict(X);
    m.fit(X, [0, 1, 2, 0], { batchSize: 4 });
    const after = m.predict(X);
    expectClose(after, m.predict(X, { engine: "ops" }), 1e-12);
    expect(Array.from(after.data)).not.toEqual(Array.from(before.data));
    randomStatistics(m, 40);
    expectClose(m.predict(X), m.predict(X, { engine: "ops" }), 1e-12);
    expect(() => m.predict(X, { engine: "fast" as never })).toThrow(
      'predict: options.engine expects "plan" or "ops" but got string fast',
    );
  });
});

describe("Winograd inside the plan", () => {
  it("3×3 convs where it pays (32 channels, 16×16) run by Winograd with BatchNorm folded and ReLU fused, as the ops", () => {
    const x = input([16, 16, 32]);
    let h: SymbolicTensor = x;
    for (let i = 0; i < 3; i++) {
      const c = layers.conv2d({ filters: 32, size: 3, pad: 1, bias: i === 0 }).apply(h);
      h = layers.relu().apply(i === 1 ? layers.batchNorm().apply(c) : c);
    }
    const m = model(x, layers.dense({ units: 5 }).apply(layers.globalAvgPool().apply(h)));
    randomStatistics(m, 7);
    const X = randn(8, 2, 16, 16, 32);
    // (Winograd F(4×4)'s rounding: within 1e-11 of the direct sums here)
    expectClose(m.predict(X), m.predict(X, { engine: "ops" }), 1e-11);
  });
});

describe("fusions", () => {
  it("a residual add and ReLU6 or ReLU after a Winograd conv (applied after its output transform), and after direct convs, as the ops", () => {
    const x = input([16, 16, 32]);
    const conv = (v: SymbolicTensor, size: number) =>
      layers.batchNorm().apply(layers.conv2d({ filters: 32, size, pad: size === 3 ? 1 : 0, bias: false }).apply(v));
    const a = layers.relu6().apply(layers.add().apply([conv(x, 3), x]));
    const b = layers.relu().apply(layers.add().apply([conv(a, 3), a]));
    const c = layers.add().apply([conv(b, 1), b]);
    const d = layers.clip({ min: 0, max: 6 }).apply(conv(c, 1));
    const m = model(x, layers.dense({ units: 5 }).apply(layers.globalAvgPool().apply(d)));
    randomStatistics(m, 11);
    const X = randn(12, 2, 16, 16, 32);
    expectClose(m.predict(X), m.predict(X, { engine: "ops" }), 1e-11);
  });
});
