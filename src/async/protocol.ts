// What convwasm/async's calling thread and its workers say to each other. Pure declarations: the
// calling thread's entry imports this, never the library itself (which the workers carry).
import type { Wire } from "./wire.js";
import type { Cost } from "../ops/registry.js";

// <ops> (written by scripts/gen-ops.mjs from src/ops/'s definitions: npm run gen:ops)
/** The ops convwasm/async runs, by their names in the synchronous API, with their arguments' names. */
export const OPS = {
  zero_pad: ["X", "pad", "options"],
  conv_single_step: ["a_slice_prev", "W", "b"],
  conv_forward: ["A_prev", "W", "b", "hparameters", "options"],
  conv_backward: ["dZ", "cache", "options"],
  pool_forward: ["A_prev", "hparameters", "mode", "options"],
  pool_backward: ["dA", "cache", "mode", "options"],
  create_mask_from_window: ["x"],
  distribute_value: ["dz", "shape"],
  relu: ["Z", "options"],
  relu_backward: ["dA", "cache", "options"],
  flatten: ["A"],
  dense_forward: ["X", "W", "b", "options"],
  dense_backward: ["dZ", "cache", "options"],
  softmax: ["Z", "options"],
  softmax_cross_entropy: ["Z", "Y", "options"],
  relu6: ["Z", "options"],
  relu6_backward: ["dA", "cache", "options"],
  clip: ["Z", "options"],
  clip_backward: ["dA", "cache", "options"],
  leaky_relu: ["Z", "options"],
  leaky_relu_backward: ["dA", "cache", "options"],
  sigmoid: ["Z", "options"],
  sigmoid_backward: ["dA", "cache", "options"],
  hard_sigmoid: ["Z", "options"],
  hard_sigmoid_backward: ["dA", "cache", "options"],
  hard_swish: ["Z", "options"],
  hard_swish_backward: ["dA", "cache", "options"],
  swish: ["Z", "options"],
  swish_backward: ["dA", "cache", "options"],
  batch_norm: ["X", "gamma", "beta", "options"],
  batch_norm_backward: ["dY", "cache", "options"],
  add: ["A", "B", "options"],
  concat: ["arrays", "options"],
  concat_backward: ["dY", "cache"],
  multiply: ["X", "S", "options"],
  multiply_backward: ["dY", "cache"],
  global_avg_pool: ["A"],
  global_avg_pool_backward: ["dY", "cache"],
  global_max_pool: ["A"],
  global_max_pool_backward: ["dY", "cache"],
  dropout: ["X", "options"],
  dropout_backward: ["dY", "cache", "options"],
} as const;
/** The keys the ops read of their plain-object arguments (hyperparameters and options). */
export const OP_KEYS = [
  "out",
  "stride",
  "pad",
  "dilation",
  "groups",
  "algorithm",
  "f",
  "ceil_mode",
  "count_include_pad",
  "min",
  "max",
  "alpha",
  "beta",
  "mean",
  "variance",
  "epsilon",
  "rate",
  "seed",
];
/** Each op's cost, where it has one (src/ops/registry.ts's Cost). */
export const COSTS: { readonly [op: string]: Cost } = {
  conv_forward: { factor: 1, pixelsOf: 0, sizeOf: 1 },
  conv_backward: { factor: 2, pixelsOf: 0, sizeOf: 2 },
  dense_forward: { factor: 1, pixelsOf: 0, sizeOf: 1 },
  dense_backward: { factor: 2, pixelsOf: 0, sizeOf: 2 },
};
// </ops>
export type OpName = keyof typeof OPS;

/**
 * Every key of a plain object that an op or a model method reads: the ops' hyperparameters and options,
 * fit's and predict's options, a model's options and its layer specs. An argument's other keys are
 * neither read nor sent (the synchronous API ignores them too). `stop` is fit's stop flag (index.ts).
 */
export const OPTION_KEYS: ReadonlySet<string> = new Set([
  ...OP_KEYS,
  ...[
    "seed",
    "epochs",
    "batchSize",
    "optimizer",
    "shuffle",
    "validation",
    "onEpoch",
    "onBatch",
    "checkFinite",
    "stop",
    "engine",
    "precision",
    // (a model made for an import: its weights come next, so none are drawn)
    "random",
  ],
  ...[
    "kind",
    "filters",
    "size",
    "units",
    "init",
    "bias",
    "multiplier",
    "momentum",
    "epsilon",
    "rate",
    "min",
    "max",
    "trainable",
  ],
  ...["alpha", "beta", "nesterov", "weightDecay", "warmup", "decay", "augment", "shift"],
]);
export const OP_NAMES = Object.keys(OPS) as OpName[];

/** The model methods a worker runs: reads (any replica) and writes (the first worker, then copied). */
export type ModelMethod =
  | "create"
  | "predict"
  | "evaluate"
  | "fit"
  | "setWeights"
  | "load"
  | "save"
  | "drop"
  /** The first worker's weights, after a write failed part-way (the other replicas copy them). */
  | "weights";

/** A model's weights as plain arrays (shared memory when there is some), to bring a replica up to date. */
export type Weights = Record<string, { shape: number[]; data: Float64Array }>;

export interface InitRequest {
  type: "init";
  options: { threads: number; arenaBytes?: number; wasm?: unknown; sharedWasm?: unknown; algorithm?: unknown };
}
export interface CallRequest {
  type: "call";
  id: number;
  fn: OpName;
  args: Wire[];
  buffers: ArrayBufferLike[];
  /** May this call share out to the worker's thread pool (it runs alone: the other workers are idle)? */
  pool: boolean;
}
export interface ModelRequest {
  type: "model";
  id: number;
  model: number;
  method: ModelMethod;
  args: Wire[];
  buffers: ArrayBufferLike[];
  pool: boolean;
}
export interface SyncRequest {
  type: "sync";
  model: number;
  weights: Weights;
}
export type Request =
  | InitRequest
  | CallRequest
  | ModelRequest
  | SyncRequest
  /** Requests started together, run in order; their answers come back together. */
  | { type: "batch"; requests: Request[] };

export type Reply =
  | { type: "ready"; threads: number; reason: string; wasmBytes: number }
  | { type: "failed"; error: { name: string; message: string } }
  // (wasmBytes: the worker's WASM memory after the call, for convwasm/async's memory())
  | {
      type: "done";
      id: number;
      value: Wire;
      buffers: ArrayBufferLike[];
      returned: (ArrayBuffer | null)[];
      wasmBytes: number;
    }
  | {
      type: "error";
      id: number;
      error: { name: string; message: string };
      returned: (ArrayBuffer | null)[];
      wasmBytes: number;
    }
  | { type: "callback"; id: number; k: number; args: unknown[] }
  | { type: "batch"; replies: Reply[] };
