// The shipped module: kernels only. No imports (so no abort path and no allocator), nothing allocates.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const bytes = readFileSync(new URL("../../dist/convwasm.wasm", import.meta.url));

describe("dist/convwasm.wasm", () => {
  const module = new WebAssembly.Module(bytes);

  it("imports nothing: no runtime, no abort, no allocator reachable", () => {
    expect(WebAssembly.Module.imports(module)).toEqual([]);
  });

  it("exports the kernels, their memory and heap_base, and nothing of a runtime", () => {
    const names = WebAssembly.Module.exports(module).map((e) => e.name);
    expect(names).toContain("memory");
    expect(names).toContain("heap_base");
    expect(names.filter((n) => n.startsWith("__"))).toEqual([]);
  });
});
