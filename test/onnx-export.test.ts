// toOnnx (issue 22): models built here, exported, run by onnxruntime-node (native, float32) to the
// library's own predict within 1e-5, and exported in float64 then imported back by loadOnnx to 1e-12.
import { beforeAll, describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { NDArray, digitsLayers, init, input, layers, model, sequential, type Model } from "convwasm";
import { loadOnnx, toOnnx } from "convwasm/onnx";
import { fill, relErr } from "./onnx-fixtures.js";

beforeAll(() => init());

/** Examples [m, ...shape] (NHWC) of fill(name), and the same in NCHW for ONNX. */
function examples(name: string, m: number, shape: readonly number[]): { nhwc: NDArray; nchw: NDArray } {
  const n = m * shape.reduce((a, b) => a * b, 1);
  const nhwc = new NDArray(fill(name, n, -1, 1), [m, ...shape]);
  const nchw =
    shape.length === 3
      ? new NDArray(nhwc.transpose(0, 3, 1, 2).toFloat64Array(), [m, shape[2], shape[0], shape[1]])
      : nhwc;
  return { nhwc, nchw };
}

async function checkExport(m: Model, name: string) {
  const { nhwc, nchw } = examples(name, 3, m.inputShape);
  const want = m.predict(nhwc);
  const session = await ort.InferenceSession.create(toOnnx(m));
  const r = await session.run({ input: new ort.Tensor("float32", Float32Array.from(nchw.data), nchw.shape) });
  expect(r.output.dims).toEqual(want.shape);
  expect(relErr(r.output.data as Float32Array, want.data)).toBeLessThan(1e-5);
  // float64: loadOnnx takes it back, the same model
  const back = loadOnnx(toOnnx(m, { precision: "f64" }));
  expect(relErr(back.predict(nchw).data, want.data)).toBeLessThan(1e-12);
}

describe("toOnnx", () => {
  it("the digits network runs in onnxruntime-node as in convwasm", async () => {
    const m = sequential([28, 28, 1], digitsLayers(), { seed: 2 });
    m.fit(
      examples("train", 16, [28, 28, 1]).nhwc,
      Array.from({ length: 16 }, (_, i) => i % 10),
      { epochs: 1 },
    );
    await checkExport(m, "digits");
  });

  it("a ResNet-block network (BatchNorm, a shortcut add, a shared dense layer, relu6)", async () => {
    const x = input([8, 8, 3]);
    const convBn = (v: typeof x, filters: number, stride = 1) =>
      layers.batchNorm().apply(layers.conv2d({ filters, size: 3, stride, pad: 1, bias: false }).apply(v));
    const stem = layers.relu().apply(convBn(x, 6));
    const block = layers.relu().apply(layers.add().apply([convBn(layers.relu().apply(convBn(stem, 6)), 6), stem]));
    const shared = layers.dense({ units: 6 });
    const h = shared.apply(layers.relu6().apply(shared.apply(layers.globalAvgPool().apply(block))));
    const m = model(x, layers.softmax().apply(layers.dense({ units: 4 }).apply(h)), { seed: 3 });
    // running statistics away from 0 and 1 (a fit's), so that the exported BatchNorm is exercised
    m.fit(examples("bn", 8, [8, 8, 3]).nhwc, [0, 1, 2, 3, 0, 1, 2, 3], { epochs: 2, batchSize: 4 });
    await checkExport(m, "resnet");
  });

  it("every other layer kind", async () => {
    const x = input([9, 10, 4]);
    const a = layers.depthwiseConv2d({ size: 3, multiplier: 2, pad: "same", stride: 2 }).apply(x);
    const b = layers
      .separableConv2d({
        filters: 8,
        size: [3, 2],
        pad: [
          [1, 0],
          [0, 1],
        ],
        dilation: [1, 2],
      })
      .apply(
        layers
          .zeroPadding2d({
            pad: [
              [1, 0],
              [2, 1],
            ],
          })
          .apply(x),
      );
    const c = layers
      .maxPool({ f: 3, stride: 2, pad: 1, ceil_mode: true })
      .apply(layers.leakyRelu({ alpha: 0.1 }).apply(b));
    const d = layers.avgPool({ f: 2, stride: 2, pad: 1, count_include_pad: true }).apply(layers.hardSwish().apply(b));
    const e = layers
      .concat()
      .apply([
        layers.clip({ min: -0.5, max: 0.7 }).apply(a),
        layers.swish().apply(layers.conv2d({ filters: 3, size: 1 }).apply(a)),
      ]);
    const gate = layers.hardSigmoid().apply(layers.dense({ units: 11 }).apply(layers.globalMaxPool().apply(e)));
    const se = layers.multiply().apply([e, gate]);
    const f = layers.sigmoid().apply(layers.conv2d({ filters: 8, size: 2, groups: 2, stride: 1 }).apply(c));
    const z = layers
      .concat()
      .apply([
        layers.dense({ units: 5 }).apply(layers.flatten().apply(layers.dropout({ rate: 0.3 }).apply(se))),
        layers.dense({ units: 5 }).apply(layers.flatten().apply(f)),
        layers.dense({ units: 5 }).apply(layers.globalAvgPool().apply(d)),
      ]);
    const m = model(x, layers.softmax().apply(layers.dense({ units: 3 }).apply(z)), { seed: 4 });
    await checkExport(m, "kinds");
  });

  it("refuses bad options with a message", () => {
    const m = sequential([4], [layers.dense({ units: 2 })]);
    expect(() => toOnnx(m, { precision: "f16" as "f32" })).toThrow(
      /^toOnnx: options.precision expects "f32" or "f64" but got/,
    );
    expect(() => toOnnx(m, null as unknown as object)).toThrow(/^toOnnx: options expects an object/);
  });
});
