// loadOnnx (issue 22): models exported by torch.onnx.export, against PyTorch float64's outputs
// (scripts/fixtures_onnx.py writes test/fixtures/onnx/).
import { beforeAll, describe, expect, it } from "vitest";
import { NDArray, init } from "convwasm";
import { loadOnnx } from "convwasm/onnx";
import { fill, onnxBytes, onnxFixture, onnxInput } from "./onnx-fixtures.js";
import { fixture } from "./helpers.js";

beforeAll(() => init());

/** The largest difference relative to the expected output's largest magnitude. */
function relErr(got: NDArray, want: ArrayLike<number>): number {
  const g = got.toFloat64Array();
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(g[i] - want[i]));
  return err / scale;
}

describe("loadOnnx: torchvision's models and the digits network", () => {
  for (const name of ["digits", "squeezenet1_1", "resnet18", "mobilenet_v2"]) {
    for (const precision of ["f64", "f32"] as const) {
      it(`${name} (${precision} export) gives torch float64's outputs`, () => {
        const f = onnxFixture(name);
        const m = loadOnnx(onnxBytes(f.files[precision].file));
        const y = m.predict(onnxInput(f));
        expect(y.shape).toEqual(f.output);
        const err = relErr(y, f.y);
        expect(err).toBeLessThan(precision === "f64" ? 1e-9 : 1e-5);
      });
    }
  }
});

describe("loadOnnx: one small model per op and attribute", () => {
  const cases = fixture<
    Record<string, { onnx: string; input: number[]; scale: number; output: number[]; y: number[]; ops: string[] }>
  >("onnx/ops.json");
  for (const [name, c] of Object.entries(cases)) {
    it(`${name} (${c.ops.join(", ")})`, () => {
      const m = loadOnnx(Buffer.from(c.onnx, "base64"));
      const n = c.input.reduce((a, b) => a * b, 1);
      const x = new NDArray(fill("input", n, -1, 1).map((v) => v * c.scale), c.input);
      const y = m.predict(x);
      expect(y.shape).toEqual(c.output);
      expect(relErr(y, c.y)).toBeLessThan(1e-12);
    });
  }
});
