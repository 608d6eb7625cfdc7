// conv_forward / conv_backward: the notebook's equations on raw NHWC memory. The input is pre-padded
// (zero_pad kernel), so windows never leave it and 0 * Inf gives NaN exactly where numpy's does.

/**
 * Packs W [f*f*c, k] (C order) into blocks of 8 output channels, [k8/8][taps][8], zero past k, so the
 * forward micro-kernel reads 8 channels of one tap as 4 consecutive vectors.
 */
export function conv_pack_filters(w: usize, taps: i32, k: i32, k8: i32, out: usize): void {
  for (let kb = 0; kb < k8; kb += 8) {
    for (let t = 0; t < taps; t++) {
      const dst = out + ((<usize>(kb * taps + t * 8)) << 3);
      for (let l = 0; l < 8; l++) {
        const kk = kb + l;
        store<f64>(dst + ((<usize>l) << 3), kk < k ? load<f64>(w + ((<usize>(t * k + kk)) << 3)) : 0);
      }
    }
  }
}

/**
 * Z[i,oh,ow,:] = sum over the window of xp * W, plus b, for output rows r0..r1, 2 output pixels × 8
 * channels at a time in f64x2 registers. xp [m,hp,wp,c] padded input; wpk from conv_pack_filters; b8 [k8] and
 * z [m,nH,nW,k8] with k8 a multiple of 8 (channels past k are computed as zeros and cropped by the caller).
 */
export function conv_forward(
  xp: usize,
  hp: i32,
  wp: i32,
  c: i32,
  wpk: usize,
  f: i32,
  k8: i32,
  b8: usize,
  stride: i32,
  z: usize,
  nH: i32,
  nW: i32,
  r0: i32,
  r1: i32,
): void {
  const fc = f * c;
  const taps = f * fc;
  const step = (<usize>(stride * c)) << 3; // bytes between neighbouring output pixels' windows
  const rowBytes = (<usize>(wp * c)) << 3;
  const pix = (<usize>k8) << 3; // bytes per output pixel
  // output row r is row r % nH of image r / nH; each is computed alone, so any split of the range agrees
  for (let r = r0; r < r1; r++) {
    const i = r / nH;
    const oh = r - i * nH;
    const xrow = xp + ((<usize>((i * hp + oh * stride) * wp) * c) << 3);
    const zrow = z + <usize>((i * nH + oh) * nW) * pix;
    for (let kb = 0; kb < k8; kb += 8) {
      const wblk = wpk + ((<usize>(kb * taps)) << 3);
      const bias = b8 + ((<usize>kb) << 3);
      const b0 = v128.load(bias);
      const b1 = v128.load(bias, 16);
      const b2 = v128.load(bias, 32);
      const b3 = v128.load(bias, 48);
      for (let ow = 0; ow < nW; ow += 2) {
        // the second pixel of the pair; a row's odd last pixel is paired with itself and stored once
        const two = ow + 1 < nW;
        const second = two ? step : 0;
        let c00 = f64x2.splat(0);
        let c01 = f64x2.splat(0);
        let c02 = f64x2.splat(0);
        let c03 = f64x2.splat(0);
        let c10 = f64x2.splat(0);
        let c11 = f64x2.splat(0);
        let c12 = f64x2.splat(0);
        let c13 = f64x2.splat(0);
        let xr = xrow + <usize>ow * step;
        let wr = wblk;
        for (let kh = 0; kh < f; kh++) {
          let xa = xr;
          const end = xr + ((<usize>fc) << 3);
          while (xa < end) {
            const a0 = v128.load64_splat(xa);
            const a1 = v128.load64_splat(xa + second);
            const w0 = v128.load(wr);
            const w1 = v128.load(wr, 16);
            const w2 = v128.load(wr, 32);
            const w3 = v128.load(wr, 48);
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
        const z0 = zrow + <usize>ow * pix + ((<usize>kb) << 3);
        v128.store(z0, f64x2.add(c00, b0));
        v128.store(z0, f64x2.add(c01, b1), 16);
        v128.store(z0, f64x2.add(c02, b2), 32);
        v128.store(z0, f64x2.add(c03, b3), 48);
        if (two) {
          const z1 = z0 + pix;
          v128.store(z1, f64x2.add(c10, b0));
          v128.store(z1, f64x2.add(c11, b1), 16);
          v128.store(z1, f64x2.add(c12, b2), 32);
          v128.store(z1, f64x2.add(c13, b3), 48);
        }
      }
    }
  }
}

/**
 * dW [taps,k8] += sum over output pixels of xp-window * dZ for output rows r0..r1 and tap units u0..u1
 * (taps = f*f*c in W's order; unit u is the pair of taps 2*(u % P), 2*(u % P)+1 of kernel row u / P, with
 * P = ceil(f*c / 2) units per kernel row). 2 taps × 8 channels in f64x2 registers, reduced along each
 * output row. Every dW element is summed over rows then pixels in order whatever the unit range, so a
 * split of the units (threads) gives the same bits as one call. xp [m,hp,wp,c] padded input; dz
 * [m,nH,nW,k8] with channels past k zero.
 */
export function conv_backward_filter(
  xp: usize,
  hp: i32,
  wp: i32,
  c: i32,
  f: i32,
  k8: i32,
  stride: i32,
  dz: usize,
  nH: i32,
  nW: i32,
  dw: usize,
  r0: i32,
  r1: i32,
  u0: i32,
  u1: i32,
): void {
  const fc = f * c;
  const units = (fc + 1) >> 1;
  const step = (<usize>(stride * c)) << 3;
  const rowBytes = (<usize>(wp * c)) << 3;
  const pix = (<usize>k8) << 3;
  // output row r is row r % nH of image r / nH; consecutive ranges called in order equal one call
  for (let r = r0; r < r1; r++) {
    const i = r / nH;
    const oh = r - i * nH;
    const xrow = xp + ((<usize>((i * hp + oh * stride) * wp) * c) << 3);
    const dzrow = dz + <usize>((i * nH + oh) * nW) * pix;
    for (let u = u0; u < u1; u++) {
      const kh = u / units;
      const j = (u - kh * units) << 1;
      const xr = xrow + <usize>kh * rowBytes;
      const dwr = dw + <usize>(kh * fc) * pix;
      if (j + 2 <= fc) {
        for (let kb = 0; kb < k8; kb += 8) {
          const d0 = dwr + <usize>j * pix + ((<usize>kb) << 3);
          const d1 = d0 + pix;
          let c00 = v128.load(d0),
            c01 = v128.load(d0, 16),
            c02 = v128.load(d0, 32),
            c03 = v128.load(d0, 48);
          let c10 = v128.load(d1),
            c11 = v128.load(d1, 16),
            c12 = v128.load(d1, 32),
            c13 = v128.load(d1, 48);
          let xa = xr + ((<usize>j) << 3);
          let da = dzrow + ((<usize>kb) << 3);
          for (let ow = 0; ow < nW; ow++) {
            const a0 = v128.load64_splat(xa);
            const a1 = v128.load64_splat(xa, 8);
            const g0 = v128.load(da),
              g1 = v128.load(da, 16),
              g2 = v128.load(da, 32),
              g3 = v128.load(da, 48);
            c00 = f64x2.add(c00, f64x2.mul(a0, g0));
            c01 = f64x2.add(c01, f64x2.mul(a0, g1));
            c02 = f64x2.add(c02, f64x2.mul(a0, g2));
            c03 = f64x2.add(c03, f64x2.mul(a0, g3));
            c10 = f64x2.add(c10, f64x2.mul(a1, g0));
            c11 = f64x2.add(c11, f64x2.mul(a1, g1));
            c12 = f64x2.add(c12, f64x2.mul(a1, g2));
            c13 = f64x2.add(c13, f64x2.mul(a1, g3));
            xa += step;
            da += pix;
          }
          v128.store(d0, c00);
          v128.store(d0, c01, 16);
          v128.store(d0, c02, 32);
          v128.store(d0, c03, 48);
          v128.store(d1, c10);
          v128.store(d1, c11, 16);
          v128.store(d1, c12, 32);
          v128.store(d1, c13, 48);
        }
      } else {
        // an odd tap count leaves one tap at the end of the kernel row: 1 × 8
        for (let kb = 0; kb < k8; kb += 8) {
          const d0 = dwr + <usize>j * pix + ((<usize>kb) << 3);
          let c00 = v128.load(d0),
            c01 = v128.load(d0, 16),
            c02 = v128.load(d0, 32),
            c03 = v128.load(d0, 48);
          let xa = xr + ((<usize>j) << 3);
          let da = dzrow + ((<usize>kb) << 3);
          for (let ow = 0; ow < nW; ow++) {
            const a0 = v128.load64_splat(xa);
            c00 = f64x2.add(c00, f64x2.mul(a0, v128.load(da)));
            c01 = f64x2.add(c01, f64x2.mul(a0, v128.load(da, 16)));
            c02 = f64x2.add(c02, f64x2.mul(a0, v128.load(da, 32)));
            c03 = f64x2.add(c03, f64x2.mul(a0, v128.load(da, 48)));
            xa += step;
            da += pix;
          }
          v128.store(d0, c00);
          v128.store(d0, c01, 16);
          v128.store(d0, c02, 32);
          v128.store(d0, c03, 48);
        }
      }
    }
  }
}

/** db [k8] += sum of dZ over the output pixels of rows r0..r1, row by row. dz [m,nH,nW,k8]. */
export function conv_backward_bias(dz: usize, k8: i32, nW: i32, db: usize, r0: i32, r1: i32): void {
  const pix = (<usize>k8) << 3;
  for (let r = r0; r < r1; r++) {
    const dzrow = dz + <usize>(r * nW) * pix;
    for (let kb = 0; kb < k8; kb += 2) {
      const d = db + ((<usize>kb) << 3);
      let s = v128.load(d);
      let da = dzrow + ((<usize>kb) << 3);
      for (let ow = 0; ow < nW; ow++) {
        s = f64x2.add(s, v128.load(da));
        da += pix;
      }
      v128.store(d, s);
    }
  }
}

/**
 * Packs W [f*f*c, k] for conv_backward_input: each kernel row's f*c taps in blocks of 8 (the last one
 * zero-padded), each block stored [k][8], so the micro-kernel reads one channel's 8 taps as 4 vectors.
 */
export function conv_pack_filters_t(w: usize, f: i32, c: i32, k: i32, out: usize): void {
  const fc = f * c;
  let dst = out;
  for (let kh = 0; kh < f; kh++) {
    for (let jb = 0; jb < fc; jb += 8) {
      for (let kk = 0; kk < k; kk++) {
        for (let l = 0; l < 8; l++) {
          const j = jb + l;
          store<f64>(dst, j < fc ? load<f64>(w + ((<usize>((kh * fc + j) * k + kk)) << 3)) : 0);
          dst += 8;
        }
      }
    }
  }
}

/** p[0..8] += a0..a3 (8 lanes), or only the first r lanes when r < 8 (the end of a kernel row). */
function addStore8(p: usize, a0: v128, a1: v128, a2: v128, a3: v128, r: i32): void {
  if (r == 8) {
    v128.store(p, f64x2.add(v128.load(p), a0));
    v128.store(p, f64x2.add(v128.load(p, 16), a1), 16);
    v128.store(p, f64x2.add(v128.load(p, 32), a2), 32);
    v128.store(p, f64x2.add(v128.load(p, 48), a3), 48);
    return;
  }
  // lanes past r were computed from zero-padded filters and are dropped (they may hold 0 * Inf = NaN)
  addStoreLanes(p, a0, r);
  if (r > 2) addStoreLanes(p + 16, a1, r - 2);
  if (r > 4) addStoreLanes(p + 32, a2, r - 4);
  if (r > 6) addStoreLanes(p + 48, a3, r - 6);
}

/** p[0..2] += v, or only p[0] when n == 1. */
function addStoreLanes(p: usize, v: v128, n: i32): void {
  if (n >= 2) {
    v128.store(p, f64x2.add(v128.load(p), v));
  } else {
    store<f64>(p, load<f64>(p) + f64x2.extract_lane(v, 0));
  }
}

/**
 * dxp[i, oh*s+kh, ow*s+kw, :] += W[kh,kw,:,:] · dZ[i,oh,ow,:] (the transposed convolution) for output
 * rows r0..r1; dxp [m,hp,wp,c] is the padded gradient, zeroed by the caller. wt from conv_pack_filters_t;
 * dz [m,nH,nW,k8]. 2 output pixels × 8 taps in f64x2 registers, reduced over the k channels.
 */
export function conv_backward_input(
  wt: usize,
  f: i32,
  c: i32,
  k: i32,
  k8: i32,
  stride: i32,
  dz: usize,
  nH: i32,
  nW: i32,
  dxp: usize,
  hp: i32,
  wp: i32,
  r0: i32,
  r1: i32,
): void {
  const fc = f * c;
  const step = (<usize>(stride * c)) << 3;
  const rowBytes = (<usize>(wp * c)) << 3;
  const pix = (<usize>k8) << 3;
  const block = (<usize>k) << 6; // bytes of one packed block of 8 taps
  // output row r is row r % nH of image r / nH; consecutive ranges called in order equal one call
  for (let r = r0; r < r1; r++) {
    const i = r / nH;
    const oh = r - i * nH;
    const xrow = dxp + ((<usize>((i * hp + oh * stride) * wp) * c) << 3);
    const dzrow = dz + <usize>((i * nH + oh) * nW) * pix;
    let wblk = wt;
    for (let kh = 0; kh < f; kh++) {
      const xr = xrow + <usize>kh * rowBytes;
      for (let jb = 0; jb < fc; jb += 8) {
        const r = min(8, fc - jb);
        const xj = xr + ((<usize>jb) << 3);
        let ow = 0;
        for (; ow + 2 <= nW; ow += 2) {
          let c00 = f64x2.splat(0);
          let c01 = f64x2.splat(0);
          let c02 = f64x2.splat(0);
          let c03 = f64x2.splat(0);
          let c10 = f64x2.splat(0);
          let c11 = f64x2.splat(0);
          let c12 = f64x2.splat(0);
          let c13 = f64x2.splat(0);
          let da = dzrow + <usize>ow * pix;
          let wr = wblk;
          for (let kk = 0; kk < k; kk++) {
            const g0 = v128.load64_splat(da);
            const g1 = v128.load64_splat(da + pix);
            const w0 = v128.load(wr);
            const w1 = v128.load(wr, 16);
            const w2 = v128.load(wr, 32);
            const w3 = v128.load(wr, 48);
            c00 = f64x2.add(c00, f64x2.mul(g0, w0));
            c01 = f64x2.add(c01, f64x2.mul(g0, w1));
            c02 = f64x2.add(c02, f64x2.mul(g0, w2));
            c03 = f64x2.add(c03, f64x2.mul(g0, w3));
            c10 = f64x2.add(c10, f64x2.mul(g1, w0));
            c11 = f64x2.add(c11, f64x2.mul(g1, w1));
            c12 = f64x2.add(c12, f64x2.mul(g1, w2));
            c13 = f64x2.add(c13, f64x2.mul(g1, w3));
            da += 8;
            wr += 64;
          }
          const x0 = xj + <usize>ow * step;
          addStore8(x0, c00, c01, c02, c03, r);
          addStore8(x0 + step, c10, c11, c12, c13, r);
        }
        if (ow < nW) {
          let c00 = f64x2.splat(0);
          let c01 = f64x2.splat(0);
          let c02 = f64x2.splat(0);
          let c03 = f64x2.splat(0);
          let da = dzrow + <usize>ow * pix;
          let wr = wblk;
          for (let kk = 0; kk < k; kk++) {
            const g0 = v128.load64_splat(da);
            c00 = f64x2.add(c00, f64x2.mul(g0, v128.load(wr)));
            c01 = f64x2.add(c01, f64x2.mul(g0, v128.load(wr, 16)));
            c02 = f64x2.add(c02, f64x2.mul(g0, v128.load(wr, 32)));
            c03 = f64x2.add(c03, f64x2.mul(g0, v128.load(wr, 48)));
            da += 8;
            wr += 64;
          }
          addStore8(xj + <usize>ow * step, c00, c01, c02, c03, r);
        }
        wblk += block;
      }
    }
  }
}
