// Loads the ceiling probe (bench/ceiling/index.ts, compiled with the library's asc flags).
import { readFileSync } from "node:fs";

const N = 256;
const REPS = 2000;
/** Flops of one probe call: REPS × N steps of 2 rows × 8 columns of multiply-adds. */
export const CEILING_FLOPS = REPS * N * 32;

export async function loadCeiling(): Promise<() => number> {
  const bytes = readFileSync(new URL("../dist/ceiling.wasm", import.meta.url));
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const e = instance.exports as {
    memory: WebAssembly.Memory;
    heap_base(): number;
    ceiling(a: number, b: number, n: number, reps: number): number;
  };
  const base = e.heap_base();
  const a = base;
  const b = base + 2 * N * 8;
  const need = b + N * 64;
  if (need > e.memory.buffer.byteLength) e.memory.grow(Math.ceil((need - e.memory.buffer.byteLength) / 65536));
  new Float64Array(e.memory.buffer, base, 2 * N + 8 * N).fill(1e-3);
  return () => e.ceiling(a, b, N, REPS);
}
