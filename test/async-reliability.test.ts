// convwasm/async under hostile use (issue 20): a caller's buffer detached or shrunk during a call, replicas
// after failed writes, fit stopped by a throwing callback or dispose(), bytes in flight bounded, unread keys
// never sent, timers in range, calls asked before dispose() finished, init() overtaken by dispose().
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as S from "convwasm";
import * as A from "convwasm/async";
import { expectIdentical, randn } from "./helpers.js";

const hp = { stride: 1, pad: 1 };

beforeAll(async () => {
  await S.init({ threads: 1 });
  await A.init({ workers: 2, threads: 2 });
});
afterAll(() => A.dispose());

/** `p`, or a rejection after `ms` (a call that never settles is a finding, not a hung test). */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)),
  ]);
}

const detach = (buffer: ArrayBufferLike) => structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });

const small = (): S.LayerSpec[] => [
  S.layers.conv2d({ filters: 4, size: 3, pad: "same" }),
  S.layers.relu(),
  S.layers.maxPool({ f: 2 }),
  S.layers.flatten(),
  S.layers.dense({ units: 3 }),
  S.layers.softmax(),
];

describe("a caller's buffer taken away during a call (issue 20, cases 1 and 2)", () => {
  it("an input transferred away while it is copied rejects by name, never with another call's result", async () => {
    const W = randn(1, 3, 3, 4, 4);
    const b = randn(2, 4);
    // 2 MB inputs: copied in slices, the event loop running between them
    const first = randn(3, 1, 256, 256, 4);
    const [Z1] = await A.conv_forward(first, W, b, hp);
    expectIdentical(Z1, S.conv_forward(first, W, b, hp)[0]);
    const second = randn(4, 1, 256, 256, 4);
    const p = A.conv_forward(second, W, b, hp);
    detach(second.data.buffer);
    await expect(within(p, 10_000)).rejects.toThrow(
      /^conv_forward: A_prev's buffer was detached or shrunk while it was copied to a worker/,
    );
    // and the next call is answered as usual
    const third = randn(5, 1, 256, 256, 4);
    expectIdentical((await A.conv_forward(third, W, b, hp))[0], S.conv_forward(third, W, b, hp)[0]);
  });

  it("a buffer detached or shrunk before the answer arrives rejects that call alone (flatten's view, an out)", async () => {
    const X = randn(6, 2, 3, 3, 2);
    const p = A.flatten(X);
    // (a small input is copied at once: the call is on its way; the answer is a view of this buffer)
    detach(X.data.buffer);
    await expect(within(p, 10_000)).rejects.toThrow(
      /^flatten: A's buffer was detached or shrunk before the answer arrived/,
    );
    const Xd = randn(7, 4, 5);
    const Wd = randn(8, 5, 3);
    const bd = randn(9, 3);
    const out = new S.NDArray(new Float64Array(12), [4, 3]);
    const q = A.dense_forward(Xd, Wd, bd, { out });
    detach(out.data.buffer);
    await expect(within(q, 10_000)).rejects.toThrow(/^dense_forward: options\.out's buffer was detached or shrunk/);
    // a resizable buffer shrunk under an out
    // (ES2024's resizable ArrayBuffer: Node 20 has it, this TypeScript lib does not)
    const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer;
    const resizable = new Resizable(96, { maxByteLength: 96 });
    const shrunk = new S.NDArray(new Float64Array(resizable, 0, 12), [4, 3]);
    const r = A.dense_forward(Xd, Wd, bd, { out: shrunk });
    (resizable as ArrayBuffer & { resize(n: number): void }).resize(8);
    await expect(within(r, 10_000)).rejects.toThrow(/^dense_forward: options\.out's buffer was detached or shrunk/);
    expectIdentical((await A.dense_forward(Xd, Wd, bd))[0], S.dense_forward(Xd, Wd, bd)[0]);
  });
});

describe("an async model after failures (issue 20, cases 5, 6 and 14)", () => {
  it("replicas agree after a fit stopped by a throwing onEpoch, and fit rejects with its error", async () => {
    const m = await A.sequential([6, 6, 1], small(), { seed: 1 });
    const X = randn(10, 64, 6, 6, 1);
    const y = Array.from({ length: 64 }, (_, i) => i % 3);
    const before = await m.predict(X);
    let epochs = 0;
    const fit = m.fit(X, y, {
      epochs: 1e7,
      batchSize: 8,
      onEpoch: () => {
        if (++epochs === 2) throw new Error("stop here");
      },
    });
    await expect(within(fit, 20_000)).rejects.toThrow("stop here");
    // every replica answers alike: 16 identical requests (at once, so both workers serve some)
    const answers = await Promise.all(Array.from({ length: 16 }, () => m.predict(X)));
    for (const P of answers) expectIdentical(P, answers[0]);
    expect(answers[0].data.some((v, i) => v !== before.data[i])).toBe(true);
    // and they are the weights the model reports
    const sync = S.sequential([6, 6, 1], small());
    sync.setWeights(await m.weights());
    expectIdentical(answers[0], sync.predict(X));
    await m.dispose();
  });

  it("a model's dispose() stops its fit; unrelated calls are answered meanwhile", async () => {
    const m = await A.sequential([6, 6, 1], small(), { seed: 2 });
    const X = randn(11, 32, 6, 6, 1);
    const y = Array.from({ length: 32 }, (_, i) => i % 3);
    const fit = m.fit(X, y, { epochs: 1e7, onEpoch: () => void m.dispose() });
    await expect(within(fit, 20_000)).rejects.toThrow("fit: the model was disposed during training");
    const Z = randn(12, 2, 3, 3, 2);
    expectIdentical((await within(A.relu(Z), 10_000))[0], S.relu(Z)[0]);
    await expect(m.predict(X)).rejects.toThrow("predict: this model was disposed");
    // an AbortSignal stops it too
    const n = await A.sequential([6, 6, 1], small(), { seed: 3 });
    const controller = new AbortController();
    const aborted = n.fit(X, y, { epochs: 1e7, onEpoch: () => controller.abort(), signal: controller.signal });
    await expect(within(aborted, 20_000)).rejects.toThrow(/^fit: stopped by options\.signal after \d+ epochs$/);
    await n.dispose();
  });

  it("a failed setWeights or load changes no replica", async () => {
    const m = await A.sequential([6, 6, 1], small(), { seed: 4 });
    const X = randn(13, 4, 6, 6, 1);
    const before = await m.predict(X);
    const saved = await m.save();
    await expect(m.setWeights({ "conv2d/W": randn(14, 3, 3, 1, 4), "dense/W": randn(15, 2, 2) })).rejects.toThrow(
      "setWeights: dense/W expects shape [36,3] but got [2,2]",
    );
    const answers = await Promise.all(Array.from({ length: 8 }, () => m.predict(X)));
    for (const P of answers) expectIdentical(P, before);
    // (save() reads the weights themselves, on whichever replica is free: a stale predict cache hid the change)
    for (const bytes of await Promise.all(Array.from({ length: 8 }, () => m.save()))) expect(bytes).toEqual(saved);
    await m.dispose();
  });

  it("calls asked before dispose() finish; later ones are refused", async () => {
    const m = await A.sequential([6, 6, 1], small(), { seed: 5 });
    const X = randn(16, 1, 6, 6, 1);
    const expected = S.sequential([6, 6, 1], small(), { seed: 5 }).predict(X);
    const asked = Array.from({ length: 20 }, () => m.predict(X));
    const saved = m.save();
    const gone = m.dispose();
    for (const P of await Promise.all(asked)) expectIdentical(P, expected);
    expect((await saved).length).toBeGreaterThan(0);
    await gone;
    await expect(m.predict(X)).rejects.toThrow("predict: this model was disposed");
    await expect(m.fit(X, [0])).rejects.toThrow("fit: this model was disposed");
  });
});

describe("bounded work and options in range (issue 20, cases 8, 9 and 10)", () => {
  it("sends only the keys an op reads: a self-referencing extra key is never walked", async () => {
    let d: unknown = 0;
    for (let i = 0; i < 24; i++) d = [d, d];
    let read = false;
    const X = randn(17, 1, 5, 5, 2);
    const W = randn(18, 3, 3, 2, 2);
    const b = randn(19, 2);
    const extra = {
      ...hp,
      deep: d,
      get other() {
        read = true;
        return 1;
      },
    };
    expectIdentical((await within(A.conv_forward(X, W, b, extra as never), 10_000))[0], S.conv_forward(X, W, b, hp)[0]);
    expect(read).toBe(false);
    // an argument the op does read may not hold millions of values
    await expect(within(A.distribute_value(1, d as never), 10_000)).rejects.toThrow(
      /^distribute_value: the arguments hold more than 1048576 values in plain arrays and objects/,
    );
  });

  it("timeouts: Infinity is none; past 2^31 - 1 ms (which timers clamp to 1 ms) is refused", async () => {
    const m = await A.sequential([6, 6, 1], small(), { seed: 6 });
    const X = randn(20, 1, 6, 6, 1);
    expectIdentical(await m.predict(X, { timeout: Infinity }), await m.predict(X));
    await expect(m.predict(X, { timeout: 2 ** 31 })).rejects.toThrow(
      "predict: options.timeout expects a number of ms in (0, 2147483647] or Infinity but got number 2147483648",
    );
    await expect(A.sequential([6, 6, 1], small(), { batching: { windowMs: 1e10 } })).rejects.toThrow(
      "sequential: options.batching.windowMs expects a number of ms in [0, 2147483647] but got number 10000000000",
    );
    await expect(A.sequential([6, 6, 1], small(), { batching: { maxBatch: 1e9 } })).rejects.toThrow(
      /^sequential: options.batching.maxBatch expects batches of at most 1073741824 bytes but 1000000000 examples of 36 values/,
    );
    await expect(m.predict(X, null as never)).rejects.toThrow("predict: options expects an object but got null");
    await m.dispose();
  });

  it("bounds the bytes of arguments in flight (maxQueueBytes): past it a BusyError, the others answered", async () => {
    A.dispose();
    await A.init({ workers: 2, maxQueueBytes: 4 << 20 });
    const W = randn(21, 3, 3, 4, 4);
    const b = randn(22, 4);
    const X = randn(23, 1, 180, 180, 4); // ~1 MB
    const expected = S.conv_forward(X, W, b, hp)[0];
    const results = await Promise.allSettled(Array.from({ length: 64 }, () => A.conv_forward(X, W, b, hp)));
    const busy = results.filter((r) => r.status === "rejected");
    const done = results.filter((r) => r.status === "fulfilled");
    expect(busy.length).toBeGreaterThan(0);
    expect(done.length).toBeGreaterThan(0);
    expect(done.length).toBeLessThanOrEqual(5);
    for (const r of busy) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(A.BusyError);
    for (const r of done) expectIdentical((r as PromiseFulfilledResult<[S.NDArray, unknown]>).value[0], expected);
    // once they are answered, calls are taken again
    expectIdentical((await A.conv_forward(X, W, b, hp))[0], expected);
    A.dispose();
    await expect(A.init({ maxQueueBytes: -1 })).rejects.toThrow("init: maxQueueBytes expects an integer >= 0");
    await A.init({ workers: 2, threads: 2 });
  });
});

describe("starting and stopping (issue 20, polish)", () => {
  it("init() then dispose() at once: init rejects and no worker is left running", async () => {
    A.dispose();
    const started = A.init({ workers: 2 });
    A.dispose();
    await expect(started).rejects.toThrow("init: convwasm/async was disposed before it had started");
    expect((await A.threading()).workers).toBe(0);
    await A.init({ workers: 2, threads: 2 });
    expect((await A.threading()).workers).toBe(2);
  });

  it("release() replaces the workers (their WASM memory goes with them); calls and models go on", async () => {
    const X = randn(24, 1, 8, 8, 2);
    const W = randn(25, 3, 3, 2, 2);
    const b = randn(26, 2);
    const m = await A.sequential([6, 6, 1], small(), { seed: 7 });
    await m.setWeights({ "dense/b": randn(27, 3) });
    const Xm = randn(28, 2, 6, 6, 1);
    const before = await m.predict(Xm);
    // a call asked during the release waits for the new workers, and is answered the same; two at once too
    const during = m.predict(Xm);
    await Promise.all([A.release(), A.release()]);
    expectIdentical(await during, before);
    for (const P of await Promise.all(Array.from({ length: 6 }, () => m.predict(Xm)))) expectIdentical(P, before);
    expectIdentical((await A.conv_forward(X, W, b, hp))[0], S.conv_forward(X, W, b, hp)[0]);
    await m.dispose();
    // disposed while a release waits for a call in flight: the release rejects, nothing hangs
    const slow = A.conv_forward(randn(29, 1, 128, 128, 8), randn(30, 3, 3, 8, 8), randn(31, 8), hp);
    const released = A.release();
    A.dispose();
    await expect(within(released, 10_000)).rejects.toThrow(/^release: convwasm\/async was disposed/);
    await expect(slow).rejects.toThrow(/^conv_forward: convwasm\/async was disposed/);
    await A.init({ workers: 2, threads: 2 });
  });
});
