// The findings of the hostile fuzzing (issue 14), one regression test each: re-entrant and throwing
// arguments under threads, failures inside a threaded job, malformed views, huge views, empty batches,
// dispose() from inside a call, error messages, prototype pollution, the sign of a zero maximum, modules
// that are not convwasm's, and memory given back.
import { availableParallelism } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  NDArray,
  conv_backward,
  conv_forward,
  distribute_value,
  dispose,
  getThreads,
  init,
  memory,
  pool_backward,
  pool_forward,
  release,
  setThreads,
  threading,
  zero_pad,
  zeros,
} from "convwasm";
import { Pool, Task, wasm } from "convwasm/internal";
import { expectIdentical, randn, shareSmallCalls } from "./helpers.js";

const THREADS = Math.max(2, Math.min(4, availableParallelism()));
let baseline = 0;
beforeAll(async () => {
  await init();
  await setThreads(THREADS);
  baseline = memory().wasmBytes;
});
afterAll(() => setThreads(availableParallelism() > 1 ? 2 : 1));
shareSmallCalls();

// a layer big enough to be shared out to the pool
const A = randn(1, 2, 32, 32, 16);
const W = randn(2, 3, 3, 16, 16);
const b = randn(3, 1, 1, 1, 16);
const hp = { stride: 1, pad: 1 };

/** `a` seen through a Proxy that runs `onRead` the first time a field is read. */
function hostile(a: NDArray, onRead: () => void): NDArray {
  let done = false;
  return new Proxy(a, {
    get(target, key) {
      if (!done) {
        done = true;
        onRead();
      }
      return Reflect.get(target, key, target);
    },
  });
}

/** An object that passes `instanceof NDArray` and reads its fields through getters. */
function withGetters(a: NDArray, onRead: (field: string) => unknown): NDArray {
  const fields = (["data", "shape", "strides", "offset"] as const).map((f) => [
    f,
    { get: () => onRead(f) ?? a[f], enumerable: true },
  ]);
  return Object.create(NDArray.prototype, Object.fromEntries(fields)) as NDArray;
}

const named = (fn: string) => new RegExp(`^${fn}: `);

describe("re-entrant and throwing arguments under threads", () => {
  it(`a getter that calls another threaded op while conv_forward reads it: both results right (${THREADS} threads)`, () => {
    expect(getThreads()).toBe(THREADS);
    const [expected] = conv_forward(A, W, b, hp);
    const A2 = randn(4, 2, 32, 32, 16);
    const [expectedInner] = conv_forward(A2, W, b, hp);
    let inner: NDArray | null = null;
    const [Z] = conv_forward(
      hostile(A, () => (inner = conv_forward(A2, W, b, hp)[0])),
      W,
      b,
      hp,
    );
    expectIdentical(Z, expected);
    expectIdentical(inner!, expectedInner);
    // the same through getters on every field, each calling a threaded conv_backward
    const [, cache] = conv_forward(A, W, b, hp);
    const [dA] = conv_backward(expected, cache);
    let reads = 0;
    const [Z2] = conv_forward(
      withGetters(A, () => {
        reads++;
        conv_backward(expected, cache);
        return undefined;
      }),
      W,
      b,
      hp,
    );
    expectIdentical(Z2, expected);
    expect(reads).toBe(4); // each field read once
    expectIdentical(conv_backward(expected, cache)[0], dA);
    expect(memory().arenaBytesInUse).toBe(0);
  });

  it("a getter that throws (an Error or not) is an error naming the function; the next calls are right", () => {
    const [expected] = conv_forward(A, W, b, hp);
    for (let round = 0; round < 20; round++) {
      expect(() =>
        conv_forward(
          withGetters(A, (f) => {
            if (f === "strides") throw round % 2 ? new Error("boom") : { not: "an Error" };
          }),
          W,
          b,
          hp,
        ),
      ).toThrow(
        round % 2 ? "conv_forward: reading A_prev threw: boom" : "conv_forward: reading A_prev threw: an object",
      );
      expectIdentical(conv_forward(A, W, b, hp)[0], expected);
    }
    expect(memory().arenaBytesInUse).toBe(0);
  });

  it("a job that fails while tasks run (prepare or finish throws) waits for the claimed tasks before it returns", async () => {
    const shared = wasm("test").shared!;
    const pool = await Pool.start(shared.spawn, THREADS - 1, shared.module, shared.memory, shared.kernels, 5000);
    const { arena } = shared;
    try {
      arena.scope(() => {
        // long tasks writing into z; the stream throws after handing out a few
        const [hp2, c, f, k8, nH] = [66, 64, 3, 64, 64];
        const xp = arena.zeros("test", "xp", hp2 * hp2 * c);
        const wpk = arena.zeros("test", "wpk", f * f * c * k8);
        const bias = arena.zeros("test", "b", k8);
        const z = arena.alloc("test", "z", 8 * nH * nH * k8 * 8);
        const task = (t: number): Task => {
          if (t === 6) throw new Error("prepare failed");
          const zt = z + t * nH * nH * k8 * 8;
          return ["conv_forward", xp, hp2, hp2, c, c, wpk, f, f, 1, 1, k8, bias, 1, 1, zt, k8, nH, nH, 0, nH, 0, 0];
        };
        expect(() => pool.stream("test", 8, task, () => undefined)).toThrow("prepare failed");
        // nothing may still be writing: a sentinel written now stays
        const view = () => arena.f64(z, 6 * nH * nH * k8);
        view().fill(7);
        const t0 = performance.now();
        while (performance.now() - t0 < 100);
        expect(view().every((v) => v === 7)).toBe(true);
        // and the next job runs whole
        pool.run("test", [task(0), task(1)]);
        expect(arena.f64(z, nH * nH * k8).every((v) => v === 0)).toBe(true);
      });
    } finally {
      pool.dispose();
    }
  });

  it("dispose() from a getter during a threaded call: no stall, the right result, then one thread", async () => {
    const [expected] = conv_forward(A, W, b, hp);
    const t0 = performance.now();
    // (every read of a field calls dispose(): before this version some reads came while workers held tasks)
    const [Z] = conv_forward(
      withGetters(A, () => void dispose()),
      W,
      b,
      hp,
    );
    expect(performance.now() - t0).toBeLessThan(1000);
    expectIdentical(Z, expected);
    expect(getThreads()).toBe(1);
    expect(threading().reason).toBe("1 thread: dispose() was called");
    expect(await setThreads(THREADS)).toBe(THREADS);
  });
});

describe("malformed and huge views", () => {
  it("NDArray refuses NaN, negative or fractional offsets and strides, and views past its data", () => {
    const d = new Float64Array(64);
    expect(() => new NDArray(d, [1, 8, 8, 1], undefined, NaN)).toThrow(
      "NDArray: offset expects an integer >= 0 but got number NaN",
    );
    expect(() => new NDArray(d, [1, 8, 8, 1], undefined, -1)).toThrow("NDArray: offset expects an integer >= 0");
    expect(() => new NDArray(d, [2, 2], [2, 0.5])).toThrow("NDArray: strides expects integers");
    expect(() => new NDArray(d, [2, 2], [NaN, 1])).toThrow("NDArray: strides expects integers");
    expect(() => new NDArray(d, [2, 2], [70, 1])).toThrow(
      "NDArray: shape [2,2] with strides [70,1] and offset 0 reaches elements 0..71 but data has 64",
    );
    expect(() => new NDArray(d, [8, 8], [8, 1], 1)).toThrow("reaches elements 1..64 but data has 64");
    expect(() => new NDArray([1, 2] as unknown as Float64Array, [2])).toThrow(
      "NDArray: data expects a Float64Array but got [1,2]",
    );
  });

  it("an NDArray's fields cannot be reassigned, nor its shape changed in place", () => {
    const a = zeros([2, 3]);
    const any = a as unknown as Record<string, unknown>;
    expect(() => (any.offset = 5)).toThrow(TypeError);
    expect(() => (any.data = new Float64Array(1))).toThrow(TypeError);
    expect(() => ((a.shape as number[])[0] = 100)).toThrow(TypeError);
    expect(a.shape).toEqual([2, 3]);
  });

  it("a view whose fields lie (via getters) is checked like any other: named errors, no earlier data", () => {
    const a = randn(5, 1, 8, 8, 1);
    for (const [field, value, message] of [
      ["offset", NaN, "zero_pad: X.offset expects an integer >= 0 but got number NaN"],
      ["offset", 1e6, "zero_pad: X.shape [1,8,8,1] with strides [64,8,1,1] and offset 1000000 reaches"],
      ["strides", [64, 8, 1e9, 1], "zero_pad: X.shape [1,8,8,1] with strides [64,8,1000000000,1]"],
      ["data", [1, 2, 3], "zero_pad: X.data expects a Float64Array but got [1,2,3]"],
      ["data", new Float32Array(64), "zero_pad: X.data expects a Float64Array but got a Float32Array"],
      ["shape", [1, 8, 8, 1.5], "zero_pad: X.shape expects integers >= 0 but got [1,8,8,1.5]"],
    ] as const) {
      expect(() =>
        zero_pad(
          withGetters(a, (f) => (f === field ? value : undefined)),
          0,
        ),
      ).toThrow(message);
    }
    // a Float64Array with a shadowing own `subarray` is read through the engine's own accessors
    const data = Float64Array.from({ length: 64 }, (_, i) => i);
    Object.defineProperty(data, "subarray", { value: () => new Float64Array(64).fill(-1) });
    Object.defineProperty(data, "length", { value: 1e9 });
    expect(Array.from(zero_pad(new NDArray(data, [1, 8, 8, 1]), 0).toFloat64Array())).toEqual(
      Array.from({ length: 64 }, (_, i) => i),
    );
  });

  it("a detached buffer is a named error", () => {
    const a = randn(6, 1, 4, 4, 2);
    structuredClone(a.data.buffer, { transfer: [a.data.buffer as ArrayBuffer] });
    expect(() => zero_pad(a, 1)).toThrow(
      "zero_pad: X.shape [1,4,4,2] with strides [32,8,2,1] and offset 0 reaches elements 0..31 but data has 0 (is its buffer detached?)",
    );
  });

  it("pooling a huge broadcast view is a RangeError naming pool_forward at once, not a crash", () => {
    const huge = new NDArray(new Float64Array(1), [1e8, 64, 64, 1], [0, 0, 0, 0]);
    const t0 = performance.now();
    expect(() => pool_forward(huge, { f: 2, stride: 2 })).toThrow(
      /^pool_forward: A would have 102400000000 elements, more than an array can hold/,
    );
    const wide = new NDArray(new Float64Array(1), [1e6, 64, 64, 1], [0, 0, 0, 0]);
    expect(() => pool_forward(wide, { f: 1, stride: 1 })).toThrow(named("pool_forward"));
    expect(() => zero_pad(wide, 0)).toThrow(named("zero_pad"));
    expect(() => conv_forward(wide, randn(1, 1, 1, 1, 1), randn(2, 1, 1, 1, 1), { stride: 1, pad: 0 })).toThrow(
      named("conv_forward"),
    );
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(memory().arenaBytesInUse).toBe(0);
  });

  it("distribute_value with a huge shape is a named RangeError", () => {
    expect(() => distribute_value(1, [2 ** 20, 2 ** 20])).toThrow(
      /^distribute_value: the result would have 1099511627776 elements/,
    );
  });
});

describe("empty batches as strided views", () => {
  it("zero_pad, conv_forward, conv_backward, pool_forward, pool_backward on [0,3,3,2] strides [36,12,2,1]", () => {
    const empty = new NDArray(new Float64Array(0), [0, 3, 3, 2], [36, 12, 2, 1]);
    expect(zero_pad(empty, 1).shape).toEqual([0, 5, 5, 2]);
    const Wt = randn(7, 2, 2, 2, 3);
    const bt = randn(8, 1, 1, 1, 3);
    const [Z, cache] = conv_forward(empty, Wt, bt, { stride: 1, pad: 1 });
    expect(Z.shape).toEqual([0, 4, 4, 3]);
    const [dA, dW, db] = conv_backward(Z, cache);
    expect(dA.shape).toEqual([0, 3, 3, 2]);
    expect(Array.from(dW.toFloat64Array()).every((v) => v === 0)).toBe(true);
    expect(Array.from(db.toFloat64Array())).toEqual([0, 0, 0]);
    const [P, pcache] = pool_forward(empty, { f: 2, stride: 1 });
    expect(P.shape).toEqual([0, 2, 2, 2]);
    expect(pool_backward(P, pcache).shape).toEqual([0, 3, 3, 2]);
  });
});

describe("hyperparameters and messages", () => {
  it("hparameters are read as own properties: a polluted Object.prototype is not a stride", () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.stride = 2;
    try {
      expect(() => conv_forward(A, W, b, { pad: 0 } as never)).toThrow(
        'conv_forward: hparameters is missing "stride" (got keys ["pad"])',
      );
      expect(() => pool_forward(A, { f: 2 } as never)).toThrow('pool_forward: hparameters is missing "stride"');
    } finally {
      delete proto.stride;
    }
  });

  it("every message starts with the function's name", () => {
    const cases: [string, () => unknown][] = [
      ["conv_forward", () => conv_forward(A, W, undefined as never, hp)],
      ["conv_forward", () => conv_forward(A, W, b, null as never)],
      ["conv_backward", () => conv_backward(A, [A, W] as never)],
      ["pool_forward", () => pool_forward({ data: [1], shape: [1] } as never, { f: 1, stride: 1 })],
      ["zero_pad", () => zero_pad(A, -1)],
    ];
    for (const [fn, call] of cases) expect(call).toThrow(named(fn));
  });
});

describe("the sign of a zero maximum", () => {
  it("is the last zero's in window order in every lane (vector and scalar), as np.max gives", () => {
    // 3 channels: two in an f64x2 lane pair, one scalar
    for (const [window, sign] of [
      [[-0, 0, 0, 0], 1],
      [[0, 0, 0, -0], -1],
      [[0, -0, -0, 0], 1],
      [[-0, -0, -0, -0], -1],
    ] as const) {
      const a = new NDArray(new Float64Array(12), [1, 2, 2, 3]);
      window.forEach((v, p) => [0, 1, 2].forEach((ch) => (a.data[p * 3 + ch] = v)));
      const [P] = pool_forward(a, { f: 2, stride: 2 });
      expect(Array.from(P.toFloat64Array()).map((v) => (Object.is(v, -0) ? -1 : 1))).toEqual([sign, sign, sign]);
    }
  });
});

describe("release()", () => {
  it("gives back the memory a huge call grew, and everything still works on the same threads", async () => {
    const big = randn(9, 16, 64, 64, 16);
    const [expected] = conv_forward(big, W, b, hp);
    expect(memory().wasmBytes).toBeGreaterThan(baseline);
    await release();
    expect(memory()).toEqual({ wasmBytes: baseline, arenaBytesInUse: 0 });
    expect(getThreads()).toBe(THREADS);
    expectIdentical(conv_forward(big, W, b, hp)[0], expected);
    await release();
  });
});
