// The shipped modules: kernels only, exactly those of the kernel table (src/kernels/kernels.ts) with the
// arities it passes. The one-thread module imports nothing (no abort path, no allocator); the shared one,
// made from it by sharedBuild, imports only its shared memory.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ABI_VERSION, KERNELS, KERNEL_NAMES, mismatch, sharedBuild, task } from "convwasm/internal";
import { packageFile } from "../helpers.js";

const load = (name: string) => new WebAssembly.Module(readFileSync(packageFile(name)));
const single = load("convwasm.wasm");
const shared = load("convwasm-shared.wasm");
const instances = {
  "convwasm.wasm": new WebAssembly.Instance(single, {}).exports,
  "convwasm-shared.wasm": new WebAssembly.Instance(shared, {
    env: { memory: new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true }) },
  }).exports,
};

describe("convwasm.wasm and convwasm-shared.wasm", () => {
  it("convwasm.wasm imports nothing: no runtime, no abort, no allocator reachable", () => {
    expect(WebAssembly.Module.imports(single)).toEqual([]);
  });

  it("convwasm-shared.wasm imports one thing, env.memory", () => {
    expect(WebAssembly.Module.imports(shared)).toEqual([{ module: "env", name: "memory", kind: "memory" }]);
  });

  for (const [build, exports] of Object.entries(instances)) {
    it(`${build} exports exactly the kernel table's kernels, with its arities, and its ABI version`, () => {
      const fns = Object.keys(exports).filter((n) => typeof exports[n] === "function");
      expect(fns.sort()).toEqual([...KERNEL_NAMES, "abi_version", "heap_base"].sort());
      for (const name of KERNEL_NAMES) {
        expect([name, (exports[name] as Function).length]).toEqual([name, KERNELS[name].args.length]);
      }
      expect((exports.abi_version as () => number)()).toBe(ABI_VERSION);
      expect(mismatch(exports)).toBeNull();
    });
  }

  it("every kernel's task builder puts its named arguments in the table's order", () => {
    for (const name of KERNEL_NAMES) {
      const args = KERNELS[name].args;
      const named = Object.fromEntries(args.map((a, i) => [a, i + 1]));
      expect(task(name, named as never), name).toEqual([name, ...args.map((_, i) => i + 1)]);
    }
  });

  it("every kernel's arguments fit in a row of the pool's task table (24 words: kernel, count, arguments)", () => {
    for (const name of KERNEL_NAMES) expect(KERNELS[name].args.length).toBeLessThanOrEqual(22);
  });

  it("a module with a kernel missing, of another arity or of another ABI version is named as such", () => {
    const exports = instances["convwasm.wasm"];
    const without = { ...exports, conv_forward: undefined };
    expect(mismatch(without)).toBe("it has no kernel conv_forward");
    expect(mismatch({ ...exports, zero_pad: (a: number) => a })).toBe(
      "its kernel zero_pad takes 1 arguments, this code passes 15",
    );
    expect(mismatch({ ...exports, abi_version: () => 1 })).toBe(`its ABI version is 1, this code needs ${ABI_VERSION}`);
    expect(mismatch({})).toBe("it has no abi_version export (not a convwasm module)");
  });

  it("convwasm-shared.wasm is convwasm.wasm with its memory imported: every other section the same bytes", () => {
    const bytes = new Uint8Array(readFileSync(packageFile("convwasm.wasm")));
    const made = sharedBuild("test", bytes, 65536);
    expect(Buffer.from(made).equals(readFileSync(packageFile("convwasm-shared.wasm")))).toBe(true);
    const exportsOf = (m: WebAssembly.Module) => WebAssembly.Module.exports(m);
    expect(exportsOf(new WebAssembly.Module(made))).toEqual(exportsOf(single));
    // the code and data sections (the last two) are carried over unchanged
    const tail = (b: Uint8Array) => Buffer.from(b.subarray(b.length - 30000));
    expect(tail(made).equals(tail(bytes))).toBe(true);
    // a memory of the wrong kind does not link
    expect(
      () => new WebAssembly.Instance(shared, { env: { memory: new WebAssembly.Memory({ initial: 1 }) } }),
    ).toThrow();
  });

  it("sharedBuild names what is wrong with bytes that are not a one-thread convwasm build", () => {
    const bytes = new Uint8Array(readFileSync(packageFile("convwasm.wasm")));
    expect(() => sharedBuild("init", new Uint8Array([1, 2, 3]), 16)).toThrow(
      "init: wasm expects a convwasm module but its bytes are not a WebAssembly 1 module",
    );
    expect(() => sharedBuild("init", bytes.subarray(0, 100), 16)).toThrow(
      /^init: wasm expects a convwasm module but its section \d+ runs past the end$/,
    );
    const shared = readFileSync(packageFile("convwasm-shared.wasm"));
    expect(() => sharedBuild("init", new Uint8Array(shared), 16)).toThrow(
      "init: wasm expects a convwasm module with one memory of its own but got another module",
    );
    // a module with no memory: the empty module
    expect(() => sharedBuild("init", new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), 16)).toThrow(
      /one memory of its own/,
    );
  });
});
