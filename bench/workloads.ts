// The reference shapes of ../shared/workloads.json (a copy is kept in bench/ for a standalone clone).
import { readFileSync, existsSync } from "node:fs";

export interface ConvWorkload {
  name: string;
  m: number;
  h: number;
  w: number;
  c: number;
  f: number;
  k: number;
  stride: number;
  pad: number | "same";
  dilation?: number;
  /** n_C_prev groups: a depthwise conv */
  groups?: number;
}

/** A pooling layer: no filters and no padding. */
export type PoolWorkload = Omit<ConvWorkload, "k" | "pad" | "dilation" | "groups">;

export function loadWorkloads(): { conv: ConvWorkload[]; pool: PoolWorkload[]; conv_geometry: ConvWorkload[] } {
  const shared = new URL("../../shared/workloads.json", import.meta.url);
  const local = new URL("./workloads.json", import.meta.url);
  return JSON.parse(readFileSync(existsSync(shared) ? shared : local, "utf8"));
}
