// The optimizers a model trains with: SGD with momentum and Adam, PyTorch's update rules, on the
// parameters' Float64Arrays in place. As PyTorch's, an optimizer's state belongs to (optimizer,
// parameter): one optimizer object can train several models, each parameter with its own moments and step.
import { describe } from "../ndarray.js";

/** What an optimizer was made with: enough to make the same one elsewhere (convwasm/async's workers). */
export type OptimizerConfig =
  | { type: "sgd"; lr: number; momentum: number }
  | { type: "adam"; lr: number; beta1: number; beta2: number; eps: number };

export interface Optimizer {
  readonly name: string;
  readonly config: OptimizerConfig;
  /** One update of every parameter from its gradient (same order every call). */
  step(params: Float64Array[], grads: Float64Array[]): void;
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

/** SGD: p −= lr·buf with buf = momentum·buf + g (buf = g at the first step), as torch.optim.SGD. */
export function sgd(options: { lr?: number; momentum?: number } = {}): Optimizer {
  const o = optionsObject("sgd", options);
  const lr = hyper("sgd", o, "lr", 0.01, 0, Infinity, false);
  const momentum = hyper("sgd", o, "momentum", 0, 0, 1, true);
  const bufs = new WeakMap<Float64Array, Float64Array>();
  return {
    name: `SGD(lr=${lr}, momentum=${momentum})`,
    config: { type: "sgd", lr, momentum },
    step(params, grads) {
      params.forEach((p, j) => {
        const g = grads[j];
        if (momentum === 0) {
          for (let i = 0; i < p.length; i++) p[i] -= lr * g[i];
          return;
        }
        let buf = bufs.get(p);
        const first = buf === undefined;
        if (!buf) bufs.set(p, (buf = new Float64Array(p.length)));
        for (let i = 0; i < p.length; i++) {
          buf[i] = first ? g[i] : momentum * buf[i] + g[i];
          p[i] -= lr * buf[i];
        }
      });
    },
  };
}

/** Adam (Kingma & Ba), as torch.optim.Adam: bias-corrected moments, eps added to √v̂, a step count per parameter. */
export function adam(options: { lr?: number; beta1?: number; beta2?: number; eps?: number } = {}): Optimizer {
  const o = optionsObject("adam", options);
  const lr = hyper("adam", o, "lr", 1e-3, 0, Infinity, false);
  const beta1 = hyper("adam", o, "beta1", 0.9, 0, 1, true);
  const beta2 = hyper("adam", o, "beta2", 0.999, 0, 1, true);
  const eps = hyper("adam", o, "eps", 1e-8, 0, Infinity, false);
  const state = new WeakMap<Float64Array, { m: Float64Array; v: Float64Array; t: number }>();
  return {
    name: `Adam(lr=${lr})`,
    config: { type: "adam", lr, beta1, beta2, eps },
    step(params, grads) {
      params.forEach((p, j) => {
        const g = grads[j];
        let s = state.get(p);
        if (!s) state.set(p, (s = { m: new Float64Array(p.length), v: new Float64Array(p.length), t: 0 }));
        const t = ++s.t;
        const c1 = 1 - beta1 ** t;
        const sqrtC2 = Math.sqrt(1 - beta2 ** t);
        const { m, v } = s;
        for (let i = 0; i < p.length; i++) {
          m[i] = beta1 * m[i] + (1 - beta1) * g[i];
          v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
          p[i] -= ((lr / c1) * m[i]) / (Math.sqrt(v[i]) / sqrtC2 + eps);
        }
      });
    },
  };
}

/** A new optimizer (fresh state) made as `config` says. */
export function optimizerOf(config: OptimizerConfig): Optimizer {
  return config.type === "sgd" ? sgd(config) : adam(config);
}
