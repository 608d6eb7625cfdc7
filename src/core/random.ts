// numpy's legacy RandomState stream: MT19937 seeded by init_genrand, 53-bit doubles, polar Box–Muller
// with a cached second value. seed(1) then randn(3) gives numpy's 1.6243453636632417, -0.611..., -0.528...
import { NDArray, fmtShape, sizeOf } from "./ndarray.js";

// Math.log is within 1 ulp but not always correctly rounded (V8's fdlibm port), and a 1-ulp log error
// can move a normal by 2 ulps; numpy's C log is correctly rounded in practice. So log here is computed in
// double-double: log(m * 2^k) = k ln2 + 2 atanh((m - 1) / (m + 1)), m in [sqrt(1/2), sqrt(2)).
const LN2_HI = 0.6931471805599453;
const LN2_LO = 2.3190468138462996e-17;
const TWO_THIRDS_HI = 2 / 3;
const TWO_THIRDS_LO = 3.700743415417188e-17;
const SPLIT = 134217729; // 2^27 + 1, Dekker's splitter

function twoProd(a: number, b: number): [number, number] {
  const p = a * b;
  const ca = SPLIT * a;
  const ah = ca - (ca - a);
  const al = a - ah;
  const cb = SPLIT * b;
  const bh = cb - (cb - b);
  const bl = b - bh;
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}

function twoSum(a: number, b: number): [number, number] {
  const s = a + b;
  const v = s - a;
  return [s, a - (s - v) + (b - v)];
}

/** Natural log of a positive normal double, correctly rounded but for the rarest ties. */
export function log(x: number): number {
  let k = Math.floor(Math.log2(x));
  let m = x / 2 ** k;
  if (m > Math.SQRT2) {
    m /= 2;
    k++;
  } else if (m < Math.SQRT1_2) {
    m *= 2;
    k--;
  }
  const num = m - 1; // exact (Sterbenz)
  const [dh, dl] = twoSum(m, 1);
  const sh = num / dh;
  const [p, e] = twoProd(sh, dh);
  const sl = (num - p - e - sh * dl) / dh;
  // 2 atanh(s) = 2s + (2/3)s^3 + (2/5)s^5 + ...: the first two terms in double-double, the rest
  // (< 0.04% of s) in doubles
  const [th, t0] = twoProd(sh, sh);
  const tl = t0 + 2 * sh * sl;
  const [u, u0] = twoProd(sh, th);
  const ul = u0 + sh * tl + sl * th;
  const [v, v0] = twoProd(TWO_THIRDS_HI, u);
  const vl = v0 + TWO_THIRDS_HI * ul + TWO_THIRDS_LO * u;
  let poly = 0;
  for (let n = 41; n >= 5; n -= 2) poly = poly * th + 2 / n;
  const rest = u * th * poly;
  // k ln2 + 2s + (2/3)s^3 + rest, summed in double-double, largest terms first
  const [a0, a1] = twoProd(k, LN2_HI);
  const [b0, b1] = twoSum(a0, 2 * sh);
  const [c0, c1] = twoSum(b0, v);
  const [d0, d1] = twoSum(c0, rest);
  return d0 + (a1 + k * LN2_LO + 2 * sl + vl + b1 + c1 + d1);
}

const N = 624;
const M = 397;

export class RandomState {
  private readonly mt = new Uint32Array(N);
  private mti = N;
  private gauss: number | null = null;

  constructor(seed = 0) {
    this.seed(seed);
  }

  /** Reseeds as np.random.seed(s): an integer 0 <= s < 2**32. */
  seed(s: number): void {
    if (!Number.isInteger(s) || s < 0 || s > 0xffffffff) {
      throw new RangeError(`seed: expects an integer in [0, 2**32) but got ${s}`);
    }
    const mt = this.mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < N; i++) {
      mt[i] = Math.imul(1812433253, mt[i - 1] ^ (mt[i - 1] >>> 30)) + i;
    }
    this.mti = N;
    this.gauss = null;
  }

  private next32(): number {
    const mt = this.mt;
    if (this.mti >= N) {
      for (let k = 0; k < N; k++) {
        const y = (mt[k] & 0x80000000) | (mt[(k + 1) % N] & 0x7fffffff);
        mt[k] = mt[(k + M) % N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.mti = 0;
    }
    let y = mt[this.mti++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A uniform double in [0, 1) with 53 random bits, as numpy's random_sample. */
  random(): number {
    const a = this.next32() >>> 5;
    const b = this.next32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /**
   * A random permutation of 0..n−1, as numpy's RandomState.permutation(n): Fisher–Yates from the top, each
   * index drawn by random_interval (32-bit draws masked to the next power of two, rejected above it).
   */
  permutation(n: number): Int32Array {
    if (!Number.isSafeInteger(n) || n < 0 || n > 0x7fffffff) {
      throw new RangeError(`permutation: n expects an integer in [0, 2**31) but got ${n}`);
    }
    const a = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      let mask = i;
      mask |= mask >>> 1;
      mask |= mask >>> 2;
      mask |= mask >>> 4;
      mask |= mask >>> 8;
      mask |= mask >>> 16;
      let j: number;
      do j = (this.next32() & mask) >>> 0;
      while (j > i);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }

  /** One standard normal value, as numpy's legacy_gauss. */
  standardNormal(): number {
    if (this.gauss !== null) {
      const g = this.gauss;
      this.gauss = null;
      return g;
    }
    let x1: number;
    let x2: number;
    let r2: number;
    do {
      x1 = 2 * this.random() - 1;
      x2 = 2 * this.random() - 1;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1 || r2 === 0);
    const f = Math.sqrt((-2 * log(r2)) / r2);
    this.gauss = f * x1;
    return f * x2;
  }

  /** randn(d0, d1, ...): an array of standard normals in C order; randn() gives one number. */
  randn(): number;
  randn(...shape: number[]): NDArray;
  randn(...shape: number[]): NDArray | number {
    if (shape.length === 0) return this.standardNormal();
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new RangeError(`randn: dimensions expect integers >= 0 but got ${fmtShape(shape)}`);
    }
    const data = new Float64Array(sizeOf(shape));
    for (let i = 0; i < data.length; i++) data[i] = this.standardNormal();
    return new NDArray(data, shape);
  }
}

const global = new RandomState(0);

/** The module-level generator, as numpy's np.random: random.seed(1); random.randn(4, 3). */
export const random = {
  seed: (s: number): void => global.seed(s),
  randn: ((...shape: number[]) => global.randn(...shape)) as RandomState["randn"],
};
