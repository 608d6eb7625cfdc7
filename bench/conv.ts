// conv_forward and conv_backward on every conv workload, beside the peers and the ceiling probe.
import { RandomState, conv_forward, conv_backward } from "convwasm";
import * as reference from "convwasm/reference";
import { wasm } from "convwasm/internal";
import * as tfjs from "./peers/tfjs.js";
import * as convnetjs from "./peers/convnetjs.js";
import { ROUNDS, THREADS, measure, planCases } from "./measure.js";
import type { ConvWorkload } from "./workloads.js";

export interface ConvRow {
  workload: string;
  op: "conv_forward" | "conv_backward";
  shape: string;
  gflop: number;
  ms: Record<string, number | null>;
  ceilingGflops: number;
  /** copy-in and copy-out alone, for conv_forward */
  copyMs?: number;
}

export function plan(workloads: ConvWorkload[]): void {
  planCases(workloads.length * (ROUNDS * (5 + 4 + 4 + (THREADS > 1 ? 2 : 0)) + 2 + 2));
}

/** copy-in of A_prev and W and copy-out of Z, as conv_forward does them, without the kernels. */
function copiesOnly(A: ReturnType<RandomState["randn"]>, W: ReturnType<RandomState["randn"]>, zShape: number[]) {
  const { arena } = wasm("bench").single;
  const k8 = Math.ceil(zShape[3] / 8) * 8;
  const [m, nH, nW, k] = zShape;
  return () =>
    arena.scope(() => {
      arena.copyInStrided("bench", "A_prev", A);
      arena.copyIn("bench", "W", W);
      const z = arena.alloc("bench", "Z", m * nH * nW * k8 * 8);
      return arena.copyOut(z, [m, nH, nW, k], [nH * nW * k8, nW * k8, k8, 1]);
    });
}

export async function run(workloads: ConvWorkload[], ceiling: () => number): Promise<ConvRow[]> {
  const rows: ConvRow[] = [];
  for (const w of workloads) {
    const rs = new RandomState(1);
    const groups = w.groups ?? 1;
    const A = rs.randn(w.m, w.h, w.w, w.c);
    const W = rs.randn(w.f, w.f, w.c / groups, w.k);
    const b = rs.randn(1, 1, 1, w.k);
    const hp = { stride: w.stride, pad: w.pad, dilation: w.dilation ?? 1, groups };
    const [Z, cache] = conv_forward(A, W, b, hp);
    const dZ = rs.randn(...Z.shape);
    const macs = w.m * Z.shape[1] * Z.shape[2] * w.k * w.f * w.f * (w.c / groups);
    const tf = tfjs.conv(w, A.data, W.data, dZ.data, [...Z.shape]);
    // ConvNetJS has neither 'same', dilation nor groups
    const cn =
      w.pad !== "same" && hp.dilation === 1 && groups === 1
        ? convnetjs.conv({ ...w, pad: w.pad }, A.data, W.data, dZ.data, [...Z.shape])
        : null;
    const extra = `${hp.dilation > 1 ? ` d${hp.dilation}` : ""}${groups > 1 ? ` g${groups}` : ""}`;
    const shape = `A [${A.shape}] W [${W.shape}] s${w.stride} p${w.pad}${extra}`;

    // a 3×3 stride-1 layer: each algorithm too (the convwasm column is "auto", as a user gets it)
    const winograd = w.f === 3 && w.stride === 1 && hp.dilation === 1 && groups === 1;
    const algorithms = (op: "forward" | "backward") =>
      winograd
        ? (["direct", "winograd"] as const).map((algorithm) => ({
            name: `convwasm ${algorithm}`,
            fn:
              op === "forward"
                ? () => conv_forward(A, W, b, hp, { algorithm })
                : () => conv_backward(dZ, cache, { algorithm }),
          }))
        : [];
    const fwd = await measure(
      `${w.name} conv_forward`,
      ceiling,
      { name: "convwasm", fn: () => conv_forward(A, W, b, hp) },
      [
        { name: "copies only", fn: copiesOnly(A, W, [...Z.shape]) },
        ...algorithms("forward"),
        ...(tf.forward ? [{ name: tfjs.name, fn: tf.forward }] : []),
      ],
      [
        { name: "reference (plain TS)", fn: () => reference.conv_forward(A, W, b, hp) },
        ...(cn?.forward ? [{ name: convnetjs.name, fn: cn.forward }] : []),
      ],
    );
    const copyMs = fwd.ms["copies only"];
    delete fwd.ms["copies only"];
    rows.push({ workload: w.name, op: "conv_forward", shape, gflop: (2 * macs) / 1e9, ...fwd, copyMs });

    const bwd = await measure(
      `${w.name} conv_backward`,
      ceiling,
      { name: "convwasm", fn: () => conv_backward(dZ, cache) },
      [
        ...algorithms("backward"),
        ...(tf.backwardInput ? [{ name: `${tfjs.name} dA only`, fn: tf.backwardInput }] : []),
      ],
      [
        { name: "reference (plain TS)", fn: () => reference.conv_backward(dZ, A, W, hp) },
        ...(cn?.backward ? [{ name: convnetjs.name, fn: cn.backward }] : []),
      ],
    );
    rows.push({ workload: w.name, op: "conv_backward", shape, gflop: (4 * macs) / 1e9, ...bwd });
    tf.dispose();
  }
  return rows;
}
