// Shared test helpers: fixtures (numpy's golden values), closeness, random arrays.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { afterAll, beforeAll, expect } from "vitest";
import { NDArray, RandomState } from "convwasm";
import { limits, tuning } from "convwasm/internal";

export type Encoded = (number | "nan" | "inf" | "-inf")[];

/** The path of a file the package exports, e.g. "convwasm.wasm" (resolved as a user's import would be). */
export function packageFile(name: string): string {
  return createRequire(import.meta.url).resolve(`convwasm/${name}`);
}

/** A JSON fixture written by scripts/fixtures.py. */
export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as T;
}

/** Decodes a fixture's flat list (non-finite values are strings) into an array of the given shape. */
export function decode(values: Encoded, shape: number[]): NDArray {
  const v = values.map((x) => (x === "nan" ? NaN : x === "inf" ? Infinity : x === "-inf" ? -Infinity : x));
  return new NDArray(Float64Array.from(v), shape);
}

/**
 * Every element within `rtol` of the expected one, relative to the larger of its own magnitude and the
 * array's (sums that cancel to near zero carry the rounding of their larger terms). Same shape, and
 * NaN / ±Inf exactly where expected.
 */
export function expectClose(actual: NDArray, expected: NDArray, rtol = 1e-10, atol = 0): void {
  expect(actual.shape).toEqual(expected.shape);
  const a = actual.toFloat64Array();
  const e = expected.toFloat64Array();
  let scale = 0;
  for (const v of e) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < e.length; i++) {
    if (!Number.isFinite(e[i]) || !Number.isFinite(a[i])) {
      if (!Object.is(a[i], e[i])) expect.fail(`element ${i}: got ${a[i]}, expected ${e[i]}`);
      continue;
    }
    const tol = Math.max(rtol * Math.max(Math.abs(e[i]), scale), atol);
    if (!(Math.abs(a[i] - e[i]) <= tol)) expect.fail(`element ${i}: got ${a[i]}, expected ${e[i]} (tolerance ${tol})`);
  }
}

/** Bitwise-identical elements (NaN equal to NaN). */
export function expectIdentical(actual: NDArray, expected: NDArray): void {
  expect(actual.shape).toEqual(expected.shape);
  expect(Array.from(actual.toFloat64Array())).toEqual(Array.from(expected.toFloat64Array()));
}

/** A standard-normal array from a seeded numpy-compatible generator. */
export function randn(seed: number, ...shape: number[]): NDArray {
  return new RandomState(seed).randn(...shape);
}

/** The same values as `a`, held in a transposed buffer and seen through a strided view. */
export function stridedCopy(a: NDArray): NDArray {
  const axes = a.shape.map((_, d) => a.ndim - 1 - d);
  const reversed = new NDArray(
    a.transpose(...axes).toFloat64Array(),
    axes.map((d) => a.shape[d]),
  );
  return reversed.transpose(...axes);
}

/** Sum of elementwise products, the scalar loss whose gradient a backward op returns. */
export function dot(a: NDArray, b: NDArray): number {
  const x = a.toFloat64Array();
  const y = b.toFloat64Array();
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

/**
 * For the calling file's tests, calls share out to the pool from 1/32 of the default work (which is set
 * for helpers woken from sleep), so that layers small enough to test quickly still exercise the pool.
 */
export function shareSmallCalls(): void {
  beforeAll(() => {
    tuning.minWorkScale = 1 / 32;
    // (3 threads on these 2 cores: uneven splits, which the library otherwise caps away)
    limits.threadsBeyondCores = true;
  });
  afterAll(() => {
    tuning.minWorkScale = 1;
    limits.threadsBeyondCores = false;
  });
}
