// The source reads as layers that import only downwards (issue 21): core (arrays, checks) → kernels (the
// kernel table and its named builders) → runtime (loader, arena, pool, scheduling) → ops, io, graph and
// reference → model → async and onnx → the entries at src/'s root. A file importing a layer above its own fails here.
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = new URL("../src/", import.meta.url).pathname;
const LEVEL: Record<string, number> = {
  core: 0,
  kernels: 1,
  runtime: 2,
  ops: 3,
  io: 3,
  graph: 3,
  reference: 3,
  model: 4,
  async: 5,
  onnx: 5,
};
/** The entries sit on top: index, notebook, bench, cli, internal, and async/host.ts (a worker's entry, the whole synchronous API). */
const levelOf = (file: string) => {
  const path = relative(SRC, file);
  const dir = path.split("/");
  return dir.length === 1 || path.startsWith("async/host.") ? 6 : LEVEL[dir[0]];
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("src/'s layout", () => {
  it("has a level for every folder, and every import goes down (or stays in its folder)", () => {
    const wrong: string[] = [];
    for (const file of files(SRC)) {
      const level = levelOf(file);
      expect(level, relative(SRC, file)).toBeTypeOf("number");
      const text = readFileSync(file, "utf8");
      // (type-only imports are not dependencies at run time: convwasm/async types its functions after the sync API's)
      for (const [, spec] of text.matchAll(/^(?:import|export)(?! type)(?:[^;"]*?from)?\s*"(\.[^"]+)"/gms)) {
        const target = join(file, "..", spec);
        const sameFolder = relative(SRC, target).split("/")[0] === relative(SRC, file).split("/")[0];
        if (!sameFolder && levelOf(target) > level) wrong.push(`${relative(SRC, file)} imports ${spec}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
