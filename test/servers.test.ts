// Buffers for servers (issue 12): options.out on every op (written into a given NDArray of the result's
// shape, any view, and returned; a wrong shape or memory shared with an input is an error naming the op),
// float32 inputs widened, and the package loaded by CommonJS code.
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  NDArray,
  array,
  layers,
  sequential,
  conv_backward,
  conv_forward,
  dense_backward,
  dense_forward,
  init,
  memory,
  pool_backward,
  pool_forward,
  relu,
  relu_backward,
  softmax,
  softmax_cross_entropy,
  zero_pad,
  zeros,
} from "convwasm";
import { expectIdentical, randn, stridedCopy } from "./helpers.js";

beforeAll(() => init());

/** A zero array of `shape` seen through a transposed (strided) buffer. */
const strided = (shape: readonly number[]) => stridedCopy(zeros([...shape]));

describe("options.out", () => {
  it("every op fills a contiguous or a strided out and returns it, with the same values", () => {
    const A = randn(1, 2, 6, 6, 3);
    const W = randn(2, 3, 3, 3, 4);
    const b = randn(3, 4);
    const hp = { stride: 1, pad: 1 };
    const [Z, cache] = conv_forward(A, W, b, hp);
    const dZ = randn(4, ...Z.shape);
    const grads = conv_backward(dZ, cache);
    const [P, pcache] = pool_forward(A, { f: 2, stride: 2 });
    const X = randn(5, 7, 5);
    const [D, dcache] = dense_forward(X, randn(6, 5, 3), randn(7, 3));
    const dD = randn(8, 7, 3);
    const cases: [string, NDArray[], (outs: NDArray[]) => NDArray[]][] = [
      ["zero_pad", [zero_pad(A, 2)], ([o]) => [zero_pad(A, 2, { out: o })]],
      ["conv_forward", [Z], ([o]) => [conv_forward(A, W, b, hp, { out: o })[0]]],
      ["conv_backward", grads, (o) => conv_backward(dZ, cache, { out: [o[0], o[1], o[2]] })],
      ["pool_forward", [P], ([o]) => [pool_forward(A, { f: 2, stride: 2 }, "max", { out: o })[0]]],
      ["pool_backward", [pool_backward(P, pcache)], ([o]) => [pool_backward(P, pcache, "max", { out: o })]],
      ["relu", [relu(Z)[0]], ([o]) => [relu(Z, { out: o })[0]]],
      ["relu_backward", [relu_backward(dZ, Z)], ([o]) => [relu_backward(dZ, Z, { out: o })]],
      ["dense_forward", [D], ([o]) => [dense_forward(X, dcache[1], dcache[2], { out: o })[0]]],
      ["dense_backward", dense_backward(dD, dcache), (o) => dense_backward(dD, dcache, { out: [o[0], o[1], o[2]] })],
      ["softmax", [softmax(D)], ([o]) => [softmax(D, { out: o })]],
      [
        "softmax_cross_entropy",
        [softmax_cross_entropy(D, [0, 1, 2, 0, 1, 2, 0])[1]],
        ([o]) => [softmax_cross_entropy(D, [0, 1, 2, 0, 1, 2, 0], { out: o })[1]],
      ],
    ];
    for (const [name, expected, call] of cases) {
      for (const make of [(s: readonly number[]) => zeros([...s]), strided]) {
        const given = expected.map((e) => make(e.shape));
        const got = call(given);
        got.forEach((g, i) => {
          expect(g, name).toBe(given[i]);
          expectIdentical(g, expected[i]);
        });
      }
    }
    // some results in out, the others new
    const [dA, dW, db] = conv_backward(dZ, cache, { out: [zeros([2, 6, 6, 3])] });
    expectIdentical(dA, grads[0]);
    expectIdentical(dW, grads[1]);
    expectIdentical(db, grads[2]);
    expect(memory().arenaBytesInUse).toBe(0);
  });

  it("a wrong shape, or memory shared with an input, is an error naming the op", () => {
    const A = randn(1, 2, 6, 6, 3);
    expect(() => zero_pad(A, 1, { out: zeros([2, 8, 8, 2]) })).toThrow(
      "zero_pad: options.out expects X_pad's shape [2,8,8,3] but got [2,8,8,2]",
    );
    expect(() => relu(A, { out: A })).toThrow(
      "relu: options.out (A) shares memory with an input; write the result elsewhere",
    );
    const big = zeros([4, 6, 6, 3]);
    expect(() =>
      relu(big.index(0).reshape(1, 6, 6, 3), { out: new NDArray(big.data, [1, 6, 6, 3], undefined, 50) }),
    ).toThrow("relu: options.out (A) shares memory with an input");
    // disjoint parts of one buffer are fine
    expect(
      relu(new NDArray(big.data, [1, 6, 6, 3]), { out: new NDArray(big.data, [1, 6, 6, 3], undefined, 108) })[0].shape,
    ).toEqual([1, 6, 6, 3]);
    const [Z, cache] = conv_forward(A, randn(2, 3, 3, 3, 4), randn(3, 4), { stride: 1, pad: 1 });
    expect(() => conv_backward(Z, cache, { out: zeros([1]) as never })).toThrow(
      "conv_backward: options.out expects an array of up to three NDArrays (or undefined) but got an array of shape [1]",
    );
    expect(memory().arenaBytesInUse).toBe(0);
  });
});

describe("float32 inputs and CommonJS", () => {
  it("array() widens a Float32Array exactly (a copy), and a model predicts from flat float32 examples", async () => {
    const f32 = Float32Array.from([0.1, -2.5, 3e-8, 1e30]);
    const a = array(f32, [2, 2]);
    expect(Array.from(a.toFloat64Array())).toEqual(Array.from(f32));
    expect(a.data.buffer).not.toBe(f32.buffer);
    const model = sequential([4, 4, 1], [layers.flatten(), layers.dense({ units: 3 }), layers.softmax()], { seed: 2 });
    const X = Float32Array.from({ length: 5 * 16 }, (_, i) => Math.sin(i));
    expectIdentical(model.predict(X), model.predict(new NDArray(Float64Array.from(X), [5, 4, 4, 1])));
    expect(() => model.predict(new Float32Array(17))).toThrow(
      "predict: X expects whole examples of 16 values ([4,4,1]) but got 17",
    );
  });

  it("require('convwasm') works in CommonJS (Node's require of ES modules, from 20.19)", () => {
    const script = `const c = require("convwasm"); c.init({ threads: 1 }).then(() => {
      const [Z] = c.conv_forward(c.zeros([1, 3, 3, 1]), c.zeros([2, 2, 1, 1]), c.zeros([1]), { stride: 1, pad: 0 });
      console.log(Z.shape.join("x"), typeof require("convwasm/bench").bench); });`;
    const out = execFileSync(process.execPath, ["-e", script], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(out.trim()).toBe("1x2x2x1 function");
  });

  it("type-checks in TypeScript projects of every resolution: CommonJS node16, nodenext, bundler, ES node16", () => {
    const dir = mkdtempSync(join(tmpdir(), "convwasm-types-"));
    try {
      mkdirSync(join(dir, "node_modules"));
      symlinkSync(process.cwd(), join(dir, "node_modules", "convwasm"));
      writeFileSync(
        join(dir, "index.ts"),
        `import { init, zeros, type NDArray } from "convwasm";\nimport * as A from "convwasm/async";\n` +
          `export async function main(): Promise<NDArray> { await init(); await A.init(); return (await A.relu(zeros([1])))[0]; }\n`,
      );
      const tsc = join(process.cwd(), "node_modules", ".bin", "tsc");
      for (const [type, module, resolution] of [
        ["commonjs", "node16", "node16"],
        ["commonjs", "nodenext", "nodenext"],
        ["module", "esnext", "bundler"],
        ["module", "node16", "node16"],
      ]) {
        writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", type }));
        const compilerOptions = { module, moduleResolution: resolution, strict: true, noEmit: true, types: [] };
        writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["index.ts"] }));
        const run = () => execFileSync(tsc, ["-p", join(dir, "tsconfig.json")], { encoding: "utf8", stdio: "pipe" });
        expect(run, `${type} ${module}/${resolution}`).not.toThrow();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
