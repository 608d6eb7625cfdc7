// convwasm/onnx: models from ONNX files (PyTorch's torch.onnx.export, and any other exporter) as convwasm
// models. protobufjs decodes the file; the import (import.ts) maps the graph onto convwasm's layers.
export { loadOnnx, OnnxModel } from "./model.js";
export type { LoadOnnxOptions, OnnxPredictOptions } from "./model.js";
export { SUPPORTED as ONNX_OPS } from "./import.js";
export { toOnnx } from "./export.js";
export type { ToOnnxOptions } from "./export.js";
