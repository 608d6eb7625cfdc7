// The entries agree: every op of the synchronous API is offered by convwasm/async (whose protocol lists
// the ops its workers run) under the same name and camelCase alias, and the README's API tables document
// exactly those ops. Adding an op to one place and not the others fails here.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as S from "convwasm";
import * as A from "convwasm/async";
import { ASYNC_OPS } from "convwasm/internal";

/** The entries' functions that are not ops: setup, arrays, models, optimizers, files. */
const NOT_OPS = new Set([
  ...["init", "release", "memory", "getThreads", "setThreads", "threading", "dispose"],
  ...["NDArray", "array", "zeros", "RandomState", "Sequential", "sequential", "digitsLayers", "sgd", "adam"],
  ...["Model", "model", "input", "SymbolicTensor"],
  ...["readNpz", "writeNpz", "AsyncSequential", "BusyError", "TimeoutError", "shared"],
]);
const camel = (name: string) => name.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase());
const functions = (entry: object) =>
  Object.entries(entry)
    .filter(([, v]) => typeof v === "function")
    .map(([k]) => k);
const ops = Object.keys(ASYNC_OPS);

describe("the entries", () => {
  it("offer the same ops: the sync API, convwasm/async and its protocol's table", () => {
    // (an entry's functions but the setup ones and the camelCase aliases, whose camelCase form differs)
    const opsOf = (entry: object) =>
      functions(entry)
        .filter((k) => !NOT_OPS.has(k) && /^[a-z_0-9]+$/.test(k))
        .sort();
    expect(opsOf(S)).toEqual([...ops].sort());
    expect(opsOf(A)).toEqual([...ops].sort());
  });

  it("give every op with an underscore its camelCase alias, the same function, in both entries", () => {
    for (const op of ops) {
      const alias = camel(op);
      for (const [name, entry] of [
        ["convwasm", S],
        ["convwasm/async", A],
      ] as const) {
        const e = entry as unknown as Record<string, unknown>;
        expect(typeof e[op], `${name} ${op}`).toBe("function");
        expect(e[alias], `${name} ${alias}`).toBe(e[op]);
      }
    }
    // and no alias without its op
    const aliases = functions(S).filter((k) => !NOT_OPS.has(k) && !ops.includes(k));
    expect(aliases.sort()).toEqual(
      ops
        .filter((op) => camel(op) !== op)
        .map(camel)
        .sort(),
    );
  });

  it("are documented: the README's API tables name exactly these ops", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    // the tables' first cells: `name(…)` (sometimes `a` / `b` or `a`, `b` in one cell)
    const cells = [...readme.matchAll(/^\| (.+?) \|/gm)].map((m) => m[1]);
    const named = new Set(cells.flatMap((c) => [...c.matchAll(/`([a-z_0-9]+)\(/g)].map((m) => m[1])));
    for (const op of ops) expect(named.has(op), `${op} in the README's tables`).toBe(true);
    const undocumentedOps = [...named].filter((n) => n.includes("_") && !ops.includes(n));
    expect(undocumentedOps).toEqual([]);
  });
});
