// npm run bench -- onnx: ONNX models run by convwasm (loadOnnx, its float64 and float32 plans) beside
// onnxruntime-web (wasm, float32; the same thread count) and onnxruntime-node (native, float32, for
// reference): load, first predict, steady predict at batch 1 and 8, on one thread and on all; the float32
// plans' error against the float64 plan and their memory; a cold start in fresh processes.
// The torchvision models are the test fixtures' (scripts/fixtures_onnx.py: random weights, written back
// by test/onnx-fixtures.ts), their input declared 224×224. Writes BENCHMARKS.md's onnx section.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ortWeb from "onnxruntime-web";
import * as ortNode from "onnxruntime-node";
import { NDArray, getThreads, init } from "convwasm";
import { tuning } from "convwasm/internal";
import { loadOnnx } from "convwasm/onnx";
import { fill, relErr, zoo } from "../test/onnx-fixtures.js";

const ROUNDS = 5;

async function bestOf(fn: () => unknown | Promise<unknown>, calls: number): Promise<number> {
  let b = Infinity;
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await fn();
    b = Math.min(b, performance.now() - t0);
  }
  return b;
}

interface Row {
  model: string;
  batch: number;
  threads: number;
  convwasm: number;
  convwasm32: number;
  ortWeb: number | null;
  ortNode: number;
}

await init();
const THREADS = getThreads();
ortWeb.env.wasm.numThreads = 1;
const share = tuning.minWorkScale;
const models = [
  { name: "resnet18", size: 224, target: 1.0, target32: 0.6 },
  { name: "squeezenet1_1", size: 224, target: 1.2, target32: 0.7 },
  { name: "mobilenet_v2", size: 224, target: 1.5, target32: 0.8 },
  { name: "digits", size: 28, target: null, target32: null },
];
/** Per model: the f32 plan's error against the f64 plan, whether the top class agrees, activations per example. */
const accuracy: { model: string; err: number; top1: boolean; kib64: number; kib32: number }[] = [];
const rows: Row[] = [];
const loads: { model: string; convwasm: number; convwasmFirst: number; ortWeb: number; ortWebFirst: number }[] = [];
for (const spec of models) {
  const f64 = zoo(spec.name, "f64", spec.size);
  const f32 = zoo(spec.name, "f32", spec.size);
  const per = f64.shape.reduce((a, b) => a * b, 1);
  const input = (m: number) => fill("bench", m * per, -1, 1);
  tuning.minWorkScale = Infinity;
  let t0 = performance.now();
  const ours = loadOnnx(f64.bytes);
  const load = performance.now() - t0;
  const ours32 = loadOnnx(f64.bytes, { precision: "f32" });
  {
    const x = new NDArray(input(1), [1, ...f64.shape]);
    const [a, b] = [ours.predict(x).data, ours32.predict(x).data];
    const top = (v: Float64Array) => v.indexOf(Math.max(...v));
    const kib = /predict's activations: ([\d.]+) KiB an example in f64, ([\d.]+) KiB in f32/.exec(ours.summary())!;
    const err = relErr(b, a);
    accuracy.push({ model: spec.name, err, top1: top(a) === top(b), kib64: Number(kib[1]), kib32: Number(kib[2]) });
  }
  t0 = performance.now();
  ours.predict(new NDArray(input(1), [1, ...f64.shape]));
  const first = performance.now() - t0;
  t0 = performance.now();
  const web = await ortWeb.InferenceSession.create(f32.bytes, { executionProviders: ["wasm"] });
  const webLoad = performance.now() - t0;
  const feed = (ort: typeof ortWeb | typeof ortNode, m: number) => ({
    input: new ort.Tensor("float32", Float32Array.from(input(m)), [m, ...f32.shape]),
  });
  t0 = performance.now();
  await web.run(feed(ortWeb, 1));
  const webFirst = performance.now() - t0;
  loads.push({ model: spec.name, convwasm: load, convwasmFirst: first, ortWeb: webLoad, ortWebFirst: webFirst });
  const native = await ortNode.InferenceSession.create(f32.bytes, { intraOpNumThreads: 1 });
  const nativeAll = await ortNode.InferenceSession.create(f32.bytes, { intraOpNumThreads: THREADS });
  for (const batch of [1, 8]) {
    const x = new NDArray(input(batch), [batch, ...f64.shape]);
    const [fw, fn] = [feed(ortWeb, batch), feed(ortNode, batch)];
    const calls = spec.name === "digits" ? 20 : batch === 1 ? 3 : 1;
    const best = {
      one: Infinity,
      one32: Infinity,
      all: Infinity,
      all32: Infinity,
      web: Infinity,
      node: Infinity,
      nodeAll: Infinity,
    };
    // interleaved rounds, the best of each (a shared, noisy machine)
    for (let r = 0; r < ROUNDS; r++) {
      tuning.minWorkScale = Infinity;
      best.one = Math.min(best.one, await bestOf(() => ours.predict(x), calls));
      best.one32 = Math.min(best.one32, await bestOf(() => ours32.predict(x), calls));
      best.web = Math.min(best.web, await bestOf(() => web.run(fw), calls));
      tuning.minWorkScale = share;
      best.all = Math.min(best.all, await bestOf(() => ours.predict(x), calls));
      best.all32 = Math.min(best.all32, await bestOf(() => ours32.predict(x), calls));
      best.node = Math.min(best.node, await bestOf(() => native.run(fn), calls));
      best.nodeAll = Math.min(best.nodeAll, await bestOf(() => nativeAll.run(fn), calls));
    }
    // prettier-ignore
    rows.push({ model: spec.name, batch, threads: 1, convwasm: best.one, convwasm32: best.one32, ortWeb: best.web, ortNode: best.node });
    // prettier-ignore
    rows.push({ model: spec.name, batch, threads: THREADS, convwasm: best.all, convwasm32: best.all32, ortWeb: null, ortNode: best.nodeAll });
    process.stderr.write(`${spec.name} batch ${batch}: ${JSON.stringify(best)}\n`);
  }
}

// cold starts: fresh processes, the best of three each, alternating
const dir = mkdtempSync(join(tmpdir(), "convwasm-onnx-"));
const sq64 = join(dir, "squeezenet.f64.onnx");
const sq32 = join(dir, "squeezenet.f32.onnx");
writeFileSync(sq64, zoo("squeezenet1_1", "f64", 224).bytes);
writeFileSync(sq32, zoo("squeezenet1_1", "f32", 224).bytes);
const cold = { convwasm: Infinity, ortWeb: Infinity };
const script = new URL("./onnx-cold.mjs", import.meta.url).pathname;
for (let r = 0; r < 3; r++) {
  for (const [engine, file] of [
    ["convwasm", sq64],
    ["ort-web", sq32],
  ] as const) {
    const ms = Number(
      execFileSync(process.execPath, [script, engine, file, "3", "224", "224"], { encoding: "utf8" }).trim(),
    );
    if (engine === "convwasm") cold.convwasm = Math.min(cold.convwasm, ms);
    else cold.ortWeb = Math.min(cold.ortWeb, ms);
  }
}

const f = (v: number | null, d = 2) => (v === null ? "–" : v.toFixed(d));
const spec = (name: string) => models.find((m) => m.name === name)!;
/** "≤ t× ✓" or "✗" for a ratio against a target (blank where there is none). */
const check = (ratio: number | null, t: number | null) =>
  t === null || ratio === null ? "" : `≤ ${t.toFixed(1)}× ${ratio <= t ? "✓" : "✗"}`;
const lines = [
  "<!-- onnx:start -->",
  "## ONNX models: convwasm (float64 and float32 plans) beside onnxruntime-web (wasm, float32) and onnxruntime-node (native, float32)",
  "",
  `\`npm run bench -- onnx\`, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}. The torchvision models of`,
  "the test fixtures (random weights), input 1×3×224×224 (the digits network 1×1×28×28); ms, the best of",
  `${ROUNDS} interleaved rounds. convwasm reads the float64 export (its f32 plan narrows the weights once),`,
  "onnxruntime the float32 one (it cannot run float64 convolutions). onnxruntime-web runs one thread here (its",
  "threads are set once per process). Targets: the f64 plan of the ONNX issue (22), the f32 plan of the float32 issue (23).",
  "",
  "| model | batch | threads | convwasm f64 | convwasm f32 | onnxruntime-web f32 | f64 ÷ web | target | f32 ÷ web | target | onnxruntime-node f32 |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: |",
  ...rows.map((r) => {
    const web = r.threads === 1 ? r.ortWeb : null;
    const [r64, r32] = web === null ? [null, null] : [r.convwasm / web, r.convwasm32 / web];
    const [t64, t32] = web === null ? [null, null] : [spec(r.model).target, spec(r.model).target32];
    const x = (v: number | null) => (v === null ? "–" : v.toFixed(2) + "×");
    return `| ${r.model} | ${r.batch} | ${r.threads} | ${f(r.convwasm)} | ${f(r.convwasm32)} | ${f(r.ortWeb)} | ${x(r64)} | ${check(r64, t64)} | ${x(r32)} | ${check(r32, t32)} | ${f(r.ortNode)} |`;
  }),
  "",
  "The float32 plans against the float64 plan (one example; the error relative to the output's largest magnitude;",
  "target ≤ 1e-5) and the activations each plan places per example (liveness-planned; the packed weights come on top):",
  "",
  "| model | f32 error | same top-1 | activations f64 KiB | f32 KiB |",
  "| --- | ---: | --- | ---: | ---: |",
  ...accuracy.map(
    (a) =>
      `| ${a.model} | ${a.err.toExponential(2)} ${a.err <= 1e-5 ? "✓" : "✗"} | ${a.top1 ? "yes" : "no"} | ${a.kib64.toFixed(0)} | ${a.kib32.toFixed(0)} |`,
  ),
  "",
  "| model | convwasm load | first predict | onnxruntime-web session | first run |",
  "| --- | ---: | ---: | ---: | ---: |",
  ...loads.map(
    (l) =>
      `| ${l.model} | ${f(l.convwasm, 0)} | ${f(l.convwasmFirst, 0)} | ${f(l.ortWeb, 0)} | ${f(l.ortWebFirst, 0)} |`,
  ),
  "",
  `Cold start (a new \`node\` process: import, init, load squeezenet1_1, the first predict of one example; best of`,
  `3): convwasm ${f(cold.convwasm, 0)} ms, onnxruntime-web ${f(cold.ortWeb, 0)} ms: ${(cold.convwasm / cold.ortWeb).toFixed(2)}× (target ≤ 0.25× ${cold.convwasm / cold.ortWeb <= 0.25 ? "✓" : "✗"}).`,
  "<!-- onnx:end -->",
];
const md = lines.join("\n");
const file = new URL("../BENCHMARKS.md", import.meta.url);
const text = existsSync(file) ? readFileSync(file, "utf8") : "";
const out = /<!-- onnx:start -->[\s\S]*?<!-- onnx:end -->/.test(text)
  ? text.replace(/<!-- onnx:start -->[\s\S]*?<!-- onnx:end -->/, md)
  : `${text.trimEnd()}\n\n${md}\n`;
writeFileSync(file, out);
console.log(md);
process.exit(0);
