// convwasm/async runs functional models (issue 21): the graph's description made in every worker, the
// same weights (same seed), predict, fit and save answering as the synchronous model does.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as S from "convwasm";
import * as A from "convwasm/async";
import { expectIdentical, randn } from "./helpers.js";

beforeAll(async () => {
  await S.init();
  await A.init({ workers: 2, threads: 1 });
});
afterAll(() => A.dispose());

/** A ResNet block with a shared dense layer applied twice, in either entry's layers and input(). */
function graph(L: typeof S.layers, input: typeof S.input) {
  const x = input([6, 6, 2]);
  const c = L.batchNorm().apply(L.conv2d({ filters: 4, size: 3, pad: 1, bias: false }).apply(x));
  const r = L.relu().apply(L.add().apply([L.conv2d({ filters: 4, size: 1 }).apply(L.relu().apply(c)), c]));
  const shared = L.dense({ units: 4 });
  const h = shared.apply(L.relu6().apply(shared.apply(L.globalAvgPool().apply(r))));
  return { x, y: L.softmax().apply(L.dense({ units: 3 }).apply(h)) };
}

describe("convwasm/async's model()", () => {
  it("predicts, trains and saves as the synchronous model does", async () => {
    const s = graph(S.layers, S.input);
    const a = graph(A.layers, A.input);
    const sync = S.model(s.x, s.y, { seed: 4 });
    const made = await A.model(a.x, a.y, { seed: 4 });
    const X = randn(1, 5, 6, 6, 2);
    const Y = [0, 2, 1, 1, 0];
    expectIdentical(await made.predict(X), sync.predict(X));
    const opt = () => S.sgd({ lr: 0.05, momentum: 0.9 });
    sync.fit(X, Y, { epochs: 2, batchSize: 2, optimizer: opt() });
    await made.fit(X, Y, { epochs: 2, batchSize: 2, optimizer: opt() });
    expectIdentical(await made.predict(X), sync.predict(X));
    expect(Array.from(await made.save())).toEqual(Array.from(sync.save()));
    expect(await made.summary()).toBe(sync.summary());
    await made.dispose();
  });

  it("refuses a graph of several inputs or outputs by name", async () => {
    const x = A.input([4]);
    const d = A.layers.dense({ units: 2 }).apply(x);
    await expect(A.model(x, [d, d])).rejects.toThrow(
      "model: convwasm/async runs models of one input and one output, but this one has 1 and 2",
    );
  });
});

describe("float32 plans through convwasm/async (issue 23)", () => {
  it("predict's precision option and compile() give the synchronous model's bits; a batch never mixes precisions", async () => {
    const s = graph(S.layers, S.input);
    const a = graph(A.layers, A.input);
    const sync = S.model(s.x, s.y, { seed: 5 });
    const made = await A.model(a.x, a.y, { seed: 5 });
    const X = randn(2, 6, 6, 6, 2);
    const [f64, f32] = [sync.predict(X), sync.predict(X, { precision: "f32" })];
    expect(Array.from(f32.data)).not.toEqual(Array.from(f64.data));
    // requests of both precisions in one turn of the event loop (micro-batched)
    const rows = (i: number) => new S.NDArray(X.data.slice(i * 72, (i + 1) * 72), [1, 6, 6, 2]);
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => made.predict(rows(i), { precision: i % 2 === 0 ? "f32" : "f64" })),
    );
    answers.forEach((P, i) => {
      const want = i % 2 === 0 ? f32 : f64;
      expect(Array.from(P.data)).toEqual(Array.from(want.data.subarray(i * 3, (i + 1) * 3)));
    });
    expect(made.compile({ precision: "f32" })).toBe(made);
    expectIdentical(await made.predict(X), f32);
    expectIdentical(await made.predict(X, { precision: "f64" }), f64);
    await expect(made.predict(X, { precision: "f16" as never })).rejects.toThrow(
      'predict: options.precision expects "f64" or "f32" but got string f16',
    );
    expect(() => made.compile({ precision: 1 as never })).toThrow(
      'compile: options.precision expects "f64" or "f32" but got number 1',
    );
    expectIdentical(await made.predict(X), f32);
    // output: "Float32Array", alone and micro-batched beside NDArray requests
    const [narrow, nd] = await Promise.all([
      made.predict(X, { output: "Float32Array" }),
      made.predict(X, { precision: "f64" }),
    ]);
    expect(narrow).toBeInstanceOf(Float32Array);
    expect(Array.from(narrow)).toEqual(Array.from(f32.data));
    expectIdentical(nd, f64);
    await expect(made.predict(X, { output: "f32" as never })).rejects.toThrow(
      'predict: options.output expects "NDArray" or "Float32Array" but got string f32',
    );
    await made.dispose();
  });
});

describe("what a service watches (issue 24)", () => {
  it("pending counts the requests open, onBatch hears every batch's examples, memory() the workers' WASM bytes", async () => {
    const a = graph(A.layers, A.input);
    const made = await A.model(a.x, a.y, { seed: 4, batching: { maxBatch: 4 } });
    const sizes: number[] = [];
    const off = made.onBatch((n) => sizes.push(n));
    const bad = made.onBatch(() => {
      throw new Error("a listener that throws is dropped");
    });
    expect(made.pending).toBe(0);
    const X = randn(2, 6, 6, 6, 2);
    const rows = (i: number) => new S.NDArray(X.data.slice(i * 72, (i + 1) * 72), [1, 6, 6, 2]);
    const answers = Array.from({ length: 6 }, (_, i) => made.predict(rows(i)));
    expect(made.pending).toBe(6);
    await Promise.all(answers);
    await made.predict(randn(3, 9, 6, 6, 2)); // alone: cut into batches of 4, 4 and 1
    expect(made.pending).toBe(0);
    expect(sizes.reduce((p, n) => p + n, 0)).toBe(6 + 9);
    expect(sizes.slice(-3)).toEqual([4, 4, 1]);
    off();
    bad();
    await made.predict(rows(0));
    expect(sizes.reduce((p, n) => p + n, 0)).toBe(15);
    expect(() => made.onBatch(1 as never)).toThrow("onBatch: listener expects a function but got number 1");
    const m = A.memory();
    expect(m.workers.length).toBe(2);
    expect(m.workers.every((b) => b >= 8 << 20)).toBe(true); // each worker's arena, at least
    expect(m.wasmBytes).toBe(m.workers[0] + m.workers[1]);
    await made.dispose();
  });
});
