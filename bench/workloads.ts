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
  pad: number;
}

export interface PoolWorkload {
  name: string;
  m: number;
  h: number;
  w: number;
  c: number;
  f: number;
  stride: number;
}

export function loadWorkloads(): { conv: ConvWorkload[]; pool: PoolWorkload[] } {
  const shared = new URL("../../shared/workloads.json", import.meta.url);
  const local = new URL("./workloads.json", import.meta.url);
  return JSON.parse(readFileSync(existsSync(shared) ? shared : local, "utf8"));
}
