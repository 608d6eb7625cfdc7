// The model's state and .npz under hostile use (issue 20): weight updates all or nothing, weights() handing
// out copies, fit checking everything before it trains, optimizer state per (optimizer, parameter), .npz
// members checked before they are inflated and headers parsed as numpy parses them, sizes checked before
// allocation, and every refusal named.
import { zipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { NDArray, adam, init, layers, readNpz, sequential, sgd, writeNpz, type LayerSpec } from "convwasm";
import { readFileSync } from "node:fs";
import { expectIdentical, fixture, randn } from "../helpers.js";

beforeAll(() => init({ threads: 1 }));

const small = (): LayerSpec[] => [
  layers.conv2d({ filters: 4, size: 3, pad: "same" }),
  layers.relu(),
  layers.maxPool({ f: 2 }),
  layers.flatten(),
  layers.dense({ units: 3 }),
  layers.softmax(),
];
const X = randn(1, 5, 6, 6, 1);
const labels = [0, 1, 2, 1, 0];

/** An .npy file of float64 zeros (n of them), its header dict given as text. */
function npyBytes(header: string, n: number, major = 1): Uint8Array {
  const pre = major === 1 ? 10 : 12;
  const text = header + " ".repeat(63 - ((pre + header.length) % 64)) + "\n";
  const out = new Uint8Array(pre + text.length + n * 8);
  out.set([0x93, 78, 85, 77, 80, 89, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  for (let i = 0; i < text.length; i++) out[pre + i] = text.charCodeAt(i);
  return out;
}
const npz = (files: Record<string, Uint8Array>, level: 0 | 6 = 0) => zipSync(files, { level });

describe("weight updates are all or nothing (issue 20, cases 3 and 4)", () => {
  it("a setWeights() with one bad array changes nothing: weights, predict and save as before", () => {
    const m = sequential([6, 6, 1], small(), { seed: 1 });
    const before = { P: m.predict(X), saved: m.save(), W: m.weights() };
    const ok = randn(2, 3, 3, 1, 4);
    expect(() => m.setWeights({ "conv2d/W": ok, "dense/W": randn(3, 2, 2) })).toThrow(
      "setWeights: dense/W expects shape [36,3] but got [2,2]",
    );
    expect(() => m.setWeights({ "conv2d/W": ok, "nope/W": ok })).toThrow(
      'setWeights: the model has no parameter "nope/W"',
    );
    expectIdentical(m.weights()["conv2d/W"], before.W["conv2d/W"]);
    expectIdentical(m.predict(X), before.P);
    expect(m.save()).toEqual(before.saved);
    // and a good one takes effect everywhere: predict (the packed cache) and save agree
    m.setWeights({ "conv2d/W": ok });
    const other = sequential([6, 6, 1], small(), { seed: 1 });
    other.load(m.save());
    expectIdentical(other.predict(X), m.predict(X));
  });

  it("a load() whose later member is bad, or which has an extra member, changes nothing", () => {
    const m = sequential([6, 6, 1], small(), { seed: 1 });
    const before = m.save();
    const donor = sequential([6, 6, 1], small(), { seed: 2 });
    const arrays = donor.weights();
    const bad = writeNpz({ ...arrays, "dense/W": randn(4, 36, 2) });
    expect(() => m.load(bad)).toThrow(/^load: dense\/W expects shape \[36,3\] but got \[36,2\]$/);
    expect(m.save()).toEqual(before);
    const extra = writeNpz({ ...arrays, "dense_9/W": randn(5, 2) });
    expect(() => m.load(extra)).toThrow(/^load: member "dense_9\/W.npy": is not one of the arrays expected/);
    expect(m.save()).toEqual(before);
    m.load(writeNpz(arrays));
    expectIdentical(m.predict(X), donor.predict(X));
  });

  it("weights() hands out copies: changing one changes nothing, and save() agrees with predict()", () => {
    const m = sequential([6, 6, 1], small(), { seed: 1 });
    const P = m.predict(X);
    const saved = m.save();
    m.weights()["dense/W"].data.fill(0);
    expectIdentical(m.predict(X), P);
    expect(m.save()).toEqual(saved);
    expect(m.weights()["dense/W"].data.some((v) => v !== 0)).toBe(true);
  });
});

describe("fit checks before it trains (issue 20, cases 12 and 13)", () => {
  it("refuses a bad validation set before any batch runs, and leaves the weights as they were", () => {
    const m = sequential([6, 6, 1], small(), { seed: 1 });
    const saved = m.save();
    let batches = 0;
    const onBatch = () => void batches++;
    expect(() => m.fit(X, labels, { validation: [randn(6, 2, 5, 5, 1), [0, 1]], onBatch })).toThrow(
      "fit: options.validation[0] expects shape [m,6,6,1] but got [2,5,5,1]",
    );
    expect(() => m.fit(X, labels, { validation: [randn(6, 2, 6, 6, 1), [0, 7]], onBatch })).toThrow(
      "fit: options.validation[1] expects class indices in 0..2 but got number 7 at 1",
    );
    expect(() => m.fit(X, labels, { validation: [X] as never, onBatch })).toThrow(
      "fit: options.validation expects [X, Y] but got a plain array of length 1",
    );
    expect(batches).toBe(0);
    expect(m.save()).toEqual(saved);
  });

  it("refuses an empty training set (no NaN loss), null options and callbacks that are not functions", () => {
    const m = sequential([6, 6, 1], small(), { seed: 1 });
    expect(() => m.fit(new NDArray(new Float64Array(0), [0, 6, 6, 1]), [])).toThrow(
      "fit: X expects at least one example but got shape [0,6,6,1]",
    );
    expect(() => m.fit(X, labels, null as never)).toThrow("fit: options expects an object but got null");
    expect(() => m.fit(X, labels, { onEpoch: 3 as never })).toThrow(
      "fit: options.onEpoch expects a function but got number 3",
    );
    expect(() => m.fit(X, labels, { optimizer: {} as never })).toThrow(
      "fit: options.optimizer expects sgd(…) or adam(…) but got an object",
    );
  });

  it("stops before the next batch when options.signal aborts, or when a callback throws", () => {
    const m = sequential([6, 6, 1], small(), { seed: 1 });
    const controller = new AbortController();
    let batches = 0;
    expect(() =>
      m.fit(X, labels, {
        epochs: 1000,
        batchSize: 1,
        signal: controller.signal,
        onBatch: () => void (++batches === 3 && controller.abort()),
      }),
    ).toThrow("fit: stopped by options.signal after 0 epochs");
    expect(batches).toBe(3);
    expect(() =>
      m.fit(X, labels, {
        epochs: 1e7,
        onEpoch: () => {
          throw new Error("enough");
        },
      }),
    ).toThrow("enough");
  });

  it("keeps one optimizer's state per parameter: a second model trained by the same adam() is as with a fresh one", () => {
    for (const make of [() => adam({ lr: 0.01 }), () => sgd({ lr: 0.1, momentum: 0.9 })]) {
      const shared = make();
      const a = sequential([6, 6, 1], small(), { seed: 1 });
      a.fit(X, labels, { optimizer: shared, epochs: 2, batchSize: 2 });
      // a model of other shapes: the old per-position state made its weights NaN
      const wide = [...small().slice(0, -2), layers.dense({ units: 7 }), layers.softmax()];
      const b = sequential([6, 6, 1], wide, { seed: 2 });
      const fresh = sequential([6, 6, 1], wide, { seed: 2 });
      b.fit(X, labels, { optimizer: shared, epochs: 2, batchSize: 2 });
      fresh.fit(X, labels, { optimizer: make(), epochs: 2, batchSize: 2 });
      for (const [k, w] of Object.entries(b.weights())) {
        expect(w.data.every(Number.isFinite), k).toBe(true);
        expectIdentical(w, fresh.weights()[k]);
      }
    }
  });

  it("checks optimizer hyperparameters", () => {
    expect(() => adam({ lr: NaN })).toThrow("adam: lr expects a finite number >= 0 but got number NaN");
    expect(() => adam({ lr: "0.1" as never })).toThrow("adam: lr expects a finite number >= 0 but got string 0.1");
    expect(() => adam({ beta1: 1 })).toThrow("adam: beta1 expects a finite number in [0, 1) but got number 1");
    expect(() => sgd({ momentum: -0.5 })).toThrow(
      "sgd: momentum expects a finite number in [0, 1) but got number -0.5",
    );
    expect(() => sgd(null as never)).toThrow("sgd: options expects an object but got null");
  });
});

describe("building, predicting, setting: every refusal named (issue 20, unclear errors and polish)", () => {
  it("checks sizes before allocating: a billion filters or a pad of a billion", () => {
    expect(() => sequential([28, 28, 1], [layers.conv2d({ filters: 1e9, size: 3 })])).toThrow(
      /^sequential: layers\[0\] \(conv2d\): \[3,3,1,1000000000\] makes 9000000000 parameters, more than WASM memory holds/,
    );
    expect(() => sequential([28, 28, 1], [layers.conv2d({ filters: 4, size: 3, pad: 1e9 })])).toThrow(
      /^sequential: layers\[0\] \(conv2d\): its output \[2000000026,2000000026,4\] has .* values an example, more than WASM memory holds/,
    );
    expect(() => sequential([4, 4, 1], [layers.conv2d({ filters: 2, size: 3, init: "bogus" as never })])).toThrow(
      'sequential: layers[0] (conv2d): init expects "he" or "glorot" but got string bogus',
    );
  });

  it("names null options and arrays, and a parameter named like an Object property", () => {
    const m = sequential([6, 6, 1], small(), { seed: 1 });
    expect(() => m.setWeights(null as never)).toThrow("setWeights: arrays expects an object but got null");
    expect(() => m.setWeights({ constructor: randn(1, 2) } as never)).toThrow(
      'setWeights: the model has no parameter "constructor" (it has conv2d/W, conv2d/b, dense/W, dense/b)',
    );
    expect(() => m.predict(X, null as never)).toThrow("predict: options expects an object but got null");
  });
});

describe(".npz files are hostile input (issue 20, cases 7 and 11)", () => {
  const model = () => sequential([6, 6, 1], small(), { seed: 1 });

  it("refuses a member larger than its parameter before inflating it (a bomb of zeros)", () => {
    const n = 2 << 20; // 16 MB of zeros, ~16 KB deflated
    const bomb = npz(
      { "conv2d/W.npy": npyBytes(`{'descr': '<f8', 'fortran_order': False, 'shape': (${n},), }`, n) },
      6,
    );
    expect(bomb.length).toBeLessThan(1 << 20);
    expect(() => model().load(bomb)).toThrow(
      /^load: member "conv2d\/W.npy": declares 16777344 bytes, more than an array of shape \[3,3,1,4\] needs$/,
    );
    // readNpz: against a ceiling, from the zip's directory
    expect(() => readNpz(bomb, { maxBytes: 1 << 20 })).toThrow(
      /^readNpz: member "conv2d\/W.npy": would inflate the file's arrays past options.maxBytes \(1048576 bytes; 16777344 declared\)$/,
    );
    expect(readNpz(bomb)["conv2d/W"].shape).toEqual([n]);
  });

  it("parses the header as the Python literal it is: numpy's three keys, a bool, a tuple of integers", () => {
    const read =
      (header: string, n = 6, major = 1) =>
      () =>
        readNpz(npz({ "a.npy": npyBytes(header, n, major) }));
    const good = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
    expect(read(good)()["a"].shape).toEqual([2, 3]);
    // a string value that mentions another key is only a string (and an unknown key is refused, as numpy does)
    expect(
      read("{'descr': '<f8', 'fortran_order': False, 'note': \"'fortran_order': True\", 'shape': (2, 3)}"),
    ).toThrow(
      /^readNpz: member "a.npy" is not an \.npy array convwasm can read \(header keys descr, fortran_order, note, shape; numpy's are descr, fortran_order, shape\)$/,
    );
    expect(read("{'descr': '<f8', 'fortran_order': 1, 'shape': (2, 3)}")).toThrow(
      /\(fortran_order 1; True or False expected\)$/,
    );
    expect(read("{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 3L)}")()["a"].shape).toEqual([2, 3]);
    expect(read("{'descr': '<f8', 'fortran_order': False, 'shape': (-3, -2)}", 0)).toThrow(
      /^readNpz: member "a.npy" .*\(shape \(-3, -2\): a dimension is not a size\)$/,
    );
    expect(read("{'descr': '<f8', 'fortran_order': False, 'shape': (nan,)}", 0)).toThrow(/an integer expected at/);
    expect(read("{'descr': '<f8', 'fortran_order': False, 'shape': (3e0,)}", 3)).toThrow(/"3e"… is not an integer/);
    expect(read("{'descr': '<f8', 'fortran_order': False, 'shape': (6)}")).toThrow(/\(shape 6; a tuple expected\)$/);
    expect(read("{'descr': '<c16', 'fortran_order': False, 'shape': (3,)}")).toThrow(
      /\(dtype "<c16"; a float \(16, 32, 64 bits\), an integer or a bool expected\)$/,
    );
    expect(read(good, 5)).toThrow(/needs 48 bytes of data but the member has 40\)$/);
    // versions: 2.0 and 3.0 as numpy writes them; 9 refused; a 3 MB header refused unread (numpy's limit)
    expect(read(good, 6, 2)()["a"].shape).toEqual([2, 3]);
    expect(read(good, 6, 9)).toThrow(/\(\.npy version 9\.0; numpy writes 1\.0, 2\.0, 3\.0\)$/);
    const huge = "{'descr': '<f8', 'fortran_order': False, 'shape': (6,), 'x': '" + "y".repeat(3 << 20) + "'}";
    expect(read(huge, 6, 2)).toThrow(/a header of 3145\d+ bytes, over numpy's limit of 10000\)$/);
  });

  it("reads float32 and float16 members widened, Fortran order transposed; names like __proto__ are plain names", () => {
    const f4 = npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 0);
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const f4file = new Uint8Array(f4.length + 24);
    f4file.set(f4);
    f4file.set(new Uint8Array(data.buffer), f4.length);
    const f2 = npyBytes("{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }", 0);
    const f2file = new Uint8Array(f2.length + 6);
    f2file.set(f2);
    f2file.set(new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3555]).buffer), f2.length);
    const arrays = readNpz(npz({ "__proto__.npy": f4file, "constructor.npy": f2file }));
    expect(Object.keys(arrays).sort()).toEqual(["__proto__", "constructor"]);
    expect(Array.from(arrays["__proto__"].toFloat64Array())).toEqual([1, 3, 5, 2, 4, 6]);
    expect(Array.from(arrays["constructor"].toFloat64Array())).toEqual([1, -2, 0.333251953125]);
  });

  it("reads numpy's own .npz of integers, bools, big-endian and Fortran-order members as float64", () => {
    const want = fixture<Record<string, { shape: number[]; values: number[] }>>("dtypes.json");
    const arrays = readNpz(readFileSync(new URL("../fixtures/dtypes.npz", import.meta.url)));
    expect(Object.keys(arrays).sort()).toEqual(Object.keys(want).sort());
    for (const [name, { shape, values }] of Object.entries(want)) {
      expect(arrays[name].shape, name).toEqual(shape);
      expect(Array.from(arrays[name].toFloat64Array()), name).toEqual(values);
    }
    // a 64-bit integer float64 cannot hold exactly is refused, naming the element
    const i8 = npyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 0);
    const file = new Uint8Array(i8.length + 16);
    file.set(i8);
    new DataView(file.buffer).setBigInt64(i8.length + 8, 2n ** 60n, true);
    expect(() => readNpz(npz({ "y.npy": file }))).toThrow(
      /^readNpz: member "y.npy" .*element 1 is 1152921504606846976, a 64-bit integer past 2\^53/,
    );
  });

  it("writes the same bytes for the same arrays (a fixed time stamp in the zip, not the clock)", () => {
    const bytes = writeNpz({ a: randn(7, 2, 3) });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    // the first local header's DOS time and date: 00:00:00 on 1980-01-01
    expect([view.getUint16(10, true), view.getUint16(12, true)]).toEqual([0, (0 << 9) | (1 << 5) | 1]);
  });

  it("names what is wrong with the file itself", () => {
    expect(() => readNpz(new Uint8Array([1, 2, 3]))).toThrow(/^readNpz: bytes is not an \.npz \(zip\) file/);
    expect(() => readNpz("x" as never)).toThrow(
      "readNpz: bytes expects the Uint8Array of an .npz file but got string x",
    );
    expect(() => readNpz(npz({}), { maxBytes: -1 })).toThrow(
      "readNpz: options.maxBytes expects a number of bytes >= 0",
    );
    expect(() => writeNpz({ a: [1, 2] as never })).toThrow("writeNpz: a expects an NDArray but got [1,2]");
  });
});

describe("dispose(): the model's memory freed at once, every later call refused by name", () => {
  it("refuses every method after dispose(), leaves other models working, and is idempotent", () => {
    const a = sequential([6, 6, 1], small(), { seed: 1 });
    const b = sequential([6, 6, 1], small(), { seed: 1 });
    const P = b.predict(X);
    a.predict(X, { precision: "f32" }); // (a second plan, freed too)
    expect(a.disposed).toBe(false);
    a.dispose();
    a.dispose();
    expect(a.disposed).toBe(true);
    const calls: [string, () => unknown][] = [
      ["predict", () => a.predict(X)],
      ["predictAll", () => a.predictAll([X])],
      ["evaluate", () => a.evaluate(X, labels)],
      ["fit", () => a.fit(X, labels)],
      ["summary", () => a.summary()],
      ["weights", () => a.weights()],
      ["setWeights", () => a.setWeights({})],
      ["save", () => a.save()],
      ["load", () => a.load(b.save())],
      ["compile", () => a.compile({ precision: "f32" })],
      ["graph", () => a.graph()],
      ["work", () => a.work],
    ];
    for (const [name, call] of calls) expect(call, name).toThrow(`${name}: this model was disposed`);
    expectIdentical(b.predict(X), P);
  });

  it("stops fit when a callback disposes the model, and refuses a call whose argument disposed it", () => {
    const m = sequential([6, 6, 1], small(), { seed: 1 });
    let batches = 0;
    const onBatch = () => {
      batches++;
      m.dispose();
    };
    expect(() => m.fit(X, labels, { epochs: 3, batchSize: 2, onBatch })).toThrow(
      "fit: the model was disposed during training",
    );
    expect(batches).toBe(1);
    const n = sequential([6, 6, 1], small(), { seed: 2 });
    const o = sequential([6, 6, 1], small(), { seed: 2 });
    expect(() => n.fit(X, labels, { epochs: 3, onEpoch: () => n.dispose() })).toThrow(
      "fit: the model was disposed during training",
    );
    // a getter of setWeights's argument that disposes the model: refused after reading, nothing written
    const W = o.weights();
    const sneaky = Object.defineProperty({}, "conv2d/W", {
      enumerable: true,
      get: () => (o.dispose(), W["conv2d/W"]),
    });
    expect(() => o.setWeights(sneaky)).toThrow("setWeights: this model was disposed");
  });
});
