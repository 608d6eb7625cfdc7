// The arena: reused across calls, grows on demand, never leaks (after thousands of calls or errors),
// and a request beyond WASM32 is a RangeError after which the library works normally.
import { beforeAll, describe, expect, it } from "vitest";
import { NDArray, init, memory, zero_pad, conv_forward, conv_backward, pool_forward, pool_backward } from "convwasm";
import { randn } from "../helpers.js";

beforeAll(() => init());

function mixedCalls(i: number): void {
  const A = randn(i % 7, 2, 5, 5, 3);
  const [Z, cache] = conv_forward(A, randn(1, 3, 3, 3, 4), randn(2, 1, 1, 1, 4), { stride: 1 + (i % 2), pad: i % 3 });
  conv_backward(Z, cache);
  const [Y, pc] = pool_forward(A, { f: 2, stride: 1 + (i % 3) }, i % 2 ? "max" : "average");
  pool_backward(Y, pc, i % 2 ? "max" : "average");
  zero_pad(A, i % 4);
}

describe("memory()", () => {
  it("init() is idempotent and memory() reports the module's bytes", async () => {
    await init();
    await Promise.all([init(), init()]);
    const m = memory();
    expect(m.wasmBytes).toBeGreaterThan(0);
    expect(m.wasmBytes % 65536).toBe(0);
    expect(m.arenaBytesInUse).toBe(0);
  });

  it("ten thousand calls leave memory() where it started", () => {
    for (let i = 0; i < 20; i++) mixedCalls(i); // reach the steady-state size first
    const before = memory();
    for (let i = 0; i < 10_000; i++) mixedCalls(i);
    expect(memory()).toEqual(before);
  });

  it("grows on demand for a large call, and is reused afterwards", () => {
    const big = randn(3, 4, 64, 64, 8);
    const [Z] = conv_forward(big, randn(4, 3, 3, 8, 16), randn(5, 1, 1, 1, 16), { stride: 1, pad: 1 });
    expect(Z.shape).toEqual([4, 64, 64, 16]);
    const after = memory();
    expect(after.wasmBytes).toBeGreaterThan(4 * 66 * 66 * 8 * 8);
    conv_forward(big, randn(4, 3, 3, 8, 16), randn(5, 1, 1, 1, 16), { stride: 1, pad: 1 });
    expect(memory()).toEqual(after);
  });

  it("a request beyond what WASM32 addresses is a RangeError naming the sizes; the library works afterwards", () => {
    // a 30000×30000 image seen through zero strides: tiny in JS, 7.2 GB once placed (Z: 57.6 GB)
    const huge = new NDArray(new Float64Array(1), [1, 30000, 30000, 1], [0, 0, 0, 0]);
    const W = randn(6, 1, 1, 1, 1);
    const b = randn(7, 1, 1, 1, 1);
    const before = memory();
    const call = () => conv_forward(huge, W, b, { stride: 1, pad: 1 });
    expect(call).toThrow(RangeError);
    expect(call).toThrow(
      /^conv_forward: Z needs 53\.7 GiB \(57607680256 bytes\).*beyond the 4\.0 GiB \(4294967296 bytes\) that WASM32 can address/,
    );
    expect(memory()).toEqual(before);
    // pooling streams bands of rows through the arena: only a single row beyond 4 GiB is too much
    const wide = new NDArray(new Float64Array(1), [1, 1, 600_000_000, 1], [0, 0, 0, 0]);
    expect(() => pool_forward(wide, { f: 1, stride: 1 })).toThrow(/^pool_forward: A_prev band needs 4\.5 GiB/);
    expect(memory().arenaBytesInUse).toBe(0);
    mixedCalls(3);
    expect(memory().arenaBytesInUse).toBe(0);
  });
});
