// The small ResNet of ../shared/workloads.json (resnet_digits), written with the functional API: a stem
// conv + BatchNorm + ReLU, an identity block at 12 channels, convolutional blocks at 24 and 48 channels
// with stride 2 and a 1×1 shortcut, global average pooling, dense 10 (44,014 trainable parameters).
// example:resnet trains it; bench/model.ts times its training step and predict.
import { input, layers, model, type SymbolicTensor } from "convwasm";

/** conv (no bias: BatchNorm's beta is the bias) → BatchNorm (→ ReLU); padded as PyTorch's padding=1. */
function convBn(x: SymbolicTensor, filters: number, size: number, stride = 1, relu = true): SymbolicTensor {
  const c = layers.conv2d({ filters, size, stride, pad: size === 3 ? 1 : 0, bias: false, init: "he" }).apply(x);
  const b = layers.batchNorm({ momentum: 0.1, epsilon: 1e-5 }).apply(c);
  return relu ? layers.relu().apply(b) : b;
}

/** conv3×3 → BN → ReLU → conv3×3 → BN, plus the shortcut (a 1×1 conv + BN where the shape changes), ReLU. */
function block(x: SymbolicTensor, filters: number, stride: number, project: boolean): SymbolicTensor {
  const main = convBn(convBn(x, filters, 3, stride), filters, 3, 1, false);
  const shortcut = project ? convBn(x, filters, 1, stride, false) : x;
  return layers.relu().apply(layers.add().apply([main, shortcut]));
}

/** The graph: its input, its output, and the stem's and each block's output (the web page shows them). */
export function resnetGraph(): { x: SymbolicTensor; y: SymbolicTensor; stages: SymbolicTensor[] } {
  const x = input([28, 28, 1]);
  const stages = [convBn(x, 12, 3)];
  for (const [filters, stride] of [
    [12, 1],
    [24, 2],
    [48, 2],
  ])
    stages.push(block(stages[stages.length - 1], filters, stride, stride !== 1));
  const h = stages[stages.length - 1];
  const y = layers.softmax().apply(layers.dense({ units: 10 }).apply(layers.globalAvgPool().apply(h)));
  return { x, y, stages };
}

/** The network, initialised from `seed`. */
export function resnetDigits(seed = 1) {
  const { x, y } = resnetGraph();
  return model(x, y, { seed });
}
