// init(): a clear error before it, a retry after a failed load, its options. (Its own file: a fresh module.)
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { init, memory, conv_forward, pool_forward } from "convwasm";
import { packageFile, randn } from "../helpers.js";

describe("init()", () => {
  it("ops called before init() throw a clear error, and memory() reports nothing", () => {
    expect(() =>
      conv_forward(randn(1, 1, 3, 3, 1), randn(2, 2, 2, 1, 1), randn(3, 1, 1, 1, 1), { stride: 1, pad: 0 }),
    ).toThrow("conv_forward: convwasm is not initialised; call `await init()` first");
    expect(() => pool_forward(randn(1, 1, 3, 3, 1), { f: 2, stride: 1 })).toThrow(
      /^pool_forward: convwasm is not initialised/,
    );
    expect(memory()).toEqual({ wasmBytes: 0, arenaBytesInUse: 0 });
  });

  it("a bad option or a broken module rejects, and a later init() can still succeed", async () => {
    await expect(init({ arenaBytes: -1 })).rejects.toThrow(
      "init: arenaBytes expects an integer >= 0 but got number -1",
    );
    await expect(init({ wasm: new Uint8Array([0, 97, 115, 109, 9, 9, 9, 9]) })).rejects.toThrow(
      /^init: wasm expects a WebAssembly module but could not compile it \(CompileError/,
    );
    // an empty module, and one with the right names that does nothing: refused, naming what is wrong
    await expect(init({ wasm: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]) })).rejects.toThrow(
      "init: wasm expects a build of this version of convwasm, but it has no abi_version export (not a convwasm module)",
    );
    expect(memory().wasmBytes).toBe(0);
  });

  it("init({ wasm: bytes, arenaBytes }) uses those bytes and reserves that much arena", async () => {
    const bytes = readFileSync(packageFile("convwasm.wasm"));
    await init({ wasm: bytes, arenaBytes: 24 * 1024 * 1024 });
    expect(memory().wasmBytes).toBeGreaterThanOrEqual(24 * 1024 * 1024);
    expect(memory().arenaBytesInUse).toBe(0);
    const [Z] = conv_forward(randn(1, 2, 5, 5, 3), randn(2, 3, 3, 3, 4), randn(3, 1, 1, 1, 4), { stride: 1, pad: 1 });
    expect(Z.shape).toEqual([2, 5, 5, 4]);
    await init(); // idempotent: already initialised
  });

  it("a fresh Node process's import, init and first op never load Node's fetch (25-30 ms of a cold start)", () => {
    const script = `
      import { init, conv_forward, RandomState } from "convwasm";
      import "convwasm/onnx";
      await init({ threads: 2 });
      const r = new RandomState(1);
      conv_forward(r.randn(1, 8, 8, 3), r.randn(3, 3, 3, 4), r.randn(1, 1, 1, 4), { stride: 1, pad: 1 });
      console.log(process.moduleLoadList.filter((m) => /undici|fetch/.test(m)).join(",") || "none");
    `;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(run.stderr).toBe("");
    expect(run.stdout.trim()).toBe("none");
  });
});
