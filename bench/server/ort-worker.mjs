// A worker thread of bench/server/ort.ts: one onnxruntime-web session (wasm, one thread) of the model,
// answering { id, x, shape } with the first output's values.
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-web";

ort.env.wasm.numThreads = 1;
const session = await ort.InferenceSession.create(workerData.bytes, { executionProviders: ["wasm"] });
const [input] = session.inputNames;
const [output] = session.outputNames;
parentPort.on("message", async ({ id, x, shape }) => {
  try {
    const result = await session.run({ [input]: new ort.Tensor("float32", x, shape) });
    const y = result[output].data;
    parentPort.postMessage({ id, y }, [y.buffer]);
  } catch (e) {
    parentPort.postMessage({ id, error: String(e?.message ?? e) });
  }
});
parentPort.postMessage({ ready: true });
