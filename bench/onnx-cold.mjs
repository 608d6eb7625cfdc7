// One cold start, in a fresh `node` process (no tsx): import, init, load the file, the first predict of
// one example. Prints the milliseconds since the process began (performance.now()).
// node bench/onnx-cold.mjs convwasm|ort-web file.onnx C H W
import { readFileSync } from "node:fs";

const [engine, file, c, h, w] = process.argv.slice(2);
const shape = [1, Number(c), Number(h), Number(w)];
const n = shape.reduce((a, b) => a * b, 1);
if (engine === "convwasm") {
  const { init, NDArray } = await import("convwasm");
  const { loadOnnx } = await import("convwasm/onnx");
  await init({ threads: 1 });
  const model = loadOnnx(readFileSync(file));
  model.predict(new NDArray(new Float64Array(n).fill(0.5), shape));
} else {
  const ort = await import("onnxruntime-web");
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(readFileSync(file), { executionProviders: ["wasm"] });
  await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", new Float32Array(n).fill(0.5), shape) });
}
console.log(performance.now().toFixed(1));
process.exit(0);
