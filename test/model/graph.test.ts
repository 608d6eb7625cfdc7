// Functional models (issue 21): a graph built with input(), layers' apply() and model(), trained forward
// with caches and backward in reverse order (gradients summed where a value has several readers), in
// training mode by fit and inference mode by predict. Three SGD steps of a ResNet-block network and of a
// MobileNetV2-block network against PyTorch float64 (test/fixtures/graph.json, scripts/fixtures_graph.py).
import { beforeAll, describe, expect, it } from "vitest";
import {
  NDArray,
  batch_norm,
  conv_forward,
  dense_forward,
  global_avg_pool,
  init,
  input,
  layers,
  memory,
  model,
  relu6,
  sequential,
  sgd,
  softmax,
  SymbolicTensor,
} from "convwasm";
import { expectClose, fixture, randn } from "../helpers.js";

beforeAll(() => init());

type Net = {
  X: number[];
  shape: number[];
  labels: number[];
  sgd: { lr: number; momentum: number; nesterov: boolean; weightDecay: number };
  start: Record<string, number[]>;
  shapes: Record<string, number[]>;
  losses: number[];
  after: Record<string, number[]>;
  predict: number[];
};
const fx = fixture<{ resnet: Net; mobilenet: Net }>("graph.json");
const arr = (v: number[], shape: readonly number[]) => new NDArray(Float64Array.from(v), shape);

/** conv → BN (→ ReLU), the convs without bias, padded as PyTorch's padding=1 (3×3) or 0 (1×1). */
function convBn(x: SymbolicTensor, filters: number, size: number, stride = 1, act = true) {
  const c = layers.conv2d({ filters, size, stride, pad: size === 3 ? 1 : 0, bias: false }).apply(x);
  const b = layers.batchNorm().apply(c);
  return act ? layers.relu().apply(b) : b;
}

/** The fixture's ResNet-block network, its nodes made in the order of the fixture's names. */
function resnet() {
  const x = input([8, 8, 3]);
  let h = convBn(x, 4, 3);
  const a = convBn(h, 4, 3);
  h = layers.relu().apply(layers.add().apply([convBn(a, 4, 3, 1, false), h]));
  const main = convBn(convBn(h, 6, 3, 2), 6, 3, 1, false);
  h = layers.relu().apply(layers.add().apply([main, convBn(h, 6, 1, 2, false)]));
  const y = layers.softmax().apply(layers.dense({ units: 10 }).apply(layers.globalAvgPool().apply(h)));
  return model(x, y);
}

/** The fixture's two MobileNetV2 blocks (the first with the residual, the second stride 2). */
function mobilenet() {
  const x = input([8, 8, 4]);
  const block = (v: SymbolicTensor, out: number, stride: number) => {
    let h = layers
      .relu6()
      .apply(layers.batchNorm().apply(layers.conv2d({ filters: 12, size: 1, bias: false }).apply(v)));
    h = layers.depthwiseConv2d({ size: 3, stride, pad: 1, bias: false }).apply(h);
    h = layers.relu6().apply(layers.batchNorm().apply(h));
    return layers.batchNorm().apply(layers.conv2d({ filters: out, size: 1, bias: false }).apply(h));
  };
  const h = block(layers.add().apply([x, block(x, 4, 1)]) as SymbolicTensor, 8, 2);
  return { x, m: model(x, layers.softmax().apply(layers.dense({ units: 10 }).apply(layers.globalAvgPool().apply(h)))) };
}

function startFrom(m: ReturnType<typeof model>, net: Net) {
  m.setWeights(Object.fromEntries(Object.entries(net.start).map(([k, v]) => [k, arr(v, net.shapes[k])])));
}

describe("three SGD steps against PyTorch float64", () => {
  for (const [name, make] of [
    ["a ResNet-block network (Nesterov momentum, weight decay on the kernels only)", () => resnet()],
    ["a MobileNetV2-block network (momentum)", () => mobilenet().m],
  ] as const) {
    it(name, () => {
      const net = name.startsWith("a ResNet") ? fx.resnet : fx.mobilenet;
      const m = make();
      expect(Object.keys(m.weights()).sort()).toEqual(Object.keys(net.start).sort());
      startFrom(m, net);
      const losses: number[] = [];
      m.fit(arr(net.X, net.shape), net.labels, {
        epochs: 3,
        batchSize: 4,
        shuffle: false,
        optimizer: sgd(net.sgd),
        onBatch: (_b, _n, loss) => losses.push(loss),
      });
      losses.forEach((l, i) => expect(Math.abs(l - net.losses[i])).toBeLessThan(1e-10 * net.losses[i]));
      const w = m.weights();
      for (const [k, v] of Object.entries(net.after)) expectClose(w[k], arr(v, net.shapes[k]), 1e-10);
      // inference: the running statistics, no batch statistics
      expectClose(m.predict(arr(net.X, net.shape)), arr(net.predict, [4, 10]), 1e-10);
    });
  }
});

describe("the functional API", () => {
  it("a MobileNetV2 block network's predict equals the chain of functional ops", () => {
    const { m } = mobilenet();
    const X = randn(3, 5, 8, 8, 4);
    const w = m.weights();
    // running statistics away from 0 and 1, so that inference mode shows
    for (const k of Object.keys(w)) {
      if (k.endsWith("moving_mean")) w[k] = randn(k.length, w[k].size);
      if (k.endsWith("moving_variance"))
        w[k] = new NDArray(
          randn(k.length + 1, w[k].size)
            .toFloat64Array()
            .map((v) => 0.5 + v * v),
          w[k].shape,
        );
    }
    m.setWeights(w);
    const bn = (v: NDArray, n: string) =>
      batch_norm(v, w[`${n}/gamma`], w[`${n}/beta`], {
        mean: w[`${n}/moving_mean`],
        variance: w[`${n}/moving_variance`],
      })[0];
    const zero = (k: number) => new NDArray(new Float64Array(k), [k]);
    const conv = (v: NDArray, n: string, hp: object) =>
      conv_forward(v, w[`${n}/W`], zero(w[`${n}/W`].shape[3]), { stride: 1, pad: 0, ...hp })[0];
    const block = (v: NDArray, [e, d, p]: string[], [b1, b2, b3]: string[], stride: number) => {
      let h = relu6(bn(conv(v, e, {}), b1))[0];
      h = relu6(bn(conv(h, d, { stride, pad: 1, groups: h.shape[3] }), b2))[0];
      return bn(conv(h, p, {}), b3);
    };
    const r = block(X, ["conv2d", "depthwiseConv2d", "conv2d_1"], ["batchNorm", "batchNorm_1", "batchNorm_2"], 1);
    const sum = new NDArray(
      X.toFloat64Array().map((v, i) => v + r.data[i]),
      X.shape,
    );
    const h = block(
      sum,
      ["conv2d_2", "depthwiseConv2d_1", "conv2d_3"],
      ["batchNorm_3", "batchNorm_4", "batchNorm_5"],
      2,
    );
    const expected = softmax(dense_forward(global_avg_pool(h)[0], w["dense/W"], w["dense/b"])[0]);
    expectClose(m.predict(X), expected, 1e-12);
  });

  it("sums the gradients of a value with several readers and of a layer applied twice (central differences)", () => {
    const x = input([5, 5, 2]);
    const c = layers.conv2d({ filters: 3, size: 3, pad: 1 }).apply(x);
    const gate = layers.dense({ units: 3 });
    // c read by relu, sigmoid and global pooling; the dense layer `gate` applied at two nodes
    const g1 = layers.sigmoid().apply(gate.apply(layers.globalAvgPool().apply(c)));
    const branch = layers.multiply().apply([layers.relu().apply(c), g1]);
    const g2 = gate.apply(layers.globalMaxPool().apply(branch));
    const sum = layers
      .add()
      .apply([
        layers.dense({ units: 4 }).apply(layers.globalAvgPool().apply(layers.sigmoid().apply(c))),
        layers.dense({ units: 4 }).apply(g2),
      ]);
    const m = model(x, layers.softmax().apply(sum), { seed: 3 });
    expect(Object.keys(m.weights())).toEqual([
      "conv2d/W",
      "conv2d/b",
      "dense/W",
      "dense/b",
      "dense_1/W",
      "dense_1/b",
      "dense_2/W",
      "dense_2/b",
    ]);
    const X = randn(7, 4, 5, 5, 2);
    const Y = [0, 3, 1, 2];
    const before = m.weights();
    // the loss with one weight moved by h from where the step started
    const loss = (k: string, j: number, h: number) => {
      const w = Object.fromEntries(Object.entries(before).map(([n, a]) => [n, new NDArray(a.data.slice(), a.shape)]));
      w[k].data[j] += h;
      m.setWeights(w);
      return m.evaluate(X, Y).loss;
    };
    // the gradient, read off one plain SGD step of lr 1
    m.fit(X, Y, { batchSize: 4, shuffle: false, optimizer: sgd({ lr: 1 }) });
    const after = m.weights();
    for (const k of Object.keys(before)) {
      for (let j = 0; j < before[k].size; j += 3) {
        const grad = before[k].data[j] - after[k].data[j];
        const fd = (loss(k, j, 1e-6) - loss(k, j, -1e-6)) / 2e-6;
        expect(Math.abs(grad - fd), `${k}[${j}]`).toBeLessThan(1e-7 * Math.max(1, Math.abs(fd)));
      }
    }
  });

  it("summary() shows the connections and counts trainable and non-trainable parameters apart", () => {
    const text = resnet().summary();
    expect(text).toMatch(/^Model: functional, input \(None, 8, 8, 3\)/);
    expect(text).toMatch(/\nadd \(add\) +\(None, 8, 8, 4\) +0 +batchNorm_2, relu\n/);
    expect(text).toMatch(/\nbatchNorm \(batchNorm\) +\(None, 8, 8, 4\) +16 +conv2d\n/);
    const [trainable, state] = [/Trainable params: (\d+)/, /Non-trainable params: (\d+)/].map((r) =>
      Number(text.match(r)![1]),
    );
    expect(state).toBe(2 * (4 + 4 + 4 + 6 + 6 + 6));
    expect(trainable).toBe(
      3 * 9 * 4 + 2 * 4 * 9 * 4 + 4 * 9 * 6 + 6 * 9 * 6 + 4 * 6 + 2 * (4 + 4 + 4 + 6 + 6 + 6) + 6 * 10 + 10,
    );
    expect(text).toContain(`Total params: ${trainable + state}`);
  });

  it("saves and loads parameters and running statistics under their names", () => {
    const m = resnet();
    m.fit(arr(fx.resnet.X, fx.resnet.shape), fx.resnet.labels, { batchSize: 4, optimizer: sgd({ lr: 0.1 }) });
    const bytes = m.save();
    const other = resnet();
    other.load(bytes);
    const [a, b] = [m.weights(), other.weights()];
    expect(Object.keys(b)).toContain("batchNorm_5/moving_variance");
    for (const k of Object.keys(a)) expect(Array.from(b[k].data)).toEqual(Array.from(a[k].data));
    const X = arr(fx.resnet.X, fx.resnet.shape);
    expect(Array.from(other.predict(X).data)).toEqual(Array.from(m.predict(X).data));
  });

  it("takes several inputs and gives several outputs (predictAll)", () => {
    const a = input([4]);
    const b = input([4]);
    const s = layers.add().apply([a, b]);
    const m = model([a, b], [layers.dense({ units: 2 }).apply(s), layers.concat().apply([a, s])]);
    const [A, B] = [randn(1, 3, 4), randn(2, 3, 4)];
    const [y1, y2] = m.predictAll([A, B]);
    const w = m.weights();
    const sum = new NDArray(
      A.toFloat64Array().map((v, i) => v + B.data[i]),
      [3, 4],
    );
    expectClose(y1, dense_forward(sum, w["dense/W"], w["dense/b"])[0], 1e-15);
    expect(y2.shape).toEqual([3, 8]);
    expect(y2.get(2, 5)).toBe(sum.get(2, 1));
    expect(() => m.predict(A)).toThrow(
      "predict: the model has 2 inputs and 2 outputs; predictAll() takes and gives a list",
    );
  });
});

describe("errors name the layer", () => {
  it("an unknown layer kind is an error, never the identity", () => {
    const bogus = { kind: "transformer" } as never;
    expect(() => sequential([4], [layers.dense({ units: 2 }), bogus])).toThrow(
      'sequential: layers[1] expects a layer (layers.conv2d(…), …) but got an unknown layer kind "transformer" (known: conv2d,',
    );
    const x = input([4]);
    const y = layers.dense({ units: 2 }).apply(x);
    const made = new SymbolicTensor({ spec: bogus, inputs: [y] }, null, "made by hand");
    expect(() => model(x, made)).toThrow(
      'model: node 1 expects a layer (layers.conv2d(…), …) but got an unknown layer kind "transformer"',
    );
  });

  it("graphs that do not fit", () => {
    const x = input([6, 6, 2]);
    const other = input([6, 6, 2]);
    const c = layers.conv2d({ filters: 3, size: 3 }).apply(x);
    expect(() => model(x, layers.add().apply([c, x]))).toThrow(
      "model: node 1 (add): inputs[1] expects inputs[0]'s shape [4,4,3] but gets [6,6,2]",
    );
    expect(() => model(x, layers.add().apply([x, other]))).toThrow(
      "model: outputs[0] depends on input input, which is not among the model's inputs",
    );
    expect(() => model(x, layers.add().apply(c))).toThrow("model: node 1 (add) expects at least 2 inputs but gets 1");
    expect(() => model(x, layers.relu().apply(layers.softmax().apply(c)))).toThrow(
      "model: node 1 (softmax) must be the last layer",
    );
    expect(() => model(c, c)).toThrow("model: inputs[0] expects an input(…) but got the output of a conv2d layer");
    expect(() => layers.relu().apply([1] as never)).toThrow("relu.apply: inputs[0] expects a value of the graph");
    expect(() => model(x, layers.batchNorm({ momentum: 2 }).apply(x))).toThrow(
      "model: node 0 (batchNorm): momentum expects a number in [0, 1] but got number 2",
    );
    expect(memory().arenaBytesInUse).toBe(0);
  });
});
