// What defines an op besides its function: how it is called, its arguments' names (the async wire's), its
// cost (the work estimate convwasm/async's scheduler weighs) and its line in the README's API tables. Each
// family file (pad.ts, conv.ts, …) ends with its ops' definitions (OPS); src/ops/index.ts gathers them.
// scripts/gen-ops.mjs writes from them the sync entry's exports and camelCase aliases, convwasm/async's
// ops, protocol table and costs, and the README's tables (test/registry.test.ts checks they are current).

export interface OpDef {
  /** The function (the op's snake_case name is its key in the family's OPS). */
  readonly fn: (...args: never[]) => unknown;
  /** Its arguments' names, as convwasm/async's wire and errors name them. */
  readonly args: readonly string[];
  /**
   * The keys it reads of its plain-object arguments (hyperparameters and options): convwasm/async sends
   * those and no others (an argument's other keys are neither read nor sent, as the sync API ignores them).
   */
  readonly keys?: readonly string[];
  /** How a reader calls it, for the README (default: its name and its arguments but `options`). */
  readonly call?: string;
  /** The README's "arguments → result" cell. */
  readonly doc: string;
  /** The README table it is listed in. */
  readonly section: "notebook" | "convnet" | "layers";
  /**
   * Multiply-adds of a call, for convwasm/async's scheduler to tell a call worth a thread pool: `factor`
   * × the pixels (elements over the last axis) of the call's `pixelsOf`-th array × the elements of its
   * `sizeOf`-th array, counting the arrays in argument order (a cache's arrays in place). Data, not a
   * function: convwasm/async, which does not load the library, gets a copy. Default: 0.
   */
  readonly cost?: Cost;
}

export interface Cost {
  readonly factor: number;
  readonly pixelsOf: number;
  readonly sizeOf: number;
}

/** A call's multiply-adds by `cost` from its arrays' shapes. */
export function costOf(cost: Cost | undefined, shapes: number[][]): number {
  if (!cost) return 0;
  const size = (a: number[] | undefined) => (a ? a.reduce((p, d) => p * d, 1) : 0);
  const p = shapes[cost.pixelsOf];
  const last = p && p.length > 0 ? p[p.length - 1] || 1 : 1;
  return cost.factor * (size(p) / last) * size(shapes[cost.sizeOf]);
}

/** A family's op definitions, checked against OpDef (keys are the ops' names). */
export function defineOps<T extends Record<string, OpDef>>(ops: T): T {
  return ops;
}
