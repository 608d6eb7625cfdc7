import * as ortWeb from "onnxruntime-web";
import { NDArray, init } from "convwasm";
import { tuning } from "convwasm/internal";
import { loadOnnx } from "convwasm/onnx";
import { decodeModel, encodeModel } from "../src/onnx/proto.js";
import { fill, onnxBytes, onnxFixture } from "../test/onnx-fixtures.js";
function zoo(name: string, precision: "f64" | "f32", size: number) {
  const f = onnxFixture(name);
  const m = decodeModel(onnxBytes(f.files[precision].file));
  const dims = m.graph!.input![0].type!.tensorType!.shape!.dim!;
  if (name !== "digits") dims[2] = dims[3] = { dimValue: size };
  for (const o of m.graph!.output!) o.type = { tensorType: { elemType: o.type!.tensorType!.elemType } };
  return { bytes: encodeModel(m), shape: dims.slice(1).map((d) => Number(d.dimValue)) };
}
await init();
tuning.minWorkScale = Infinity;
ortWeb.env.wasm.numThreads = 1;
for (const name of (process.argv[2] ?? "resnet18,squeezenet1_1,mobilenet_v2").split(",")) {
  const a = zoo(name, "f64", 224), b = zoo(name, "f32", 224);
  const m64 = loadOnnx(a.bytes), m32 = loadOnnx(a.bytes, { precision: "f32" });
  const per = a.shape.reduce((x, y) => x * y, 1);
  const x = new NDArray(fill("bench", per, -1, 1), [1, ...a.shape]);
  const web = await ortWeb.InferenceSession.create(b.bytes, { executionProviders: ["wasm"] });
  const feed = { [web.inputNames[0]]: new ortWeb.Tensor("float32", Float32Array.from(x.data), [1, ...a.shape]) };
  const best = { f64: Infinity, f32: Infinity, ort: Infinity };
  for (let r = 0; r < 7; r++) {
    let t = performance.now(); m64.predict(x); best.f64 = Math.min(best.f64, performance.now() - t);
    t = performance.now(); m32.predict(x); best.f32 = Math.min(best.f32, performance.now() - t);
    t = performance.now(); await web.run(feed); best.ort = Math.min(best.ort, performance.now() - t);
  }
  console.log(name, JSON.stringify(best), "f32/ort", (best.f32 / best.ort).toFixed(2), "f64/ort", (best.f64 / best.ort).toFixed(2));
}
