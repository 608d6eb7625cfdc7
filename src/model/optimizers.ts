// The optimizers a model trains with: SGD with momentum and Adam, PyTorch's update rules, on the
// parameters' Float64Arrays in place. As PyTorch's, an optimizer's state belongs to (optimizer,
// parameter): one optimizer object can train several models, each parameter with its own moments and step.
import { describe } from "../core/ndarray.js";

/** What an optimizer was made with: enough to make the same one elsewhere (convwasm/async's workers). */
export type OptimizerConfig =
  | ({ type: "sgd"; lr: number; momentum: number; nesterov: boolean; weightDecay: number } & Schedule)
  | ({ type: "adam"; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number } & Schedule);

/**
 * The learning rate over a run of fit(), set every step: a linear warm-up from lr/W to lr over the
 * first `warmup` fraction of the steps (W of them), then constant or a cosine down to 0 at the last step.
 */
export interface Schedule {
  warmup: number;
  decay: "constant" | "cosine";
}

/** Where a step is: which parameters take weight decay, and the step's place in the run (for the schedule). */
export interface StepContext {
  /** Per parameter: decayed or not (fit decays conv and dense kernels only; default: all). */
  decay?: readonly boolean[];
  /** The step (0 first) and how many the run makes. */
  step?: number;
  steps?: number;
}

export interface Optimizer {
  readonly name: string;
  readonly config: OptimizerConfig;
  /** One update of every parameter from its gradient (same order every call). */
  step(params: Float64Array[], grads: Float64Array[], context?: StepContext): void;
}

/** The schedule's factor of the learning rate at this step. */
function factor(s: Schedule, c: StepContext | undefined): number {
  const t = c?.step;
  const T = c?.steps;
  if (t === undefined || T === undefined) return 1;
  const W = Math.round(s.warmup * T);
  if (t < W) return (t + 1) / W;
  if (s.decay === "constant" || T - W <= 1) return 1;
  return 0.5 * (1 + Math.cos((Math.PI * (t - W)) / (T - W - 1)));
}

function schedule(fn: string, o: Record<string, unknown>): Schedule {
  const warmup = hyper(fn, o, "warmup", 0, 0, 1, false);
  const decay = o.decay ?? "constant";
  if (decay !== "constant" && decay !== "cosine") {
    throw new RangeError(`${fn}: decay expects "constant" or "cosine" but got ${describe(decay)}`);
  }
  return { warmup, decay };
}

/** A finite number in [min, max) (or [min, max] unless `open`), read from the options, or a named RangeError. */
function hyper(
  fn: string,
  o: Record<string, unknown>,
  key: string,
  fallback: number,
  min: number,
  max: number,
  open: boolean,
): number {
  const v = Object.hasOwn(o, key) && o[key] !== undefined ? o[key] : fallback;
  const inRange = typeof v === "number" && Number.isFinite(v) && v >= min && (open ? v < max : v <= max);
  if (!inRange) {
    const range = max === Infinity ? `>= ${min}` : `in [${min}, ${max}${open ? ")" : "]"}`;
    throw new RangeError(`${fn}: ${key} expects a finite number ${range} but got ${describe(v)}`);
  }
  return v;
}

function optionsObject(fn: string, options: unknown): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options expects an object but got ${describe(options)}`);
  }
  return { ...(options as Record<string, unknown>) };
}

type SgdOptions = { lr?: number; momentum?: number; nesterov?: boolean; weightDecay?: number } & Partial<Schedule>;

/**
 * SGD, as torch.optim.SGD: g += weightDecay·p; buf = momentum·buf + g (buf = g at the first step);
 * p −= lr·(nesterov ? g + momentum·buf : buf). The learning rate follows the schedule (warmup, decay).
 */
export function sgd(options: SgdOptions = {}): Optimizer {
  const o = optionsObject("sgd", options);
  const lr = hyper("sgd", o, "lr", 0.01, 0, Infinity, false);
  const momentum = hyper("sgd", o, "momentum", 0, 0, 1, true);
  const weightDecay = hyper("sgd", o, "weightDecay", 0, 0, Infinity, false);
  const nesterov = o.nesterov ?? false;
  if (typeof nesterov !== "boolean")
    throw new TypeError(`sgd: nesterov expects true or false but got ${describe(nesterov)}`);
  if (nesterov && momentum === 0) throw new RangeError("sgd: nesterov expects a momentum above 0");
  const sched = schedule("sgd", o);
  const bufs = new WeakMap<Float64Array, Float64Array>();
  return {
    name: `SGD(lr=${lr}, momentum=${momentum}${nesterov ? ", nesterov" : ""}${weightDecay ? `, weight_decay=${weightDecay}` : ""})`,
    config: { type: "sgd", lr, momentum, nesterov, weightDecay, ...sched },
    step(params, grads, context) {
      const rate = lr * factor(sched, context);
      params.forEach((p, j) => {
        const wd = context?.decay?.[j] === false ? 0 : weightDecay;
        const g = grads[j];
        if (momentum === 0) {
          for (let i = 0; i < p.length; i++) p[i] -= rate * (g[i] + wd * p[i]);
          return;
        }
        let buf = bufs.get(p);
        const first = buf === undefined;
        if (!buf) bufs.set(p, (buf = new Float64Array(p.length)));
        for (let i = 0; i < p.length; i++) {
          const gi = g[i] + wd * p[i];
          buf[i] = first ? gi : momentum * buf[i] + gi;
          p[i] -= rate * (nesterov ? gi + momentum * buf[i] : buf[i]);
        }
      });
    },
  };
}

/**
 * Adam (Kingma & Ba), as torch.optim.Adam: bias-corrected moments, eps added to √v̂, a step count per
 * parameter; weightDecay added to the gradient (L2, as torch.optim.Adam's weight_decay, not AdamW).
 */
export function adam(
  options: { lr?: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number } & Partial<Schedule> = {},
): Optimizer {
  const o = optionsObject("adam", options);
  const weightDecay = hyper("adam", o, "weightDecay", 0, 0, Infinity, false);
  const sched = schedule("adam", o);
  const lr = hyper("adam", o, "lr", 1e-3, 0, Infinity, false);
  const beta1 = hyper("adam", o, "beta1", 0.9, 0, 1, true);
  const beta2 = hyper("adam", o, "beta2", 0.999, 0, 1, true);
  const eps = hyper("adam", o, "eps", 1e-8, 0, Infinity, false);
  const state = new WeakMap<Float64Array, { m: Float64Array; v: Float64Array; t: number }>();
  return {
    name: `Adam(lr=${lr})`,
    config: { type: "adam", lr, beta1, beta2, eps, weightDecay, ...sched },
    step(params, grads, context) {
      const rate = lr * factor(sched, context);
      params.forEach((p, j) => {
        const wd = context?.decay?.[j] === false ? 0 : weightDecay;
        const g = wd === 0 ? grads[j] : grads[j].map((gi, i) => gi + wd * p[i]);
        let s = state.get(p);
        if (!s) state.set(p, (s = { m: new Float64Array(p.length), v: new Float64Array(p.length), t: 0 }));
        const t = ++s.t;
        const c1 = 1 - beta1 ** t;
        const sqrtC2 = Math.sqrt(1 - beta2 ** t);
        const { m, v } = s;
        for (let i = 0; i < p.length; i++) {
          m[i] = beta1 * m[i] + (1 - beta1) * g[i];
          v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
          p[i] -= ((rate / c1) * m[i]) / (Math.sqrt(v[i]) / sqrtC2 + eps);
        }
      });
    },
  };
}

/** A new optimizer (fresh state) made as `config` says. */
export function optimizerOf(config: OptimizerConfig): Optimizer {
  return config.type === "sgd" ? sgd(config) : adam(config);
}
