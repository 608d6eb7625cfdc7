// convwasm/async's loadOnnx (issue 22): the file imported on the calling thread, the model made in every
// worker; the same numbers as the synchronous import, in ONNX's layout or the library's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as S from "convwasm";
import * as A from "convwasm/async";
import { loadOnnx } from "convwasm/onnx";
import { expectIdentical } from "./helpers.js";
import { fill, onnxBytes, onnxFixture, onnxInput, relErr } from "./onnx-fixtures.js";

beforeAll(async () => {
  await S.init();
  await A.init({ workers: 2, threads: 1 });
});
afterAll(() => A.dispose());

describe("convwasm/async's loadOnnx", () => {
  it("predicts (micro-batched, NCHW or NHWC) as the synchronous import", async () => {
    const f = onnxFixture("mobilenet_v2");
    const bytes = onnxBytes(f.files.f64.file);
    const sync = loadOnnx(bytes);
    const made = await A.loadOnnx(bytes);
    const x = onnxInput(f);
    const want = sync.predict(x);
    expectIdentical(await made.predict(x), want);
    // requests made together are batched and split back, each its own answer
    const [a, b] = await Promise.all([
      made.predict(x.index(0).reshape(1, 3, 70, 70)),
      made.predict(x.index(1).reshape(1, 3, 70, 70)),
    ]);
    expect(Array.from(a.data)).toEqual(Array.from(want.data.slice(0, 1000)));
    expect(Array.from(b.data)).toEqual(Array.from(want.data.slice(1000)));
    expectIdentical(await made.predict(x.transpose(0, 2, 3, 1), { layout: "NHWC" }), want);
    await expect(made.predict(x, { layout: "HWC" as "NHWC" })).rejects.toThrow(/^predict: options.layout expects/);
    await expect(made.predict(x.transpose(0, 2, 3, 1))).rejects.toThrow(/^predict: X expects shape \[m,3,70,70\]/);
    made.dispose();
  });

  it('loadOnnx(…, { precision: "f32" }) predicts with the synchronous import\'s float32 plan (issue 23)', async () => {
    const f = onnxFixture("squeezenet1_1");
    const bytes = onnxBytes(f.files.f64.file);
    const sync = loadOnnx(bytes, { precision: "f32" });
    const made = await A.loadOnnx(bytes, { precision: "f32" });
    const x = onnxInput(f);
    expectIdentical(await made.predict(x), sync.predict(x));
    expectIdentical(await made.predict(x, { precision: "f64" }), sync.predict(x, { precision: "f64" }));
    await expect(A.loadOnnx(bytes, { precision: "x" as never })).rejects.toThrow(
      'loadOnnx: options.precision expects "f64" or "f32" but got string x',
    );
    made.dispose();
  });

  it("the four fixture models give torch float64's outputs through the workers too", async () => {
    for (const name of ["digits", "squeezenet1_1", "resnet18", "mobilenet_v2"]) {
      const f = onnxFixture(name);
      const made = await A.loadOnnx(onnxBytes(f.files.f64.file));
      const y = (await made.predict(onnxInput(f))).toFloat64Array();
      expect(relErr(y, f.y), name).toBeLessThan(1e-9);
      made.dispose();
    }
  }, 60_000);

  it("fine-tunes a head on the workers as the synchronous model does, and refuses what it cannot run", async () => {
    const f = onnxFixture("squeezenet1_1");
    const bytes = onnxBytes(f.files.f32.file);
    const head = (L: typeof S.layers) => ({
      from: "/features/features.12/Concat_output_0",
      layers: (x: S.SymbolicTensor) => L.softmax().apply(L.dense({ units: 3 }).apply(L.globalAvgPool().apply(x))),
    });
    const sync = loadOnnx(bytes, { trainable: false, seed: 5, head: head(S.layers) });
    const made = await A.loadOnnx(bytes, { trainable: false, seed: 5, head: head(A.layers) });
    const X = new S.NDArray(fill("tune", 6 * 3 * 70 * 70, -1, 1), [6, 3, 70, 70]);
    const Y = [0, 1, 2, 0, 1, 2];
    expect(await made.evaluate(X, Y)).toEqual(sync.evaluate(X, Y));
    const h1 = sync.fit(X, Y, { epochs: 2, batchSize: 3 });
    const h2 = await made.fit(X, Y, { epochs: 2, batchSize: 3 });
    expect(h2.map((e) => e.loss)).toEqual(h1.map((e) => e.loss));
    expectIdentical(await made.predict(X), sync.predict(X));
    made.dispose();
    await expect(A.loadOnnx(new Uint8Array([1, 2, 3]))).rejects.toThrow(/^loadOnnx: bytes are not an ONNX model/);
  });
});
