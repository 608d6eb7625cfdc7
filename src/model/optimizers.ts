// The optimizers a model trains with: SGD with momentum and Adam, PyTorch's update rules, on the
// parameters' Float64Arrays in place.

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

/** SGD: p −= lr·buf with buf = momentum·buf + g (buf = g at the first step), as torch.optim.SGD. */
export function sgd({ lr = 0.01, momentum = 0 }: { lr?: number; momentum?: number } = {}): Optimizer {
  const bufs: Float64Array[] = [];
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
        const first = bufs[j] === undefined;
        const buf = (bufs[j] ??= new Float64Array(p.length));
        for (let i = 0; i < p.length; i++) {
          buf[i] = first ? g[i] : momentum * buf[i] + g[i];
          p[i] -= lr * buf[i];
        }
      });
    },
  };
}

/** Adam (Kingma & Ba), as torch.optim.Adam: bias-corrected moments, eps added to √v̂. */
export function adam({
  lr = 1e-3,
  beta1 = 0.9,
  beta2 = 0.999,
  eps = 1e-8,
}: { lr?: number; beta1?: number; beta2?: number; eps?: number } = {}): Optimizer {
  const m: Float64Array[] = [];
  const v: Float64Array[] = [];
  let t = 0;
  return {
    name: `Adam(lr=${lr})`,
    config: { type: "adam", lr, beta1, beta2, eps },
    step(params, grads) {
      t++;
      const c1 = 1 - beta1 ** t;
      const sqrtC2 = Math.sqrt(1 - beta2 ** t);
      params.forEach((p, j) => {
        const g = grads[j];
        const mj = (m[j] ??= new Float64Array(p.length));
        const vj = (v[j] ??= new Float64Array(p.length));
        for (let i = 0; i < p.length; i++) {
          mj[i] = beta1 * mj[i] + (1 - beta1) * g[i];
          vj[i] = beta2 * vj[i] + (1 - beta2) * g[i] * g[i];
          p[i] -= ((lr / c1) * mj[i]) / (Math.sqrt(vj[i]) / sqrtC2 + eps);
        }
      });
    },
  };
}

/** A new optimizer (fresh state) made as `config` says. */
export function optimizerOf(config: OptimizerConfig): Optimizer {
  return config.type === "sgd" ? sgd(config) : adam(config);
}
