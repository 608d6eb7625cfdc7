// One benny suite per (workload, op): the ceiling probe before and after our op (interleaved, best
// sample of each), then the peers. Returns the best time of every case, in milliseconds.
import b from "benny";
import { CEILING_FLOPS } from "./ceiling.js";

export interface Case {
  name: string;
  fn: () => unknown;
}

export interface Measured {
  /** best (minimum) sample per case, ms */
  ms: Record<string, number>;
  /** the ceiling probe's best GFLOP/s around our op */
  ceilingGflops: number;
}

let done = 0;
let total = 0;

export function planCases(n: number): void {
  total += n;
}

export async function measure(
  title: string,
  ceiling: () => number,
  ours: Case,
  peers: Case[],
  maxTime = 1,
): Promise<Measured> {
  const cases = [{ name: "ceiling", fn: ceiling }, ours, { name: "ceiling (after)", fn: ceiling }, ...peers];
  const summary = await b.suite(
    title,
    ...cases.map((c) => b.add(c.name, () => void c.fn())),
    b.configure({ cases: { minSamples: 5, maxTime } }),
    b.cycle((result) => {
      done++;
      const best = result.details.min * 1e3;
      process.stderr.write(`[${done}/${total}] ${title} · ${result.name}: ${best.toFixed(3)} ms\n`);
      return undefined; // no live table from benny: the line above is the progress
    }),
    b.complete(() => undefined),
  );
  const ms: Record<string, number> = {};
  for (const r of summary.results) ms[r.name] = r.details.min * 1e3;
  const ceilingMs = Math.min(ms["ceiling"], ms["ceiling (after)"]);
  delete ms["ceiling"];
  delete ms["ceiling (after)"];
  return { ms, ceilingGflops: CEILING_FLOPS / ceilingMs / 1e6 };
}
