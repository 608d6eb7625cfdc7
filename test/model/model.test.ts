// The sequential model: predict() inside WASM memory equals the functional chain, training follows
// PyTorch's SGD steps and makes the loss fall, the same bits on 1-3 threads, .npz save/load, summary, errors.
import { availableParallelism } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  NDArray,
  RandomState,
  adam,
  conv_forward,
  dense_forward,
  flatten,
  init,
  layers,
  memory,
  pool_forward,
  relu,
  sequential,
  setThreads,
  sgd,
  softmax,
  type LayerSpec,
} from "convwasm";
import { expectClose, expectIdentical, fixture, randn, shareSmallCalls } from "../helpers.js";

beforeAll(() => init());
afterAll(() => setThreads(availableParallelism() > 1 ? 2 : 1));
shareSmallCalls();

/** The course's network, small. */
const small = (): LayerSpec[] => [
  layers.conv2d({ filters: 4, size: 3, pad: "same" }),
  layers.relu(),
  layers.maxPool({ f: 2 }),
  layers.conv2d({ filters: 6, size: 3, pad: "same" }),
  layers.relu(),
  layers.maxPool({ f: 2 }),
  layers.flatten(),
  layers.dense({ units: 5 }),
  layers.softmax(),
];

describe("predict() inside WASM memory", () => {
  it("equals the functional chain (conv 'same' with 4 and 6 filters, ReLU, max pool, flatten, dense, softmax)", () => {
    const model = sequential([12, 12, 1], small(), { seed: 3 });
    const X = randn(2, 40, 12, 12, 1);
    const W = model.weights();
    let a = X;
    [a] = conv_forward(a, W["conv2d/W"], W["conv2d/b"], { stride: 1, pad: "same" });
    [a] = relu(a);
    [a] = pool_forward(a, { f: 2, stride: 2 });
    [a] = conv_forward(a, W["conv2d_1/W"], W["conv2d_1/b"], { stride: 1, pad: "same" });
    [a] = relu(a);
    [a] = pool_forward(a, { f: 2, stride: 2 });
    [a] = dense_forward(flatten(a), W["dense/W"], W["dense/b"]);
    const expected = softmax(a);
    expectClose(model.predict(X), expected, 1e-12);
    // in batches, and from a strided view, the same
    expectClose(model.predict(X, { batchSize: 7 }), expected, 1e-12);
    expect(memory().arenaBytesInUse).toBe(0);
  });

  it("every other layer kind: dilation, a grouped and a depthwise conv, average and padded pooling, conv → flatten, dense → relu → dense", () => {
    const model = sequential(
      [10, 9, 4],
      [
        layers.conv2d({ filters: 8, size: [3, 2], pad: "same", dilation: [2, 1] }),
        layers.relu(),
        layers.conv2d({ filters: 8, size: 3, pad: 1, groups: 2 }),
        layers.conv2d({ filters: 16, size: 3, pad: "same", groups: 8, stride: 2 }),
        layers.relu(),
        layers.avgPool({ f: 2, stride: 1 }),
        layers.maxPool({ f: 3, stride: 2, pad: 1 }),
        layers.conv2d({ filters: 3, size: 1 }),
        layers.flatten(),
        layers.dense({ units: 7 }),
        layers.relu(),
        layers.dense({ units: 4 }),
        layers.softmax(),
      ],
      { seed: 5 },
    );
    const X = randn(4, 9, 10, 9, 4);
    const W = model.weights();
    let a = X;
    [a] = relu(conv_forward(a, W["conv2d/W"], W["conv2d/b"], { stride: 1, pad: "same", dilation: [2, 1] })[0]);
    [a] = conv_forward(a, W["conv2d_1/W"], W["conv2d_1/b"], { stride: 1, pad: 1, groups: 2 });
    [a] = relu(conv_forward(a, W["conv2d_2/W"], W["conv2d_2/b"], { stride: 2, pad: "same", groups: 8 })[0]);
    [a] = pool_forward(a, { f: 2, stride: 1 }, "average");
    [a] = pool_forward(a, { f: 3, stride: 2, pad: 1 });
    [a] = conv_forward(a, W["conv2d_3/W"], W["conv2d_3/b"], { stride: 1, pad: 0 });
    [a] = relu(dense_forward(flatten(a), W["dense/W"], W["dense/b"])[0]);
    [a] = dense_forward(a, W["dense_1/W"], W["dense_1/b"]);
    expectClose(model.predict(X), softmax(a), 1e-12);
  });
});

describe("training", () => {
  it("evaluate() of a model ending in logits (no softmax) is the softmax cross-entropy of its outputs", () => {
    const body = () => [
      layers.conv2d({ filters: 3, size: 3 }),
      layers.relu(),
      layers.flatten(),
      layers.dense({ units: 4 }),
    ];
    const logits = sequential([6, 6, 2], body(), { seed: 3 });
    const probs = sequential([6, 6, 2], [...body(), layers.softmax()], { seed: 3 });
    probs.setWeights(logits.weights());
    const X = randn(7, 5, 6, 6, 2);
    for (const Y of [
      [0, 3, 1, 2, 3],
      new NDArray(
        new Float64Array(20).map((_, i) => (i % 4 === Math.floor(i / 4) % 4 ? 1 : 0)),
        [5, 4],
      ),
    ]) {
      const a = logits.evaluate(X, Y);
      const b = probs.evaluate(X, Y);
      expect(a.accuracy).toBe(b.accuracy);
      expect(Math.abs(a.loss - b.loss) / b.loss).toBeLessThan(1e-13);
      // (and from its definition: logsumexp of each row minus the labelled logit, averaged)
      const Z = logits.predict(X).toFloat64Array();
      if (Array.isArray(Y)) {
        const want =
          Y.reduce((s, c, i) => {
            const row = Array.from(Z.subarray(i * 4, i * 4 + 4));
            return s + Math.log(row.reduce((t, z) => t + Math.exp(z), 0)) - row[c];
          }, 0) / Y.length;
        expect(Math.abs(a.loss - want) / want).toBeLessThan(1e-13);
      }
    }
  });

  it("three SGD steps (momentum 0.9) of the whole network agree with PyTorch float64: losses and weights to 1e-10", () => {
    const f = fixture<{ sgd: { seed: number; labels: number[]; losses: number[]; weights: Record<string, number[]> } }>(
      "layers.json",
    ).sgd;
    const rs = new RandomState(f.seed);
    const X = rs.randn(6, 8, 8, 1);
    const scale = (a: NDArray, s: number) =>
      new NDArray(
        a.toFloat64Array().map((v) => v * s),
        a.shape,
      );
    const model = sequential(
      [8, 8, 1],
      [
        layers.conv2d({ filters: 4, size: 3, pad: "same" }),
        layers.relu(),
        layers.maxPool({ f: 2 }),
        layers.flatten(),
        layers.dense({ units: 3 }),
        layers.softmax(),
      ],
    );
    model.setWeights({
      "conv2d/W": scale(rs.randn(3, 3, 1, 4), 0.5),
      "conv2d/b": scale(rs.randn(4), 0.1),
      "dense/W": scale(rs.randn(64, 3), 0.1),
      "dense/b": scale(rs.randn(3), 0.1),
    });
    const history = model.fit(X, f.labels, {
      epochs: 3,
      batchSize: 6,
      shuffle: false,
      optimizer: sgd({ lr: 0.1, momentum: 0.9 }),
    });
    history.forEach((h, i) => expect(Math.abs(h.loss - f.losses[i])).toBeLessThan(1e-10 * Math.abs(f.losses[i])));
    for (const [name, w] of Object.entries(model.weights())) {
      expectClose(w, new NDArray(Float64Array.from(f.weights[name]), w.shape), 1e-10);
    }
  });

  it("a tiny model learns: the loss falls and the accuracy rises (Adam)", () => {
    const model = sequential([12, 12, 1], small(), { seed: 3 });
    const X = randn(2, 40, 12, 12, 1);
    const y = Array.from({ length: 40 }, (_, i) => i % 5);
    const history = model.fit(X, y, { epochs: 12, batchSize: 8, optimizer: adam({ lr: 0.01 }), validation: [X, y] });
    expect(history[history.length - 1].loss).toBeLessThan(history[0].loss / 3);
    expect(history[history.length - 1].accuracy).toBeGreaterThan(0.8);
    expect(history[history.length - 1].valAccuracy).toBeGreaterThan(0.8);
    expect(history.every((h) => h.examplesPerSecond > 0 && h.seconds > 0)).toBe(true);
  });

  it("is deterministic for a seed: the same weights on 1, 2 and 3 threads", async () => {
    const runs: NDArray[][] = [];
    for (const threads of [1, 2, 3]) {
      await setThreads(threads);
      const model = sequential(
        [24, 24, 3],
        [
          layers.conv2d({ filters: 16, size: 5, pad: "same" }),
          layers.relu(),
          layers.maxPool({ f: 2 }),
          layers.conv2d({ filters: 32, size: 3, pad: "same" }),
          layers.relu(),
          layers.flatten(),
          layers.dense({ units: 4 }),
          layers.softmax(),
        ],
        { seed: 11 },
      );
      const X = randn(12, 32, 24, 24, 3);
      model.fit(
        X,
        Array.from({ length: 32 }, (_, i) => i % 4),
        { epochs: 2, batchSize: 16 },
      );
      runs.push([...Object.values(model.weights()), model.predict(X)]);
    }
    for (const r of runs.slice(1)) r.forEach((w, i) => expectIdentical(w, runs[0][i]));
  });
});

describe("weights as .npz, summary, errors", () => {
  it("save() and load() round-trip the weights bit for bit (numpy's .npz: a zip of .npy files)", () => {
    const a = sequential([12, 12, 1], small(), { seed: 1 });
    const b = sequential([12, 12, 1], small(), { seed: 2 });
    const bytes = a.save();
    expect(String.fromCharCode(bytes[0], bytes[1])).toBe("PK");
    b.load(bytes);
    for (const [name, w] of Object.entries(a.weights())) expectIdentical(b.weights()[name], w);
    const X = randn(3, 5, 12, 12, 1);
    expectIdentical(b.predict(X), a.predict(X));
  });

  it("load() names what is wrong", () => {
    const a = sequential([12, 12, 1], small(), { seed: 1 });
    const other = sequential([12, 12, 1], [layers.flatten(), layers.dense({ units: 5 }), layers.softmax()]);
    expect(() => a.load(other.save())).toThrow("load: the .npz file lacks conv2d/W, conv2d/b, conv2d_1/W, conv2d_1/b");
    expect(() => a.load(new Uint8Array([1, 2, 3]))).toThrow(/^load: bytes is not an \.npz \(zip\) file/);
    const wide = sequential([12, 12, 1], [...small().slice(0, -2), layers.dense({ units: 6 }), layers.softmax()]);
    expect(() => a.load(wide.save())).toThrow("load: dense/W expects shape [54,5] but got [54,6]");
  });

  it("summary() lists layers, output shapes and parameter counts, as Keras's", () => {
    const text = sequential(
      [28, 28, 1],
      [
        layers.conv2d({ filters: 16, size: 5, pad: "same" }),
        layers.relu(),
        layers.maxPool({ f: 2 }),
        layers.flatten(),
        layers.dense({ units: 10 }),
        layers.softmax(),
      ],
    ).summary();
    expect(text).toMatch(/\nconv2d \(conv2d\) +\(None, 28, 28, 16\) +416\n/);
    expect(text).toMatch(/\ndense \(dense\) +\(None, 10\) +31370\n/);
    expect(text).toContain("Total params: 31786");
  });

  it("bad models and inputs are errors naming the function", () => {
    expect(() => sequential([28, 28], [layers.conv2d({ filters: 4, size: 3 })])).toThrow(
      "sequential: layers[0] (conv2d) expects an input [h, w, c] but gets [28,28]",
    );
    expect(() => sequential([4, 4, 1], [layers.dense({ units: 3 })])).toThrow(
      "sequential: layers[0] (dense) expects an input [n] (flatten first) but gets [4,4,1]",
    );
    const m = sequential([4, 4, 1], [layers.flatten(), layers.dense({ units: 3 })]);
    expect(() => m.fit(randn(1, 2, 4, 4, 1), [0, 1])).toThrow("fit: the model expects softmax as its last layer");
    expect(() => m.predict(randn(1, 2, 4, 5, 1))).toThrow("predict: X expects shape [m,4,4,1] but got [2,4,5,1]");
  });
});
