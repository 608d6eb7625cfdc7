// pool_forward / pool_backward ("max" and "average") on raw NHWC memory; no padding, as in the notebook.
// Channels are contiguous in NHWC, so the fast path works on 2 channels per f64x2 (when sx3 == 1).

/**
 * A[i,oh,ow,ch] = max of x[i, oh*s:oh*s+f, ow*s:ow*s+f, ch] (NaN if the window holds one, as np.max)
 * for images i0..i1. x [m,h,w,c] through element strides sx0..sx3; y [m,nH,nW,c] C-contiguous.
 */
export function pool_forward_max(
  x: usize,
  sx0: i32,
  sx1: i32,
  sx2: i32,
  sx3: i32,
  c: i32,
  f: i32,
  stride: i32,
  y: usize,
  nH: i32,
  nW: i32,
  i0: i32,
  i1: i32,
): void {
  const vec = sx3 == 1 ? c & ~1 : 0; // channels handled two at a time
  for (let i = i0; i < i1; i++) {
    for (let oh = 0; oh < nH; oh++) {
      for (let ow = 0; ow < nW; ow++) {
        const corner = x + ((<usize>(i * sx0 + oh * stride * sx1 + ow * stride * sx2)) << 3);
        const yr = y + ((<usize>(((i * nH + oh) * nW + ow) * c)) << 3);
        for (let ch = 0; ch < vec; ch += 2) {
          const p = corner + ((<usize>ch) << 3);
          let m = v128.load(p);
          for (let kh = 0; kh < f; kh++) {
            for (let kw = 0; kw < f; kw++) {
              m = f64x2.max(m, v128.load(p + ((<usize>(kh * sx1 + kw * sx2)) << 3)));
            }
          }
          v128.store(yr + ((<usize>ch) << 3), m);
        }
        for (let ch = vec; ch < c; ch++) {
          const p = corner + ((<usize>(ch * sx3)) << 3);
          let m = load<f64>(p);
          for (let kh = 0; kh < f; kh++) {
            for (let kw = 0; kw < f; kw++) {
              m = max<f64>(m, load<f64>(p + ((<usize>(kh * sx1 + kw * sx2)) << 3)));
            }
          }
          store<f64>(yr + ((<usize>ch) << 3), m);
        }
      }
    }
  }
}

/** As pool_forward_max, with the window's mean (sum / (f*f), as np.mean) instead of its max. */
export function pool_forward_average(
  x: usize,
  sx0: i32,
  sx1: i32,
  sx2: i32,
  sx3: i32,
  c: i32,
  f: i32,
  stride: i32,
  y: usize,
  nH: i32,
  nW: i32,
  i0: i32,
  i1: i32,
): void {
  const n = <f64>(f * f);
  const nv = f64x2.splat(n);
  const vec = sx3 == 1 ? c & ~1 : 0;
  for (let i = i0; i < i1; i++) {
    for (let oh = 0; oh < nH; oh++) {
      for (let ow = 0; ow < nW; ow++) {
        const corner = x + ((<usize>(i * sx0 + oh * stride * sx1 + ow * stride * sx2)) << 3);
        const yr = y + ((<usize>(((i * nH + oh) * nW + ow) * c)) << 3);
        for (let ch = 0; ch < vec; ch += 2) {
          const p = corner + ((<usize>ch) << 3);
          let s = f64x2.splat(0);
          for (let kh = 0; kh < f; kh++) {
            for (let kw = 0; kw < f; kw++) {
              s = f64x2.add(s, v128.load(p + ((<usize>(kh * sx1 + kw * sx2)) << 3)));
            }
          }
          v128.store(yr + ((<usize>ch) << 3), f64x2.div(s, nv));
        }
        for (let ch = vec; ch < c; ch++) {
          const p = corner + ((<usize>(ch * sx3)) << 3);
          let s: f64 = 0;
          for (let kh = 0; kh < f; kh++) {
            for (let kw = 0; kw < f; kw++) {
              s += load<f64>(p + ((<usize>(kh * sx1 + kw * sx2)) << 3));
            }
          }
          store<f64>(yr + ((<usize>ch) << 3), s / n);
        }
      }
    }
  }
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
  f: i32,
  stride: i32,
  dy: usize,
  nH: i32,
  nW: i32,
  dx: usize,
  i0: i32,
  i1: i32,
): void {
  const one = f64x2.splat(1);
  const vec = sx3 == 1 ? c & ~1 : 0;
  for (let i = i0; i < i1; i++) {
    for (let oh = 0; oh < nH; oh++) {
      for (let ow = 0; ow < nW; ow++) {
        const corner = x + ((<usize>(i * sx0 + oh * stride * sx1 + ow * stride * sx2)) << 3);
        const dcorner = dx + ((<usize>(((i * h + oh * stride) * w + ow * stride) * c)) << 3);
        const dyr = dy + ((<usize>(((i * nH + oh) * nW + ow) * c)) << 3);
        for (let ch = 0; ch < vec; ch += 2) {
          const p = corner + ((<usize>ch) << 3);
          let m = v128.load(p);
          for (let kh = 0; kh < f; kh++) {
            for (let kw = 0; kw < f; kw++) {
              m = f64x2.max(m, v128.load(p + ((<usize>(kh * sx1 + kw * sx2)) << 3)));
            }
          }
          const g = v128.load(dyr + ((<usize>ch) << 3));
          for (let kh = 0; kh < f; kh++) {
            for (let kw = 0; kw < f; kw++) {
              const v = v128.load(p + ((<usize>(kh * sx1 + kw * sx2)) << 3));
              const d = dcorner + ((<usize>((kh * w + kw) * c + ch)) << 3);
              const mask = v128.and(f64x2.eq(v, m), one);
              v128.store(d, f64x2.add(v128.load(d), f64x2.mul(mask, g)));
            }
          }
        }
        for (let ch = vec; ch < c; ch++) {
          const p = corner + ((<usize>(ch * sx3)) << 3);
          let m = load<f64>(p);
          for (let kh = 0; kh < f; kh++) {
            for (let kw = 0; kw < f; kw++) {
              m = max<f64>(m, load<f64>(p + ((<usize>(kh * sx1 + kw * sx2)) << 3)));
            }
          }
          const g = load<f64>(dyr + ((<usize>ch) << 3));
          for (let kh = 0; kh < f; kh++) {
            for (let kw = 0; kw < f; kw++) {
              const v = load<f64>(p + ((<usize>(kh * sx1 + kw * sx2)) << 3));
              const d = dcorner + ((<usize>((kh * w + kw) * c + ch)) << 3);
              store<f64>(d, load<f64>(d) + select<f64>(1, 0, v == m) * g);
            }
          }
        }
      }
    }
  }
}

/**
 * dx[window] += dy[i,oh,ow,ch] / (f*f) (the notebook's distribute_value) for images i0..i1.
 * dy [m,nH,nW,c] and dx [m,h,w,c] C-contiguous, dx zeroed by the caller.
 */
export function pool_backward_average(
  h: i32,
  w: i32,
  c: i32,
  f: i32,
  stride: i32,
  dy: usize,
  nH: i32,
  nW: i32,
  dx: usize,
  i0: i32,
  i1: i32,
): void {
  const n = <f64>(f * f);
  const nv = f64x2.splat(n);
  const vec = c & ~1;
  for (let i = i0; i < i1; i++) {
    for (let oh = 0; oh < nH; oh++) {
      for (let ow = 0; ow < nW; ow++) {
        const dcorner = dx + ((<usize>(((i * h + oh * stride) * w + ow * stride) * c)) << 3);
        const dyr = dy + ((<usize>(((i * nH + oh) * nW + ow) * c)) << 3);
        for (let kh = 0; kh < f; kh++) {
          for (let kw = 0; kw < f; kw++) {
            const dr = dcorner + ((<usize>((kh * w + kw) * c)) << 3);
            for (let ch = 0; ch < vec; ch += 2) {
              const o = (<usize>ch) << 3;
              v128.store(dr + o, f64x2.add(v128.load(dr + o), f64x2.div(v128.load(dyr + o), nv)));
            }
            if (vec < c) {
              const o = (<usize>vec) << 3;
              store<f64>(dr + o, load<f64>(dr + o) + load<f64>(dyr + o) / n);
            }
          }
        }
      }
    }
  }
}
