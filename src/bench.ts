// convwasm/bench: microbenchmarks for the people who install the package, in Node and in browsers. Each
// op runs on its shape beside the machine's f64x2 ceiling (the probe bench/ceiling/index.ts, built with
// the library's flags and embedded in the package), interleaved round by round, on each thread count
// asked; every record gives the minimum and median time, the spread, GFLOP/s and % of the ceiling.
import { F64_BYTES, NDArray, fmtShape } from "./core/ndarray.js";
import { RandomState } from "./core/random.js";
import type { ConvHparameters, Padding, PoolHparameters, PoolMode } from "./core/shapes.js";
import { conv_backward, conv_forward } from "./ops/conv.js";
import { winogradFits } from "./ops/winograd.js";
import { type Algorithm, checkAlgorithm } from "./core/shapes.js";
import { convArgs } from "./core/shapes.js";
import { pool_backward, pool_forward } from "./ops/pool.js";
import { adam } from "./model/optimizers.js";
import { digitsLayers, layers, sequential } from "./model/model.js";
import { ceilingBase64 } from "./runtime/binary.js";
import { init } from "./runtime/loader.js";
import type { Precision } from "./kernels/kernels.js";
import { state } from "./runtime/runtime.js";
import { tuning } from "./runtime/schedule.js";
import { getThreads, setThreads } from "./runtime/threads.js";

/** One thing to measure: a conv layer, a pooling layer, or the digits network of the README. */
export type BenchSpec =
  | {
      kind: "conv";
      /** A_prev [m, h, w, c] */
      A: number[];
      /** W [fh, fw, c / groups, k] */
      W: number[];
      stride?: ConvHparameters["stride"];
      pad?: Padding;
      dilation?: ConvHparameters["dilation"];
      groups?: number;
      backward?: boolean;
      /** "f32": the layer's forward as a one-layer model's float32 plan (the ops compute in float64). */
      precision?: Precision;
      name?: string;
    }
  | {
      kind: "pool";
      A: number[];
      f: PoolHparameters["f"];
      stride?: PoolHparameters["stride"];
      pad?: Padding;
      mode?: PoolMode;
      backward?: boolean;
      name?: string;
    }
  | {
      kind: "digits";
      batch?: number;
      name?: string;
      /** "f32": predict by the float32 plan alone (training stays float64). */
      precision?: Precision;
    };

export interface BenchRecord {
  name: string;
  op: string;
  /** How a conv op was computed ("auto": as the library chooses). */
  algorithm: Algorithm;
  /** The element type it computed in: "f32" for a float32 plan, measured against the f32x4 ceiling. */
  precision: Precision;
  shape: string;
  threads: number;
  /** ms per call: the fastest, the median, and how far the median lies above the fastest */
  minMs: number;
  medianMs: number;
  spread: number;
  samples: number;
  /** floating-point work of one call (2 flops per multiply-add), 0 where it is not counted */
  gflop: number;
  gflops: number;
  /** The ceiling probe's line of its precision (f64x2 or f32x4), one thread, around this op. */
  ceilingGflops: number;
  /** Both lines, around this op. */
  ceilings: Record<Precision, number>;
  percentOfCeiling: number;
  /** the one-thread time over this one (1 on one thread) */
  speedup: number;
  /** true when the spread says the machine was busy: compare ratios, not times */
  noisy: boolean;
}

export interface BenchOptions {
  /** Thread counts to measure (default: 1 and init()'s count). */
  threads?: number[];
  /** Conv algorithms to measure, each a record (default ["auto"]); "winograd" only where it applies. */
  algorithms?: Algorithm[];
  /** Samples per case and round (default 5). */
  repeat?: number;
  /** Seconds per case, spread over the rounds (default 1). */
  seconds?: number;
  /** Rounds of interleaved measurement (default 3). */
  rounds?: number;
  /** Progress, one line at a time. */
  onProgress?: (line: string) => void;
}

/** The standard set: the notebook's sizes and a few real layers. */
export const STANDARD: BenchSpec[] = [
  { kind: "conv", name: "notebook", A: [10, 4, 4, 3], W: [2, 2, 3, 8], stride: 2, pad: 2, backward: true },
  { kind: "pool", name: "notebook", A: [2, 4, 4, 3], f: 3, stride: 2, mode: "max" },
  { kind: "conv", name: "resnet56", A: [1, 56, 56, 64], W: [3, 3, 64, 64], stride: 1, pad: 1, backward: true },
  { kind: "conv", name: "resnet56", A: [1, 56, 56, 64], W: [3, 3, 64, 64], stride: 1, pad: 1, precision: "f32" },
  { kind: "conv", name: "signs", A: [64, 64, 64, 3], W: [5, 5, 3, 8], stride: 1, pad: 2 },
  { kind: "conv", name: "dw56s2", A: [1, 56, 56, 128], W: [3, 3, 1, 128], stride: 2, pad: "same", groups: 128 },
  { kind: "pool", name: "max2x2", A: [8, 112, 112, 64], f: 2, stride: 2, mode: "max" },
  { kind: "digits", name: "digits", batch: 64 },
  { kind: "digits", name: "digits", batch: 64, precision: "f32" },
];

/** Spreads above this (median over minimum − 1) mark a record noisy. */
const NOISY = 0.15;

/** The ceiling probe, instantiated once: reps × n steps of a 2×8 f64x2 (or 2×16 f32x4) multiply-add block on L1 data. */
let probes: Record<Precision, () => number> | null = null;
const CEILING = { n: 256, reps: 2000 };
/** Flops of one call of the ceiling probe: reps × n steps of 2 rows × 8 columns of multiply-adds. */
export const CEILING_FLOPS = CEILING.n * CEILING.reps * 32;
/** Flops of one call of its f32x4 line: the same instructions, twice the lanes. */
export const CEILING_FLOPS_F32 = 2 * CEILING_FLOPS;

/** The ceiling probe (instantiated once): a function that runs its f64x2 line (or f32x4 line) once. */
export async function ceilingProbe(precision: Precision = "f64"): Promise<() => number> {
  if (!probes) {
    const bytes = Uint8Array.from(atob(ceilingBase64), (ch) => ch.charCodeAt(0));
    const { instance } = await WebAssembly.instantiate(bytes, {});
    const e = instance.exports as {
      memory: WebAssembly.Memory;
      heap_base(): number;
      ceiling(a: number, b: number, n: number, reps: number): number;
      ceiling_f32(a: number, b: number, n: number, reps: number): number;
    };
    // f64 operands (2 rows of a, n rows of 8 of b), then f32 ones (2 rows, n rows of 16): 1e-3 each, no
    // denormals (the f64 bytes read as f32 would hold some)
    const a = e.heap_base();
    const b = a + 2 * CEILING.n * F64_BYTES;
    const a32 = b + CEILING.n * 64;
    const b32 = a32 + 2 * CEILING.n * 4;
    const need = b32 + CEILING.n * 64;
    if (need > e.memory.buffer.byteLength) e.memory.grow(Math.ceil((need - e.memory.buffer.byteLength) / 65536));
    new Float64Array(e.memory.buffer, a, (a32 - a) / F64_BYTES).fill(1e-3);
    new Float32Array(e.memory.buffer, a32, (need - a32) / 4).fill(1e-3);
    probes = {
      f64: () => e.ceiling(a, b, CEILING.n, CEILING.reps),
      f32: () => e.ceiling_f32(a32, b32, CEILING.n, CEILING.reps),
    };
  }
  return probes[precision];
}

interface Case {
  name: string;
  op: string;
  algorithm: Algorithm;
  precision: Precision;
  shape: string;
  gflop: number;
  run: () => unknown;
}

/**
 * The calls a spec measures, on seeded inputs: a conv layer with each of `algorithms` that applies to it
 * (Winograd only to 3×3 stride-1 layers; its GFLOP/s count the direct loops' work: "effective").
 */
function cases(spec: BenchSpec, algorithms: Algorithm[]): Case[] {
  const rs = new RandomState(1);
  const name = spec.name ?? spec.kind;
  if (spec.kind === "conv") {
    const A = rs.randn(...spec.A);
    const W = rs.randn(...spec.W);
    const b = rs.randn(spec.W[3]);
    const hp: ConvHparameters = {
      stride: spec.stride ?? 1,
      pad: spec.pad ?? 0,
      dilation: spec.dilation ?? 1,
      groups: spec.groups ?? 1,
    };
    const [Z, cache] = conv_forward(A, W, b, hp);
    const macs = Z.size * spec.W[0] * spec.W[1] * spec.W[2];
    const shape = `A ${fmtShape(spec.A)} W ${fmtShape(spec.W)} ${JSON.stringify(hp).replace(/"/g, "")}`;
    if (spec.precision === "f32") {
      // the same layer as a model of one conv2d, its weights W and b, predicting by its float32 plan
      const [, h, w, c] = spec.A;
      const [fh, fw, , k] = spec.W;
      const conv = layers.conv2d({
        filters: k,
        size: [fh, fw],
        stride: hp.stride,
        pad: hp.pad,
        dilation: hp.dilation,
        groups: hp.groups,
      });
      const net = sequential([h, w, c], [conv]);
      const bShape = net.weights()["conv2d/b"].shape;
      net.setWeights({ "conv2d/W": W, "conv2d/b": new NDArray(b.toFloat64Array(), [...bShape]) });
      const run = () => net.predict(A, { precision: "f32" });
      return [{ name, op: "conv_forward", algorithm: "auto", precision: "f32", shape, gflop: (2 * macs) / 1e9, run }];
    }
    const dZ = spec.backward ? rs.randn(...Z.shape) : null;
    const { g } = convArgs("bench", A, W, b, hp);
    const out: Case[] = [];
    for (const algorithm of algorithms) {
      if (algorithm === "winograd" && !winogradFits(g)) continue; // (it does not apply to this layer)
      const o = { algorithm };
      out.push({
        name,
        op: "conv_forward",
        algorithm,
        precision: "f64",
        shape,
        gflop: (2 * macs) / 1e9,
        run: () => conv_forward(A, W, b, hp, o),
      });
      if (dZ && (algorithm !== "winograd" || winogradFits(g, true))) {
        out.push({
          name,
          op: "conv_backward",
          algorithm,
          precision: "f64",
          shape,
          gflop: (4 * macs) / 1e9,
          run: () => conv_backward(dZ, cache, o),
        });
      }
    }
    return out;
  }
  if (spec.kind === "pool") {
    const A = rs.randn(...spec.A);
    const hp: PoolHparameters = { f: spec.f, stride: spec.stride ?? spec.f, pad: spec.pad ?? 0 };
    const mode = spec.mode ?? "max";
    const [P, cache] = pool_forward(A, hp, mode);
    const shape = `A ${fmtShape(spec.A)} ${JSON.stringify(hp).replace(/"/g, "")} ${mode}`;
    const algorithm = "auto";
    const out: Case[] = [
      { name, op: "pool_forward", algorithm, precision: "f64", shape, gflop: 0, run: () => pool_forward(A, hp, mode) },
    ];
    if (spec.backward) {
      const dP = rs.randn(...P.shape);
      const run = () => pool_backward(dP, cache, mode);
      out.push({ name, op: "pool_backward", algorithm, precision: "f64", shape, gflop: 0, run });
    }
    return out;
  }
  const batch = spec.batch ?? 64;
  const model = sequential([28, 28, 1], digitsLayers(), { seed: 1 });
  const X: NDArray = rs.randn(batch, 28, 28, 1);
  const labels = Array.from({ length: batch }, (_, i) => i % 10);
  const macs = batch * (28 * 28 * 16 * 25 + 14 * 14 * 32 * 25 * 16 + 7 * 7 * 32 * 10);
  const optimizer = adam();
  const shape = `X [${batch},28,28,1] (conv 5×5×16, pool, conv 5×5×32, pool, dense 10)`;
  const gflop = (2 * macs) / 1e9;
  if (spec.precision === "f32") {
    const run = () => model.predict(X, { precision: "f32" });
    return [{ name, op: "predict", algorithm: "auto", precision: "f32", shape, gflop, run }];
  }
  return [
    { name, op: "predict", algorithm: "auto", precision: "f64", shape, gflop, run: () => model.predict(X) },
    {
      name,
      op: "training step",
      algorithm: "auto",
      precision: "f64",
      shape,
      gflop: (6 * macs) / 1e9,
      run: () => model.fit(X, labels, { epochs: 1, batchSize: batch, optimizer, shuffle: false }),
    },
  ];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Times `fn` `repeat` times or until `until` (at least twice); the samples in ms. */
function sample(fn: () => unknown, repeat: number, until: number): number[] {
  const out: number[] = [];
  while (out.length < 2 || (out.length < repeat && performance.now() < until)) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/**
 * Measures every spec (default: the standard set) on each thread count, interleaved with the ceiling
 * probe, and returns one record per op and thread count. Calls init() if needed.
 */
export async function bench(specs: BenchSpec[] = STANDARD, options: BenchOptions = {}): Promise<BenchRecord[]> {
  const fn = "bench";
  await init();
  const most = getThreads();
  const threads = options.threads ?? (most > 1 ? [1, most] : [1]);
  if (!Array.isArray(threads) || threads.length === 0 || !threads.every((t) => Number.isSafeInteger(t) && t >= 1)) {
    throw new RangeError(`${fn}: options.threads expects thread counts >= 1 but got ${JSON.stringify(threads)}`);
  }
  const algorithms = (options.algorithms ?? ["auto"]).map((a) => checkAlgorithm(fn, a, "options.algorithms[]"));
  const repeat = options.repeat ?? 5;
  const seconds = options.seconds ?? 1;
  const rounds = options.rounds ?? 3;
  const probes = { f64: await ceilingProbe("f64"), f32: await ceilingProbe("f32") };
  const records: BenchRecord[] = [];
  const progress = options.onProgress ?? (() => undefined);
  // one thread is measured with the pool kept and nothing shared out (restarting threads between the
  // columns would cost the threaded runs); other counts start their pool once per round
  const use = async (t: number) => {
    if (t === 1) {
      tuning.minWorkScale = Infinity;
      return;
    }
    tuning.minWorkScale = 1;
    if (getThreads() !== t) await setThreads(t);
  };
  try {
    for (const spec of specs) {
      const list = cases(spec, algorithms);
      for (const c of list) {
        const samples = new Map<number, number[]>(threads.map((t) => [t, []]));
        const top: Record<Precision, number[]> = { f64: [], f32: [] };
        for (let r = 0; r < rounds; r++) {
          const budget = (seconds * 1000) / rounds / (threads.length + 1);
          for (const t of threads) {
            progress(`${c.name} ${c.op} on ${t} thread${t > 1 ? "s" : ""}, round ${r + 1}/${rounds}`);
            await use(t);
            c.run(); // a warm-up call (V8 tiering, arena growth) outside the samples
            top.f64.push(...sample(probes.f64, repeat, performance.now() + budget / 4));
            top.f32.push(...sample(probes.f32, repeat, performance.now() + budget / 4));
            samples.get(t)!.push(...sample(c.run, repeat, performance.now() + budget));
          }
        }
        const ceilings = {
          f64: CEILING_FLOPS / Math.min(...top.f64) / 1e6,
          f32: CEILING_FLOPS_F32 / Math.min(...top.f32) / 1e6,
        };
        const ceilingGflops = ceilings[c.precision];
        const oneThread = Math.min(...(samples.get(1) ?? samples.get(threads[0])!));
        for (const t of threads) {
          const s = samples.get(t)!;
          const [minMs, medianMs] = [Math.min(...s), median(s)];
          const gflops = c.gflop > 0 ? c.gflop / (minMs / 1000) : 0;
          const spread = medianMs / minMs - 1;
          records.push({
            name: c.name,
            op: c.op,
            algorithm: c.algorithm,
            precision: c.precision,
            shape: c.shape,
            threads: t,
            minMs,
            medianMs,
            spread,
            samples: s.length,
            gflop: c.gflop,
            gflops,
            ceilingGflops,
            ceilings,
            percentOfCeiling: c.gflop > 0 ? (100 * gflops) / (ceilingGflops * t) : 0,
            speedup: oneThread / minMs,
            noisy: spread > NOISY,
          });
        }
      }
    }
  } finally {
    tuning.minWorkScale = 1;
    if (state.runtime && getThreads() !== most) await setThreads(most);
  }
  return records;
}

/** The records as the lines `convwasm bench` prints. */
export function formatRecords(records: BenchRecord[]): string {
  const lines = records.map((r) => {
    const time = r.minMs < 0.1 ? `${(r.minMs * 1000).toFixed(1)} µs` : `${r.minMs.toFixed(2)} ms`;
    const median = r.medianMs < 0.1 ? `${(r.medianMs * 1000).toFixed(1)} µs` : `${r.medianMs.toFixed(2)} ms`;
    const rate = r.gflop > 0 ? `  ${r.gflops.toFixed(1)} GFLOP/s  ${r.percentOfCeiling.toFixed(0)}% of ceiling` : "";
    const threads = r.threads > 1 ? `  ${r.speedup.toFixed(2)}× one thread` : "";
    const noisy = r.noisy ? `  (noisy: median ${(100 * r.spread).toFixed(0)}% above min)` : "";
    const how = [r.algorithm === "auto" ? "" : r.algorithm, r.precision === "f32" ? "f32 plan" : ""].filter(Boolean);
    const op = how.length ? `${r.op} (${how.join(", ")})` : r.op;
    return `${`${r.name} ${op}`.padEnd(26)} ${`${r.threads}t`.padStart(3)}  ${time.padStart(10)} min, ${median} median${rate}${threads}${noisy}`;
  });
  const top = (p: Precision) => Math.max(...records.map((r) => r.ceilings[p])).toFixed(1);
  const ceiling = records[0]
    ? `ceiling (multiply-add, one thread): f64x2 ${top("f64")} GFLOP/s, f32x4 ${top("f32")} GFLOP/s ` +
      "(an f32 plan's % is of the f32x4 line)"
    : "";
  const noisy = records.some((r) => r.noisy)
    ? "\nsome spreads are above 15%: the machine is busy or throttling; compare ratios, or raise --seconds"
    : "";
  return [...lines, ceiling].join("\n") + noisy;
}

/** The parsed command line of `convwasm bench`. */
export interface BenchArgs {
  specs: BenchSpec[] | undefined;
  options: BenchOptions;
  json: boolean;
}

const fail = (message: string): never => {
  throw new RangeError(`convwasm bench: ${message}`);
};

function dims(text: string | undefined, what: string, rank: number): number[] {
  const d = (text ?? "").split("x").map(Number);
  if (text === undefined || d.length !== rank || !d.every((v) => Number.isSafeInteger(v) && v >= 1)) {
    fail(`${what} expects ${rank} dimensions like ${rank === 4 ? "8x56x56x64" : "3x3"} but got ${text ?? "nothing"}`);
  }
  return d;
}

/** A number, or HxW as [h, w]. */
function pair(text: string, what: string): number | [number, number] {
  if (/^\d+$/.test(text)) return Number(text);
  if (/^\d+x\d+$/.test(text)) return dims(text, what, 2) as [number, number];
  return fail(`${what} expects a number or HxW but got ${text}`);
}

/** Parses the arguments after `bench`. */
export function parseBenchArgs(args: string[]): BenchArgs {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  const bare = new Set(["--backward", "--json"]);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("--")) positional.push(a);
    else if (bare.has(a)) flags.set(a, "true");
    else {
      if (i + 1 >= args.length) fail(`${a} expects a value`);
      flags.set(a, args[++i]);
    }
  }
  const known = new Set([
    "--stride", "--pad", "--dilation", "--groups", "--f", "--mode", "--backward", "--batch",
    "--threads", "--algorithm", "--repeat", "--seconds", "--json", "--precision",
  ]); // prettier-ignore
  for (const k of flags.keys()) if (!known.has(k)) fail(`unknown option ${k}`);
  const num = (k: string, min: number) => {
    const v = Number(flags.get(k));
    if (!Number.isFinite(v) || v < min) fail(`${k} expects a number >= ${min} but got ${flags.get(k)}`);
    return v;
  };
  const algorithm = flags.get("--algorithm");
  const options: BenchOptions = {};
  if (algorithm !== undefined) {
    const list = algorithm.split(",");
    if (!list.every((a) => a === "auto" || a === "direct" || a === "winograd")) {
      fail(`--algorithm expects auto, direct or winograd (or a list like direct,winograd) but got ${algorithm}`);
    }
    options.algorithms = list as Algorithm[];
  }
  if (flags.has("--threads")) {
    options.threads = flags.get("--threads")!.split(",").map(Number);
    if (!options.threads.every((t) => Number.isSafeInteger(t) && t >= 1)) {
      fail(`--threads expects counts like 1,2 but got ${flags.get("--threads")}`);
    }
  }
  const p = flags.get("--precision") ?? "f64";
  const precision: Precision = p === "f64" || p === "f32" ? p : fail(`--precision expects f64 or f32 but got ${p}`);
  if (precision === "f32" && (flags.has("--backward") || (algorithm !== undefined && algorithm !== "auto"))) {
    fail("--precision f32 times a float32 plan's forward, as the library chooses: no --backward, no --algorithm");
  }
  if (flags.has("--repeat")) options.repeat = Math.floor(num("--repeat", 2));
  if (flags.has("--seconds")) options.seconds = num("--seconds", 0.01);
  const [kind, ...shapes] = positional;
  let specs: BenchSpec[] | undefined;
  const backward = flags.has("--backward");
  const pad = flags.get("--pad");
  const padding = pad === undefined ? undefined : pad === "same" || pad === "valid" ? pad : pair(pad, "--pad");
  if (kind === undefined) specs = undefined;
  else if (kind === "conv") {
    const A = dims(shapes[0], "conv A", 4);
    const W = dims(shapes[1], "conv W", 4);
    specs = [
      {
        kind: "conv",
        name: "conv",
        A,
        W,
        stride: flags.has("--stride") ? pair(flags.get("--stride")!, "--stride") : 1,
        pad: padding ?? 0,
        dilation: flags.has("--dilation") ? pair(flags.get("--dilation")!, "--dilation") : 1,
        groups: flags.has("--groups") ? Math.floor(num("--groups", 1)) : 1,
        backward,
        precision,
      },
    ];
  } else if (kind === "pool") {
    if (precision === "f32") fail("--precision f32 is for conv and digits (pooling runs in float64)");
    const A = dims(shapes[0], "pool A", 4);
    const mode = flags.get("--mode") ?? "max";
    if (mode !== "max" && mode !== "average") fail(`--mode expects max or average but got ${mode}`);
    const f = flags.has("--f") ? pair(flags.get("--f")!, "--f") : 2;
    const stride = flags.has("--stride") ? pair(flags.get("--stride")!, "--stride") : f;
    specs = [
      { kind: "pool", name: "pool", A, f, stride, pad: padding ?? 0, mode: mode as "max" | "average", backward },
    ];
  } else if (kind === "digits") {
    const batch = flags.has("--batch") ? Math.floor(num("--batch", 1)) : 64;
    specs = [{ kind: "digits", name: "digits", batch, precision }];
  } else fail(`expects conv, pool or digits but got ${kind}`);
  return { specs, options, json: flags.has("--json") };
}
