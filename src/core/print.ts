// numpy's default printing of float64 arrays (np.array2string with precision=8, floatmode='maxprec',
// linewidth=75, threshold=1000, edgeitems=3) and Python's repr() of a float.

import { cStrides } from "./layout.js";

const PRECISION = 8;
const LINE_WIDTH = 75;
const THRESHOLD = 1000;
const EDGE_ITEMS = 3;

/** Shortest round-trip decimal digits of |x| and the exponent of its first digit (x = d.ddd × 10^exp). */
function shortest(x: number): { digits: string; exp: number } {
  const [mant, e] = Math.abs(x).toExponential().split("e");
  return { digits: mant.replace(".", ""), exp: Number(e) };
}

function sign(x: number): string {
  return x < 0 || Object.is(x, -0) ? "-" : "";
}

/** Python's repr(float): shortest round-trip digits, positional when 1e-4 <= |x| < 1e16. */
export function pyRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x < 0 ? "-inf" : "inf";
  const { digits, exp } = shortest(x);
  if (x !== 0 && (exp < -4 || exp >= 16)) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign(x)}${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  const s = positional(x, Infinity);
  return s.endsWith(".") ? s + "0" : s;
}

/** Positional digits, shortest unique but at most `precision` after the point; trim '.' as numpy's dragon4. */
function positional(x: number, precision: number): string {
  const { digits, exp } = shortest(x);
  const fracLen = Math.max(0, digits.length - exp - 1);
  if (fracLen > precision) {
    const fixed = Math.abs(x).toFixed(precision).replace(/0+$/, "");
    return sign(x) + fixed;
  }
  let int: string;
  let frac: string;
  if (exp < 0) {
    int = "0";
    frac = "0".repeat(-exp - 1) + digits;
  } else if (digits.length > exp + 1) {
    int = digits.slice(0, exp + 1);
    frac = digits.slice(exp + 1);
  } else {
    int = digits + "0".repeat(exp + 1 - digits.length);
    frac = "";
  }
  if (x === 0) frac = "";
  return `${sign(x)}${int}.${frac}`;
}

/** Scientific mantissa (shortest, at most `precision` after the point) and exponent, e.g. ["-1.5", -5]. */
function scientific(x: number, precision: number): [string, number] {
  let { digits, exp } = shortest(x);
  if (digits.length - 1 > precision) {
    const [m, e] = Math.abs(x).toExponential(precision).split("e");
    digits = m.replace(".", "").replace(/0+$/, "");
    exp = Number(e);
  }
  if (x === 0) exp = 0;
  return [`${sign(x)}${digits[0]}.${digits.slice(1)}`, exp];
}

/** numpy's FloatingFormat: one formatter for all the (shown) elements, so decimal points align. */
function floatFormatter(values: number[]): (x: number) => string {
  const finite = values.filter(Number.isFinite);
  const nonZero = finite.filter((v) => v !== 0).map(Math.abs);
  let expFormat = false;
  if (nonZero.length > 0) {
    const max = Math.max(...nonZero);
    const min = Math.min(...nonZero);
    expFormat = max >= 1e8 || min < 1e-4 || max / min > 1e3;
  }
  let padLeft = 0;
  let padRight = 0;
  let body: (x: number) => string = (x) => String(x);
  if (finite.length > 0 && expFormat) {
    const parts = finite.map((v) => scientific(v, PRECISION));
    const precision = Math.max(...parts.map(([m]) => m.split(".")[1].length));
    const expSize = Math.max(2, ...parts.map(([, e]) => String(Math.abs(e)).length));
    padLeft = Math.max(...parts.map(([m]) => m.split(".")[0].length));
    padRight = expSize + 2 + precision;
    body = (x) => {
      const [m, e] = scientific(x, PRECISION);
      const [int, frac] = m.split(".");
      const es = `e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(expSize, "0")}`;
      return `${int.padStart(padLeft)}.${frac.padEnd(precision, "0")}${es}`;
    };
  } else if (finite.length > 0) {
    const parts = finite.map((v) => positional(v, PRECISION).split("."));
    padLeft = Math.max(...parts.map(([int]) => int.length));
    padRight = Math.max(...parts.map(([, frac]) => frac.length));
    body = (x) => {
      const [int, frac] = positional(x, PRECISION).split(".");
      return `${int.padStart(padLeft)}.${frac.padEnd(padRight)}`;
    };
  }
  if (finite.length !== values.length) {
    const negInf = values.some((v) => v === -Infinity);
    const offset = padRight + 1;
    padLeft = Math.max(padLeft, 3 - offset, 3 + (negInf ? 1 : 0) - offset);
  }
  return (x) => {
    if (Number.isFinite(x)) return body(x);
    const s = Number.isNaN(x) ? "nan" : x < 0 ? "-inf" : "inf";
    return s.padStart(padLeft + padRight + 1);
  };
}

/** What `formatArray` needs of an array: its shape and a C-order element getter. */
export interface Printable {
  readonly shape: readonly number[];
  readonly size: number;
  at(flatIndex: number): number;
}

/** numpy's str(array). */
export function formatArray(a: Printable): string {
  const { shape } = a;
  if (shape.length === 0) return pyRepr(a.at(0));
  if (a.size === 0) return "[]";
  const summarize = a.size > THRESHOLD;
  const strides = cStrides(shape);
  const shown = (axis: number): number[] => {
    const n = shape[axis];
    if (!summarize || n <= 2 * EDGE_ITEMS) return Array.from({ length: n }, (_, i) => i);
    return [0, 1, 2, n - 3, n - 2, n - 1];
  };
  const values: number[] = [];
  const collect = (axis: number, base: number): void => {
    for (const i of shown(axis)) {
      if (axis === shape.length - 1) values.push(a.at(base + i));
      else collect(axis + 1, base + i * strides[axis]);
    }
  };
  collect(0, 0);
  const fmt = floatFormatter(values);

  const extendLine = (s: string, line: string, word: string, width: number, indent: string): [string, string] => {
    if (line.length + word.length > width && line.length > indent.length) {
      s += line.trimEnd() + "\n";
      line = indent;
    }
    return [s, line + word];
  };
  const recurse = (axis: number, base: number, indent: string, width: number): string => {
    const n = shape[axis];
    const cut = summarize && n > 2 * EDGE_ITEMS;
    const items = cut ? [0, 1, 2, -1, n - 3, n - 2, n - 1] : Array.from({ length: n }, (_, i) => i);
    const nextIndent = indent + " ";
    let s = "";
    if (axis === shape.length - 1) {
      const elemWidth = width - 1;
      let line = indent;
      items.forEach((i, k) => {
        const word = i < 0 ? "..." : fmt(a.at(base + i));
        [s, line] = extendLine(s, line, word, elemWidth, indent);
        if (k < items.length - 1) line += " ";
      });
      s += line;
    } else {
      const sep = "\n".repeat(shape.length - axis - 1);
      items.forEach((i, k) => {
        const nested = i < 0 ? "..." : recurse(axis + 1, base + i * strides[axis], nextIndent, width - 1);
        s += indent + nested + (k < items.length - 1 ? sep : "");
      });
    }
    return "[" + s.slice(indent.length) + "]";
  };
  return recurse(0, 0, " ", LINE_WIDTH);
}
