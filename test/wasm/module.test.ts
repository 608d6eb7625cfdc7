// The shipped modules: kernels only. The one-thread module imports nothing (so no abort path and no
// allocator); the shared one imports only its shared memory. Same exports, nothing of a runtime.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const load = (name: string) => new WebAssembly.Module(readFileSync(new URL(`../../dist/${name}`, import.meta.url)));

describe("dist/convwasm.wasm and dist/convwasm-shared.wasm", () => {
  const single = load("convwasm.wasm");
  const shared = load("convwasm-shared.wasm");

  it("convwasm.wasm imports nothing: no runtime, no abort, no allocator reachable", () => {
    expect(WebAssembly.Module.imports(single)).toEqual([]);
  });

  it("convwasm-shared.wasm imports one thing, env.memory", () => {
    expect(WebAssembly.Module.imports(shared)).toEqual([{ module: "env", name: "memory", kind: "memory" }]);
  });

  it("both export the kernels, their memory and heap_base, and nothing of a runtime", () => {
    const names = WebAssembly.Module.exports(single).map((e) => e.name);
    expect(names).toContain("memory");
    expect(names).toContain("heap_base");
    expect(names.filter((n) => n.startsWith("__"))).toEqual([]);
    expect(WebAssembly.Module.exports(shared).map((e) => e.name)).toEqual(names);
  });
});
