// conv_forward / conv_backward: the notebook's equations on raw NHWC memory. The input is pre-padded
// (zero_pad kernel), so windows never leave it and 0 * Inf gives NaN exactly where numpy's does.

/**
 * Packs W [f*f*c, k] (C order) into blocks of 8 output channels, [k8/8][taps][8], zero past k, so the
 * forward micro-kernel reads 8 channels of one tap as 4 consecutive vectors.
 */
export function conv_pack_filters(w: usize, taps: i32, k: i32, k8: i32, out: usize): void {
  for (let kb = 0; kb < k8; kb += 8) {
    for (let t = 0; t < taps; t++) {
      const dst = out + (<usize>(kb * taps + t * 8) << 3);
      for (let l = 0; l < 8; l++) {
        const kk = kb + l;
        store<f64>(dst + (<usize>l << 3), kk < k ? load<f64>(w + (<usize>(t * k + kk) << 3)) : 0);
      }
    }
  }
}

/**
 * Z[i,oh,ow,:] = sum over the window of xp * W, plus b, for images i0..i1, 2 output pixels × 8 channels
 * at a time in f64x2 registers. xp [m,hp,wp,c] padded input; wpk from conv_pack_filters; b8 [k8] and
 * z [m,nH,nW,k8] with k8 a multiple of 8 (channels past k are computed as zeros and cropped by the caller).
 */
export function conv_forward(
  xp: usize, hp: i32, wp: i32, c: i32,
  wpk: usize, f: i32, k8: i32, b8: usize, stride: i32,
  z: usize, nH: i32, nW: i32, i0: i32, i1: i32,
): void {
  const fc = f * c;
  const taps = f * fc;
  const step = <usize>(stride * c) << 3; // bytes between neighbouring output pixels' windows
  const rowBytes = <usize>(wp * c) << 3;
  const pix = <usize>k8 << 3; // bytes per output pixel
  for (let i = i0; i < i1; i++) {
    for (let oh = 0; oh < nH; oh++) {
      const xrow = xp + (<usize>((i * hp + oh * stride) * wp) * c << 3);
      const zrow = z + <usize>((i * nH + oh) * nW) * pix;
      for (let kb = 0; kb < k8; kb += 8) {
        const wblk = wpk + (<usize>(kb * taps) << 3);
        const bias = b8 + (<usize>kb << 3);
        const b0 = v128.load(bias), b1 = v128.load(bias, 16), b2 = v128.load(bias, 32), b3 = v128.load(bias, 48);
        let ow = 0;
        for (; ow + 2 <= nW; ow += 2) {
          let c00 = f64x2.splat(0), c01 = f64x2.splat(0), c02 = f64x2.splat(0), c03 = f64x2.splat(0);
          let c10 = f64x2.splat(0), c11 = f64x2.splat(0), c12 = f64x2.splat(0), c13 = f64x2.splat(0);
          let xr = xrow + <usize>ow * step;
          let wr = wblk;
          for (let kh = 0; kh < f; kh++) {
            let xa = xr;
            const end = xr + (<usize>fc << 3);
            while (xa < end) {
              const a0 = v128.load64_splat(xa);
              const a1 = v128.load64_splat(xa + step);
              const w0 = v128.load(wr), w1 = v128.load(wr, 16), w2 = v128.load(wr, 32), w3 = v128.load(wr, 48);
              c00 = f64x2.add(c00, f64x2.mul(a0, w0));
              c01 = f64x2.add(c01, f64x2.mul(a0, w1));
              c02 = f64x2.add(c02, f64x2.mul(a0, w2));
              c03 = f64x2.add(c03, f64x2.mul(a0, w3));
              c10 = f64x2.add(c10, f64x2.mul(a1, w0));
              c11 = f64x2.add(c11, f64x2.mul(a1, w1));
              c12 = f64x2.add(c12, f64x2.mul(a1, w2));
              c13 = f64x2.add(c13, f64x2.mul(a1, w3));
              xa += 8;
              wr += 64;
            }
            xr += rowBytes;
          }
          const z0 = zrow + <usize>ow * pix + (<usize>kb << 3);
          v128.store(z0, f64x2.add(c00, b0));
          v128.store(z0, f64x2.add(c01, b1), 16);
          v128.store(z0, f64x2.add(c02, b2), 32);
          v128.store(z0, f64x2.add(c03, b3), 48);
          const z1 = z0 + pix;
          v128.store(z1, f64x2.add(c10, b0));
          v128.store(z1, f64x2.add(c11, b1), 16);
          v128.store(z1, f64x2.add(c12, b2), 32);
          v128.store(z1, f64x2.add(c13, b3), 48);
        }
        if (ow < nW) {
          let c00 = f64x2.splat(0), c01 = f64x2.splat(0), c02 = f64x2.splat(0), c03 = f64x2.splat(0);
          let xr = xrow + <usize>ow * step;
          let wr = wblk;
          for (let kh = 0; kh < f; kh++) {
            let xa = xr;
            const end = xr + (<usize>fc << 3);
            while (xa < end) {
              const a0 = v128.load64_splat(xa);
              c00 = f64x2.add(c00, f64x2.mul(a0, v128.load(wr)));
              c01 = f64x2.add(c01, f64x2.mul(a0, v128.load(wr, 16)));
              c02 = f64x2.add(c02, f64x2.mul(a0, v128.load(wr, 32)));
              c03 = f64x2.add(c03, f64x2.mul(a0, v128.load(wr, 48)));
              xa += 8;
              wr += 64;
            }
            xr += rowBytes;
          }
          const z0 = zrow + <usize>ow * pix + (<usize>kb << 3);
          v128.store(z0, f64x2.add(c00, b0));
          v128.store(z0, f64x2.add(c01, b1), 16);
          v128.store(z0, f64x2.add(c02, b2), 32);
          v128.store(z0, f64x2.add(c03, b3), 48);
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
