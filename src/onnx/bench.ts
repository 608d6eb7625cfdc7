// `convwasm bench model.onnx`: any ONNX file timed here (load, first predict, steady predict at batch 1
// and N on each thread count), beside onnxruntime-web (wasm, one thread) when it is installed.
import { NDArray } from "../core/ndarray.js";
import { init } from "../runtime/loader.js";
import { tuning } from "../runtime/schedule.js";
import { getThreads, setThreads } from "../runtime/threads.js";
import { loadOnnx } from "./model.js";

export interface OnnxBenchOptions {
  batch?: number;
  threads?: number[];
  /** Calls per measurement; the best is kept. */
  repeat?: number;
}

/** The timings of one file, as lines of a table. */
export async function benchOnnx(bytes: Uint8Array, options: OnnxBenchOptions = {}): Promise<string> {
  await init();
  const most = getThreads();
  const { batch = 8, threads = [...new Set([1, most])], repeat = 5 } = options;
  let t0 = performance.now();
  const model = loadOnnx(bytes);
  const load = performance.now() - t0;
  const shape = model.onnxInputShapes[0];
  const per = shape.reduce((a, b) => a * b, 1);
  const input = (m: number) => Float64Array.from({ length: m * per }, (_, i) => Math.sin(i));
  t0 = performance.now();
  model.predict(new NDArray(input(1), [1, ...shape]));
  const first = performance.now() - t0;
  const lines = [
    `load ${load.toFixed(1)} ms, first predict ${first.toFixed(1)} ms (${model.work.toLocaleString("en")} multiply-adds an example; input [m,${shape}])`,
    "",
    "| engine | threads | batch | ms (best) | examples/s |",
    "| --- | ---: | ---: | ---: | ---: |",
  ];
  const share = tuning.minWorkScale;
  const best = async (fn: () => unknown) => {
    let b = Infinity;
    for (let i = 0; i < repeat; i++) {
      const s = performance.now();
      await fn();
      b = Math.min(b, performance.now() - s);
    }
    return b;
  };
  try {
    for (const t of threads) {
      if (t > 1 && getThreads() !== t) await setThreads(t);
      tuning.minWorkScale = t === 1 ? Infinity : share;
      for (const m of [1, batch]) {
        const x = new NDArray(input(m), [m, ...shape]);
        const ms = await best(() => model.predict(x));
        lines.push(`| convwasm (float64) | ${t} | ${m} | ${ms.toFixed(2)} | ${Math.round((m * 1000) / ms)} |`);
      }
    }
  } finally {
    tuning.minWorkScale = share;
    if (getThreads() !== most) await setThreads(most);
  }
  // onnxruntime-web, when the project has it (not a dependency of convwasm)
  try {
    const name = "onnxruntime-web";
    const ort = (await import(name)) as typeof import("onnxruntime-web");
    ort.env.wasm.numThreads = 1;
    t0 = performance.now();
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    const created = performance.now() - t0;
    for (const m of [1, batch]) {
      const feed = { [session.inputNames[0]]: new ort.Tensor("float32", Float32Array.from(input(m)), [m, ...shape]) };
      const ms = await best(() => session.run(feed));
      lines.push(`| onnxruntime-web (wasm) | 1 | ${m} | ${ms.toFixed(2)} | ${Math.round((m * 1000) / ms)} |`);
    }
    lines.push("", `onnxruntime-web: session ${created.toFixed(1)} ms`);
  } catch (e) {
    lines.push("", `onnxruntime-web: not compared (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`);
  }
  return lines.join("\n");
}
