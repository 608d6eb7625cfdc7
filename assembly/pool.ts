// pool_forward / pool_backward ("max" and "average") on raw NHWC memory. Padding is the caller's: it
// places the input padded (−∞ for max, so padding never wins; 0 for average) and gives the average
// kernels each window's divisor as the product of a row factor and a column factor.
// Channels are contiguous in NHWC, so the fast path (sx3 == 1) works on a vector of channels (2 f64, or
// 4 f32 in the *_f32 twins), four vectors at a time where it can. f64x2.max is a NaN-safe instruction sequence on x86; pmax is one instruction, so
// NaNs are tracked on the side (v != v) and put back at the end: the result is np.max's. Of equal values
// the last in window order (row by row) is kept, as np.max keeps it: so a window of zeros gives the sign
// of its last zero, in vector and scalar lanes alike (pmax(v, m) = v < m ? m : v).
import { at, atT, block, bytes, bytesT, lanes, vadd, vdiv, vne, vpmax, vsplat } from "./mem";

const ONE2 = f64x2.splat(1);

/** np.max over the fh×fw window of one vector of channels at p (element strides sx1, sx2): NaN if any is NaN. */
function windowMaxV<T>(p: usize, fh: i32, fw: i32, sx1: i32, sx2: i32): v128 {
  let m = v128.load(p);
  let nan = vne<T>(m, m);
  for (let kh = 0; kh < fh; kh++) {
    let q = atT<T>(p, kh * sx1);
    for (let kw = 0; kw < fw; kw++) {
      const v = v128.load(q);
      m = vpmax<T>(v, m);
      nan = v128.or(nan, vne<T>(v, v));
      q += bytesT<T>(sx2);
    }
  }
  return v128.bitselect(vsplat<T>(NaN), m, nan);
}

/**
 * np.max over the fh×fw window of one channel at p (the last of equal values kept, as in the vector
 * lanes) and NaN if any is NaN.
 */
function windowMax1<T>(p: usize, fh: i32, fw: i32, sx1: i32, sx2: i32): T {
  let m = load<T>(p);
  for (let kh = 0; kh < fh; kh++) {
    for (let kw = 0; kw < fw; kw++) {
      const v = load<T>(atT<T>(p, kh * sx1 + kw * sx2));
      m = v >= m || v != v ? v : m;
    }
  }
  return m;
}

/**
 * A[i,oh,ow,ch] = max of x[i, oh*sh:oh*sh+fh, ow*sw:ow*sw+fw, ch] (NaN if the window holds one, as np.max)
 * for images i0..i1. x [m,h,w,c] through element strides sx0..sx3; y [m,nH,nW,c] C-contiguous.
 */
function poolForwardMax<T>(
  x: usize,
  sx0: i32,
  sx1: i32,
  sx2: i32,
  sx3: i32,
  c: i32,
  fh: i32,
  fw: i32,
  sh: i32,
  sw: i32,
  y: usize,
  nH: i32,
  nW: i32,
  i0: i32,
  i1: i32,
): void {
  const vec = sx3 == 1 ? c & ~(lanes<T>() - 1) : 0; // channels handled two at a time
  const step = bytesT<T>(sx2);
  const nan = vsplat<T>(NaN);
  for (let i = i0; i < i1; i++) {
    for (let oh = 0; oh < nH; oh++) {
      for (let ow = 0; ow < nW; ow++) {
        const corner = atT<T>(x, i * sx0 + oh * sh * sx1 + ow * sw * sx2);
        const yr = atT<T>(y, ((i * nH + oh) * nW + ow) * c);
        let ch = 0;
        for (; ch + block<T>() <= vec; ch += block<T>()) {
          // 8 channels per pass over the window: four independent max chains
          const p = atT<T>(corner, ch);
          let m0 = v128.load(p);
          let m1 = v128.load(p, 16);
          let m2 = v128.load(p, 32);
          let m3 = v128.load(p, 48);
          let n0 = vne<T>(m0, m0);
          let n1 = vne<T>(m1, m1);
          let n2 = vne<T>(m2, m2);
          let n3 = vne<T>(m3, m3);
          for (let kh = 0; kh < fh; kh++) {
            let q = atT<T>(p, kh * sx1);
            for (let kw = 0; kw < fw; kw++) {
              const v0 = v128.load(q);
              const v1 = v128.load(q, 16);
              const v2 = v128.load(q, 32);
              const v3 = v128.load(q, 48);
              m0 = vpmax<T>(v0, m0);
              m1 = vpmax<T>(v1, m1);
              m2 = vpmax<T>(v2, m2);
              m3 = vpmax<T>(v3, m3);
              n0 = v128.or(n0, vne<T>(v0, v0));
              n1 = v128.or(n1, vne<T>(v1, v1));
              n2 = v128.or(n2, vne<T>(v2, v2));
              n3 = v128.or(n3, vne<T>(v3, v3));
              q += step;
            }
          }
          const o = atT<T>(yr, ch);
          v128.store(o, v128.bitselect(nan, m0, n0));
          v128.store(o, v128.bitselect(nan, m1, n1), 16);
          v128.store(o, v128.bitselect(nan, m2, n2), 32);
          v128.store(o, v128.bitselect(nan, m3, n3), 48);
        }
        for (; ch < vec; ch += lanes<T>()) {
          v128.store(atT<T>(yr, ch), windowMaxV<T>(atT<T>(corner, ch), fh, fw, sx1, sx2));
        }
        for (; ch < c; ch++) {
          store<T>(atT<T>(yr, ch), windowMax1<T>(atT<T>(corner, ch * sx3), fh, fw, sx1, sx2));
        }
      }
    }
  }
}

export function pool_forward_max(
  x: usize,
  sx0: i32,
  sx1: i32,
  sx2: i32,
  sx3: i32,
  c: i32,
  fh: i32,
  fw: i32,
  sh: i32,
  sw: i32,
  y: usize,
  nH: i32,
  nW: i32,
  i0: i32,
  i1: i32,
): void {
  poolForwardMax<f64>(x, sx0, sx1, sx2, sx3, c, fh, fw, sh, sw, y, nH, nW, i0, i1);
}

export function pool_forward_max_f32(
  x: usize,
  sx0: i32,
  sx1: i32,
  sx2: i32,
  sx3: i32,
  c: i32,
  fh: i32,
  fw: i32,
  sh: i32,
  sw: i32,
  y: usize,
  nH: i32,
  nW: i32,
  i0: i32,
  i1: i32,
): void {
  poolForwardMax<f32>(x, sx0, sx1, sx2, sx3, c, fh, fw, sh, sw, y, nH, nW, i0, i1);
}

/**
 * As pool_forward_max, with the window's sum divided by divH[oh] * divW[ow] (fh*fw without padding: the
 * mean, as np.mean) instead of its max.
 */
function poolForwardAverage<T>(
  x: usize,
  sx0: i32,
  sx1: i32,
  sx2: i32,
  sx3: i32,
  c: i32,
  fh: i32,
  fw: i32,
  sh: i32,
  sw: i32,
  y: usize,
  nH: i32,
  nW: i32,
  i0: i32,
  i1: i32,
  divH: usize,
  divW: usize,
): void {
  const vec = sx3 == 1 ? c & ~(lanes<T>() - 1) : 0;
  const step = bytesT<T>(sx2);
  for (let i = i0; i < i1; i++) {
    for (let oh = 0; oh < nH; oh++) {
      for (let ow = 0; ow < nW; ow++) {
        const n = load<f64>(at(divH, oh)) * load<f64>(at(divW, ow));
        const nv = vsplat<T>(n);
        const corner = atT<T>(x, i * sx0 + oh * sh * sx1 + ow * sw * sx2);
        const yr = atT<T>(y, ((i * nH + oh) * nW + ow) * c);
        let ch = 0;
        for (; ch + block<T>() <= vec; ch += block<T>()) {
          const p = atT<T>(corner, ch);
          let s0 = vsplat<T>(0);
          let s1 = vsplat<T>(0);
          let s2 = vsplat<T>(0);
          let s3 = vsplat<T>(0);
          for (let kh = 0; kh < fh; kh++) {
            let q = atT<T>(p, kh * sx1);
            for (let kw = 0; kw < fw; kw++) {
              s0 = vadd<T>(s0, v128.load(q));
              s1 = vadd<T>(s1, v128.load(q, 16));
              s2 = vadd<T>(s2, v128.load(q, 32));
              s3 = vadd<T>(s3, v128.load(q, 48));
              q += step;
            }
          }
          const o = atT<T>(yr, ch);
          v128.store(o, vdiv<T>(s0, nv));
          v128.store(o, vdiv<T>(s1, nv), 16);
          v128.store(o, vdiv<T>(s2, nv), 32);
          v128.store(o, vdiv<T>(s3, nv), 48);
        }
        for (; ch < vec; ch += lanes<T>()) {
          const p = atT<T>(corner, ch);
          let s = vsplat<T>(0);
          for (let kh = 0; kh < fh; kh++) {
            let q = atT<T>(p, kh * sx1);
            for (let kw = 0; kw < fw; kw++) {
              s = vadd<T>(s, v128.load(q));
              q += step;
            }
          }
          v128.store(atT<T>(yr, ch), vdiv<T>(s, nv));
        }
        for (; ch < c; ch++) {
          const p = atT<T>(corner, ch * sx3);
          let s: f64 = 0;
          for (let kh = 0; kh < fh; kh++) {
            for (let kw = 0; kw < fw; kw++) {
              s += load<T>(atT<T>(p, kh * sx1 + kw * sx2));
            }
          }
          store<T>(atT<T>(yr, ch), <T>(s / n));
        }
      }
    }
  }
}

export function pool_forward_average(
  x: usize,
  sx0: i32,
  sx1: i32,
  sx2: i32,
  sx3: i32,
  c: i32,
  fh: i32,
  fw: i32,
  sh: i32,
  sw: i32,
  y: usize,
  nH: i32,
  nW: i32,
  i0: i32,
  i1: i32,
  divH: usize,
  divW: usize,
): void {
  poolForwardAverage<f64>(x, sx0, sx1, sx2, sx3, c, fh, fw, sh, sw, y, nH, nW, i0, i1, divH, divW);
}

export function pool_forward_average_f32(
  x: usize,
  sx0: i32,
  sx1: i32,
  sx2: i32,
  sx3: i32,
  c: i32,
  fh: i32,
  fw: i32,
  sh: i32,
  sw: i32,
  y: usize,
  nH: i32,
  nW: i32,
  i0: i32,
  i1: i32,
  divH: usize,
  divW: usize,
): void {
  poolForwardAverage<f32>(x, sx0, sx1, sx2, sx3, c, fh, fw, sh, sw, y, nH, nW, i0, i1, divH, divW);
}

/**
 * dx[window] += (x[window] == max(x[window])) * dy[i,oh,ow,ch] for images i0..i1: every tied maximum
 * gets the gradient, and 0 * dy is added elsewhere (NaN/Inf propagate as numpy's mask * dA). One pass
 * finds the maximum, one applies the mask. x as in pool_forward_max; dy [m,nH,nW,c] and dx [m,h,w,c]
 * C-contiguous, dx zeroed by the caller.
 */
export function pool_backward_max(
  x: usize,
  sx0: i32,
  sx1: i32,
  sx2: i32,
  sx3: i32,
  h: i32,
  w: i32,
  c: i32,
  fh: i32,
  fw: i32,
  sh: i32,
  sw: i32,
  dy: usize,
  nH: i32,
  nW: i32,
  dx: usize,
  i0: i32,
  i1: i32,
): void {
  const vec = sx3 == 1 ? c & ~1 : 0;
  const step = bytes(sx2);
  const dstep = bytes(c);
  for (let i = i0; i < i1; i++) {
    for (let oh = 0; oh < nH; oh++) {
      for (let ow = 0; ow < nW; ow++) {
        const corner = at(x, i * sx0 + oh * sh * sx1 + ow * sw * sx2);
        const dcorner = at(dx, ((i * h + oh * sh) * w + ow * sw) * c);
        const dyr = at(dy, ((i * nH + oh) * nW + ow) * c);
        let ch = 0;
        for (; ch < vec; ch += 2) {
          const p = at(corner, ch);
          const m = windowMaxV<f64>(p, fh, fw, sx1, sx2);
          const g = v128.load(at(dyr, ch));
          for (let kh = 0; kh < fh; kh++) {
            let q = at(p, kh * sx1);
            let d = at(dcorner, kh * w * c + ch);
            for (let kw = 0; kw < fw; kw++) {
              const mask = v128.and(f64x2.eq(v128.load(q), m), ONE2);
              v128.store(d, f64x2.add(v128.load(d), f64x2.mul(mask, g)));
              q += step;
              d += dstep;
            }
          }
        }
        for (; ch < c; ch++) {
          const p = at(corner, ch * sx3);
          const m = windowMax1<f64>(p, fh, fw, sx1, sx2);
          const g = load<f64>(at(dyr, ch));
          for (let kh = 0; kh < fh; kh++) {
            for (let kw = 0; kw < fw; kw++) {
              const v = load<f64>(at(p, kh * sx1 + kw * sx2));
              const d = at(dcorner, (kh * w + kw) * c + ch);
              store<f64>(d, load<f64>(d) + select<f64>(1, 0, v == m) * g);
            }
          }
        }
      }
    }
  }
}

/**
 * dx[window] += dy[i,oh,ow,ch] / (divH[oh] * divW[ow]) (the notebook's distribute_value: fh*fw without
 * padding) for images i0..i1. dy [m,nH,nW,c] and dx [m,h,w,c] C-contiguous, dx zeroed by the caller.
 */
export function pool_backward_average(
  h: i32,
  w: i32,
  c: i32,
  fh: i32,
  fw: i32,
  sh: i32,
  sw: i32,
  dy: usize,
  nH: i32,
  nW: i32,
  dx: usize,
  i0: i32,
  i1: i32,
  divH: usize,
  divW: usize,
): void {
  const vec = c & ~1;
  for (let i = i0; i < i1; i++) {
    for (let oh = 0; oh < nH; oh++) {
      for (let ow = 0; ow < nW; ow++) {
        const n = load<f64>(at(divH, oh)) * load<f64>(at(divW, ow));
        const nv = f64x2.splat(n);
        const dcorner = at(dx, ((i * h + oh * sh) * w + ow * sw) * c);
        const dyr = at(dy, ((i * nH + oh) * nW + ow) * c);
        for (let kh = 0; kh < fh; kh++) {
          for (let kw = 0; kw < fw; kw++) {
            const dr = at(dcorner, (kh * w + kw) * c);
            for (let ch = 0; ch < vec; ch += 2) {
              const o = bytes(ch);
              v128.store(dr + o, f64x2.add(v128.load(dr + o), f64x2.div(v128.load(dyr + o), nv)));
            }
            if (vec < c) {
              const o = bytes(vec);
              store<f64>(dr + o, load<f64>(dr + o) + load<f64>(dyr + o) / n);
            }
          }
        }
      }
    }
  }
}

/**
 * dst[p*c + ch] = src[ch*n + p] for p < n, ch < c: c planes of n elements (an NCHW band) to n pixels of
 * c channels (NHWC), in tiles of 8 pixels so that reads stay sequential.
 */
function transposePlanes<T>(src: usize, c: i32, n: i32, dst: usize): void {
  const e = sizeof<T>();
  const step = bytesT<T>(c);
  let p0 = 0;
  for (; p0 + 8 <= n; p0 += 8) {
    for (let ch = 0; ch < c; ch++) {
      const s = atT<T>(src, ch * n + p0);
      const d = atT<T>(dst, p0 * c + ch);
      store<T>(d, load<T>(s));
      store<T>(d + step, load<T>(s + e));
      store<T>(d + 2 * step, load<T>(s + 2 * e));
      store<T>(d + 3 * step, load<T>(s + 3 * e));
      store<T>(d + 4 * step, load<T>(s + 4 * e));
      store<T>(d + 5 * step, load<T>(s + 5 * e));
      store<T>(d + 6 * step, load<T>(s + 6 * e));
      store<T>(d + 7 * step, load<T>(s + 7 * e));
    }
  }
  for (let p = p0; p < n; p++) {
    for (let ch = 0; ch < c; ch++) store<T>(atT<T>(dst, p * c + ch), load<T>(atT<T>(src, ch * n + p)));
  }
}

export function transpose_planes(src: usize, c: i32, n: i32, dst: usize): void {
  transposePlanes<f64>(src, c, n, dst);
}

export function transpose_planes_f32(src: usize, c: i32, n: i32, dst: usize): void {
  transposePlanes<f32>(src, c, n, dst);
}
