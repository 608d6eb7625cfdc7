// convwasm/async: the same functions as the synchronous API, computed in worker threads. Every answer is
// checked bitwise against the synchronous API; then ordering, errors, out, dispose with calls in flight,
// backpressure, the model (micro-batching, reads and writes in order, fit) and timeouts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as S from "convwasm";
import * as A from "convwasm/async";
import { expectIdentical, randn } from "./helpers.js";

const hp = { stride: 1, pad: 1 };

beforeAll(async () => {
  await S.init();
  await A.init({ workers: 2, threads: 2 });
});
afterAll(() => A.dispose());

/** Every array in `a` and `b` (nested arrays and tuples) bitwise the same. */
function sameBits(a: unknown, b: unknown): void {
  if (a instanceof S.NDArray) return expectIdentical(a, b as S.NDArray);
  if (Array.isArray(a)) {
    expect(Array.isArray(b)).toBe(true);
    (a as unknown[]).forEach((x, i) => sameBits(x, (b as unknown[])[i]));
    return;
  }
  expect(Object.is(a, b) || (typeof a === "object" && JSON.stringify(a) === JSON.stringify(b))).toBe(true);
}

describe("convwasm/async", () => {
  it("gives every op's answer with the same bits as the synchronous API", async () => {
    const A_prev = randn(1, 2, 9, 9, 3);
    const W = randn(2, 3, 3, 3, 5);
    const b = randn(3, 5);
    const [Z, cache] = S.conv_forward(A_prev, W, b, hp);
    const dZ = randn(4, ...Z.shape);
    const [P, pcache] = S.pool_forward(Z, { f: 2, stride: 2 });
    const X = randn(5, 4, 7);
    const Wd = randn(6, 7, 3);
    const bd = randn(7, 3);
    const [Zd, dcache] = S.dense_forward(X, Wd, bd);
    const calls: [string, unknown[]][] = [
      ["zero_pad", [A_prev, 2]],
      ["conv_single_step", [randn(8, 3, 3, 3), randn(9, 3, 3, 3), 0.5]],
      ["conv_forward", [A_prev, W, b, { stride: 2, pad: "same" }]],
      ["conv_backward", [dZ, cache]],
      ["pool_forward", [Z, { f: 3, stride: 1 }, "average"]],
      ["pool_backward", [randn(10, ...P.shape), pcache]],
      ["create_mask_from_window", [randn(11, 3, 3)]],
      ["distribute_value", [2, [2, 3]]],
      ["relu", [Z]],
      ["relu_backward", [dZ, Z]],
      ["flatten", [Z]],
      ["dense_forward", [X, Wd, bd]],
      ["dense_backward", [randn(12, ...Zd.shape), dcache]],
      ["softmax", [Zd]],
      ["softmax_cross_entropy", [Zd, [0, 2, 1, 1]]],
      // the layers of ResNet and MobileNet
      ...(["relu6", "clip", "leaky_relu", "sigmoid", "hard_sigmoid", "hard_swish", "swish"] as const).flatMap(
        (name): [string, unknown[]][] => {
          const made = (S[name] as (z: S.NDArray, o?: object) => [S.NDArray, S.ActivationCache])(Z, { alpha: 0.2 });
          return [
            [name, [Z, name === "clip" ? { min: -1, max: 1 } : {}]],
            [`${name}_backward`, [dZ, made[1]]],
          ];
        },
      ),
      ["batch_norm", [Z, randn(20, 5), randn(21, 5)]],
      ["batch_norm", [Z, randn(20, 5), randn(21, 5), { mean: randn(22, 5), variance: S.array([1, 2, 3, 4, 5], [5]) }]],
      ["batch_norm_backward", [dZ, S.batch_norm(Z, randn(20, 5), randn(21, 5))[1]]],
      ["add", [Z, dZ]],
      ["concat", [[Z, dZ]]],
      ["concat_backward", [randn(23, 2, 9, 9, 10), [5, 5]]],
      ["multiply", [Z, randn(24, 2, 5)]],
      ["multiply_backward", [dZ, S.multiply(Z, randn(24, 2, 5))[1]]],
      ["global_avg_pool", [Z]],
      ["global_avg_pool_backward", [randn(25, 2, 5), S.global_avg_pool(Z)[1]]],
      ["global_max_pool", [Z]],
      ["global_max_pool_backward", [randn(25, 2, 5), Z]],
      ["dropout", [Z, { rate: 0.4, seed: 3 }]],
      ["dropout_backward", [dZ, S.dropout(Z, { rate: 0.4, seed: 3 })[1]]],
    ];
    for (const [name, args] of calls) {
      const sync = (S as unknown as Record<string, (...a: unknown[]) => unknown>)[name](...args);
      const got = await (A as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name](...args);
      sameBits(sync, got);
    }
  });

  it("hands back caches holding the caller's own arrays, and views over the caller's memory", async () => {
    const X = randn(13, 2, 6, 6, 4);
    const W = randn(14, 3, 3, 4, 8);
    const b = randn(15, 8);
    const [, cache] = await A.conv_forward(X, W, b, hp);
    expect(cache[0]).toBe(X);
    expect(cache[1]).toBe(W);
    const flat = await A.flatten(X);
    expect(flat.data.buffer).toBe(X.data.buffer);
    expectIdentical(flat, S.flatten(X));
  });

  it("answers concurrent calls each with its own result, in any order of completion", async () => {
    const W = randn(16, 3, 3, 3, 8);
    const b = randn(17, 8);
    const inputs = Array.from({ length: 48 }, (_, i) => randn(100 + i, 1, 4 + (i % 9), 5 + (i % 7), 3));
    const results = await Promise.all(inputs.map((x) => A.conv_forward(x, W, b, hp)));
    results.forEach(([Z], i) => expectIdentical(Z, S.conv_forward(inputs[i], W, b, hp)[0]));
  });

  it("gives the same bits for strided views and for arrays in shared memory", async () => {
    const base = randn(18, 2, 10, 12, 3);
    const view = new S.NDArray(base.data, [2, 5, 6, 3], [360, 72, 6, 1], 3 * 12 + 3);
    const W = randn(19, 3, 3, 3, 4);
    const b = randn(20, 4);
    expectIdentical((await A.conv_forward(view, W, b, hp))[0], S.conv_forward(view, W, b, hp)[0]);
    const shared = A.shared(view);
    expect(shared.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    expectIdentical((await A.conv_forward(shared, W, b, hp))[0], S.conv_forward(view, W, b, hp)[0]);
  });

  it("runs calls big enough to share out side by side when several wait, and a lone one on the first worker's pool", async () => {
    // (each call copies its 8.8 MB X into the arena of the worker that runs it, which grows: memory()
    // says which workers ran one; X in shared memory reaches them with no copy, so the calls wait together)
    const X = A.shared(randn(60, 1024, 1100));
    const [W, b] = [randn(61, 1100, 16), randn(62, 16)];
    const expected = S.dense_forward(X, W, b)[0];
    const grown = async (calls: number) => {
      await A.release();
      const before = A.memory().workers;
      const answers = await Promise.all(Array.from({ length: calls }, () => A.dense_forward(X, W, b)));
      for (const [Z] of answers) expectIdentical(Z, expected);
      return A.memory().workers.map((bytes, w) => bytes > before[w]);
    };
    expect(await grown(1)).toEqual([true, false]);
    expect(await grown(4)).toEqual([true, true]);
  });

  it("writes options.out into the caller's array (contiguous, strided, shared) and refuses an overlap as the sync API does", async () => {
    const Z = randn(21, 2, 5, 5, 3);
    const expected = S.relu(Z)[0];
    const out = S.zeros([2, 5, 5, 3]);
    const [A1] = await A.relu(Z, { out });
    expect(A1).toBe(out);
    expectIdentical(out, expected);
    const big = S.zeros([2, 5, 5, 6]);
    const strided = new S.NDArray(big.data, [2, 5, 5, 3], [150, 30, 6, 2], 1);
    await A.relu(Z, { out: strided });
    expectIdentical(strided, expected);
    expect(big.data[0]).toBe(0);
    const sharedOut = A.shared(S.zeros([2, 5, 5, 3]));
    await A.relu(Z, { out: sharedOut });
    expectIdentical(sharedOut, expected);
    const overlapping = new S.NDArray(Z.data, Z.shape);
    const message = "relu: options.out (A) shares memory with an input; write the result elsewhere";
    expect(() => S.relu(Z, { out: overlapping })).toThrow(message);
    await expect(A.relu(Z, { out: overlapping })).rejects.toThrow(message);
  });

  it("rejects bad arguments with the sync API's error (class and message), and keeps working", async () => {
    const X = randn(22, 1, 5, 5, 3);
    const W = randn(23, 3, 3, 3, 2);
    const b = randn(24, 2);
    const cases: [string, unknown[]][] = [
      ["conv_forward", [X, W, b, { stride: 0, pad: 1 }]],
      ["conv_forward", [X, W, b, { stride: 1 }]],
      ["conv_forward", ["X", W, b, hp]],
      ["pool_forward", [X, { f: 9, stride: 1 }]],
      ["zero_pad", [X, -1]],
      ["softmax_cross_entropy", [randn(25, 2, 3), [0, 7]]],
    ];
    for (const [name, args] of cases) {
      let sync: Error | null = null;
      try {
        (S as unknown as Record<string, (...a: unknown[]) => unknown>)[name](...args);
      } catch (e) {
        sync = e as Error;
      }
      expect(sync).not.toBeNull();
      const got = await (A as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name](...args).then(
        () => null,
        (e: Error) => e,
      );
      expect(got?.constructor).toBe(sync!.constructor);
      expect(got?.message).toBe(sync!.message);
    }
    expectIdentical((await A.conv_forward(X, W, b, hp))[0], S.conv_forward(X, W, b, hp)[0]);
  });

  it("reads a hostile argument's fields once, on the calling thread, and names the argument when one throws", async () => {
    const X = randn(26, 1, 5, 5, 3);
    const W = randn(27, 3, 3, 3, 2);
    const b = randn(28, 2);
    let reads = 0;
    const counted = new Proxy(X, {
      get(target, key) {
        if (key === "data") reads++;
        return Reflect.get(target, key);
      },
    });
    expectIdentical((await A.conv_forward(counted, W, b, hp))[0], S.conv_forward(X, W, b, hp)[0]);
    expect(reads).toBe(1);
    const throwing = new Proxy(X, {
      get(target, key) {
        if (key === "shape") throw new Error("no shape for you");
        return Reflect.get(target, key);
      },
    });
    await expect(A.conv_forward(throwing, W, b, hp)).rejects.toThrow(
      "conv_forward: reading A_prev threw: no shape for you",
    );
    const hpGetter = {
      get stride(): number {
        throw new Error("boom");
      },
      pad: 1,
    };
    await expect(A.conv_forward(X, W, b, hpGetter)).rejects.toThrow("conv_forward: reading hparameters threw: boom");
    // a key no op reads is neither read nor sent, as the synchronous API ignores it
    let read = false;
    const extra = {
      stride: 1,
      pad: 1,
      when: Symbol("x"),
      get later() {
        read = true;
        return 1;
      },
    };
    expectIdentical((await A.conv_forward(X, W, b, extra as never))[0], S.conv_forward(X, W, b, hp)[0]);
    expect(read).toBe(false);
  });

  it("says it is not initialised, and rejects calls in flight when disposed; init() starts it again", async () => {
    const X = randn(29, 8, 32, 32, 8);
    const W = randn(30, 3, 3, 8, 8);
    const b = randn(31, 8);
    const calls = Array.from({ length: 6 }, () => A.conv_forward(X, W, b, hp));
    A.dispose();
    const settled = await Promise.allSettled(calls);
    for (const s of settled) {
      expect(s.status).toBe("rejected");
      expect(((s as PromiseRejectedResult).reason as Error).message).toBe(
        "conv_forward: convwasm/async was disposed before the call finished",
      );
    }
    await expect(A.conv_forward(X, W, b, hp)).rejects.toThrow(
      "conv_forward: convwasm/async is not initialised; call `await init()` first",
    );
    expect((await A.threading()).workers).toBe(0);
    await A.init({ workers: 2, threads: 2 });
    expect((await A.threading()).workers).toBe(2);
    expectIdentical((await A.conv_forward(X, W, b, hp))[0], S.conv_forward(X, W, b, hp)[0]);
  });

  it("refuses calls past the queue limit with a BusyError, and takes new ones once it drains", async () => {
    A.dispose();
    await A.init({ workers: 1, threads: 1, maxQueue: 4 });
    try {
      const X = randn(32, 2, 40, 40, 8);
      const W = randn(33, 3, 3, 8, 8);
      const b = randn(34, 8);
      const calls = Array.from({ length: 12 }, () => A.conv_forward(X, W, b, hp));
      const settled = await Promise.allSettled(calls);
      const busy = settled.filter((s) => s.status === "rejected");
      expect(busy.length).toBeGreaterThan(0);
      for (const s of busy) expect((s as PromiseRejectedResult).reason).toBeInstanceOf(A.BusyError);
      expect((busy[0] as PromiseRejectedResult).reason.message).toMatch(
        /^conv_forward: convwasm\/async's queue is full/,
      );
      expectIdentical((await A.conv_forward(X, W, b, hp))[0], S.conv_forward(X, W, b, hp)[0]);
    } finally {
      A.dispose();
      await A.init({ workers: 2, threads: 2 });
    }
  });
});

describe("convwasm/async models", () => {
  const specs = () => S.digitsLayers();

  it("predicts concurrent requests in batches, each with the bits of the synchronous model alone", async () => {
    const sync = S.sequential([28, 28, 1], specs(), { seed: 3 });
    const model = await A.sequential([28, 28, 1], specs(), { seed: 3, batching: { maxBatch: 8, windowMs: 2 } });
    const X = randn(35, 21, 28, 28, 1);
    const requests = Array.from({ length: 21 }, (_, i) =>
      model.predict(new S.NDArray(X.data, [1, 28, 28, 1], undefined, i * 784)),
    );
    const flat = model.predict(new Float32Array(X.data.subarray(0, 784)));
    const answers = await Promise.all(requests);
    answers.forEach((P, i) =>
      expectIdentical(P, sync.predict(new S.NDArray(X.data, [1, 28, 28, 1], undefined, i * 784))),
    );
    expectIdentical(await flat, sync.predict(new Float32Array(X.data.subarray(0, 784))));
    // a large request is cut into batches on every worker and put back together
    expectIdentical(await model.predict(X), sync.predict(X));
    await model.dispose();
  });

  it("batches float32 requests in float32 (flat or NDArray, split over the workers) with the synchronous float32 bits", async () => {
    const sync = S.sequential([28, 28, 1], specs(), { seed: 5 });
    const model = await A.sequential([28, 28, 1], specs(), { seed: 5, batching: { maxBatch: 8 } });
    const X = randn(37, 12, 28, 28, 1);
    const one = (i: number) => new S.NDArray(X.data, [1, 28, 28, 1], undefined, i * 784);
    const flat = (i: number) => new Float32Array(X.data.subarray(i * 784, (i + 1) * 784));
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => model.predict(i % 2 === 0 ? flat(i) : one(i), { precision: "f32" })),
    );
    answers.forEach((P, i) => expectIdentical(P, sync.predict(i % 2 === 0 ? flat(i) : one(i), { precision: "f32" })));
    // a float64 request after them is a batch of its own, in float64
    expectIdentical(await model.predict(one(3)), sync.predict(one(3)));
    await model.dispose();
  });

  it("takes its copy of X before predict returns, however many examples: the caller may reuse X at once", async () => {
    const sync = S.sequential([28, 28, 1], specs(), { seed: 6 });
    const model = await A.sequential([28, 28, 1], specs(), { seed: 6, batching: { maxBatch: 4 } });
    const X = randn(38, 10, 28, 28, 1);
    const expected = sync.predict(X);
    const flat = new Float32Array(X.data);
    const expectedFlat = sync.predict(flat, { precision: "f32" });
    // 10 examples: cut into batches of 4 on the workers; X overwritten, and the flat one's buffer
    // moved away, as soon as predict returns
    const copy = new S.NDArray(X.data.slice(), X.shape);
    const p = model.predict(copy);
    copy.data.fill(Number.NaN);
    const q = model.predict(flat, { precision: "f32" });
    structuredClone(flat.buffer, { transfer: [flat.buffer] });
    expectIdentical(await p, expected);
    expectIdentical(await q, expectedFlat);
    await model.dispose();
  });

  it("answers a batch's requests one per turn of the event loop, each with its own bits", async () => {
    const sync = S.sequential([28, 28, 1], specs(), { seed: 4 });
    const model = await A.sequential([28, 28, 1], specs(), { seed: 4, batching: { maxBatch: 8 } });
    const X = randn(36, 8, 28, 28, 1);
    // (a turn counter: each setImmediate queued from one runs in the next turn of the loop)
    let turn = 0;
    let counting = true;
    const tick = () => {
      turn++;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    const turns: number[] = [];
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        model.predict(new S.NDArray(X.data, [1, 28, 28, 1], undefined, i * 784)).then((P) => {
          turns.push(turn);
          return P;
        }),
      ),
    );
    counting = false;
    answers.forEach((P, i) =>
      expectIdentical(P, sync.predict(new S.NDArray(X.data, [1, 28, 28, 1], undefined, i * 784))),
    );
    // 8 requests in at most one batch a worker: delivered all at once, they would share 2 turns
    expect(new Set(turns).size).toBeGreaterThanOrEqual(4);
    await model.dispose();
  });

  it("trains with the synchronous model's bits, reports epochs on the calling thread, and predicts with the new weights", async () => {
    const sync = S.sequential([28, 28, 1], specs(), { seed: 4 });
    const model = await A.sequential([28, 28, 1], specs(), { seed: 4 });
    const X = randn(36, 24, 28, 28, 1);
    const Y = Array.from({ length: 24 }, (_, i) => i % 10);
    const before = model.predict(X);
    const epochs: number[] = [];
    const optimizer = S.sgd({ lr: 0.05, momentum: 0.9 });
    const syncOptimizer = S.sgd({ lr: 0.05, momentum: 0.9 });
    const history = await model.fit(X, Y, { epochs: 2, batchSize: 8, optimizer, onEpoch: (l) => epochs.push(l.epoch) });
    // the optimizer's state stays in the worker between fit() calls, as it stays in the object for the sync API
    await model.fit(X, Y, { epochs: 1, batchSize: 8, optimizer });
    const syncHistory = sync.fit(X, Y, { epochs: 2, batchSize: 8, optimizer: syncOptimizer });
    sync.fit(X, Y, { epochs: 1, batchSize: 8, optimizer: syncOptimizer });
    expect(epochs).toEqual([1, 2]);
    expect(history.map((h) => h.loss)).toEqual(syncHistory.map((h) => h.loss));
    const w = await model.weights();
    for (const [k, v] of Object.entries(sync.weights())) expectIdentical(w[k], v);
    // a read asked before the write sees the old weights; one after sees the new ones, on every worker
    expectIdentical(await before, S.sequential([28, 28, 1], specs(), { seed: 4 }).predict(X));
    const after = await Promise.all(Array.from({ length: 6 }, () => model.predict(X)));
    for (const P of after) expectIdentical(P, sync.predict(X));
    expect(await model.evaluate(X, Y)).toEqual(sync.evaluate(X, Y));
    await model.dispose();
  });

  it("saves, loads and sets weights in order with the reads around them", async () => {
    const a = await A.sequential([28, 28, 1], specs(), { seed: 5 });
    const b = await A.sequential([28, 28, 1], specs(), { seed: 6 });
    const X = randn(37, 3, 28, 28, 1);
    const pa = S.sequential([28, 28, 1], specs(), { seed: 5 }).predict(X);
    const bytes = await a.save();
    const beforeLoad = b.predict(X);
    const loaded = b.load(bytes);
    const afterLoad = b.predict(X);
    await loaded;
    expectIdentical(await afterLoad, pa);
    expect((await beforeLoad).data).not.toEqual(pa.data);
    await b.setWeights(await S.sequential([28, 28, 1], specs(), { seed: 6 }).weights());
    expectIdentical(await b.predict(X), S.sequential([28, 28, 1], specs(), { seed: 6 }).predict(X));
    await expect(b.setWeights({ nope: S.zeros([1]) })).rejects.toThrow(
      /^setWeights: the model has no parameter "nope"/,
    );
    await a.dispose();
    await b.dispose();
    await expect(a.predict(X)).rejects.toThrow("predict: this model was disposed");
  });

  it("checks requests on the calling thread: shape, finite values, options; a full queue is a BusyError; a timeout a TimeoutError", async () => {
    const model = await A.sequential([28, 28, 1], specs(), { batching: { maxQueue: 3, windowMs: 50 } });
    await expect(model.predict(randn(38, 2, 28, 28, 3))).rejects.toThrow(
      "predict: X expects shape [m,28,28,1] but got [2,28,28,3]",
    );
    const bad = S.zeros([1, 28, 28, 1]);
    bad.data[30] = NaN;
    await expect(model.predict(bad, { checkFinite: true })).rejects.toThrow(
      "predict: X expects finite values but X[0,1,2,0] is NaN",
    );
    expect(() => S.sequential([28, 28, 1], specs()).predict(bad, { checkFinite: true })).toThrow(
      "predict: X expects finite values but X[0,1,2,0] is NaN",
    );
    await expect(model.predict(bad, { timeout: -1 })).rejects.toThrow(
      "predict: options.timeout expects a number of ms in (0, 2147483647] or Infinity but got number -1",
    );
    const x = randn(39, 1, 28, 28, 1);
    const open = [model.predict(x), model.predict(x), model.predict(x)];
    await expect(model.predict(x)).rejects.toBeInstanceOf(A.BusyError);
    await Promise.all(open);
    // a request waiting behind a long write gets no answer within its timeout
    const slow = model.fit(
      randn(40, 256, 28, 28, 1),
      Array.from({ length: 256 }, (_, i) => i % 10),
      { epochs: 1 },
    );
    const late = model.predict(x, { timeout: 1 });
    await expect(late).rejects.toBeInstanceOf(A.TimeoutError);
    await expect(late).rejects.toThrow("predict: no answer within options.timeout (1 ms)");
    await slow;
    await model.dispose();
  });
});
