// The shipped modules: kernels only, exactly those of the kernel table (src/kernels/kernels.ts) with the
// arities it passes. The one-thread module imports nothing (no abort path, no allocator); the shared one
// imports only its shared memory.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ABI_VERSION, KERNELS, KERNEL_NAMES, mismatch, task } from "convwasm/internal";
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
});
