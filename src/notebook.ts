// The notebook replay: every cell of "Convolutional Neural Network: Step by Step" in order, with numpy's
// seeds, each output printed as numpy prints it beside the notebook's expected output (corrected as in
// SPEC.md: the stride honoured, pad 0 allowed), and ✓ or ✗.
import { NDArray, array } from "./core/ndarray.js";
import { RandomState } from "./core/random.js";
import { init, zero_pad, conv_single_step, conv_forward, conv_backward } from "./index.js";
import { pool_forward, pool_backward, create_mask_from_window, distribute_value } from "./index.js";

/** One printed value of a cell and the notebook's expected output for it. */
export interface Check {
  cell: string;
  label: string;
  actual: string;
  expected: string;
  ok: boolean;
}

const pyShape = (s: readonly number[]): string => `(${s.join(", ")}${s.length === 1 ? "," : ""})`;

/** Expected outputs are printed to 8 decimals (round-off 5e-9) or, for means, in full (compare to 1e-12). */
function close(actual: NDArray | number, expected: NDArray | number, printed: boolean): boolean {
  const a = typeof actual === "number" ? [actual] : Array.from(actual.toFloat64Array());
  const e = typeof expected === "number" ? [expected] : Array.from(expected.toFloat64Array());
  if (typeof actual !== "number" && typeof expected !== "number") {
    if (actual.shape.join() !== expected.shape.join()) return false;
  }
  return a.length === e.length && a.every((v, i) => Math.abs(v - e[i]) <= (printed ? 1e-8 : 1e-12 * Math.abs(e[i])));
}

/** Runs every cell; returns the checks (in order). Needs nothing but the library itself. */
export async function replayNotebook(): Promise<Check[]> {
  await init();
  const checks: Check[] = [];
  const rng = new RandomState();
  const value = (cell: string, label: string, actual: NDArray | number, expected: NDArray | number, printed = true) =>
    checks.push({
      cell,
      label,
      actual: String(actual),
      expected: String(expected),
      ok: close(actual, expected, printed),
    });
  const shape = (cell: string, label: string, actual: readonly number[], expected: number[]) =>
    checks.push({
      cell,
      label,
      actual: pyShape(actual),
      expected: pyShape(expected),
      ok: pyShape(actual) === pyShape(expected),
    });

  // 3.1 zero_pad
  rng.seed(1);
  const x = rng.randn(4, 3, 3, 2);
  const x_pad = zero_pad(x, 2);
  shape("zero_pad", "x.shape", x.shape, [4, 3, 3, 2]);
  shape("zero_pad", "x_pad.shape", x_pad.shape, [4, 7, 7, 2]);
  value(
    "zero_pad",
    "x[1,1]",
    x.index(1, 1),
    array([
      [0.90085595, -0.68372786],
      [-0.12289023, -0.93576943],
      [-0.26788808, 0.53035547],
    ]),
  );
  value("zero_pad", "x_pad[1,1]", x_pad.index(1, 1), array(new Float64Array(14), [7, 2]));

  // 3.2 conv_single_step
  rng.seed(1);
  const a_slice_prev = rng.randn(4, 4, 3);
  const Wss = rng.randn(4, 4, 3);
  const bss = rng.randn(1, 1, 1);
  value("conv_single_step", "Z", conv_single_step(a_slice_prev, Wss, bss), -6.99908945068, true);

  // 3.3 conv_forward
  rng.seed(1);
  const A_prev = rng.randn(10, 4, 4, 3);
  const W = rng.randn(2, 2, 3, 8);
  const b = rng.randn(1, 1, 1, 8);
  const [Z, cache_conv] = conv_forward(A_prev, W, b, { pad: 2, stride: 2 });
  value("conv_forward", "Z's mean", Z.mean(), 0.048995203528855794, false);
  value(
    "conv_forward",
    "Z[3,2,1]",
    Z.index(3, 2, 1),
    array([-0.61490741, -6.7439236, -2.55153897, 1.75698377, 3.56208902, 0.53036437, 5.18531798, 8.75898442]),
  );
  value(
    "conv_forward",
    "cache_conv[0][1][2][3]",
    cache_conv[0].index(1, 2, 3),
    array([-0.20075807, 0.18656139, 0.41005165]),
  );

  // 4.1 pool_forward
  rng.seed(1);
  const A_pool = rng.randn(2, 4, 4, 3);
  const hp = { stride: 2, f: 3 };
  value(
    "pool_forward",
    "mode = max: A",
    pool_forward(A_pool, hp)[0],
    array([[[[1.74481176, 0.86540763, 1.13376944]]], [[[1.13162939, 1.51981682, 2.18557541]]]]),
  );
  value(
    "pool_forward",
    "mode = average: A",
    pool_forward(A_pool, hp, "average")[0],
    array([[[[0.02105773, -0.20328806, -0.40389855]]], [[[-0.22154621, 0.51716526, 0.48155844]]]]),
  );

  // 5.1 conv_backward (on the conv_forward cell's Z and cache)
  rng.seed(1);
  const [dA, dW, db] = conv_backward(Z, cache_conv);
  value("conv_backward", "dA's mean", dA.mean(), 1.4524377775388075, false);
  value("conv_backward", "dW's mean", dW.mean(), 1.7269914583139097, false);
  value("conv_backward", "db's mean", db.mean(), 7.839232564616838, false);

  // 5.2.1 create_mask_from_window
  rng.seed(1);
  const xm = rng.randn(2, 3);
  value(
    "create_mask_from_window",
    "x",
    xm,
    array([
      [1.62434536, -0.61175641, -0.52817175],
      [-1.07296862, 0.86540763, -2.3015387],
    ]),
  );
  value(
    "create_mask_from_window",
    "mask",
    create_mask_from_window(xm),
    array([
      [1, 0, 0],
      [0, 0, 0],
    ]),
  );

  // 5.2.2 distribute_value
  value(
    "distribute_value",
    "distributed value",
    distribute_value(2, [2, 2]),
    array([
      [0.5, 0.5],
      [0.5, 0.5],
    ]),
  );

  // 5.2.3 pool_backward
  rng.seed(1);
  const A_pb = rng.randn(5, 5, 3, 2);
  const [, cache] = pool_forward(A_pb, { stride: 1, f: 2 });
  const dA_pb = rng.randn(5, 4, 2, 2);
  value("pool_backward", "mode = max: mean of dA", dA_pb.mean(), 0.14571390272918056, false);
  value(
    "pool_backward",
    "mode = max: dA_prev[1,1]",
    pool_backward(dA_pb, cache, "max").index(1, 1),
    array([
      [0, 0],
      [5.05844394, -1.68282702],
      [0, 0],
    ]),
  );
  value(
    "pool_backward",
    "mode = average: dA_prev[1,1]",
    pool_backward(dA_pb, cache, "average").index(1, 1),
    array([
      [0.08485462, 0.2787552],
      [1.26461098, -0.25749373],
      [1.17975636, -0.53624893],
    ]),
  );
  return checks;
}

/** The checks as the command line prints them. */
export function formatChecks(checks: Check[]): string {
  const lines: string[] = [];
  let cell = "";
  const indent = (s: string, n: number) => s.split("\n").join("\n" + " ".repeat(n));
  for (const c of checks) {
    if (c.cell !== cell) {
      cell = c.cell;
      lines.push("", `── ${cell} ${"─".repeat(Math.max(0, 60 - cell.length))}`);
    }
    const head = `${c.ok ? "✓" : "✗"} ${c.label} = `;
    lines.push(head + indent(c.actual, head.length));
    const exp = "  expected: ";
    lines.push(exp + indent(c.expected, exp.length));
  }
  const failed = checks.filter((c) => !c.ok).length;
  lines.push(
    "",
    failed === 0
      ? `all ${checks.length} notebook values match ✓`
      : `${failed} of ${checks.length} notebook values differ ✗`,
  );
  return lines.join("\n");
}
