// loadOnnx (issue 22): models exported by torch.onnx.export, against PyTorch float64's outputs
// (scripts/fixtures_onnx.py writes test/fixtures/onnx/).
import { beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { NDArray, adam, digitsLayers, init, input, layers, model, sequential, type SymbolicTensor } from "convwasm";
import { loadOnnx, toOnnx } from "convwasm/onnx";
import { attr, doubles, fill, makeModel, onnxBytes, onnxFixture, onnxInput, relErr } from "./onnx-fixtures.js";
import { fixture } from "./helpers.js";

beforeAll(() => init());

/** The fixture models: the digits network, the issue's three, and six more of torchvision's zoo. */
const MODELS = [
  "digits",
  "squeezenet1_1",
  "resnet18",
  "mobilenet_v2",
  "densenet121",
  "mobilenet_v3_small",
  "efficientnet_b0",
  "shufflenet_v2_x0_5",
  "regnet_y_400mf",
  "googlenet",
];

describe("loadOnnx: torchvision's models and the digits network", () => {
  for (const name of MODELS) {
    for (const precision of ["f64", "f32"] as const) {
      it(`${name} (${precision} export) gives torch float64's outputs`, () => {
        const f = onnxFixture(name);
        const m = loadOnnx(onnxBytes(f.files[precision].file));
        const y = m.predict(onnxInput(f));
        expect(y.shape).toEqual(f.output);
        const err = relErr(y.toFloat64Array(), f.y);
        expect(err).toBeLessThan(precision === "f64" ? 1e-9 : 1e-5);
      });
    }
  }
});

describe("float32 plans of the imported models (issue 23)", () => {
  // (the zoo's f64 exports: the f32 plan against the f64 plan, within 1e-5 of the output's largest magnitude)
  for (const name of MODELS) {
    it(`${name}: loadOnnx(…, { precision: "f32" }) agrees with the f64 plan`, () => {
      const f = onnxFixture(name);
      const bytes = onnxBytes(f.files.f64.file);
      const [m64, m32] = [loadOnnx(bytes), loadOnnx(bytes, { precision: "f32" })];
      const x = onnxInput(f);
      const want = m64.predict(x).toFloat64Array();
      const got = m32.predict(x);
      expect(got.shape).toEqual(f.output);
      // mobilenet_v2's fixture (random weights and BatchNorm statistics) amplifies float32's rounding:
      // onnxruntime-node's float32 run of its f32 export is 1.14e-5 from torch's float64, this plan 1.19e-5
      const bound = name === "mobilenet_v2" ? 2e-5 : 1e-5;
      expect(relErr(got.toFloat64Array(), want)).toBeLessThan(bound);
      expect(relErr(got.toFloat64Array(), want)).toBeGreaterThan(0);
      expect(Array.from(m32.predict(x, { precision: "f64" }).data)).toEqual(Array.from(want));
    });
  }
  it("a Float32Array in ONNX's layout goes in as float32 and output: Float32Array comes back in ONNX's layout", () => {
    for (const name of ["digits", "squeezenet1_1"]) {
      const f = onnxFixture(name);
      const m32 = loadOnnx(onnxBytes(f.files.f64.file), { precision: "f32" });
      const x = onnxInput(f);
      const want = m32.predict(new NDArray(Float64Array.from(x.data, Math.fround), x.shape)).toFloat64Array();
      const got = m32.predict(Float32Array.from(x.data), { output: "Float32Array" });
      expect(got).toBeInstanceOf(Float32Array);
      expect(Array.from(got), name).toEqual(Array.from(want));
      // NHWC in and out: the same values, laid out as the library's
      const nhwc = m32.predict(Float32Array.from(x.transpose(0, 2, 3, 1).toFloat64Array()), {
        layout: "NHWC",
        output: "Float32Array",
      });
      expect(Array.from(nhwc)).toEqual(Array.from(got));
    }
  });

  it("refuses another precision with loadOnnx's name", () => {
    const bytes = onnxBytes(onnxFixture("digits").files.f64.file);
    expect(() => loadOnnx(bytes, { precision: "half" as never })).toThrow(
      'loadOnnx: options.precision expects "f64" or "f32" but got string half',
    );
  });
});

describe("loadOnnx: one small model per op and attribute", () => {
  const cases =
    fixture<
      Record<string, { onnx: string; input: number[]; scale: number; output: number[]; y: number[]; ops: string[] }>
    >("onnx/ops.json");
  for (const [name, c] of Object.entries(cases)) {
    it(`${name} (${c.ops.join(", ")})`, () => {
      const m = loadOnnx(Buffer.from(c.onnx, "base64"));
      const n = c.input.reduce((a, b) => a * b, 1);
      const x = new NDArray(
        fill("input", n, -1, 1).map((v) => v * c.scale),
        c.input,
      );
      const y = m.predict(x);
      expect(y.shape).toEqual(c.output);
      expect(relErr(y.toFloat64Array(), c.y)).toBeLessThan(1e-12);
    });
  }
});

describe("loadOnnx: what it cannot run is a clear error, and nothing is made", () => {
  const W = doubles("W", [2, 3, 1, 1], [1, 2, 3, 4, 5, 6]);
  const conv = { opType: "Conv", input: ["input", "W"], output: ["c"] };

  it("lists every node it cannot run, with its op type", () => {
    const bytes = makeModel(
      [
        conv,
        { opType: "Tanh", input: ["c"], output: ["t"], name: "the_tanh" },
        { opType: "Relu", input: ["t"], output: ["r"] },
        { opType: "LRN", input: ["c"], output: ["l"], attribute: [attr.int("size", 3)] },
        { opType: "Add", input: ["r", "l"], output: ["output"] },
      ],
      [W],
      [3, 4, 4],
    );
    expect(() => loadOnnx(bytes)).toThrow(
      /^loadOnnx: the model has 2 node\(s\) it cannot run:\n  node 1 Tanh "the_tanh": the op is not supported\n  node 3 LRN: the op is not supported$/,
    );
  });

  it("names an attribute value it cannot honour", () => {
    const bytes = makeModel(
      [
        {
          opType: "MaxPool",
          input: ["input"],
          output: ["output"],
          attribute: [attr.ints("kernel_shape", [2, 2]), attr.int("storage_order", 1)],
        },
      ],
      [],
      [3, 4, 4],
    );
    expect(() => loadOnnx(bytes)).toThrow(/node 0 MaxPool: attribute storage_order: only storage_order 0 is supported/);
    const dil = makeModel(
      [
        {
          opType: "MaxPool",
          input: ["input"],
          output: ["output"],
          attribute: [attr.ints("kernel_shape", [2, 2]), attr.ints("dilations", [2, 2])],
        },
      ],
      [],
      [3, 4, 4],
    );
    expect(() => loadOnnx(dil)).toThrow(/attribute dilations: only dilations 1 is supported/);
    const pad = makeModel(
      [{ opType: "Pad", input: ["input", "p"], output: ["output"], attribute: [attr.string("mode", "reflect")] }],
      [{ name: "p", dims: [8], dataType: 7, int64Data: [0, 0, 1, 1, 0, 0, 1, 1] }],
      [3, 4, 4],
    );
    expect(() => loadOnnx(pad)).toThrow(/node 0 Pad: mode reflect: only constant is supported/);
    const filled = makeModel(
      [{ opType: "Pad", input: ["input", "p", "v"], output: ["output"] }],
      [{ name: "p", dims: [8], dataType: 7, int64Data: [0, 0, 1, 1, 0, 0, 1, 1] }, doubles("v", [], [0.25])],
      [3, 4, 4],
      18,
    );
    expect(() => loadOnnx(filled)).toThrow(/node 0 Pad: constant_value 0.25: only 0 is supported/);
    const other = makeModel([{ ...conv, output: ["output"], domain: "com.microsoft" }], [W], [3, 4, 4]);
    expect(() => loadOnnx(other)).toThrow(/node 0 Conv: its domain com.microsoft is not ONNX's/);
  });

  it("refuses bytes that are not a model, crafted tensors and external data with a message", () => {
    expect(() => loadOnnx(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow(
      /^loadOnnx: bytes are not an ONNX model/,
    );
    expect(() => loadOnnx("model.onnx" as unknown as Uint8Array)).toThrow(
      /^loadOnnx: bytes expects a Uint8Array or an ArrayBuffer but got/,
    );
    const good = makeModel([{ ...conv, output: ["output"] }], [W], [3, 4, 4]);
    expect(() => loadOnnx(good.subarray(0, good.length - 7))).toThrow(/^loadOnnx: /);
    const short = makeModel(
      [{ ...conv, output: ["output"] }],
      [{ ...W, rawData: W.rawData.subarray(0, 40) }],
      [3, 4, 4],
    );
    expect(() => loadOnnx(short)).toThrow(/initializer "W": raw_data holds 40 bytes but \[2,3,1,1\] double takes 48/);
    const huge = makeModel([{ ...conv, output: ["output"] }], [{ ...W, dims: [2 ** 20, 2 ** 20, 1, 1] }], [3, 4, 4]);
    expect(() => loadOnnx(huge)).toThrow(/initializer "W": 1099511627776 values are more than WASM memory holds/);
    const external = makeModel(
      [{ ...conv, output: ["output"] }],
      [
        {
          name: "W",
          dims: [2, 3, 1, 1],
          dataType: 11,
          dataLocation: 1,
          externalData: [{ key: "location", value: "w.bin" }],
        },
      ],
      [3, 4, 4],
    );
    expect(() => loadOnnx(external)).toThrow(/initializer "W": its data is in an external file \(w.bin\)/);
    expect(() => loadOnnx(makeModel([{ ...conv, output: ["output"] }], [W], [3, 4, 4], 6))).toThrow(
      /^loadOnnx: opset expects 7 to 21/,
    );
    const alone = makeModel([{ opType: "Conv", input: ["input"], output: ["output"] }], [], [3, 4, 4]);
    expect(() => loadOnnx(alone)).toThrow(/^loadOnnx: node 0 \(Conv\): expects 2 input\(s\) but has 1/);
    const missing = makeModel([{ opType: "Relu", input: ["nothing"], output: ["output"] }], [], [3, 4, 4]);
    expect(() => loadOnnx(missing)).toThrow(/reads "nothing", which no node, input or initializer makes/);
    const unsorted = makeModel(
      [
        { opType: "Relu", input: ["c"], output: ["output"] },
        { ...conv, output: ["c"] },
      ],
      [W],
      [3, 4, 4],
    );
    expect(() => loadOnnx(unsorted)).toThrow(
      /^loadOnnx: node 0 \(Relu\): reads "c", before the node that makes it \(ONNX lists nodes in topological order\)$/,
    );
    // and the library goes on working
    const m = loadOnnx(good);
    expect(m.predict(new NDArray(new Float64Array(2 * 48).fill(1), [2, 3, 4, 4])).shape).toEqual([2, 2, 4, 4]);
  });
});

describe("loadOnnx: the model it makes", () => {
  it("is disposed as a built model: predict, fit and toOnnx refused by name afterwards", () => {
    const f = onnxFixture("digits");
    const m = loadOnnx(onnxBytes(f.files.f64.file));
    const x = onnxInput(f);
    m.predict(x);
    m.dispose();
    expect(m.disposed).toBe(true);
    expect(() => m.predict(x)).toThrow("predict: this model was disposed");
    expect(() => m.fit(x, [0, 1])).toThrow("fit: this model was disposed");
    expect(() => m.evaluate(x, [0, 1])).toThrow("evaluate: this model was disposed");
    expect(() => toOnnx(m)).toThrow("toOnnx: the model was disposed");
  });

  it("takes and gives NCHW, or the library's NHWC with { layout: 'NHWC' }, the same numbers", () => {
    const f = onnxFixture("squeezenet1_1");
    const m = loadOnnx(onnxBytes(f.files.f64.file));
    const x = onnxInput(f);
    const nchw = m.predict(x);
    const nhwc = m.predict(x.transpose(0, 2, 3, 1), { layout: "NHWC" });
    expect(Array.from(nhwc.toFloat64Array())).toEqual(Array.from(nchw.toFloat64Array()));
    // (NCHW images reach the plan as a view of their planes, turned in WASM: the same numbers as a
    // contiguous NHWC copy, in both precisions, and from an NCHW input that is itself a strided view)
    const [n, c, h, w] = x.shape;
    const copied = new NDArray(x.transpose(0, 2, 3, 1).toFloat64Array(), [n, h, w, c]);
    const two = new NDArray(new Float64Array(2 * x.size), [n, c, h, 2 * w]);
    const strided = new NDArray(two.data, x.shape, [c * h * 2 * w, h * 2 * w, 2 * w, 2]);
    x.toFloat64Array().forEach((v, i) => {
      const [ii, ch, y, xx] = [Math.floor(i / (c * h * w)), Math.floor(i / (h * w)) % c, Math.floor(i / w) % h, i % w];
      two.data[((ii * c + ch) * h + y) * 2 * w + 2 * xx] = v;
    });
    for (const precision of ["f64", "f32"] as const) {
      const want = Array.from(m.predict(copied, { layout: "NHWC", precision }).toFloat64Array());
      expect(Array.from(m.predict(x, { precision }).toFloat64Array())).toEqual(want);
      expect(Array.from(m.predict(strided, { precision }).toFloat64Array())).toEqual(want);
    }
    expect(m.inputShape).toEqual([70, 70, 3]);
    expect(m.onnxInputShapes).toEqual([[3, 70, 70]]);
    expect(m.inputNames).toEqual(["input"]);
    expect(() => m.predict(x, { layout: "CHW" as "NCHW" })).toThrow(
      /^predict: options.layout expects "NCHW" or "NHWC"/,
    );
    expect(() => m.predict(x.transpose(0, 2, 3, 1))).toThrow(/^predict: X expects shape \[m,3,70,70\]/);
  });

  it("gives a 4-D output in NCHW and a flattened image's features in ONNX's order", () => {
    // Conv → Flatten (NCHW order) → Relu as the output: the importer must undo its NHWC order
    const W = doubles("W", [2, 3, 1, 1], [1, -2, 3, -4, 5, -6]);
    const bytes = makeModel(
      [
        { opType: "Conv", input: ["input", "W"], output: ["c"] },
        { opType: "Flatten", input: ["c"], output: ["f"] },
        { opType: "Relu", input: ["f"], output: ["output"] },
      ],
      [W],
      [3, 2, 2],
    );
    const m = loadOnnx(bytes);
    const x = new NDArray(
      Float64Array.from({ length: 24 }, (_, i) => (i % 5) - 2),
      [2, 3, 2, 2],
    );
    const y = m.predict(x).toFloat64Array();
    const w = [1, -2, 3, -4, 5, -6];
    for (let n = 0; n < 2; n++)
      for (let k = 0; k < 2; k++)
        for (let p = 0; p < 4; p++) {
          let s = 0;
          for (let c = 0; c < 3; c++) s += w[k * 3 + c] * x.data[n * 12 + c * 4 + p];
          expect(y[n * 8 + k * 4 + p]).toBe(Math.max(0, s));
        }
    const conv = makeModel([{ opType: "Conv", input: ["input", "W"], output: ["output"] }], [W], [3, 2, 2]);
    expect(Array.from(loadOnnx(conv).predict(x).toFloat64Array().slice(0, 4))).toEqual(
      [0, 1, 2, 3].map((p) => w[0] * x.data[p] + w[1] * x.data[4 + p] + w[2] * x.data[8 + p]),
    );
  });

  it("trains like a built model: fit on the imported digits network lowers the loss", () => {
    const f = onnxFixture("digits");
    const m = loadOnnx(onnxBytes(f.files.f64.file));
    const X = new NDArray(fill("train", 32 * 784, 0, 1), [32, 1, 28, 28]);
    const labels = Array.from({ length: 32 }, (_, i) => i % 10);
    const before = m.evaluate(X, labels).loss;
    const log = m.fit(X, labels, { epochs: 5, batchSize: 8, validation: [X, labels] });
    expect(m.evaluate(X, labels).loss).toBeLessThan(before);
    expect(log[4].valLoss).toBeCloseTo(m.evaluate(X, labels).loss, 12);
    expect(() => m.evaluate(X.transpose(0, 2, 3, 1), labels)).toThrow(/^evaluate: X expects shape \[m,1,28,28\]/);
    expect(m.summary()).toMatch(/dense/);
  });
});

describe("loadOnnx: fine-tuning", () => {
  it("an imported squeezenet with a new classifier, its own layers frozen: the loss falls, the import unchanged", () => {
    const f = onnxFixture("squeezenet1_1");
    const bytes = onnxBytes(f.files.f32.file);
    const m = loadOnnx(bytes, {
      trainable: false,
      seed: 3,
      head: {
        from: "/features/features.12/Concat_output_0",
        layers: (x) => layers.softmax().apply(layers.dense({ units: 3 }).apply(layers.globalAvgPool().apply(x))),
      },
    });
    const whole = loadOnnx(bytes);
    expect(m.outputShape).toEqual([3]);
    expect(m.summary()).toMatch(/Trainable params: 1539\b/);
    // the features: the same numbers as the whole model's layers before its classifier
    const frozen = Object.entries(m.weights()).filter(([k]) => !k.startsWith("dense"));
    const X = new NDArray(fill("tune", 12 * 3 * 70 * 70, -1, 1), [12, 3, 70, 70]);
    const labels = Array.from({ length: 12 }, (_, i) => i % 3);
    const before = m.evaluate(X, labels).loss;
    m.fit(X, labels, { epochs: 4, batchSize: 4, optimizer: adam({ lr: 1e-3 }) });
    expect(m.evaluate(X, labels).loss).toBeLessThan(before);
    const after = m.weights();
    for (const [k, w] of frozen) expect(after[k].data, k).toEqual(w.data);
    expect(Object.keys(whole.weights()).length).toBe(frozen.length + 2 /* the whole's classifier conv: W, b */);
    const from = "/features/features.12/Concat_output_0";
    const broken = () => {
      throw new Error("no such layer");
    };
    expect(() => loadOnnx(bytes, { head: { from, layers: broken } })).toThrow(
      /^loadOnnx: options.head.layers threw: no such layer$/,
    );
    expect(() => loadOnnx(bytes, { head: { from, layers: () => 3 as unknown as SymbolicTensor } })).toThrow(
      /^loadOnnx: options.head.layers expects to return a layer's output but returned/,
    );
    expect(() => loadOnnx(bytes, { head: { from: "nothing", layers: (x) => x } })).toThrow(
      /^loadOnnx: options.head.from expects the name of a value of the graph but got "nothing"/,
    );
  });

  it("a frozen layer keeps its weights in fit, and a frozen BatchNorm its running statistics", () => {
    const x = input([4, 4, 2]);
    const conv = layers.conv2d({ filters: 3, size: 3, pad: "same", trainable: false });
    const bn = layers.batchNorm({ trainable: false });
    const y = layers
      .softmax()
      .apply(layers.dense({ units: 2 }).apply(layers.flatten().apply(layers.relu().apply(bn.apply(conv.apply(x))))));
    const m = model(x, y, { seed: 1 });
    const w0 = m.weights();
    const X = new NDArray(fill("frozen", 8 * 32, -1, 1), [8, 4, 4, 2]);
    m.fit(X, [0, 1, 0, 1, 1, 0, 1, 0], { epochs: 2, batchSize: 4 });
    const w1 = m.weights();
    for (const k of ["conv2d/W", "conv2d/b", "batchNorm/gamma", "batchNorm/moving_mean", "batchNorm/moving_variance"]) {
      expect(w1[k].data, k).toEqual(w0[k].data);
    }
    expect(w1["dense/W"].data).not.toEqual(w0["dense/W"].data);
    expect(m.summary()).toMatch(/Trainable params: 98\b/);
    expect(() => model(x, layers.conv2d({ filters: 1, size: 1, trainable: 1 as unknown as boolean }).apply(x))).toThrow(
      /^model: node 0 \(conv2d\): trainable expects true or false but got number 1/,
    );
  });
});

describe("weights from PyTorch as .npz (scripts/torch_to_npz.py)", () => {
  it("the digits network's state_dict, converted by the recipe, gives PyTorch's outputs in sequential(digitsLayers())", () => {
    const f = onnxFixture("digits");
    const m = sequential([28, 28, 1], digitsLayers());
    m.load(readFileSync(new URL("./fixtures/onnx/digits.npz", import.meta.url)));
    const y = m.predict(onnxInput(f).transpose(0, 2, 3, 1));
    expect(relErr(y.toFloat64Array(), f.y)).toBeLessThan(1e-12);
  });
});
