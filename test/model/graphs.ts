// Random graphs for the plan's tests (plan.test.ts against the ops, precision.test.ts f32 against f64):
// blocks of every layer kind, and BatchNorm statistics away from 0 and 1.
import fc from "fast-check";
import { NDArray, input, layers, model, type SymbolicTensor } from "convwasm";
import { randn } from "../helpers.js";

/** Running statistics away from 0 and 1, so that inference mode and folding show. */
export function randomStatistics(m: ReturnType<typeof model>, seed: number): void {
  const w = m.weights();
  let s = seed;
  for (const k of Object.keys(w)) {
    const n = w[k].size;
    if (k.endsWith("moving_mean")) w[k] = randn(s++, n);
    else if (k.endsWith("moving_variance"))
      w[k] = new NDArray(
        randn(s++, n).data.map((v) => 0.3 + v * v),
        [n],
      );
    else if (k.endsWith("gamma") || k.endsWith("beta")) w[k] = randn(s++, n);
  }
  m.setWeights(w);
}

export type Shape = [number, number, number];
/** A random block on x of shape [h, w, c] (r: the block's own draw): its output and the output's shape. */
export const BLOCKS: ((x: SymbolicTensor, s: Shape, r: number) => [SymbolicTensor, Shape] | null)[] = [
  (x, [h, w], r) => {
    const conv = layers.conv2d({ filters: 3 + (r % 7), size: 3, pad: 1, bias: r % 2 === 0 });
    return [layers.relu().apply(layers.batchNorm().apply(conv.apply(x))), [h, w, 3 + (r % 7)]];
  },
  (x, s) => [layers.add().apply([layers.batchNorm().apply(layers.conv2d({ filters: s[2], size: 1 }).apply(x)), x]), s],
  // 5×5 'same' (a plan takes Winograd F(2×2, 5×5) for it from 8 input and 16 output channels)
  (x, [h, w], r) => [
    layers.conv2d({ filters: 16 + 3 * (r % 4), size: 5, pad: "same" }).apply(x),
    [h, w, 16 + 3 * (r % 4)],
  ],
  (x, s) => [
    layers.relu6().apply(layers.batchNorm().apply(layers.depthwiseConv2d({ size: 3, pad: 1, bias: false }).apply(x))),
    s,
  ],
  (x, [h, w, c], r) => {
    const stride = 1 + (r % 2);
    const y = layers.depthwiseConv2d({ size: 3, pad: "same", multiplier: 2, stride }).apply(x);
    return [y, [Math.ceil(h / stride), Math.ceil(w / stride), 2 * c]];
  },
  (x, [h, w, c]) => [
    layers.conv2d({ filters: 2 * c, size: 3, pad: 1, groups: c % 2 === 0 ? 2 : 1 }).apply(x),
    [h, w, 2 * c],
  ],
  (x, [h, w], r) => [layers.separableConv2d({ filters: 5 + (r % 4), size: 3, pad: 1 }).apply(x), [h, w, 5 + (r % 4)]],
  (x, [h, w, c]) => [layers.concat().apply([x, layers.sigmoid().apply(x)]), [h, w, 2 * c]],
  // a fire module's end: convs that a plan lets write into the concat (whole blocks of channels), or not
  (x, [h, w], r) => {
    const k = [32, 5, 16][r % 3];
    const a = layers.conv2d({ filters: 16, size: 1 }).apply(x);
    const b = layers.relu().apply(layers.conv2d({ filters: k, size: 3, pad: 1 }).apply(x));
    return [layers.concat().apply(r % 2 ? [a, b] : [b, a]), [h, w, 16 + k]];
  },
  (x, s) => {
    const gate = layers.sigmoid().apply(layers.dense({ units: s[2] }).apply(layers.globalAvgPool().apply(x)));
    return [layers.multiply().apply([x, gate]), s];
  },
  (x, [h, w, c]) => (h > 1 && w > 1 ? [layers.maxPool({ f: 2, stride: 1 }).apply(x), [h - 1, w - 1, c]] : null),
  (x, s) => [layers.avgPool({ f: 3, stride: 1, pad: 1 }).apply(x), s],
  (x, [h, w, c]) => [
    layers
      .zeroPadding2d({
        pad: [
          [0, 1],
          [1, 0],
        ],
      })
      .apply(x),
    [h + 1, w + 1, c],
  ],
  (x, s, r) => {
    const acts = [
      layers.hardSwish(),
      layers.swish(),
      layers.leakyRelu({ alpha: 0.2 }),
      layers.clip({ min: -0.5, max: 0.7 }),
      layers.hardSigmoid(),
      layers.dropout({ rate: 0.5 }),
      layers.relu(),
    ];
    return [acts[r % acts.length].apply(x), s];
  },
  (x, s) => [layers.batchNorm().apply(x), s],
];

/** A draw of blocks: which block (an index of BLOCKS) and its own number, 1 to 6 of them. */
export const blockList = fc.array(
  fc.tuple(fc.integer({ min: 0, max: BLOCKS.length - 1 }), fc.integer({ min: 0, max: 99 })),
  { minLength: 1, maxLength: 6 },
);

/**
 * A model on [7, 6, c] of the blocks, then heads: softmax of a dense layer of the global (max or average)
 * pool, a dense layer of the flattened features, the logits, and with `features` the blocks' output itself.
 * Its BatchNorm statistics randomised.
 */
export function randomModel(blocks: [number, number][], c: number, max: boolean, features = false) {
  const x = input([7, 6, c]);
  let h: SymbolicTensor = x;
  let shape: Shape = [7, 6, c];
  for (const [b, r] of blocks) [h, shape] = BLOCKS[b](h, shape, r) ?? [h, shape];
  const pooled = (max ? layers.globalMaxPool() : layers.globalAvgPool()).apply(h);
  const logits = layers.dense({ units: 4 }).apply(pooled);
  const y = layers.softmax().apply(logits);
  const flat = layers.dense({ units: 3 }).apply(layers.flatten().apply(h));
  const m = model(x, features ? [y, flat, logits, h] : [y, flat, logits], { seed: blocks.length });
  randomStatistics(m, c);
  return m;
}
