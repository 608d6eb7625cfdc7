// The timing panel's worker: convwasm (synchronous) inside a Web Worker, where a cross-origin isolated
// page gets a thread pool; times the page's ops on one thread and a large layer on one and two.
import { init, threading, zero_pad, zeros } from "convwasm";
import { bench, type BenchRecord, type BenchSpec } from "convwasm/bench";

export interface TimingRequest {
  specs: BenchSpec[];
  /** zero_pad's input shape and pad (bench() has no pad case). */
  pad: { shape: number[]; pad: number };
}
export interface TimingReply {
  threading: { threads: number; reason: string };
  records: BenchRecord[];
  large: BenchRecord[];
  zeroPad: { minMs: number; medianMs: number };
  /** The smallest step performance.now() takes here (browsers coarsen it: ~0.1 ms unless isolated). */
  resolutionMs: number;
}

/** The timer's resolution: the smallest non-zero step between consecutive readings. */
function resolution(): number {
  let step = Infinity;
  for (let i = 0, last = performance.now(); i < 20_000 && step > 0.001; i++) {
    const now = performance.now();
    if (now > last) step = Math.min(step, now - last);
    last = now;
  }
  return step;
}

/** A layer big enough for threads to pay: 2 images of 32×32×32 through 3×3×64 (a VGG-like layer). */
const LARGE: BenchSpec = {
  kind: "conv",
  name: "large layer",
  A: [2, 32, 32, 32],
  W: [3, 3, 32, 64],
  stride: 1,
  pad: 1,
  backward: false,
};

const ready = init();
self.onmessage = async (e: MessageEvent<TimingRequest>) => {
  await ready;
  const { specs, pad } = e.data;
  const records = await bench(specs, { threads: [1], seconds: 0.25, rounds: 2 });
  const t = threading();
  const large = await bench([LARGE], { threads: t.threads > 1 ? [1, 2] : [1], seconds: 0.6, rounds: 2 });
  const X = zeros(pad.shape);
  const resolutionMs = resolution();
  // each sample times enough calls to span 50 timer steps (and at least 5 ms: a step measured under load
  // can be shorter than the timer's real one), so a call below the resolution is still measured
  let calls = 1;
  const span = Math.max(50 * resolutionMs, 5);
  for (let t0 = performance.now(); performance.now() - t0 < span; calls++) zero_pad(X, pad.pad);
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    for (let j = 0; j < calls; j++) zero_pad(X, pad.pad);
    times.push((performance.now() - t0) / calls);
  }
  times.sort((a, b) => a - b);
  const zeroPad = { minMs: times[0], medianMs: times[7] };
  const reply: TimingReply = { threading: t, records, large, zeroPad, resolutionMs };
  self.postMessage(reply);
};
