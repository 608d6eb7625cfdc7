// pool_forward and pool_backward ("max" and "average") on every pool workload, beside the peers.
import { RandomState, pool_forward, pool_backward } from "convwasm";
import * as reference from "convwasm/reference";
import * as tfjs from "./peers/tfjs.js";
import * as convnetjs from "./peers/convnetjs.js";
import { ROUNDS, THREADS, measure, planCases, type Case } from "./measure.js";
import type { PoolWorkload } from "./workloads.js";

export interface PoolRow {
  workload: string;
  op: "pool_forward" | "pool_backward";
  mode: "max" | "average";
  shape: string;
  ms: Record<string, number | null>;
  ceilingGflops: number;
}

export function plan(workloads: PoolWorkload[]): void {
  // per mode and direction: ROUNDS × (ceiling ×2, ours, TF.js) + the slow peers
  planCases(workloads.length * (4 * ROUNDS * (4 + (THREADS > 1 ? 1 : 0)) + 2 + 1 + 1 + 1));
}

export async function run(workloads: PoolWorkload[], ceiling: () => number): Promise<PoolRow[]> {
  const rows: PoolRow[] = [];
  for (const w of workloads) {
    const rs = new RandomState(1);
    const A = rs.randn(w.m, w.h, w.w, w.c);
    const hp = { f: w.f, stride: w.stride };
    const [Y] = pool_forward(A, hp);
    const dY = rs.randn(...Y.shape);
    const tf = tfjs.pool(w, A.data, dY.data, [...Y.shape]);
    const cn = convnetjs.pool(w, A.data);
    const shape = `A [${A.shape}] f${w.f} s${w.stride}`;
    for (const mode of ["max", "average"] as const) {
      const [, cache] = pool_forward(A, hp, mode);
      const slowForward: Case[] = [{ name: "reference (plain TS)", fn: () => reference.pool_forward(A, hp, mode) }];
      if (mode === "max") slowForward.push({ name: convnetjs.name, fn: cn.forward });
      const fwd = await measure(
        `${w.name} pool_forward ${mode}`,
        ceiling,
        { name: "convwasm", fn: () => pool_forward(A, hp, mode) },
        [{ name: tfjs.name, fn: tf.ops[mode].forward }],
        slowForward,
      );
      rows.push({ workload: w.name, op: "pool_forward", mode, shape, ...fwd });
      const bwd = await measure(
        `${w.name} pool_backward ${mode}`,
        ceiling,
        { name: "convwasm", fn: () => pool_backward(dY, cache, mode) },
        [{ name: tfjs.name, fn: tf.ops[mode].backward }],
        [{ name: "reference (plain TS)", fn: () => reference.pool_backward(dY, A, hp, mode) }],
      );
      rows.push({ workload: w.name, op: "pool_backward", mode, shape, ...bwd });
    }
    tf.dispose();
  }
  return rows;
}
