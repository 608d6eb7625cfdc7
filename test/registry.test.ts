// The op registry (issue 21): each op defined once, in its family's OPS (src/ops/registry.ts); the sync
// entry's exports and aliases, convwasm/async's ops, arguments, option keys and costs, and the README's
// API tables are written from the definitions by scripts/gen-ops.mjs, and must be current.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import * as S from "convwasm";
import * as A from "convwasm/async";
import { ASYNC_OPS } from "convwasm/internal";
// @ts-expect-error: a plain .mjs script, without types
import { render } from "../scripts/gen-ops.mjs";
import { FAMILIES } from "../dist/ops/index.js";

type Rendered = { sync: string; asyncOps: string; protocol: string; readme: Record<string, string> };
const gen = render as (families: object) => Rendered;

describe("the op registry", () => {
  it("has written every region from the current definitions (npm run gen:ops)", () => {
    const root = new URL("..", import.meta.url).pathname;
    expect(() => execFileSync("node", ["scripts/gen-ops.mjs", "--check"], { cwd: root, stdio: "pipe" })).not.toThrow();
  });

  it("gives every registered op to both entries, under its name and alias, and to the async protocol", () => {
    for (const defs of Object.values(FAMILIES)) {
      for (const [name, def] of Object.entries(defs)) {
        expect((S as Record<string, unknown>)[name], name).toBe(def.fn);
        expect(typeof (A as Record<string, unknown>)[name], name).toBe("function");
        expect(ASYNC_OPS[name as keyof typeof ASYNC_OPS]).toEqual(def.args);
      }
    }
  });

  it("adds a made-up elementwise op from its definition alone: both entries, its alias, the protocol and the README", () => {
    const cube_root = (Z: S.NDArray) => new S.NDArray(Z.toFloat64Array().map(Math.cbrt), Z.shape);
    const made = {
      ...FAMILIES,
      roots: {
        cube_root: {
          fn: cube_root,
          args: ["Z", "options"],
          keys: ["out", "precision"],
          doc: "`∛Z`, any shape",
          section: "layers",
          cost: { factor: 1, pixelsOf: 0, sizeOf: 0 },
        },
      },
    };
    const r = gen(made);
    expect(r.sync).toContain('export { cube_root, cube_root as cubeRoot } from "./ops/roots.js";');
    expect(r.asyncOps).toContain('export const cube_root = op("cube_root");');
    expect(r.asyncOps).toMatch(/export \{[^}]*\bcube_root as cubeRoot\b/);
    expect(r.protocol).toContain('cube_root: ["Z","options"],');
    expect(r.protocol).toMatch(/OP_KEYS = \[[^\]]*"precision"/);
    expect(r.protocol).toContain('cube_root: {"factor":1,"pixelsOf":0,"sizeOf":0},');
    expect(r.readme.layers).toContain("| `cube_root(Z)` | `cubeRoot` | `∛Z`, any shape |");
    // and nothing else changed: the other ops' lines are as the registry without it gives them
    const base = gen(FAMILIES);
    expect(r.sync.startsWith(base.sync)).toBe(true);
    expect(r.readme.notebook).toBe(base.readme.notebook);
  });
});
