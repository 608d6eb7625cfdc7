// conv_forward / conv_backward: the notebook's equations on raw NHWC memory. The input is pre-padded
// (zero_pad kernel), so windows never leave it and 0 * Inf gives NaN exactly where numpy's does.

/**
 * Z[i,oh,ow,k] = sum(W[:,:,:,k] * xp[i, oh*s:oh*s+f, ow*s:ow*s+f, :]) + b[k] for images i0..i1.
 * xp [m,hp,wp,c], w [f,f,c,k], b [k], z [m,nH,nW,k]; all C-contiguous.
 */
export function conv_forward(
  xp: usize,
  hp: i32,
  wp: i32,
  c: i32,
  w: usize,
  f: i32,
  k: i32,
  b: usize,
  stride: i32,
  z: usize,
  nH: i32,
  nW: i32,
  i0: i32,
  i1: i32,
): void {
  const kBytes = (<usize>k) << 3;
  for (let i = i0; i < i1; i++) {
    for (let oh = 0; oh < nH; oh++) {
      for (let ow = 0; ow < nW; ow++) {
        const zr = z + <usize>((i * nH + oh) * nW + ow) * kBytes;
        memory.fill(zr, 0, kBytes);
        for (let kh = 0; kh < f; kh++) {
          for (let kw = 0; kw < f; kw++) {
            const xr = xp + ((<usize>(((i * hp + oh * stride + kh) * wp + ow * stride + kw) * c)) << 3);
            const wr = w + <usize>((kh * f + kw) * c) * kBytes;
            for (let ci = 0; ci < c; ci++) {
              const a = load<f64>(xr + ((<usize>ci) << 3));
              const wc = wr + <usize>ci * kBytes;
              for (let kk = 0; kk < k; kk++) {
                const o = (<usize>kk) << 3;
                store<f64>(zr + o, load<f64>(zr + o) + a * load<f64>(wc + o));
              }
            }
          }
        }
        // bias last, as numpy's sum(a_slice * W) + b
        for (let kk = 0; kk < k; kk++) {
          const o = (<usize>kk) << 3;
          store<f64>(zr + o, load<f64>(zr + o) + load<f64>(b + o));
        }
      }
    }
  }
}

/**
 * Gradients of conv_forward for images i0..i1, accumulated (+=) into dxp [m,hp,wp,c] (padded, rows of
 * these images zeroed by the caller), dw [f,f,c,k] and db [k]. xp and dz [m,nH,nW,k] as in conv_forward.
 */
export function conv_backward(
  xp: usize,
  hp: i32,
  wp: i32,
  c: i32,
  w: usize,
  f: i32,
  k: i32,
  stride: i32,
  dz: usize,
  nH: i32,
  nW: i32,
  dxp: usize,
  dw: usize,
  db: usize,
  i0: i32,
  i1: i32,
): void {
  const kBytes = (<usize>k) << 3;
  for (let i = i0; i < i1; i++) {
    for (let oh = 0; oh < nH; oh++) {
      for (let ow = 0; ow < nW; ow++) {
        const dzr = dz + <usize>((i * nH + oh) * nW + ow) * kBytes;
        for (let kh = 0; kh < f; kh++) {
          for (let kw = 0; kw < f; kw++) {
            const off = (<usize>(((i * hp + oh * stride + kh) * wp + ow * stride + kw) * c)) << 3;
            const xr = xp + off;
            const dxr = dxp + off;
            const tap = <usize>((kh * f + kw) * c) * kBytes;
            for (let ci = 0; ci < c; ci++) {
              const a = load<f64>(xr + ((<usize>ci) << 3));
              const wc = w + tap + <usize>ci * kBytes;
              const dwc = dw + tap + <usize>ci * kBytes;
              let s: f64 = 0;
              for (let kk = 0; kk < k; kk++) {
                const o = (<usize>kk) << 3;
                const g = load<f64>(dzr + o);
                s += load<f64>(wc + o) * g;
                store<f64>(dwc + o, load<f64>(dwc + o) + a * g);
              }
              store<f64>(dxr + ((<usize>ci) << 3), load<f64>(dxr + ((<usize>ci) << 3)) + s);
            }
          }
        }
        for (let kk = 0; kk < k; kk++) {
          const o = (<usize>kk) << 3;
          store<f64>(db + o, load<f64>(db + o) + load<f64>(dzr + o));
        }
      }
    }
  }
}
