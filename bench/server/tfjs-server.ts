// The digits network served with TensorFlow.js-WASM (float32, XNNPACK) as its docs suggest: one model,
// predict per request on the event loop. The same routes as examples/server (POST /predict, GET /health,
// GET /metrics) and the same weights (examples/digits/pretrained.npz), for bench/server.ts.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { NDArray, digitsLayers, init, sequential } from "convwasm";

await init({ threads: 1 });
const model = sequential([28, 28, 1], digitsLayers());
model.load(readFileSync(new URL("../../examples/digits/pretrained.npz", import.meta.url)));
setThreadsCount(1);
await tf.setBackend("wasm");
await tf.ready();
const t = (a: NDArray) => tf.tensor(Float32Array.from(a.toFloat64Array()), [...a.shape]);
const w = Object.fromEntries(Object.entries(model.weights()).map(([k, a]) => [k, t(a)]));
const predict = (x: tf.Tensor4D) =>
  tf.tidy(() => {
    let a = tf.relu(tf.add(tf.conv2d(x, w["conv2d/W"] as tf.Tensor4D, 1, "same"), w["conv2d/b"]));
    a = tf.maxPool(a as tf.Tensor4D, 2, 2, "valid");
    a = tf.relu(tf.add(tf.conv2d(a as tf.Tensor4D, w["conv2d_1/W"] as tf.Tensor4D, 1, "same"), w["conv2d_1/b"]));
    a = tf.maxPool(a as tf.Tensor4D, 2, 2, "valid");
    return tf.softmax(tf.add(tf.matMul(tf.reshape(a, [x.shape[0], -1]), w["dense/W"] as tf.Tensor2D), w["dense/b"]));
  });

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
const ms = (ns: number) => Math.round(ns / 1e4) / 100;
const server = createServer((req, res) => {
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const url = new URL(req.url ?? "/", "http://localhost");
  if (url.pathname === "/health") return send(200, { status: "ok", backend: tf.getBackend() });
  if (url.pathname === "/metrics") {
    const body = {
      eventLoopDelay: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
    };
    if (url.searchParams.has("reset")) delay.reset();
    return send(200, body);
  }
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    try {
      const { image } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { image: number[] };
      const x = tf.tensor4d(Float32Array.from(image), [1, 28, 28, 1]);
      const p = predict(x);
      const probabilities = Array.from(p.dataSync());
      tf.dispose([x, p]);
      send(200, { class: probabilities.indexOf(Math.max(...probabilities)), probabilities });
    } catch (e) {
      send(400, { error: (e as Error).message });
    }
  });
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const a = server.address();
  console.log(`tfjs-wasm digits service on http://localhost:${typeof a === "object" && a ? a.port : 0}`);
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));
