// npm run fuzz:state [-- --seconds S] [--seed N]: hostile use of what holds state or crosses a boundary
// (issue 20), beside scripts/fuzz.ts's ops. Four generators, drawn in turn:
// - npz: .npz files mutated from a model's own (headers from a grammar of Python literals numpy would or
//   would not read, versions, header lengths, truncated or padded data, flipped and truncated zip bytes);
// - model: a sequence of setWeights/load/fit/predict/weights() calls with wrong names, shapes, hostile
//   arrays, bad options, throwing callbacks and aborted signals; dispose() mid-fit or between calls;
// - async: concurrent convwasm/async calls whose buffers are transferred away or shrunk mid-call, with
//   outs, release() replacing the workers meanwhile, and an async model's reads and failing writes,
//   fits stopped by callbacks or dispose();
// - server: examples/server on 127.0.0.1 under a bounded burst of hostile bodies, methods and paths;
// - onnx: .onnx files mutated from toOnnx's own (op types, attributes, dims, data types, raw data,
//   opsets, dangling and cyclic names, shapes, external data; flipped and truncated bytes) for loadOnnx,
//   and predict on what it accepts.
// Checked: every error is named after its function (or is a BusyError/TimeoutError); a failed update
// changes nothing (save() as before); predict() always agrees with a fresh model loaded from save();
// every async answer equals the synchronous one, every call settles within 20 s, replicas agree; nothing
// reaches the process's uncaught handlers; the server answers each request with a known status and a
// message, and stays up. Exits 1 on any finding, printing the seed to replay it.
import fc from "fast-check";
import { zipSync, unzipSync } from "fflate";
import type { AddressInfo } from "node:net";
import * as lib from "../dist/index.js";
import * as A from "../dist/async/index.js";
import * as O from "../dist/onnx/index.js";
import { decodeModel, encodeModel, type ModelProto } from "../dist/onnx/proto.js";
import { served, service } from "../examples/server/server.js";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { arg, seconds, seed } from "./fuzz-args.js";

type NDArray = lib.NDArray;
const { NDArray } = lib;

/** --only npz|model|async|server|onnx: one generator alone. */
const KINDS = ["npz", "model", "async", "server", "onnx"];
const only = arg("only") === undefined ? null : KINDS.indexOf(arg("only")!);

const findings: string[] = [];
const counts = { npz: 0, model: 0, async: 0, server: 0, onnx: 0, refused: 0 };
let current = "";
const finding = (what: string) => findings.push(`${what} [seed ${seed} ${current}]`);
process.on("uncaughtException", (e) => finding(`uncaught exception: ${String(e)}`));
process.on("unhandledRejection", (e) => finding(`unhandled rejection: ${String(e)}`));

/** A refusal as the library must give one: a named Error (or the async entry's BusyError/TimeoutError). */
function named(e: unknown, fns: string[]): boolean {
  if (e instanceof A.BusyError || e instanceof A.TimeoutError) return true;
  return e instanceof Error && fns.some((fn) => e.message.startsWith(`${fn}: `));
}

function expectNamed(e: unknown, fns: string[], what: string): void {
  counts.refused++;
  if (!named(e, fns))
    finding(
      `unnamed error from ${what}: ${e instanceof Error ? `${e.name}: ${e.message}${process.env.FUZZ_STACK ? e.stack : ""}` : String(e)}`,
    );
}

function sameBits(a: NDArray, b: NDArray): boolean {
  const [x, y] = [a.toFloat64Array(), b.toFloat64Array()];
  return a.shape.join() === b.shape.join() && x.every((v, i) => Object.is(v, y[i]));
}

/** A deterministic generator for one case's choices. */
function rngOf(s: number): () => number {
  let x = s >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

const specs = (): lib.LayerSpec[] => [
  lib.layers.conv2d({ filters: 3, size: 3, pad: "same" }),
  lib.layers.relu(),
  lib.layers.maxPool({ f: 2 }),
  lib.layers.flatten(),
  lib.layers.dense({ units: 4 }),
  lib.layers.softmax(),
];
const SHAPE = [6, 6, 1];
const randn = (r: () => number, ...shape: number[]) =>
  new NDArray(
    Float64Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => r() * 2 - 1),
    shape,
  );

// ---- npz -------------------------------------------------------------------------------------------

const DESCR = ["'<f8'", "'>f8'", "'<f4'", "'<f2'", "'|f8'", "'<i8'", "'<f16'", "[('a', '<f8')]", "1", "'<f8"];
const FORTRAN = ["False", "True", "1", "0", "'True'", "None", "Fals"];
const DIM = ["3", "4", "0", "-3", "3L", "3e0", "nan", "1" + "0".repeat(20), "(3,)", "'3'", "2**40", "+4"];

/** A header dict text from a grammar of what numpy reads and what it does not. */
function headerText(r: () => number, shape: readonly number[]): string {
  const dims = r() < 0.5 ? shape.map(String) : Array.from({ length: Math.floor(r() * 4) }, () => pick(r, DIM));
  const tuple = dims.length === 1 && r() < 0.8 ? `(${dims[0]},)` : `(${dims.join(", ")})`;
  const entries = [
    [`'descr'`, r() < 0.6 ? "'<f8'" : pick(r, DESCR)],
    [`'fortran_order'`, r() < 0.6 ? "False" : pick(r, FORTRAN)],
    [`'shape'`, r() < 0.1 ? `[${dims.join(", ")}]` : tuple],
  ];
  if (r() < 0.15)
    entries.push([pick(r, ["'note'", "'descr'", '"shape"', "'x'"]), pick(r, ["'fortran_order': True", "1"])]);
  if (r() < 0.1) entries.splice(Math.floor(r() * entries.length), 1);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [entries[i], entries[j]] = [entries[j], entries[i]];
  }
  let text = `{${entries.map(([k, v]) => `${k}: ${v}`).join(", ")}${r() < 0.5 ? ", " : ""}}`;
  if (r() < 0.05) text = text.slice(0, Math.floor(r() * text.length));
  if (r() < 0.03) text += "x".repeat(Math.floor(r() * 20_000));
  return text;
}

function npyOf(r: () => number, a: NDArray): Uint8Array {
  const major = r() < 0.8 ? 1 : pick(r, [2, 3, 0, 9, 255]);
  const pre = major === 1 ? 10 : 12;
  const text = headerText(r, a.shape);
  const padded = text + " ".repeat(Math.max(0, 63 - ((pre + text.length) % 64))) + "\n";
  let data = new Uint8Array(a.toFloat64Array().buffer.slice(0));
  if (r() < 0.1) data = data.slice(0, Math.floor(r() * data.length));
  if (r() < 0.05) data = Uint8Array.from([...data, 1, 2, 3]);
  const out = new Uint8Array(pre + padded.length + data.length);
  out.set([0x93, 78, 85, 77, 80, 89, major, r() < 0.95 ? 0 : 1]);
  const view = new DataView(out.buffer);
  const length = r() < 0.95 ? padded.length : Math.floor(r() * 2 ** (major === 1 ? 16 : 32));
  if (major === 1) view.setUint16(8, length, true);
  else view.setUint32(8, length, true);
  for (let i = 0; i < padded.length; i++) out[pre + i] = padded.charCodeAt(i) & 255;
  out.set(data, pre + padded.length);
  return out;
}

function npzCase(s: number): void {
  const r = rngOf(s);
  counts.npz++;
  const m = lib.sequential(SHAPE, specs(), { seed: s % 1000 });
  const before = m.save();
  const files: Record<string, Uint8Array> = {};
  for (const [name, a] of Object.entries(m.weights())) {
    if (r() < 0.1) continue;
    files[`${name}.npy`] = r() < 0.7 ? unzipSync(before)[`${name}.npy`] : npyOf(r, a);
  }
  if (r() < 0.1) files[pick(r, ["extra.npy", "__proto__.npy", "constructor.npy", "x.txt"])] = npyOf(r, randn(r, 2));
  let bytes = zipSync(files, { level: r() < 0.5 ? 0 : 6 });
  if (r() < 0.2) {
    bytes = bytes.slice();
    for (let k = 0; k < 1 + r() * 8; k++) bytes[Math.floor(r() * bytes.length)] = Math.floor(r() * 256);
  }
  if (r() < 0.05) bytes = bytes.slice(0, Math.floor(r() * bytes.length));
  current = `npz case ${s}`;
  const t0 = performance.now();
  try {
    const arrays = lib.readNpz(bytes, { maxBytes: 1 << 20 });
    for (const [k, a] of Object.entries(arrays)) {
      if (a.size !== a.toFloat64Array().length) finding(`readNpz: ${k} has a shape its data does not fill`);
    }
  } catch (e) {
    expectNamed(e, ["readNpz"], "readNpz");
  }
  try {
    m.load(bytes);
  } catch (e) {
    expectNamed(e, ["load"], "load");
    if (!sameBytes(m.save(), before)) finding(`a failed load() changed the weights (${String(e)})`);
  }
  if (performance.now() - t0 > 2000) finding(`npz case took ${Math.round(performance.now() - t0)} ms`);
}

// ---- onnx ------------------------------------------------------------------------------------------

/** Small models of most layer kinds, exported: the files the mutations start from. */
function onnxSeeds(): Uint8Array[] {
  const L = lib.layers;
  const x = lib.input([7, 6, 3]);
  const a = L.batchNorm().apply(L.conv2d({ filters: 4, size: 3, pad: 1, stride: 2, bias: false }).apply(x));
  const b = L.relu().apply(L.add().apply([a, L.depthwiseConv2d({ size: 3, pad: "same" }).apply(a)]));
  const c = L.concat().apply([
    L.maxPool({ f: 2, stride: 1, ceil_mode: true }).apply(b),
    L.avgPool({
      f: [3, 2],
      stride: 1,
      pad: [
        [0, 1],
        [0, 0],
      ],
      count_include_pad: true,
    }).apply(b),
  ]);
  const g = L.hardSigmoid().apply(L.dense({ units: 8 }).apply(L.globalAvgPool().apply(c)));
  const y = L.softmax().apply(
    L.dense({ units: 3 }).apply(L.flatten().apply(L.swish().apply(L.multiply().apply([c, g])))),
  );
  const graph = lib.model(x, y, { seed: 1 });
  const seq = lib.sequential(SHAPE, specs(), { seed: 2 });
  return [O.toOnnx(graph), O.toOnnx(graph, { precision: "f64" }), O.toOnnx(seq), O.toOnnx(seq, { precision: "f64" })];
}
let seeds: Uint8Array[] | null = null;
const OPS = [
  "Conv",
  "Relu",
  "Add",
  "Mul",
  "Sub",
  "Concat",
  "Split",
  "Slice",
  "Reshape",
  "Transpose",
  "Gemm",
  "MatMul",
  "Flatten",
  "Tanh",
  "LRN",
  "MaxPool",
  "AveragePool",
  "Squeeze",
  "Unsqueeze",
  "Shape",
  "Gather",
  "Cast",
  "Constant",
  "Pad",
  "Clip",
  "Softmax",
  "GlobalAveragePool",
  "ReduceMean",
  "Sum",
  "Identity",
  "BatchNormalization",
  "ConstantOfShape",
  "",
];
const NUMBERS = [0, 1, -1, 2, 3, -3, 7, 2 ** 31, 2 ** 53, -(2 ** 40), 1e18, 0.5];

function mutate(r: () => number, m: ModelProto): void {
  const g = m.graph!;
  const nodes = g.node ?? [];
  const inits = g.initializer ?? [];
  const node = () => nodes[Math.floor(r() * nodes.length)];
  for (let k = 0, n = 1 + Math.floor(r() * 3); k < n; k++) {
    const what = Math.floor(r() * 14);
    if (what === 0 && nodes.length) node().opType = pick(r, OPS);
    else if (what === 1 && nodes.length) {
      const a = node().attribute?.[0];
      if (a) {
        if (a.ints) a.ints = Array.from({ length: Math.floor(r() * 6) }, () => pick(r, NUMBERS));
        else if (a.i !== undefined) a.i = pick(r, NUMBERS);
        else a.f = pick(r, [NaN, Infinity, -1, 0, 1e30]);
      }
    } else if (what === 2 && inits.length)
      pick(r, inits).dims = Array.from({ length: Math.floor(r() * 5) }, () => pick(r, NUMBERS));
    else if (what === 3 && inits.length) pick(r, inits).dataType = pick(r, [0, 1, 2, 7, 10, 11, 13, 16, 99]);
    else if (what === 4 && inits.length) {
      const t = pick(r, inits);
      if (t.rawData) t.rawData = t.rawData.slice(0, Math.floor(r() * t.rawData.length));
    } else if (what === 5)
      m.opsetImport = [
        { domain: pick(r, ["", "ai.onnx", "com.x"]), version: pick(r, [0, 6, 7, 9, 11, 13, 18, 21, 22, 2 ** 40]) },
      ];
    else if (what === 6 && nodes.length) {
      const n = node();
      if (n.input?.length)
        n.input[Math.floor(r() * n.input.length)] = pick(r, [
          "nothing",
          n.output?.[0] ?? "",
          "",
          "input",
          nodes[0].output?.[0] ?? "",
        ]);
    } else if (what === 7 && nodes.length) nodes.splice(Math.floor(r() * nodes.length), 1);
    else if (what === 8 && nodes.length) nodes.splice(Math.floor(r() * nodes.length), 0, { ...node() });
    else if (what === 9) {
      const dims = g.input?.[0]?.type?.tensorType?.shape?.dim;
      if (dims?.length)
        dims[Math.floor(r() * dims.length)] = pick(r, [
          { dimValue: 0 },
          { dimParam: "x" },
          { dimValue: 2 ** 33 },
          {},
          { dimValue: 1 },
        ]);
      else if (r() < 0.5) g.input = [];
    } else if (what === 10 && inits.length) {
      const t = pick(r, inits);
      t.dataLocation = 1;
      t.externalData = [{ key: "location", value: "../../etc/passwd" }];
    } else if (what === 11 && nodes.length) node().input?.push(pick(r, ["input", inits[0]?.name ?? "x", "extra"]));
    else if (what === 12 && nodes.length)
      (node().attribute ??= []).push({
        name: pick(r, ["group", "pads", "axis", "perm", "auto_pad", "ceil_mode"]),
        type: 2,
        i: pick(r, NUMBERS),
      });
    else if (what === 13)
      g.output =
        r() < 0.5 ? [] : [...(g.output ?? []), { name: pick(r, ["input", "nothing", nodes[0]?.output?.[0] ?? ""]) }];
  }
}

function onnxCase(s: number): void {
  const r = rngOf(s);
  counts.onnx++;
  seeds ??= onnxSeeds();
  let bytes = pick(r, seeds);
  if (r() < 0.8) {
    const m = decodeModel(bytes);
    mutate(r, m);
    try {
      bytes = encodeModel(m);
    } catch {
      return; // (a mutation protobuf itself cannot write)
    }
  }
  if (r() < 0.2) {
    bytes = Uint8Array.from(bytes);
    for (let k = 0; k < 1 + r() * 8; k++) bytes[Math.floor(r() * bytes.length)] = Math.floor(r() * 256);
  }
  if (r() < 0.05) bytes = Uint8Array.from(bytes.subarray(0, Math.floor(r() * bytes.length)));
  current = `onnx case ${s}`;
  const t0 = performance.now();
  let model: ReturnType<typeof O.loadOnnx>;
  try {
    model = O.loadOnnx(bytes);
  } catch (e) {
    expectNamed(e, ["loadOnnx"], "loadOnnx");
    if (performance.now() - t0 > 2000) finding(`onnx case took ${Math.round(performance.now() - t0)} ms`);
    return;
  }
  const shape = model.onnxInputShapes[0];
  if (shape.reduce((a, b) => a * b, 1) > 1 << 20) return;
  try {
    const y = model.predict(randn(r, 2, ...shape));
    if (y.shape[0] !== 2) finding(`predict of an imported model gave ${y.shape[0]} rows for 2 examples`);
  } catch (e) {
    expectNamed(e, ["predict"], "predict of an imported model");
  }
  if (performance.now() - t0 > 2000) finding(`onnx case took ${Math.round(performance.now() - t0)} ms`);
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

// ---- the model -------------------------------------------------------------------------------------

/** An array as a hostile caller passes it. */
function hostileArray(r: () => number, a: NDArray): unknown {
  switch (pick(r, ["plain", "plain", "proxy", "throw", "detached", "f32", "list"])) {
    case "proxy":
      return new Proxy(a, { get: (t, k) => Reflect.get(t, k, t) });
    case "throw":
      return new Proxy(a, {
        get(t, k) {
          if (k === "shape") throw new Error("hostile getter");
          return Reflect.get(t, k, t);
        },
      });
    case "detached": {
      const copy = new NDArray(a.toFloat64Array().slice(), a.shape);
      structuredClone(copy.data.buffer, { transfer: [copy.data.buffer] });
      return copy;
    }
    case "f32":
      return new Float32Array(a.size);
    case "list":
      return Array.from(a.toFloat64Array());
    default:
      return a;
  }
}

function modelCase(s: number): void {
  const r = rngOf(s);
  counts.model++;
  const m = lib.sequential(SHAPE, specs(), { seed: s % 1000 });
  const X = randn(r, 3, ...SHAPE);
  const y = [0, 1, 3];
  for (let step = 0; step < 6; step++) {
    const before = m.save();
    const what = pick(r, ["setWeights", "fit", "predict", "weights", "load", "dispose"] as const);
    current = `model case ${s} step ${step} ${what}`;
    if (what === "dispose") {
      // disposed by a callback mid-fit, or between calls: from then on every method refuses by name
      try {
        m.fit(X, y, { epochs: 2, batchSize: 1, onBatch: () => void (r() < 0.3 && m.dispose()) });
      } catch (e) {
        if (!(e instanceof Error) || e.message !== "fit: the model was disposed during training")
          finding(`a fit disposed by its callback threw ${String(e)}`);
      }
      m.dispose();
      const calls: [string, () => unknown][] = [
        ["predict", () => m.predict(hostileArray(r, X) as NDArray)],
        ["fit", () => m.fit(X, y)],
        ["setWeights", () => m.setWeights({})],
        ["weights", () => m.weights()],
        ["save", () => m.save()],
        ["summary", () => m.summary()],
      ];
      for (const [name, call] of calls) {
        try {
          call();
          finding(`${name} on a disposed model did not throw`);
        } catch (e) {
          if (!(e instanceof Error) || e.message !== `${name}: this model was disposed`)
            finding(`${name} on a disposed model threw ${String(e)}`);
        }
      }
      return;
    }
    let failed = false;
    try {
      if (what === "setWeights") {
        const arrays: Record<string, unknown> = {};
        for (const [k, w] of Object.entries(m.weights())) {
          if (r() < 0.5) continue;
          const shape = r() < 0.8 ? w.shape : w.shape.map((d) => d + 1);
          arrays[r() < 0.9 ? k : pick(r, ["constructor", "__proto__", "nope/W", ""])] = hostileArray(
            r,
            randn(r, ...shape),
          );
        }
        m.setWeights((r() < 0.05 ? pick(r, [null, 3, "x"]) : arrays) as never);
      } else if (what === "fit") {
        const controller = new AbortController();
        let batches = 0;
        const options = {
          epochs: pick(r, [1, 2, 1e7]),
          batchSize: pick(r, [1, 2, 0, 2.5]),
          optimizer: pick(r, [lib.sgd({ lr: 0.01, momentum: 0.5 }), lib.adam(), undefined]),
          validation: r() < 0.3 ? pick(r, [[X, y], [randn(r, 2, 5, 5, 1), [0, 1]], [X], [X, [9, 9, 9]]]) : undefined,
          onBatch: () => {
            if (++batches > 3) controller.abort();
          },
          onEpoch:
            r() < 0.3
              ? () => {
                  throw new Error("hostile callback: thrown");
                }
              : undefined,
          signal: controller.signal,
        };
        m.fit(r() < 0.1 ? (hostileArray(r, X) as NDArray) : X, r() < 0.1 ? [9, 0, 1] : y, options as never);
      } else if (what === "predict") {
        m.predict(
          hostileArray(r, X) as NDArray,
          pick(r, [undefined, {}, null, { batchSize: 0 }, { checkFinite: true }]) as never,
        );
      } else if (what === "weights") {
        for (const w of Object.values(m.weights())) w.data.fill(r());
        if (!sameBytes(m.save(), before)) finding("changing weights()'s arrays changed the model");
      } else {
        const other = lib.sequential(
          SHAPE,
          r() < 0.7 ? specs() : [...specs().slice(0, -2), lib.layers.dense({ units: 5 }), lib.layers.softmax()],
        );
        m.load(other.save());
      }
    } catch (e) {
      failed = true;
      expectNamed(e, [what === "fit" ? "fit" : what, "hostile callback"], what);
      const stoppedFit =
        what === "fit" && e instanceof Error && /stopped by options.signal|hostile callback/.test(e.message);
      if (!stoppedFit && !sameBytes(m.save(), before)) finding(`a failed ${what} changed the weights`);
    }
    void failed;
    // predict's packed cache always agrees with the weights save() sees
    const fresh = lib.sequential(SHAPE, specs());
    fresh.load(m.save());
    if (!sameBits(fresh.predict(X), m.predict(X))) finding(`after ${what}, predict() disagrees with the saved weights`);
  }
}

// ---- convwasm/async --------------------------------------------------------------------------------

function within<T>(p: Promise<T>, ms: number): Promise<T | "hang"> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<"hang">((r) => (timer = setTimeout(() => r("hang"), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

async function asyncCase(s: number): Promise<void> {
  const r = rngOf(s);
  counts.async++;
  current = `async case ${s}`;
  const W = randn(r, 3, 3, 2, 3);
  const b = randn(r, 3);
  const calls: Promise<void>[] = [];
  for (let i = 0; i < 12; i++) {
    const big = r() < 0.3;
    const X = randn(r, 1, big ? 200 : 6, big ? 200 : 6, 2);
    const expected = lib.conv_forward(X, W, b, { stride: 1, pad: 1 })[0];
    const flat = lib.flatten(X);
    // (an answer that is a view of the caller's buffer reads nothing once the caller detached it)
    const gone = () => X.data.byteLength === 0;
    const kind = pick(r, ["conv", "conv", "flatten", "dense-out"] as const);
    const attack = pick(r, ["none", "none", "detach-now", "detach-later", "shrink-out"] as const);
    let p: Promise<unknown>;
    let check: (v: unknown) => void;
    let fn: string;
    if (kind === "conv") {
      fn = "conv_forward";
      p = A.conv_forward(X, W, b, { stride: 1, pad: 1, extra: [[[1]]] } as never);
      check = (v) => {
        if (!sameBits((v as [NDArray])[0], expected)) finding("async conv_forward answered another result");
      };
    } else if (kind === "flatten") {
      fn = "flatten";
      p = A.flatten(X);
      check = (v) => {
        if (!gone() && !sameBits(v as NDArray, flat)) finding("async flatten answered another result");
      };
    } else {
      fn = "dense_forward";
      const Xd = randn(r, 4, 5);
      const Wd = randn(r, 5, 3);
      const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer;
      const buffer = attack === "shrink-out" ? new Resizable(96, { maxByteLength: 96 }) : new ArrayBuffer(96);
      const out = new NDArray(new Float64Array(buffer, 0, 12), [4, 3]);
      const want = lib.dense_forward(Xd, Wd, b)[0];
      p = A.dense_forward(Xd, Wd, b, { out });
      if (attack === "shrink-out") (buffer as ArrayBuffer & { resize(n: number): void }).resize(8);
      if (attack === "detach-now") structuredClone(buffer, { transfer: [buffer] });
      check = (v) => {
        if (!sameBits((v as [NDArray])[0], want)) finding("async dense_forward wrote another result into out");
      };
    }
    if (kind !== "dense-out" && attack === "detach-now") structuredClone(X.data.buffer, { transfer: [X.data.buffer] });
    if (attack === "detach-later") {
      setTimeout(() => {
        if (X.data.byteLength > 0) structuredClone(X.data.buffer, { transfer: [X.data.buffer] });
      }, r() * 3);
    }
    calls.push(
      within(
        p.then(check, (e: unknown) => expectNamed(e, [fn], `async ${fn}`)),
        20_000,
      ).then((v) => {
        if (v === "hang") finding(`async ${fn} did not settle within 20 s`);
      }),
    );
  }
  // sometimes release() (which replaces the workers) while all this is in flight
  if (r() < 0.15) {
    calls.push(
      within(
        A.release().catch((e: unknown) => expectNamed(e, ["release"], "release")),
        20_000,
      ).then((v) => {
        if (v === "hang") finding("release() did not settle within 20 s");
      }),
    );
  }
  // an async model: reads beside failing writes, a fit stopped by its callback or by dispose()
  const m = await A.sequential(SHAPE, specs(), { seed: s % 1000 });
  const X = randn(r, 8, ...SHAPE);
  const y = Array.from({ length: 8 }, (_, i) => i % 4);
  const model: Promise<unknown>[] = [];
  for (let i = 0; i < 6; i++) {
    const what = pick(r, ["predict", "predict", "setWeights", "fit", "fit-throw", "dispose"] as const);
    let p: Promise<unknown>;
    if (what === "predict")
      p = m.predict(X, pick(r, [undefined, { timeout: Infinity }, { timeout: 2 ** 31 }]) as never);
    else if (what === "setWeights") {
      const w = await m.weights().catch(() => ({}) as Record<string, NDArray>);
      const bad = Object.fromEntries(Object.entries(w).map(([k, a]) => [k, r() < 0.8 ? a : randn(r, 2, 2)]));
      p = m.setWeights(bad);
    } else if (what === "fit") p = m.fit(X, y, { epochs: 1, batchSize: 4 });
    else if (what === "fit-throw") {
      p = m.fit(X, y, {
        epochs: 1e7,
        onEpoch: () => {
          throw new Error("hostile callback: thrown");
        },
      });
    } else p = m.dispose();
    model.push(
      within(
        p.catch((e: unknown) =>
          expectNamed(e, [what.replace("-throw", ""), "hostile callback"], `async model ${what}`),
        ),
        20_000,
      ).then((v) => {
        if (v === "hang") finding(`async model ${what} did not settle within 20 s`);
      }),
    );
  }
  await Promise.all([...calls, ...model]);
  // the replicas agree (when the model is still there)
  const saves = await Promise.all(Array.from({ length: 6 }, () => m.save().catch(() => null)));
  const live = saves.filter((x): x is Uint8Array => x !== null);
  if (live.some((x) => !sameBytes(x, live[0]))) finding("the async model's replicas disagree");
  await m.dispose();
}

// ---- the server ------------------------------------------------------------------------------------

const STATUSES = new Set([200, 400, 404, 405, 413, 415, 422, 503, 504]);

/** A real PNG and JPEG of a 28×28 picture, for the fuzzer to cut and flip. */
const PICTURES = (() => {
  const rgba = Buffer.alloc(28 * 28 * 4, 255);
  const png = new PNG({ width: 28, height: 28 });
  rgba.copy(png.data);
  return {
    "image/png": new Uint8Array(PNG.sync.write(png)),
    "image/jpeg": new Uint8Array(jpeg.encode({ data: rgba, width: 28, height: 28 }, 80).data),
  };
})();

async function serverCase(s: number, base: string): Promise<void> {
  const r = rngOf(s);
  counts.server++;
  current = `server case ${s}`;
  const TYPES = [
    "image/png",
    "image/jpeg",
    "application/octet-stream",
    "application/json",
    "image/gif",
    "text/plain; charset=utf-8",
  ];
  const bodies = (): string | Uint8Array => {
    switch (pick(r, ["good", "json", "bytes", "big", "nested", "numbers", "picture", "cut", "flipped"] as const)) {
      case "picture":
        return PICTURES[pick(r, ["image/png", "image/jpeg"] as const)];
      case "cut": {
        const p = PICTURES[pick(r, ["image/png", "image/jpeg"] as const)];
        return p.subarray(0, Math.floor(r() * p.length));
      }
      case "flipped": {
        const p = PICTURES[pick(r, ["image/png", "image/jpeg"] as const)].slice();
        for (let i = 0; i < 1 + r() * 8; i++) p[Math.floor(r() * p.length)] = Math.floor(r() * 256);
        return p;
      }
      case "good":
        return JSON.stringify({ image: Array.from({ length: 784 }, () => r()) });
      case "json":
        return JSON.stringify(pick(r, [null, 1, "x", [], { image: null }, { image: "a" }, { image: [[1], [2, 3]] }]));
      case "bytes":
        return Uint8Array.from({ length: Math.floor(r() * 2000) }, () => Math.floor(r() * 256));
      case "big":
        return "x".repeat((1 << 20) + Math.floor(r() * 1000));
      case "nested":
        return JSON.stringify({ image: Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => [r()])) });
      default:
        return JSON.stringify({ image: Array.from({ length: 784 }, () => pick(r, [1e308, -1e308, 0, 1, 1e-320])) });
    }
  };
  const requests = Array.from({ length: 24 }, async () => {
    const method = r() < 0.85 ? "POST" : pick(r, ["GET", "PUT", "DELETE"]);
    const path = r() < 0.9 ? "/predict" : pick(r, ["/", "/nowhere", "/predict?x=1", "/health"]);
    try {
      const headers: Record<string, string> = {};
      if (r() < 0.7) headers["content-type"] = pick(r, TYPES);
      if (r() < 0.3)
        headers["x-shape"] = pick(r, ["28,28,1", "1,28,28,1", "2,28,28,1", "0,28,28,1", "a,b", "28,28", "-1,28,28,1"]);
      const res = await fetch(`${base}${path}`, {
        method,
        headers,
        body: method === "GET" ? undefined : ((b) => (typeof b === "string" ? b : new Uint8Array(b)))(bodies()),
        signal: AbortSignal.timeout(20_000),
      });
      const text = await res.text();
      if (!STATUSES.has(res.status)) finding(`server answered ${res.status}: ${text.slice(0, 120)}`);
      if (res.status !== 200) {
        const error = (JSON.parse(text) as { error?: unknown }).error;
        if (typeof error !== "string" || error.length === 0) finding(`server's ${res.status} has no message`);
      }
    } catch (e) {
      finding(`a request to the server failed: ${String(e)}`);
    }
  });
  await Promise.all(requests);
  const health = await fetch(`${base}/health`).catch(() => null);
  if (health?.status !== 200) finding("the server stopped answering /health");
}

// ---- main ------------------------------------------------------------------------------------------

await lib.init({ threads: 1 });
await A.init({ workers: 2, threads: 2, maxQueueBytes: 8 << 20 });
const svc = service(await served(), { checkFinite: seed % 2 === 0, timeoutMs: 5000, maxBody: 1 << 20 });
await new Promise<void>((res) => svc.server.listen(0, "127.0.0.1", res));
const base = `http://127.0.0.1:${(svc.server.address() as AddressInfo).port}`;
console.log(
  `fuzz:state: seed ${seed}, ${seconds} s (replay: npm run fuzz:state -- --seed ${seed} --seconds ${seconds})`,
);
const until = performance.now() + seconds * 1000;
const cases = fc.sample(fc.integer({ min: 1, max: 2 ** 31 - 1 }), { seed, numRuns: 100_000 });
let n = 0;
while (performance.now() < until && findings.length < 20 && n < cases.length) {
  const s = cases[n];
  const kind = only ?? n % 5;
  if (kind === 0) npzCase(s);
  else if (kind === 1) modelCase(s);
  else if (kind === 2) await asyncCase(s);
  else if (kind === 3) await serverCase(s, base);
  else onnxCase(s);
  n++;
}
await svc.close();
A.dispose();
lib.dispose();
console.log(
  `fuzz:state: ${n} cases (npz ${counts.npz}, model ${counts.model}, async ${counts.async}, server ${counts.server}, onnx ${counts.onnx}); ` +
    `${counts.refused} hostile inputs refused by name; findings ${findings.length}`,
);
for (const f of findings) console.log(`  ${f}`);
process.exit(findings.length > 0 ? 1 : 0);
