// One benny suite per (workload, op): the ceiling probe before and after our op (interleaved, best
// sample of each), then the peers. Returns the best time of every case, in milliseconds.
import b from "benny";
import { getThreads } from "convwasm";
import { tuning } from "convwasm/internal";
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

/** Rounds of the fast cases: the machine is shared and noisy, so each is the best of several rounds. */
export const ROUNDS = 4;

/** The threads column: init()'s default (the cores, at most 8). */
export let THREADS = 1;
export const threadsCase = "convwasm (threads)";

/**
 * Keeps init()'s pool for the threads column and makes every other call run on the calling thread, as
 * on one thread (no call is shared out), so no worker is stopped or started between the columns.
 */
export function oneThread(): void {
  THREADS = getThreads();
  tuning.minWorkScale = Infinity;
}

async function suite(title: string, cases: Case[], maxTime: number): Promise<Record<string, number>> {
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
  return Object.fromEntries(summary.results.map((r) => [r.name, r.details.min * 1e3]));
}

/**
 * ROUNDS rounds of [ceiling, ours, ceiling again, fast peers] (best sample of each case over all
 * rounds), then one round of the slow peers (the naive kernels, which take up to a second a call).
 */
export async function measure(
  title: string,
  ceiling: () => number,
  ours: Case,
  fast: Case[],
  slow: Case[],
  maxTime = 0.5,
): Promise<Measured> {
  const ms: Record<string, number> = {};
  const keep = (round: Record<string, number>) => {
    for (const [name, v] of Object.entries(round)) ms[name] = Math.min(ms[name] ?? Infinity, v);
  };
  for (let r = 0; r < ROUNDS; r++) {
    const round = `${title} (round ${r + 1}/${ROUNDS})`;
    keep(
      await suite(
        round,
        [{ name: "ceiling", fn: ceiling }, ours, { name: "ceiling (after)", fn: ceiling }, ...fast],
        maxTime,
      ),
    );
    // the same call on THREADS threads, in the same round (the rest of the bench runs on one)
    if (THREADS > 1) {
      tuning.minWorkScale = 1;
      keep(await suite(`${round} · ${THREADS} threads`, [{ name: threadsCase, fn: ours.fn }], maxTime));
      tuning.minWorkScale = Infinity;
    }
  }
  if (slow.length > 0) keep(await suite(title, slow, 2 * maxTime));
  const ceilingMs = Math.min(ms["ceiling"], ms["ceiling (after)"]);
  delete ms["ceiling"];
  delete ms["ceiling (after)"];
  return { ms, ceilingGflops: CEILING_FLOPS / ceilingMs / 1e6 };
}
