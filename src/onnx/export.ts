// toOnnx: a convwasm model as an ONNX file (opset 17), so that a model built or trained here runs in
// onnxruntime or anywhere else. The file speaks ONNX's layouts: an image input [N, C, H, W], kernels
// [k, c/g, fh, fw]; a flatten of an image with more than one pixel is a Transpose to NHWC then a Flatten,
// so the dense layer after it keeps its weights as they are.
import { NDArray, describe, messageOf } from "../core/ndarray.js";
import { convArgs, poolArgs } from "../core/shapes.js";
import type { Model } from "../model/model.js";
import { convHp, fake, poolHp } from "../model/kinds.js";
import type { LayerSpec } from "../model/layers.js";
import { ioOf } from "./layout.js";
import { DT, encodeModel, type AttributeProto, type NodeProto, type TensorProto } from "./proto.js";

export interface ToOnnxOptions {
  /** The weights' and values' type: "f32" (default: what onnxruntime and most runtimes take) or "f64". */
  precision?: "f32" | "f64";
}

const OPSET = 17;

const ints = (name: string, v: number[]): AttributeProto => ({ name, type: 7, ints: v });
const int = (name: string, i: number): AttributeProto => ({ name, type: 2, i });
const float = (name: string, f: number): AttributeProto => ({ name, type: 1, f });

/**
 * toOnnx(model, { precision }) -> the bytes of an ONNX model of `model`: its inputs "input" (or
 * "input_i") and outputs "output" (or "output_i") with a dynamic batch, images in NCHW.
 */
export function toOnnx(model: Model, options?: ToOnnxOptions): Uint8Array {
  const fn = "toOnnx";
  if (model?.disposed === true) throw new Error(`${fn}: the model was disposed`);
  if (options !== undefined && (options === null || typeof options !== "object")) {
    throw new TypeError(`${fn}: options expects an object but got ${describe(options)}`);
  }
  let precision: unknown;
  try {
    ({ precision = "f32" } = { ...options });
  } catch (e) {
    throw new TypeError(`${fn}: reading options threw: ${messageOf(e)}`, { cause: e });
  }
  if (precision !== "f32" && precision !== "f64") {
    throw new TypeError(`${fn}: options.precision expects "f32" or "f64" but got ${describe(precision)}`);
  }
  const type = precision === "f32" ? DT.FLOAT : DT.DOUBLE;
  const g = model.graph();
  const weights = model.weights();
  const initializer: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  const names: string[] = [];
  const tensor = (name: string, a: NDArray | Float64Array, shape?: number[]): string => {
    const data = a instanceof NDArray ? a.toFloat64Array() : a;
    const raw =
      type === DT.FLOAT
        ? new Uint8Array(Float32Array.from(data).buffer)
        : new Uint8Array(Float64Array.from(data).buffer);
    initializer.push({ name, dims: shape ?? (a as NDArray).shape.slice(), dataType: type, rawData: raw });
    return name;
  };
  const int64s = (name: string, v: number[]) => {
    initializer.push({ name, dims: [v.length], dataType: DT.INT64, int64Data: v });
    return name;
  };
  const node = (opType: string, input: string[], output: string, attribute: AttributeProto[] = []) => {
    nodes.push({ opType, input, output: [output], name: `${opType}_${nodes.length}`, attribute });
    return output;
  };

  const inputs = g.shapes.slice(0, g.inputs).map((s, i) => {
    const name = g.inputs === 1 ? "input" : `input_${i}`;
    names.push(name);
    return ioOf(name, s);
  });
  for (const n of g.nodes) {
    const where = `${fn}: layer ${n.layer}`;
    const x = names[n.inputs[0]];
    const inShape = g.shapes[n.inputs[0]];
    const s = n.spec as LayerSpec;
    const w = (k: string) => weights[`${n.layer}/${k}`];
    const out = `${n.layer}_${n.output}`;
    let y: string;
    switch (s.kind) {
      case "conv2d":
      case "depthwiseConv2d":
      case "separableConv2d": {
        const depthwise = s.kind !== "conv2d";
        const W = depthwise ? (w("W") ?? w("depthwise_W")) : w("W");
        const groups = depthwise ? inShape[2] : (s.groups ?? 1);
        const { g: geo } = convArgs(
          where,
          fake([1, ...inShape]),
          fake([...W.shape]),
          fake([W.shape[3]]),
          convHp(s, groups),
        );
        const attrs = [
          ints("kernel_shape", [geo.fh, geo.fw]),
          ints("strides", [geo.sh, geo.sw]),
          ints("dilations", [geo.dh, geo.dw]),
          ints("pads", [geo.top, geo.left, geo.bottom, geo.right]),
          int("group", groups),
        ];
        const kernel = (a: NDArray) => a.transpose(3, 2, 0, 1);
        if (s.kind === "separableConv2d") {
          const d = node("Conv", [x, tensor(`${n.layer}/depthwise_W`, kernel(w("depthwise_W")))], `${out}_dw`, attrs);
          const pw = [d, tensor(`${n.layer}/pointwise_W`, kernel(w("pointwise_W")))];
          if (w("b")) pw.push(tensor(`${n.layer}/b`, w("b")));
          y = node("Conv", pw, out);
        } else {
          const ins = [x, tensor(`${n.layer}/W`, kernel(W))];
          if (w("b")) ins.push(tensor(`${n.layer}/b`, w("b")));
          y = node("Conv", ins, out, attrs);
        }
        break;
      }
      case "dense": {
        const ins = [x, tensor(`${n.layer}/W`, w("W"))];
        if (w("b")) ins.push(tensor(`${n.layer}/b`, w("b")));
        y = node("Gemm", ins, out);
        break;
      }
      case "batchNorm": {
        const p = ["gamma", "beta", "moving_mean", "moving_variance"].map((k) => tensor(`${n.layer}/${k}`, w(k)));
        y = node("BatchNormalization", [x, ...p], out, [
          float("epsilon", s.epsilon ?? 1e-5),
          float("momentum", 1 - (s.momentum ?? 0.1)),
        ]);
        break;
      }
      case "relu":
        y = node("Relu", [x], out);
        break;
      case "relu6":
      case "clip": {
        const c = s as { min?: number; max?: number };
        const [lo, hi] = s.kind === "relu6" ? [0, 6] : [c.min ?? -Infinity, c.max ?? Infinity];
        const bound = (v: number, k: string) => tensor(`${n.layer}/${k}`, Float64Array.of(v), []);
        y = node("Clip", [x, bound(lo, "min"), bound(hi, "max")], out);
        break;
      }
      case "leakyRelu":
        y = node("LeakyRelu", [x], out, [float("alpha", s.alpha ?? 0.01)]);
        break;
      case "sigmoid":
        y = node("Sigmoid", [x], out);
        break;
      case "hardSigmoid":
        y = node("HardSigmoid", [x], out, [float("alpha", s.alpha ?? 1 / 6), float("beta", s.beta ?? 0.5)]);
        break;
      case "hardSwish":
        y = node("HardSwish", [x], out);
        break;
      case "swish":
        y = node("Mul", [x, node("Sigmoid", [x], `${out}_sigmoid`)], out);
        break;
      case "maxPool":
      case "avgPool": {
        const hp = poolHp(s);
        const { g: geo } = poolArgs(where, fake([1, ...inShape]), hp);
        const attrs = [
          ints("kernel_shape", [geo.fh, geo.fw]),
          ints("strides", [geo.sh, geo.sw]),
          ints("pads", [geo.top, geo.left, geo.bottom, geo.right]),
          int("ceil_mode", hp.ceil_mode ? 1 : 0),
        ];
        if (s.kind === "avgPool") attrs.push(int("count_include_pad", hp.count_include_pad ? 1 : 0));
        y = node(s.kind === "maxPool" ? "MaxPool" : "AveragePool", [x], out, attrs);
        break;
      }
      case "globalAvgPool":
      case "globalMaxPool": {
        const p = node(s.kind === "globalAvgPool" ? "GlobalAveragePool" : "GlobalMaxPool", [x], `${out}_pooled`);
        y = node("Flatten", [p], out);
        break;
      }
      case "flatten": {
        // the library flattens NHWC: an image of more than one pixel goes to that order first
        const nhwc = inShape.length === 3 && inShape[0] * inShape[1] > 1;
        y = node("Flatten", [nhwc ? node("Transpose", [x], `${out}_nhwc`, [ints("perm", [0, 2, 3, 1])]) : x], out);
        break;
      }
      case "dropout":
        y = node("Identity", [x], out);
        break;
      case "zeroPadding2d": {
        const { g: geo } = convArgs(where, fake([1, ...inShape]), fake([1, 1, inShape[2], 1]), fake([1]), {
          stride: 1,
          pad: s.pad,
        });
        const pads = int64s(`${n.layer}/pads`, [0, 0, geo.top, geo.left, 0, 0, geo.bottom, geo.right]);
        y = node("Pad", [x, pads], out);
        break;
      }
      case "add":
        y = node(
          "Sum",
          n.inputs.map((v) => names[v]),
          out,
        );
        break;
      case "concat":
        y = node(
          "Concat",
          n.inputs.map((v) => names[v]),
          out,
          [int("axis", 1)],
        );
        break;
      case "multiply": {
        const gate = names[n.inputs[1]];
        const g4 =
          g.shapes[n.inputs[1]].length === 1
            ? node("Unsqueeze", [gate, int64s(`${n.layer}/axes`, [2, 3])], `${out}_gate`)
            : gate;
        y = node("Mul", [x, g4], out);
        break;
      }
      case "softmax":
        y = node("Softmax", [x], out, [int("axis", 1)]);
        break;
      default:
        throw new RangeError(`${where}: the layer kind ${(s as { kind: string }).kind} has no ONNX form`);
    }
    names[n.output] = y;
  }
  // the outputs under their own names
  const outputs = g.outputs.map((v, i) => {
    const name = g.outputs.length === 1 ? "output" : `output_${i}`;
    node("Identity", [names[v]], name);
    return ioOf(name, g.shapes[v]);
  });
  const info = (v: { name: string; shape: number[] }) => ({
    name: v.name,
    type: {
      tensorType: { elemType: type, shape: { dim: [{ dimParam: "N" }, ...v.shape.map((d) => ({ dimValue: d }))] } },
    },
  });
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "convwasm",
    graph: { name: "convwasm", node: nodes, initializer, input: inputs.map(info), output: outputs.map(info) },
  });
}
