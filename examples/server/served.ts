// The model a service serves: its input, preprocessing, labels and a predict that batches. `served()`
// makes one with convwasm/async from MODEL (an .onnx file, an .npz of the digits network's weights, or
// by default the digits network with the shipped weights) and the JSON beside it; the bench makes one
// with onnxruntime-web (bench/server/ort.ts) for the same service code.
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, extname, resolve } from "node:path";
import * as convwasm from "convwasm/async";
import { imageSize, type InputSpec, type Preprocessing } from "./input.js";

export interface Served {
  /** What the service says it serves (the file's name). */
  name: string;
  /** What a request's raw tensor or JSON holds (ONNX's layout for an ONNX model: NCHW images). */
  input: InputSpec;
  /** The layout predict takes decoded images in at least cost (convwasm: NHWC, its own: no transposes). */
  imageLayout: "NCHW" | "NHWC";
  pre: Preprocessing;
  /** One label per class (the class's index when there is no labels file). */
  labels: string[];
  /** Turn outputs into probabilities: true, false (they already are), "auto" (when they do not sum to 1). */
  softmax: boolean | "auto";
  /** Classes answered, best first. */
  topK: number;
  /**
   * The outputs of m examples (m × classes values), through the model's batching. `x` is copied before
   * it returns (the caller may reuse it at once).
   */
  predict(
    x: Float32Array | Float64Array,
    m: number,
    o: { timeoutMs?: number; checkFinite?: boolean; layout?: "NCHW" | "NHWC" },
  ): Promise<ArrayLike<number>>;
  /** Requests queued or running. */
  pending(): number;
  /** Calls `l` with each batch's examples; returns its remover. */
  onBatch(l: (examples: number) => void): () => void;
  /** The WASM memory the model's workers hold, in bytes. */
  wasmBytes(): number;
  close(): Promise<void>;
}

/** The JSON beside a model (`model.onnx` → `model.json`), or PREPROCESS=path: preprocessing and answers. */
export interface ServeConfig extends Preprocessing {
  /** A file of one label per line (or a JSON array), relative to the JSON; or the labels themselves. */
  labels?: string | string[];
  softmax?: boolean | "auto";
  topK?: number;
  /** The inference plan's precision (default "f32": a service needs the answer, not float64's last digits). */
  precision?: "f64" | "f32";
}

const CONFIG_KEYS = new Set([
  "size",
  "channels",
  "scale",
  "mean",
  "std",
  "invert",
  "labels",
  "softmax",
  "topK",
  "precision",
]);

/** The digits network's preprocessing: 28×28 gray, 0..1, white ink on black (a light page is inverted). */
const DIGITS: ServeConfig = {
  size: [28, 28],
  channels: "gray",
  scale: 1 / 255,
  invert: "auto",
  labels: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
  softmax: false,
  topK: 3,
};

export interface ServedOptions {
  /** The model file: .onnx, or .npz (the digits network's weights); default the shipped digits weights. */
  model?: string;
  /** The config's path (default: the model's with .json, when it exists). */
  config?: string;
  /** Overrides of the config (flags and environment). */
  overrides?: ServeConfig;
  batching?: convwasm.BatchingOptions;
}

function readConfig(path: string): ServeConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`the model's config ${path} is not readable JSON (${(e as Error).message})`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error(`the model's config ${path} expects a JSON object`);
  }
  const unknown = Object.keys(parsed).filter((k) => !CONFIG_KEYS.has(k));
  if (unknown.length > 0) {
    throw new Error(
      `the model's config ${path} has keys this service does not know: ${unknown.join(", ")} (it knows ${[...CONFIG_KEYS].join(", ")})`,
    );
  }
  const c = parsed as ServeConfig;
  if (typeof c.labels === "string") c.labels = readLabels(resolve(dirname(path), c.labels));
  return c;
}

function readLabels(path: string): string[] {
  const text = readFileSync(path, "utf8");
  if (!path.endsWith(".json")) return text.replace(/\r?\n$/, "").split(/\r?\n/);
  const labels: unknown = JSON.parse(text);
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === "string")) {
    throw new Error(`the labels file ${path} expects a JSON array of strings`);
  }
  return labels;
}

/**
 * What is wrong with the config for a model of `input` and `classes` classes, or null: each field's type
 * and range, and an image size and channel count that are the model's (checked at start, not per request).
 */
export function configError(
  c: Omit<ServeConfig, "labels"> & { labels?: string[] },
  input: InputSpec,
  classes: number,
): string | null {
  const size = imageSize(input);
  const image = size !== null;
  const { h, w, c: ch } = size ?? { h: 0, w: 0, c: 0 };
  const numbers = (v: unknown, n: number) => Array.isArray(v) && v.length === n && v.every((x) => Number.isFinite(x));
  if (c.size !== undefined && (!numbers(c.size, 2) || c.size[0] !== h || c.size[1] !== w)) {
    return `size expects the model's input size [${h}, ${w}] but got ${JSON.stringify(c.size)}`;
  }
  if (c.channels !== undefined && !["RGB", "BGR", "gray"].includes(c.channels)) {
    return `channels expects "RGB", "BGR" or "gray" but got ${JSON.stringify(c.channels)}`;
  }
  if (image && (c.channels === "gray" ? 1 : c.channels === undefined ? ch : 3) !== ch) {
    return `channels ${c.channels} do not fill the model's ${ch} input channels`;
  }
  if (c.scale !== undefined && !Number.isFinite(c.scale))
    return `scale expects a number but got ${JSON.stringify(c.scale)}`;
  for (const k of ["mean", "std"] as const) {
    if (c[k] !== undefined && !numbers(c[k], ch))
      return `${k} expects ${ch} numbers (one per channel) but got ${JSON.stringify(c[k])}`;
  }
  if (c.std?.some((s) => s === 0)) return "std expects no zero";
  if (c.invert !== undefined && c.invert !== true && c.invert !== false && c.invert !== "auto") {
    return `invert expects true, false or "auto" but got ${JSON.stringify(c.invert)}`;
  }
  if (c.softmax !== undefined && c.softmax !== true && c.softmax !== false && c.softmax !== "auto") {
    return `softmax expects true, false or "auto" but got ${JSON.stringify(c.softmax)}`;
  }
  if (c.topK !== undefined && !(Number.isSafeInteger(c.topK) && c.topK >= 1)) {
    return `topK expects an integer >= 1 but got ${JSON.stringify(c.topK)}`;
  }
  if (c.precision !== undefined && c.precision !== "f64" && c.precision !== "f32") {
    return `precision expects "f64" or "f32" but got ${JSON.stringify(c.precision)}`;
  }
  if (c.labels !== undefined && c.labels.length !== classes) {
    return `the labels name ${c.labels.length} classes but the model answers ${classes}`;
  }
  return null;
}

/** The config of `options.model`: the digits network's defaults, the JSON beside it, the overrides. */
export function serveConfig(options: ServedOptions = {}): Omit<ServeConfig, "labels"> & { labels?: string[] } {
  const file = options.model;
  const beside = file === undefined ? undefined : file.slice(0, -extname(file).length) + ".json";
  const configPath = options.config ?? (beside !== undefined && existsSync(beside) ? beside : undefined);
  const config: ServeConfig = {
    ...(file === undefined || extname(file) === ".npz" ? DIGITS : {}),
    ...(configPath ? readConfig(configPath) : {}),
    ...Object.fromEntries(Object.entries(options.overrides ?? {}).filter(([, v]) => v !== undefined)),
  };
  const labels = typeof config.labels === "string" ? readLabels(resolve(config.labels)) : config.labels;
  return { ...config, labels };
}

/** The model of `options.model` in convwasm/async's workers (init() first), with its config. */
export async function served(options: ServedOptions = {}): Promise<Served> {
  const file = options.model;
  const config = serveConfig(options);
  const precision = config.precision ?? "f32";
  let model: convwasm.AsyncSequential;
  let input: InputSpec;
  let classes: number;
  if (file !== undefined && extname(file) === ".onnx") {
    const onnx = await convwasm.loadOnnx(readFileSync(file), { precision, batching: options.batching });
    model = onnx;
    // (predict takes ONNX's layout: NCHW images)
    input = { shape: onnx.io.inputs[0].shape, layout: "NCHW" };
    const out = onnx.io.outputs[0].shape;
    if (out.length !== 1) {
      await onnx.dispose();
      throw new Error(`${basename(file)}: its output [${out}] is not a vector of class scores`);
    }
    classes = out[0];
  } else if (file === undefined || extname(file) === ".npz") {
    model = await convwasm.sequential([28, 28, 1], convwasm.digitsLayers(), { batching: options.batching });
    await model.load(readFileSync(file ?? new URL("../digits/pretrained.npz", import.meta.url)));
    model.compile({ precision });
    input = { shape: [28, 28, 1], layout: "NHWC" };
    classes = 10;
  } else {
    throw new Error(`MODEL expects an .onnx file or an .npz of the digits network's weights but got ${file}`);
  }
  const wrong = configError(config, input, classes);
  if (wrong !== null) {
    await model.dispose();
    throw new Error(`${file ? basename(file) : "the digits network"}: ${wrong}`);
  }
  const labels = config.labels ?? Array.from({ length: classes }, (_, i) => String(i));
  const topK = Math.min(classes, config.topK ?? 5);
  return {
    name: file ? basename(file) : "digits (examples/digits/pretrained.npz)",
    input,
    imageLayout: "NHWC",
    pre: config,
    labels,
    softmax: config.softmax ?? "auto",
    topK,
    async predict(x, m, o) {
      const options = { timeout: o.timeoutMs, checkFinite: o.checkFinite };
      const y = await (model instanceof convwasm.AsyncOnnxModel
        ? model.predict(x, { ...options, layout: o.layout ?? "NCHW" })
        : model.predict(x, options));
      return y.data.subarray(y.offset, y.offset + m * classes);
    },
    pending: () => model.pending,
    onBatch: (l) => model.onBatch(l),
    wasmBytes: () => convwasm.memory().wasmBytes,
    close: async () => {
      await model.dispose();
    },
  };
}
