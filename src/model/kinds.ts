// Every layer kind, defined once: how many inputs it reads, how it checks its options and infers its
// output shape, which parameters (trainable, and state such as BatchNorm's running statistics) it owns
// and how they start, and its forward (training or inference) and backward through the functional ops.
// The model's builder, executor and autodiff (model.ts) know no kind by name but through this table; an
// unknown kind is an error that names it.
import { NDArray, describe, fmtShape, sizeOf, F64_BYTES } from "../core/ndarray.js";
import { checkInteger, convArgs, pair, poolArgs, type PoolHparameters } from "../core/shapes.js";
import { conv_backward, conv_forward, type ConvCache } from "../ops/conv.js";
import { pool_backward, pool_forward, type PoolCache } from "../ops/pool.js";
import { relu, relu_backward } from "../ops/relu.js";
import { dense_backward, dense_forward, type DenseCache } from "../ops/dense.js";
import { softmax } from "../ops/softmax.js";
import { ACTIVATIONS, activationParams, type ActivationName, type ActivationCache } from "../ops/activations.js";
import * as act from "../ops/activations.js";
import { batch_norm, batch_norm_backward, type BatchNormCache } from "../ops/batchnorm.js";
import * as merge from "../ops/merge.js";
import { dropout, dropout_backward } from "../ops/dropout.js";
import { run } from "../runtime/schedule.js";
import { padImages } from "../ops/pad.js";
import type { LayerKind, LayerSpec } from "./layers.js";

type Spec<K extends LayerKind> = LayerSpec & { kind: K };

/** What a kind's build() is given: where it is (for messages), its inputs' per-example shapes, an initialiser. */
export interface BuildContext {
  where: string;
  inputs: number[][];
  /** A new weight array of `shape`, He or Glorot (seeded; `how` or the model's default for this layer). */
  init(fanIn: number, fanOut: number, shape: number[], how: unknown): NDArray;
}

/** A parameter a layer owns: trainable (W, b, gamma, beta) or state (moving statistics); decayed or not. */
export interface ParamSpec {
  array: NDArray;
  trainable: boolean;
  /** Weight decay applies to it (conv and dense kernels; not biases nor BatchNorm's): PyTorch's usual groups. */
  decay: boolean;
}

export interface Built {
  output: number[];
  params: Record<string, ParamSpec>;
}

/** What a forward call is given besides its inputs and parameters. */
export interface RunContext {
  training: boolean;
  /** A fresh seed (dropout's mask), drawn from the model's RandomState. */
  seed(): number;
}

export interface KindDef<S extends LayerSpec = LayerSpec> {
  /** How many inputs it reads: a number, or "many" (at least 2). */
  arity: number | "many";
  build(ctx: BuildContext, spec: S): Built;
  forward(spec: S, xs: NDArray[], p: Record<string, NDArray>, run: RunContext): [NDArray, unknown];
  /** The inputs' and the trainable parameters' gradients from the output's. */
  backward(
    spec: S,
    dy: NDArray,
    cache: unknown,
    p: Record<string, NDArray>,
  ): { dx: NDArray[]; grads: Record<string, NDArray> };
}

const weight = (array: NDArray): ParamSpec => ({ array, trainable: true, decay: true });
const vector = (c: number, fill = 0): ParamSpec => ({
  array: new NDArray(new Float64Array(c).fill(fill), [c]),
  trainable: true,
  decay: false,
});
const state = (c: number, fill: number): ParamSpec => ({ ...vector(c, fill), trainable: false });

/** A stand-in array of `shape` (one element, broadcast) for the ops' shape checks. */
export const fake = (shape: number[]) =>
  new NDArray(
    new Float64Array(1),
    shape,
    shape.map(() => 0),
  );

function image(ctx: BuildContext): number[] {
  const x = ctx.inputs[0];
  if (x.length !== 3) throw new RangeError(`${ctx.where} expects an input [h, w, c] but gets ${fmtShape(x)}`);
  return x;
}

export function bool(where: string, name: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") throw new TypeError(`${where}: ${name} expects true or false but got ${describe(v)}`);
  return v;
}

function fraction(where: string, name: string, v: unknown, fallback: number, closed: boolean): number {
  const x = v === undefined ? fallback : v;
  if (typeof x !== "number" || !(x >= 0 && (closed ? x <= 1 : x < 1))) {
    throw new RangeError(`${where}: ${name} expects a number in [0, 1${closed ? "]" : ")"} but got ${describe(x)}`);
  }
  return x;
}

type ConvLike = Spec<"conv2d"> | Spec<"depthwiseConv2d"> | Spec<"separableConv2d">;
/** A conv layer's geometry for conv_forward (plan.ts reads it too). */
export const convHp = (s: ConvLike, groups: number) => ({
  stride: s.stride ?? 1,
  pad: s.pad ?? 0,
  dilation: s.dilation ?? 1,
  groups,
});
const zerosOf = (k: number) => new NDArray(new Float64Array(k), [k]);

/** A conv's output shape (checked by conv_forward's own rules) from its input and filter shapes. */
function convOutput(where: string, input: number[], wShape: number[], hp: ReturnType<typeof convHp>): number[] {
  const k = wShape[3];
  const { g } = convArgs(where, fake([1, ...input]), fake(wShape), fake([k]), hp);
  return [g.nH, g.nW, k];
}

const conv2d: KindDef<Spec<"conv2d">> = {
  arity: 1,
  build(ctx, s) {
    const [, , c] = image(ctx);
    const [fh, fw] = pair(ctx.where, "size", s.size, 1);
    const groups = checkInteger(ctx.where, "groups", s.groups ?? 1, 1);
    const filters = checkInteger(ctx.where, "filters", s.filters, 1);
    const wShape = [fh, fw, c / groups, filters];
    if (!Number.isInteger(wShape[2]))
      throw new RangeError(`${ctx.where}: groups ${groups} does not divide ${c} channels`);
    const output = convOutput(ctx.where, ctx.inputs[0], wShape, convHp(s, groups));
    const params: Record<string, ParamSpec> = {
      W: weight(ctx.init(fh * fw * wShape[2], fh * fw * (filters / groups), wShape, s.init)),
    };
    if (bool(ctx.where, "bias", s.bias, true)) params.b = vector(filters);
    return { output, params };
  },
  forward: (s, [x], p) => conv_forward(x, p.W, p.b ?? zerosOf(p.W.shape[3]), convHp(s, s.groups ?? 1)),
  backward: (_s, dy, cache, p) => convBackward(dy, cache, p),
};

function convBackward(dy: NDArray, cache: unknown, p: Record<string, NDArray>) {
  const [dx, dW, db] = conv_backward(dy, cache as ConvCache);
  return { dx: [dx], grads: withBias(p, dW, db) };
}

/** A kernel's gradient, and the bias's where the layer has one. */
function withBias(p: Record<string, NDArray>, dW: NDArray, db: NDArray): Record<string, NDArray> {
  return p.b ? { W: dW, b: db } : { W: dW };
}

const depthwiseConv2d: KindDef<Spec<"depthwiseConv2d">> = {
  arity: 1,
  build(ctx, s) {
    const [, , c] = image(ctx);
    const [fh, fw] = pair(ctx.where, "size", s.size, 1);
    const mult = checkInteger(ctx.where, "multiplier", s.multiplier ?? 1, 1);
    const wShape = [fh, fw, 1, c * mult];
    const output = convOutput(ctx.where, ctx.inputs[0], wShape, convHp(s, c));
    const params: Record<string, ParamSpec> = { W: weight(ctx.init(fh * fw, fh * fw * mult, wShape, s.init)) };
    if (bool(ctx.where, "bias", s.bias, true)) params.b = vector(c * mult);
    return { output, params };
  },
  forward: (s, [x], p) => conv_forward(x, p.W, p.b ?? zerosOf(p.W.shape[3]), convHp(s, x.shape[3])),
  backward: (_s, dy, cache, p) => convBackward(dy, cache, p),
};

const separableConv2d: KindDef<Spec<"separableConv2d">> = {
  arity: 1,
  build(ctx, s) {
    const [, , c] = image(ctx);
    const [fh, fw] = pair(ctx.where, "size", s.size, 1);
    const mult = checkInteger(ctx.where, "multiplier", s.multiplier ?? 1, 1);
    const filters = checkInteger(ctx.where, "filters", s.filters, 1);
    const dShape = [fh, fw, 1, c * mult];
    const [nH, nW] = convOutput(ctx.where, ctx.inputs[0], dShape, convHp(s, c));
    const pShape = [1, 1, c * mult, filters];
    const params: Record<string, ParamSpec> = {
      depthwise_W: weight(ctx.init(fh * fw, fh * fw * mult, dShape, s.init)),
      pointwise_W: weight(ctx.init(c * mult, filters, pShape, s.init)),
    };
    if (bool(ctx.where, "bias", s.bias, true)) params.b = vector(filters);
    return { output: [nH, nW, filters], params };
  },
  forward(s, [x], p) {
    const [d, c1] = conv_forward(x, p.depthwise_W, zerosOf(p.depthwise_W.shape[3]), convHp(s, x.shape[3]));
    const [z, c2] = conv_forward(d, p.pointwise_W, p.b ?? zerosOf(p.pointwise_W.shape[3]), { stride: 1, pad: 0 });
    return [z, [c1, c2]];
  },
  backward(_s, dy, cache, p) {
    const [c1, c2] = cache as [ConvCache, ConvCache];
    const [dd, dP, db] = conv_backward(dy, c2);
    const [dx, dD] = conv_backward(dd, c1);
    const grads: Record<string, NDArray> = { depthwise_W: dD, pointwise_W: dP };
    if (p.b) grads.b = db;
    return { dx: [dx], grads };
  },
};

const same = (ctx: BuildContext) => ({ output: [...ctx.inputs[0]], params: {} });

const reluKind: KindDef<Spec<"relu">> = {
  arity: 1,
  build: same,
  forward: (_s, [x]) => relu(x),
  backward: (_s, dy, cache) => ({ dx: [relu_backward(dy, cache as NDArray)], grads: {} }),
};

/** The activations of ops/activations.ts, by layer kind (plan.ts runs them by the same table). */
export const ACTIVATION_OF = {
  relu6: "relu6",
  clip: "clip",
  leakyRelu: "leaky_relu",
  sigmoid: "sigmoid",
  hardSigmoid: "hard_sigmoid",
  hardSwish: "hard_swish",
  swish: "swish",
} as const satisfies Record<string, ActivationName>;
type ActivationKind = keyof typeof ACTIVATION_OF;

function activation(kind: ActivationKind): KindDef {
  const name = ACTIVATION_OF[kind];
  const f = act[name] as (z: NDArray, o?: object) => [NDArray, ActivationCache];
  const b = act[`${name}_backward`] as (d: NDArray, c: ActivationCache) => NDArray;
  void ACTIVATIONS[name];
  return {
    arity: 1,
    build(ctx, s) {
      activationParams(ctx.where, name, s);
      return same(ctx);
    },
    forward: (s, [x]) => f(x, { ...s, kind: undefined }),
    backward: (_s, dy, cache) => ({ dx: [b(dy, cache as ActivationCache)], grads: {} }),
  };
}

type PoolSpec = Spec<"maxPool"> | Spec<"avgPool">;
/** A pooling layer's hyperparameters for pool_forward (plan.ts reads them too). */
export function poolHp(s: PoolSpec): PoolHparameters {
  const { kind, stride, ...hp } = s;
  void kind;
  // (the stride defaults to the window, as Keras's)
  return { ...hp, stride: stride ?? hp.f };
}
const pool: KindDef<PoolSpec> = {
  arity: 1,
  build(ctx, s) {
    const [, , c] = image(ctx);
    const { g } = poolArgs(ctx.where, fake([1, ...ctx.inputs[0]]), poolHp(s));
    return { output: [g.nH, g.nW, c], params: {} };
  },
  forward: (s, [x]) => pool_forward(x, poolHp(s), s.kind === "maxPool" ? "max" : "average"),
  backward: (s, dy, cache) => ({
    dx: [pool_backward(dy, cache as PoolCache, s.kind === "maxPool" ? "max" : "average")],
    grads: {},
  }),
};

const globalPool = (max: boolean): KindDef => ({
  arity: 1,
  build(ctx) {
    return { output: [image(ctx)[2]], params: {} };
  },
  forward: (_s, [x]) => (max ? merge.global_max_pool(x) : merge.global_avg_pool(x)),
  backward: (_s, dy, cache) => ({
    dx: [
      max
        ? merge.global_max_pool_backward(dy, cache as NDArray)
        : merge.global_avg_pool_backward(dy, cache as number[]),
    ],
    grads: {},
  }),
});

const flatten: KindDef = {
  arity: 1,
  build: (ctx) => ({ output: [sizeOf(ctx.inputs[0])], params: {} }),
  forward: (_s, [x]) => [x.reshape(x.shape[0], -1), x.shape],
  backward: (_s, dy, cache) => ({ dx: [dy.reshape(...(cache as number[]))], grads: {} }),
};

const dense: KindDef<Spec<"dense">> = {
  arity: 1,
  build(ctx, s) {
    const x = ctx.inputs[0];
    if (x.length !== 1)
      throw new RangeError(`${ctx.where} expects an input [n] (flatten first) but gets ${fmtShape(x)}`);
    const units = checkInteger(ctx.where, "units", s.units, 1);
    const params: Record<string, ParamSpec> = { W: weight(ctx.init(x[0], units, [x[0], units], s.init)) };
    if (bool(ctx.where, "bias", s.bias, true)) params.b = vector(units);
    return { output: [units], params };
  },
  forward: (_s, [x], p) => dense_forward(x, p.W, p.b ?? zerosOf(p.W.shape[1])),
  backward(_s, dy, cache, p) {
    const [dx, dW, db] = dense_backward(dy, cache as DenseCache);
    return { dx: [dx], grads: withBias(p, dW, db.reshape(db.size)) };
  },
};

const batchNorm: KindDef<Spec<"batchNorm">> = {
  arity: 1,
  build(ctx, s) {
    const x = ctx.inputs[0];
    const epsilon = s.epsilon ?? 1e-5;
    if (typeof epsilon !== "number" || !(epsilon >= 0) || !Number.isFinite(epsilon)) {
      throw new RangeError(`${ctx.where}: epsilon expects a finite number ≥ 0 but got ${describe(epsilon)}`);
    }
    fraction(ctx.where, "momentum", s.momentum, 0.1, true);
    const c = x[x.length - 1];
    return {
      output: [...x],
      params: { gamma: vector(c, 1), beta: vector(c, 0), moving_mean: state(c, 0), moving_variance: state(c, 1) },
    };
  },
  forward(s, [x], p, ctx) {
    const epsilon = s.epsilon ?? 1e-5;
    // frozen, it normalises with its running statistics and keeps them (Keras's fine-tuning rule)
    if (!ctx.training || s.trainable === false) {
      return batch_norm(x, p.gamma, p.beta, { mean: p.moving_mean, variance: p.moving_variance, epsilon });
    }
    const out = batch_norm(x, p.gamma, p.beta, { epsilon });
    // the running statistics, as PyTorch: the unbiased variance, momentum the new batch's weight
    const momentum = s.momentum ?? 0.1;
    const [, , mu, sigma2] = out[1];
    const n = x.size / mu.length;
    const [rm, rv] = [p.moving_mean.data, p.moving_variance.data];
    for (let ch = 0; ch < mu.length; ch++) {
      rm[ch] = (1 - momentum) * rm[ch] + momentum * mu[ch];
      rv[ch] = (1 - momentum) * rv[ch] + momentum * (n > 1 ? (sigma2[ch] * n) / (n - 1) : sigma2[ch]);
    }
    return out;
  },
  backward(_s, dy, cache) {
    const [dx, dgamma, dbeta] = batch_norm_backward(dy, cache as BatchNormCache);
    return { dx: [dx], grads: { gamma: dgamma, beta: dbeta } };
  },
};

const dropoutKind: KindDef<Spec<"dropout">> = {
  arity: 1,
  build(ctx, s) {
    fraction(ctx.where, "rate", s.rate, NaN, false);
    return same(ctx);
  },
  forward: (s, [x], _p, ctx) =>
    ctx.training && s.rate > 0 ? dropout(x, { rate: s.rate, seed: ctx.seed() }) : [x, null],
  backward: (_s, dy, cache) => ({ dx: [cache === null ? dy : dropout_backward(dy, cache as NDArray)], grads: {} }),
};

type Sides = [number, number, number, number];
const zeroPadding2d: KindDef<Spec<"zeroPadding2d">> = {
  arity: 1,
  build(ctx, s) {
    const [h, w, c] = image(ctx);
    const [t, b, l, r] = sides(ctx.where, s.pad);
    return { output: [h + t + b, w + l + r, c], params: {} };
  },
  forward(s, [x]) {
    const [m, h, w, c] = x.shape;
    const [top, bottom, left, right] = sides("zeroPadding2d", s.pad);
    const shape = [m, h + top + bottom, w + left + right, c];
    const out = new Float64Array(sizeOf(shape));
    run("zeroPadding2d", false, ({ kernels, arena }) => {
      const p = arena.copyIn("zeroPadding2d", "X", x);
      const y = arena.alloc("zeroPadding2d", "the padded images", out.length * F64_BYTES);
      padImages(kernels, { ptr: p, strides: [h * w * c, w * c, c, 1], h, w, c }, { top, bottom, left, right }, y, m);
      out.set(arena.f64(y, out.length));
    });
    return [new NDArray(out, shape), [top, left, h, w]];
  },
  backward(_s, dy, cache) {
    const [top, left, h, w] = cache as number[];
    const [m, hp, wp, c] = dy.shape;
    const g = dy.toFloat64Array();
    const out = new Float64Array(m * h * w * c);
    for (let i = 0; i < m; i++)
      for (let y = 0; y < h; y++) {
        const from = ((i * hp + top + y) * wp + left) * c;
        out.set(g.subarray(from, from + w * c), (i * h + y) * w * c);
      }
    return { dx: [new NDArray(out, [m, h, w, c])], grads: {} };
  },
};

/** zeroPadding2d's pad: n (all sides), [h, w] (each on both sides) or [[top, bottom], [left, right]]. */
function sides(where: string, pad: unknown): Sides {
  const n = (v: unknown) => checkInteger(where, "pad", v, 0);
  if (typeof pad === "number") return [n(pad), n(pad), n(pad), n(pad)];
  if (Array.isArray(pad) && pad.length === 2) {
    const [a, b] = pad;
    if (typeof a === "number" && typeof b === "number") return [n(a), n(a), n(b), n(b)];
    if (Array.isArray(a) && Array.isArray(b) && a.length === 2 && b.length === 2)
      return [n(a[0]), n(a[1]), n(b[0]), n(b[1])];
  }
  throw new TypeError(`${where}: pad expects n, [h, w] or [[top, bottom], [left, right]] but got ${describe(pad)}`);
}

const add: KindDef = {
  arity: "many",
  build(ctx) {
    const [first, ...rest] = ctx.inputs;
    rest.forEach((x, i) => {
      if (fmtShape(x) !== fmtShape(first)) {
        throw new RangeError(
          `${ctx.where}: inputs[${i + 1}] expects inputs[0]'s shape ${fmtShape(first)} but gets ${fmtShape(x)}`,
        );
      }
    });
    return { output: [...first], params: {} };
  },
  forward: (_s, xs) => [xs.slice(1).reduce((sum, x) => merge.add(sum, x), xs[0]), xs.length],
  backward: (_s, dy, cache) => ({ dx: Array.from({ length: cache as number }, () => dy), grads: {} }),
};

const concat: KindDef = {
  arity: "many",
  build(ctx) {
    const [first] = ctx.inputs;
    ctx.inputs.forEach((x, i) => {
      if (x.length !== first.length || fmtShape(x.slice(0, -1)) !== fmtShape(first.slice(0, -1))) {
        throw new RangeError(
          `${ctx.where}: inputs[${i}] expects [${first.slice(0, -1).join(",")},*] (inputs[0]'s shape but its channels) but gets ${fmtShape(x)}`,
        );
      }
    });
    return { output: [...first.slice(0, -1), ctx.inputs.reduce((s, x) => s + x[x.length - 1], 0)], params: {} };
  },
  forward: (_s, xs) => merge.concat(xs),
  backward: (_s, dy, cache) => ({ dx: merge.concat_backward(dy, cache as number[]), grads: {} }),
};

const multiply: KindDef = {
  arity: 2,
  build(ctx) {
    const [x, g] = ctx.inputs;
    const c = x[x.length - 1];
    if (x.length !== 3 || !(fmtShape(g) === `[${c}]` || fmtShape(g) === `[1,1,${c}]`)) {
      throw new RangeError(
        `${ctx.where} expects inputs [h, w, c] and [c] (a gate per channel) but gets ${fmtShape(x)} and ${fmtShape(g)}`,
      );
    }
    return { output: [...x], params: {} };
  },
  forward(_s, [x, g]) {
    const [y, cache] = merge.multiply(x, g);
    return [y, [cache, g.shape]];
  },
  backward(_s, dy, cache) {
    const [c, gShape] = cache as [merge.MultiplyCache, number[]];
    const [dx, dg] = merge.multiply_backward(dy, c);
    return { dx: [dx, dg.reshape(...gShape)], grads: {} };
  },
};

const softmaxKind: KindDef = {
  arity: 1,
  build: same,
  forward: (_s, [x]) => [softmax(x), null],
  backward() {
    // (fit takes the loss on softmax's input: no gradient flows through softmax itself)
    throw new RangeError("fit: softmax can only be a model's output");
  },
};

/** The layer kinds, by name: the one place each is defined. */
export const KINDS: { readonly [K in LayerKind]: KindDef<Spec<K>> } = {
  conv2d,
  depthwiseConv2d,
  separableConv2d,
  relu: reluKind,
  relu6: activation("relu6"),
  clip: activation("clip"),
  leakyRelu: activation("leakyRelu"),
  sigmoid: activation("sigmoid"),
  hardSigmoid: activation("hardSigmoid"),
  hardSwish: activation("hardSwish"),
  swish: activation("swish"),
  maxPool: pool,
  avgPool: pool,
  globalAvgPool: globalPool(false),
  globalMaxPool: globalPool(true),
  flatten,
  dense,
  batchNorm,
  dropout: dropoutKind,
  zeroPadding2d,
  add,
  concat,
  multiply,
  softmax: softmaxKind,
};

/** The kind's definition, or a named error for an unknown kind (never the identity). */
export function kindOf(where: string, spec: unknown): KindDef {
  const kind = (spec as { kind?: unknown } | null)?.kind;
  if (typeof kind !== "string" || !Object.hasOwn(KINDS, kind)) {
    throw new TypeError(
      `${where} expects a layer (layers.conv2d(…), …) but got ${
        typeof kind === "string"
          ? `an unknown layer kind ${JSON.stringify(kind)} (known: ${Object.keys(KINDS).join(", ")})`
          : describe(spec)
      }`,
    );
  }
  return KINDS[kind as LayerKind] as KindDef;
}
