// npm run fuzz [-- --seconds S] [--seed N]: random and hostile inputs for every op, checked against the
// plain-TS reference kernels and the library's invariants. Each case is one op on random shapes and
// hyperparameters, its arrays seen as contiguous, strided, reversed, gapped or broadcast views holding
// normal numbers or NaN/±Inf/−0/subnormals/1e308, sometimes read through getters or a Proxy that counts
// reads, calls another op (re-entrant) or throws. Every batch of cases runs on 1, 2 and 3 threads.
// Checked: the result equals the reference's (bitwise for copies and pooling, 1e-9 relative for
// convolutions) and a contiguous copy's (bitwise), the same bits on every thread count, the arena back to
// 0 after every call, every error a TypeError/RangeError/Error starting with the function's name, and no
// error at all on valid input. Exits 1 on any finding, printing the seed to replay it.
import fc from "fast-check";
import * as lib from "../dist/index.js";
import * as reference from "../dist/reference/index.js";
import { ACTIVATIONS, ASYNC_OPS, limits, tuning } from "../dist/internal.js";
import type { ConvHparameters, PoolHparameters } from "../dist/index.js";
import { seconds, seed } from "./fuzz-args.js";

const { NDArray } = lib;
type NDArray = lib.NDArray;

const BATCH = 40;

// ---- values and views ------------------------------------------------------------------------------

const special = [NaN, Infinity, -Infinity, -0, 0, 5e-324, -2.2250738585072014e-308, 1, -1];
/** Only where the order of summation cannot matter (copies, pooling): a sum of these may overflow or not. */
const extreme = [1e308, -1e308, Number.MAX_VALUE];

/** Random values: mostly normal numbers, sometimes a few special ones. */
function values(rng: () => number, n: number, specials: boolean, sums: boolean): Float64Array {
  const pool = sums ? special : [...special, ...extreme];
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    v[i] = specials && rng() < 0.05 ? pool[Math.floor(rng() * pool.length)] : (rng() * 2 - 1) * 3;
  }
  return v;
}

type ViewKind = "contiguous" | "strided" | "reversed" | "gapped" | "broadcast";
const VIEWS: ViewKind[] = ["contiguous", "strided", "reversed", "gapped", "broadcast"];

/** The C-order values `v` of `shape` seen as a view of kind `kind` (broadcast: axis 0 repeats image 0). */
function view(kind: ViewKind, v: Float64Array, shape: number[]): NDArray {
  const a = new NDArray(v, shape);
  const nd = shape.length;
  if (kind === "contiguous" || a.size === 0) return a;
  if (kind === "strided") {
    // held in a transposed buffer, seen through strides
    const axes = shape.map((_, d) => nd - 1 - d);
    const held = new NDArray(
      a.transpose(...axes).toFloat64Array(),
      axes.map((d) => shape[d]),
    );
    return held.transpose(...axes);
  }
  if (kind === "reversed") {
    // every axis reversed in memory: negative strides
    const data = new Float64Array(a.size);
    for (let k = 0; k < a.size; k++) data[a.size - 1 - k] = a.at(k);
    const strides = a.strides.map((s) => -s);
    return new NDArray(data, shape, strides, a.size - 1);
  }
  if (kind === "gapped") {
    // every other element of a buffer twice as long, filled with garbage between
    const data = new Float64Array(2 * a.size).fill(12345.678);
    for (let k = 0; k < a.size; k++) data[2 * k] = a.at(k);
    return new NDArray(
      data,
      shape,
      a.strides.map((s) => 2 * s),
      0,
    );
  }
  // broadcast: the first image repeated along axis 0 (stride 0)
  const one = [1, ...shape.slice(1)];
  const first = new NDArray(v.slice(0, a.size / shape[0]), one);
  return new NDArray(first.data, shape, [0, ...first.strides.slice(1)], 0);
}

/** The values a view of `kind` ends up holding (broadcast repeats image 0). */
function logical(kind: ViewKind, v: Float64Array, shape: number[]): Float64Array {
  if (kind !== "broadcast" || shape[0] === 0) return v;
  const per = v.length / shape[0];
  const out = new Float64Array(v.length);
  for (let i = 0; i < shape[0]; i++) out.set(v.subarray(0, per), i * per);
  return out;
}

type Hostility = "none" | "proxy" | "getters" | "reenter" | "throw";

/** `a` as the caller passes it: plain, or read through a Proxy or getters that do something on each read. */
function hostile(a: NDArray, how: Hostility, reenter: () => void): NDArray {
  if (how === "none") return a;
  const onRead = () => {
    if (how === "reenter") reenter();
    if (how === "throw") throw new Error("hostile getter");
  };
  if (how === "proxy") {
    return new Proxy(a, {
      get(t, key) {
        onRead();
        return Reflect.get(t, key, t);
      },
    });
  }
  const fields = (["data", "shape", "strides", "offset"] as const).map((f) => [
    f,
    {
      get: () => {
        onRead();
        return a[f];
      },
    },
  ]);
  return Object.create(NDArray.prototype, Object.fromEntries(fields)) as NDArray;
}

// ---- cases -----------------------------------------------------------------------------------------

interface Case {
  op:
    | "zero_pad"
    | "conv_forward"
    | "conv_backward"
    | "pool_forward"
    | "pool_backward"
    | "mask"
    | "distribute"
    | "relu"
    | "dense"
    | "softmax"
    | "activation"
    | "batch_norm"
    | "merge"
    | "dropout";
  m: number;
  h: number;
  w: number;
  c: number;
  f: number;
  k: number;
  stride: number;
  pad: number;
  /** The geometry's other options: per-axis window, stride and dilation, padding forms, groups, pooling's modes. */
  geo: Geometry;
  mode: "max" | "average";
  views: ViewKind[];
  hostility: Hostility;
  specials: boolean;
  /** conv's algorithm option (Winograd only where it applies) */
  algorithm: "direct" | "winograd" | undefined;
  seed: number;
}

interface Geometry {
  fw: number;
  sw: number;
  dh: number;
  dw: number;
  padForm: "number" | "pair" | "sides" | "same" | "valid";
  pads: [number, number, number, number];
  groups: number;
  depthwise: boolean;
  ceil: boolean;
  countPad: boolean;
  flatBias: boolean;
}

const geometry: fc.Arbitrary<Geometry> = fc.record({
  fw: fc.integer({ min: 1, max: 4 }),
  sw: fc.integer({ min: 1, max: 3 }),
  dh: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 3 })),
  dw: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 3 })),
  padForm: fc.constantFrom<Geometry["padForm"]>("number", "number", "pair", "sides", "same", "valid"),
  pads: fc.tuple(
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 3 }),
  ),
  groups: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 3 })),
  depthwise: fc.boolean(),
  ceil: fc.boolean(),
  countPad: fc.boolean(),
  flatBias: fc.boolean(),
});

/** The padding hyperparameter of a case, in the form it draws. */
function padOf({ pad, geo }: Case): ConvHparameters["pad"] {
  const [t, b, l, r] = geo.pads;
  switch (geo.padForm) {
    case "number":
      return pad;
    case "pair":
      return [t, l];
    case "sides":
      return [
        [t, b],
        [l, r],
      ];
    default:
      return geo.padForm;
  }
}

/** Batch, height, width, channels and filters drawn from [min, max] ranges. */
const dims = (r: Record<"m" | "h" | "w" | "c" | "k", [number, number]>) =>
  fc.record(
    Object.fromEntries(Object.entries(r).map(([key, [min, max]]) => [key, fc.integer({ min, max })])) as {
      [K in keyof typeof r]: fc.Arbitrary<number>;
    },
  );
const small = dims({ m: [0, 3], h: [1, 9], w: [1, 9], c: [1, 11], k: [1, 12] });
// big enough to be shared out to the thread pool
const large = dims({ m: [1, 2], h: [16, 34], w: [16, 34], c: [8, 24], k: [8, 24] });
const caseArb: fc.Arbitrary<Case> = fc
  .record({
    op: fc.constantFrom<Case["op"]>(
      "zero_pad",
      "conv_forward",
      "conv_backward",
      "pool_forward",
      "pool_backward",
      "mask",
      "distribute",
      "relu",
      "dense",
      "softmax",
      "activation",
      "batch_norm",
      "merge",
      "dropout",
    ),
    dims: fc.oneof({ weight: 9, arbitrary: small }, { weight: 1, arbitrary: large }),
    f: fc.integer({ min: 1, max: 4 }),
    stride: fc.integer({ min: 1, max: 3 }),
    pad: fc.integer({ min: 0, max: 3 }),
    geo: geometry,
    mode: fc.constantFrom<Case["mode"]>("max", "average"),
    views: fc.array(fc.constantFrom(...VIEWS), { minLength: 4, maxLength: 4 }),
    hostility: fc.constantFrom<Hostility>("none", "none", "none", "proxy", "getters", "reenter", "throw"),
    specials: fc.boolean(),
    algorithm: fc.constantFrom<Case["algorithm"]>(undefined, "direct", "winograd"),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  })
  .map(({ dims, ...rest }) => ({ ...dims, ...rest }));

function mulberry32(a: number): () => number {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a case computes: its outputs, or the error it throws. */
type Outcome = { out: NDArray[] } | { error: unknown };

/** Every activation of act_forward (a new one is drawn as soon as it is added there). */
const ACTS = Object.keys(ACTIVATIONS) as (keyof typeof ACTIVATIONS)[];
/** The options drawn for the activations that take some, and the two numbers the reference takes (else none, 0, 0). */
const ACT_OPTIONS: Partial<Record<(typeof ACTS)[number], [object, number, number]>> = {
  clip: [{ min: -1, max: 2 }, -1, 2],
  leaky_relu: [{ alpha: 0.2 }, 0.2, 0],
  hard_sigmoid: [{ alpha: 0.2, beta: 0.5 }, 0.2, 0.5],
};

/** The functions a case calls (the backward ones call the forward one first for its cache). */
const FN: Record<Case["op"], string[]> = {
  zero_pad: ["zero_pad"],
  conv_forward: ["conv_forward"],
  conv_backward: ["conv_forward", "conv_backward"],
  pool_forward: ["pool_forward"],
  pool_backward: ["pool_forward", "pool_backward"],
  mask: ["create_mask_from_window"],
  distribute: ["distribute_value"],
  relu: ["relu", "relu_backward"],
  dense: ["dense_forward", "dense_backward"],
  softmax: ["softmax", "softmax_cross_entropy"],
  activation: ACTS.flatMap((a) => [a, `${a}_backward`]),
  batch_norm: ["batch_norm", "batch_norm_backward"],
  merge: [
    ...["add", "concat", "concat_backward", "multiply", "multiply_backward"],
    ...["global_avg_pool", "global_avg_pool_backward", "global_max_pool", "global_max_pool_backward"],
  ],
  dropout: ["dropout", "dropout_backward"],
};

/** Relative tolerance against the reference: sums in another order (0: the same bits). */
const RTOL: Partial<Record<Case["op"], number>> = {
  conv_forward: 1e-9,
  conv_backward: 1e-9,
  dense: 1e-9,
  softmax: 1e-9,
  batch_norm: 1e-9,
  activation: 1e-13,
  merge: 1e-12,
};

/** Ops no generator draws, and why; any other op of the entries without a generator stops the fuzzer. */
const NOT_FUZZED: Record<string, string> = {
  conv_single_step: "one window's sum in plain JS (test/ops/conv.test.ts)",
  flatten: "a reshape view, no kernel (test/ndarray.test.ts)",
};
{
  const drawn = new Set(Object.values(FN).flat());
  const missing = Object.keys(ASYNC_OPS).filter((op) => !drawn.has(op) && !(op in NOT_FUZZED));
  if (missing.length > 0) {
    console.error(`fuzz: no generator draws ${missing.join(", ")}; add one (or a reason to NOT_FUZZED)`);
    process.exit(1);
  }
}

/** A small threaded op a re-entrant getter calls; its result must stay right too. */
const R = new lib.RandomState(99);
const reA = R.randn(1, 24, 24, 16);
const reW = R.randn(3, 3, 16, 16);
const reB = R.randn(1, 1, 1, 16);
let reExpected: Float64Array | null = null;
function reenter(): void {
  const [Z] = lib.conv_forward(reA, reW, reB, { stride: 1, pad: 1 });
  const z = Z.toFloat64Array();
  if (reExpected === null) reExpected = z;
  else if (!same(z, reExpected)) finding("wrong result", "the re-entrant call inside a getter");
}

/**
 * Runs a case: `contiguous` true runs it on plain contiguous arrays of the same values (the baseline);
 * false on its views, through its hostility. Returns the outcome and, for the baseline, the reference's.
 */
function run(
  cs: Case,
  contiguous: boolean,
): { got: Outcome; ref: Float64Array[] | null; valid: boolean; invalid: boolean; floor: number } {
  const rng = mulberry32(cs.seed);
  const { m, h, w, c, f, k, stride, pad, mode } = cs;
  const arr = (j: number, shape: number[]) => {
    const v = values(
      rng,
      shape.reduce((x, y) => x * y, 1),
      cs.specials,
      RTOL[cs.op] !== undefined,
    );
    // the baseline holds, contiguous, the values the view shows
    const plain = new NDArray(logical(cs.views[j], v, shape), shape);
    return { a: contiguous ? plain : hostile(view(cs.views[j], v, shape), cs.hostility, reenter), plain };
  };
  let invalid = false;
  let ref: Float64Array[] | null = null;
  /** The size of the terms a result sums (which cancel to near 0 where it does): the comparison's scale. */
  let floor = 0;
  const got = ((): Outcome => {
    try {
      switch (cs.op) {
        case "zero_pad": {
          const X = arr(0, [m, h, w, c]);
          if (contiguous) ref = [reference.zero_pad(X.plain, pad).toFloat64Array()];
          return { out: [lib.zero_pad(X.a, pad)] };
        }
        case "conv_forward":
        case "conv_backward": {
          // groups: a divisor of the channels drawn; depthwise: one input channel per group
          const { geo } = cs;
          const groups = geo.depthwise ? c : c % geo.groups === 0 && k % geo.groups === 0 ? geo.groups : 1;
          const kk = geo.depthwise ? c * (1 + (k % 3)) : k;
          const A = arr(0, [m, h, w, c]);
          const W = arr(1, [f, geo.fw, c / groups, kk]);
          const b = arr(2, geo.flatBias ? [kk] : [1, 1, 1, kk]);
          const hp: ConvHparameters = { stride: [stride, geo.sw], pad: padOf(cs), dilation: [geo.dh, geo.dw], groups };
          if (contiguous) {
            // an invalid geometry (a window larger than the padded input) must be refused, by name
            try {
              reference.conv_forward(A.plain, W.plain, b.plain, hp);
            } catch {
              invalid = true;
            }
          }
          // Winograd where it applies (3×3, stride 1, undilated, one group; dA_prev: pads ≤ 2), else as drawn
          const winogradFits =
            f === 3 && geo.fw === 3 && stride === 1 && geo.sw === 1 && geo.dh === 1 && geo.dw === 1 && groups === 1;
          const algorithm = cs.algorithm === "winograd" && !winogradFits ? "direct" : cs.algorithm;
          const [Z, cache] = lib.conv_forward(A.a, W.a, b.a, hp, { algorithm });
          if (cs.op === "conv_forward") {
            if (contiguous) ref = [reference.conv_forward(A.plain, W.plain, b.plain, hp).toFloat64Array()];
            return { out: [Z] };
          }
          const dZ = arr(3, [...Z.shape]);
          if (contiguous) {
            ref = reference.conv_backward(dZ.plain, A.plain, W.plain, hp).map((x) => x.toFloat64Array());
          }
          try {
            return { out: lib.conv_backward(dZ.a, cache, { algorithm }) };
          } catch (e) {
            // dA_prev by Winograd needs pads ≤ 2: a larger pad is refused by name; then the direct loops
            if (!String((e as Error).message).includes("expects padding of at most 2")) throw e;
            return { out: lib.conv_backward(dZ.a, cache, { algorithm: "direct" }) };
          }
        }
        case "pool_forward":
        case "pool_backward": {
          const { geo } = cs;
          const A = arr(0, [m, h, w, c]);
          const hp: PoolHparameters = {
            f: [f, geo.fw],
            stride: [stride, geo.sw],
            pad: geo.padForm === "number" ? Math.min(pad, 1) : padOf(cs),
            ceil_mode: geo.ceil,
            count_include_pad: geo.countPad,
          };
          if (contiguous) {
            // an invalid geometry (a window over padding only, or larger than the padded input) must be refused
            try {
              reference.pool_forward(A.plain, hp, mode);
            } catch {
              invalid = true;
            }
          }
          const [P, cache] = lib.pool_forward(A.a, hp, mode);
          if (cs.op === "pool_forward") {
            if (contiguous) ref = [reference.pool_forward(A.plain, hp, mode).toFloat64Array()];
            return { out: [P] };
          }
          const dP = arr(1, [...P.shape]);
          if (contiguous) ref = [reference.pool_backward(dP.plain, A.plain, hp, mode).toFloat64Array()];
          return { out: [lib.pool_backward(dP.a, cache, mode)] };
        }
        case "mask":
          return { out: [lib.create_mask_from_window(arr(0, [h, w]).a)] };
        case "relu": {
          const Z = arr(0, [m, h, w, c]);
          const dA = arr(1, [m, h, w, c]);
          const [A, cache] = lib.relu(Z.a);
          if (contiguous)
            ref = [reference.relu(Z.plain), reference.relu_backward(dA.plain, Z.plain)].map((x) => x.toFloat64Array());
          return { out: [A, lib.relu_backward(dA.a, cache)] };
        }
        case "dense": {
          const X = arr(0, [m * h, c]);
          const W = arr(1, [c, k]);
          const b = arr(2, cs.geo.flatBias ? [k] : [1, k]);
          const [Z, cache] = lib.dense_forward(X.a, W.a, b.a);
          const dZ = arr(3, [m * h, k]);
          if (contiguous) {
            ref = [
              reference.dense_forward(X.plain, W.plain, b.plain),
              ...reference.dense_backward(dZ.plain, X.plain, W.plain),
            ].map((x) => x.toFloat64Array());
          }
          return { out: [Z, ...lib.dense_backward(dZ.a, cache)] };
        }
        case "softmax": {
          const Z = arr(0, [m * h + 1, k]);
          const labels = Array.from({ length: m * h + 1 }, (_, i) => (cs.seed + i) % k);
          const [loss, dZ] = lib.softmax_cross_entropy(Z.a, labels);
          if (contiguous) {
            const Y = lib.zeros([m * h + 1, k]);
            labels.forEach((y, i) => Y.set(i, y, 1));
            const [rl, rdZ] = reference.softmax_cross_entropy(Z.plain, Y);
            ref = [reference.softmax(Z.plain).toFloat64Array(), Float64Array.of(rl), rdZ.toFloat64Array()];
          }
          return { out: [lib.softmax(Z.a), new NDArray(Float64Array.of(loss), [1]), dZ] };
        }
        case "distribute":
          return { out: [lib.distribute_value(rng() * 4 - 2, [h, w])] };
        case "activation": {
          const name = ACTS[cs.seed % ACTS.length];
          const [options, a, b] = ACT_OPTIONS[name] ?? [{}, 0, 0];
          const Z = arr(0, [m, h, w, c]);
          const dA = arr(1, [m, h, w, c]);
          const fwd = lib[name] as (z: NDArray, o: object) => [NDArray, lib.ActivationCache];
          const bwd = lib[`${name}_backward`] as (d: NDArray, c: lib.ActivationCache) => NDArray;
          const [A, cache] = fwd(Z.a, options);
          if (contiguous) {
            ref = [
              reference.activation(name, Z.plain, a, b),
              reference.activation_backward(name, dA.plain, Z.plain, a, b),
            ].map((x) => x.toFloat64Array());
          }
          return { out: [A, bwd(dA.a, cache)] };
        }
        case "batch_norm": {
          const X = arr(0, [m, h, w, c]);
          const [gamma, beta] = [arr(1, [c]), arr(2, [c])];
          const dY = arr(3, [m, h, w, c]);
          // inference with running statistics (positive variances) on odd seeds, the batch's on even ones
          const stats: [NDArray, NDArray] | undefined =
            cs.seed % 2 === 1
              ? [
                  new NDArray(values(rng, c, false, true), [c]),
                  new NDArray(
                    values(rng, c, false, true).map((v) => 0.1 + v * v),
                    [c],
                  ),
                ]
              : undefined;
          const options = stats ? { mean: stats[0], variance: stats[1] } : {};
          // batch statistics of an empty batch must be refused, by name
          if (!stats && m * h * w === 0) invalid = true;
          const [Y, cache] = lib.batch_norm(X.a, gamma.a, beta.a, options);
          // dgamma and dX sum n terms of |dY|·|x̂| (|x̂| ≤ √n) that cancel when dY is constant
          const big = (a: NDArray) =>
            a.toFloat64Array().reduce((s, v) => (Number.isFinite(v) ? Math.max(s, Math.abs(v)) : s), 1);
          floor = big(dY.plain) * big(gamma.plain) * Math.sqrt(m * h * w) * 4;
          if (contiguous) {
            ref = [
              reference.batch_norm(X.plain, gamma.plain, beta.plain, 1e-5, stats),
              ...reference.batch_norm_backward(dY.plain, X.plain, gamma.plain, 1e-5, stats),
            ].map((x) => x.toFloat64Array());
          }
          return { out: [Y, ...lib.batch_norm_backward(dY.a, cache)] };
        }
        case "merge": {
          const A = arr(0, [m, h, w, c]);
          const B = arr(1, [m, h, w, c]);
          const S = arr(2, [m, c]);
          const dY = arr(3, [m, c]);
          const sum = lib.add(A.a, B.a);
          const [joined, widths] = lib.concat([A.a, B.a]);
          const [gated, gcache] = lib.multiply(A.a, S.a);
          const [avg, acache] = lib.global_avg_pool(A.a);
          const [max, mcache] = h * w > 0 && m > 0 ? lib.global_max_pool(A.a) : [lib.zeros([m, c]), null];
          const outs = [
            sum,
            joined,
            ...lib.concat_backward(joined, widths),
            gated,
            ...lib.multiply_backward(gated, gcache),
          ];
          outs.push(avg, lib.global_avg_pool_backward(dY.a, acache), max);
          if (mcache) outs.push(lib.global_max_pool_backward(dY.a, mcache));
          if (contiguous) {
            const [pa, pb] = [A.plain.toFloat64Array(), B.plain.toFloat64Array()];
            const cat = new Float64Array(2 * pa.length);
            for (let p = 0; p < pa.length / c; p++) {
              cat.set(pa.subarray(p * c, p * c + c), 2 * p * c);
              cat.set(pb.subarray(p * c, p * c + c), 2 * p * c + c);
            }
            const g = reference.multiply(A.plain, S.plain);
            const dyv = dY.plain.toFloat64Array();
            const avgBack = new Float64Array(pa.length).map(
              (_, i) => dyv[Math.floor(i / (h * w * c)) * c + (i % c)] / (h * w),
            );
            ref = [
              pa.map((v, i) => v + pb[i]),
              cat,
              pa,
              pb,
              g.toFloat64Array(),
              ...reference.multiply_backward(g, A.plain, S.plain).map((x) => x.toFloat64Array()),
              reference.global_pool(A.plain, false).toFloat64Array(),
              avgBack,
              ...(mcache ? [reference.global_pool(A.plain, true).toFloat64Array()] : []),
            ];
          }
          return { out: outs };
        }
        case "dropout": {
          const X = arr(0, [m, h, w, c]);
          const dY = arr(1, [m, h, w, c]);
          const rate = (cs.seed % 10) / 10;
          const [Y, mask] = lib.dropout(X.a, { rate, seed: cs.seed });
          if (contiguous) {
            const mk = mask.toFloat64Array();
            ref = [
              X.plain.toFloat64Array().map((v, i) => v * mk[i]),
              dY.plain.toFloat64Array().map((v, i) => v * mk[i]),
            ];
          }
          return { out: [Y, lib.dropout_backward(dY.a, mask)] };
        }
      }
    } catch (error) {
      return { error };
    }
  })();
  const valid = !invalid && (contiguous || cs.hostility !== "throw" || cs.op === "distribute");
  return { got, ref, valid, invalid, floor };
}

// ---- checks ----------------------------------------------------------------------------------------

const counts = { inputs: 0, calls: 0, wrong: 0, leaks: 0, hangs: 0, unnamed: 0, invalidRefused: 0, validRefused: 0 };
const findings: string[] = [];
let current = "";

function finding(kind: string, detail: string): void {
  if (kind === "wrong result") counts.wrong++;
  findings.push(`${kind}: ${detail} [${current}]`);
}

function same(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function close(a: Float64Array, b: Float64Array, rtol: number, floor = 0): boolean {
  if (a.length !== b.length) return false;
  let scale = floor;
  for (const v of b) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]) || !Number.isFinite(b[i])) {
      if (!Object.is(a[i], b[i]) && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
      continue;
    }
    if (Math.abs(a[i] - b[i]) > rtol * Math.max(Math.abs(b[i]), scale)) return false;
  }
  return true;
}

/** Checks one case on the current thread count; returns the bits of its outputs (for the thread comparison). */
function check(cs: Case): string {
  current = `seed ${seed} case ${JSON.stringify(cs)} threads ${lib.getThreads()}`;
  const fn = FN[cs.op];
  const t0 = performance.now();
  const base = run(cs, true);
  const mine = run(cs, false);
  // (the baseline found out whether the geometry is one the library must refuse)
  if (base.invalid) mine.valid = false;
  counts.calls += 2;
  counts.inputs++;
  if (performance.now() - t0 > 10_000) {
    counts.hangs++;
    findings.push(`hang: ${Math.round(performance.now() - t0)} ms [${current}]`);
  }
  if (lib.memory().arenaBytesInUse !== 0) {
    counts.leaks++;
    findings.push(`leak: ${lib.memory().arenaBytesInUse} bytes in use after the call [${current}]`);
  }
  for (const [what, r] of [
    ["baseline", base],
    ["view", mine],
  ] as const) {
    if ("error" in r.got) {
      const e = r.got.error;
      const ok = e instanceof Error && fn.some((name) => e.message.startsWith(`${name}: `));
      if (!ok) {
        counts.unnamed++;
        findings.push(`unnamed error (${what}): ${String(e)} [${current}]`);
      }
      if (r.valid && !(e instanceof RangeError && /more than an array can hold|WASM32|could not/.test(e.message))) {
        // the shapes are drawn valid: any other refusal of a valid call is a finding
        counts.validRefused++;
        findings.push(`valid input refused (${what}): ${String(e)} [${current}]`);
      }
    } else if (!r.valid) {
      findings.push(`an invalid call or a throwing getter did not make the call fail (${what}) [${current}]`);
    }
  }
  if (cs.hostility === "throw" || base.invalid) counts.invalidRefused++;
  if ("out" in base.got) {
    const outs = base.got.out.map((o) => o.toFloat64Array());
    if (base.ref) {
      // sums in another order than the reference's: within RTOL (relu, copies and pooling: the same bits)
      const rtol = RTOL[cs.op];
      base.ref.forEach((r, j) => {
        if (!(rtol !== undefined ? close(outs[j], r, rtol, base.floor) : same(outs[j], r)))
          finding("wrong result", `${cs.op} output ${j} vs the reference`);
      });
    }
    if ("out" in mine.got) {
      mine.got.out.forEach((o, j) => {
        if (!same(o.toFloat64Array(), outs[j])) finding("wrong result", `${cs.op} output ${j} on views vs contiguous`);
      });
    }
    return outs.map((o) => Array.from(o, (v) => (Object.is(v, -0) ? "-0" : String(v))).join(",")).join("|");
  }
  return `error ${String((base.got as { error: unknown }).error)}`;
}

// ---- main ------------------------------------------------------------------------------------------

// (3 threads even on 2 cores: uneven splits)
limits.threadsBeyondCores = true;
await lib.init({ threads: 3 });
// the cases are small: share out from far less work than the default (set for helpers woken from sleep)
tuning.minWorkScale = 1 / 64;
const until = performance.now() + seconds * 1000;
console.log(`fuzz: seed ${seed}, ${seconds} s (replay: npm run fuzz -- --seed ${seed} --seconds ${seconds})`);
let batch = 0;
while (performance.now() < until && findings.length < 20) {
  const cases = fc.sample(caseArb, { seed: seed + batch, numRuns: BATCH });
  const digests: string[][] = [];
  for (const threads of [1, 2, 3]) {
    await lib.setThreads(threads);
    digests.push(cases.map(check));
  }
  cases.forEach((cs, i) => {
    if (digests[1][i] !== digests[0][i] || digests[2][i] !== digests[0][i]) {
      current = `seed ${seed} case ${JSON.stringify(cs)}`;
      finding("wrong result", "different bits on 1, 2 and 3 threads");
    }
  });
  batch++;
}
console.log(
  `fuzz: ${counts.inputs} inputs, ${counts.calls} calls in ${batch} batches on 1-3 threads; ` +
    `wrong results ${counts.wrong}, leaks ${counts.leaks}, hangs ${counts.hangs}, unnamed errors ${counts.unnamed}, ` +
    `valid inputs refused ${counts.validRefused}; ${counts.invalidRefused} invalid geometries or throwing arguments refused by name`,
);
for (const f of findings) console.log(`  ${f}`);
lib.dispose();
process.exit(findings.length > 0 ? 1 : 0);
