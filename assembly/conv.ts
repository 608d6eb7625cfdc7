// conv_forward / conv_backward: the notebook's equations on raw NHWC memory. The input is pre-padded
// (zero_pad kernel), so windows never leave it and 0 * Inf gives NaN exactly where numpy's does.
//
// Window geometry: kernel row kh reads padded input row oh*sh + kh*dilH; its fw*cg taps (kw, then the
// cg channels of the group) lie in `runs` runs of `run` consecutive elements, `jump` apart. Without
// dilation and groups a kernel row is one run of fw*c taps (the fast case); otherwise one run per kw.
// Output and gradient pixels are `kp` elements apart, so a group's channels can sit inside wider pixels.
import {
  at,
  atT,
  block,
  bytes,
  bytesT,
  store8,
  store8Plus,
  storeBlockAct,
  vadd,
  vloadSplat,
  vmul,
  vsplat,
} from "./mem";

/** Runs per kernel row: 1 when a row of taps is contiguous in the input, else fw. */
function runsOf(c: i32, cg: i32, fw: i32, dilW: i32): i32 {
  return dilW == 1 && cg == c ? 1 : fw;
}

/** Taps per run: a whole kernel row when it is contiguous, else one kw's cg channels. */
function runLength(c: i32, cg: i32, fw: i32, dilW: i32): i32 {
  return dilW == 1 && cg == c ? fw * c : cg;
}

/**
 * Packs W [taps, k] (C order) into blocks of 8 output channels, [k8/8][taps][8], zero past k, so the
 * forward micro-kernel reads 8 channels of one tap as 4 consecutive vectors.
 */
export function conv_pack_filters(w: usize, taps: i32, k: i32, k8: i32, out: usize): void {
  for (let kb = 0; kb < k8; kb += 8) {
    for (let t = 0; t < taps; t++) {
      const dst = at(out, kb * taps + t * 8);
      for (let l = 0; l < 8; l++) {
        const kk = kb + l;
        store<f64>(at(dst, l), kk < k ? load<f64>(at(w, t * k + kk)) : 0);
      }
    }
  }
}

/**
 * Z[i,oh,ow,:] = sum over the window of xp * W, plus b, plus res[i,oh,ow,:] where res is not 0 (a fused
 * residual add, res laid out as z), then act (0 none, 1 ReLU, 2 ReLU6: see store8Act), for output rows
 * r0..r1 (of the batch's m*nH),
 * 2 output pixels × a block of channels at a time (4 registers: 8 f64 or 16 f32). xp [m,hp,wp,c] padded
 * input (the group's first channel); wpk from conv_pack_filters (blocks of 8, or 16 for f32); b8 [k8]; z
 * [m,nH,nW,kp] (k8 channels written per pixel, those past k computed as zeros and cropped by the caller).
 * conv_forward runs it on f64, conv_forward_f32 on f32 (k8 a multiple of 16 then).
 */
export function convForward<T>(
  xp: usize,
  hp: i32,
  wp: i32,
  c: i32,
  cg: i32,
  wpk: usize,
  fh: i32,
  fw: i32,
  dilH: i32,
  dilW: i32,
  k8: i32,
  b8: usize,
  sh: i32,
  sw: i32,
  z: usize,
  kp: i32,
  nH: i32,
  nW: i32,
  r0: i32,
  r1: i32,
  act: i32,
  res: usize,
): void {
  const runs = runsOf(c, cg, fw, dilW);
  const run = bytesT<T>(runLength(c, cg, fw, dilW));
  const jump = bytesT<T>(dilW * c);
  const taps = fh * fw * cg;
  const step = bytesT<T>(sw * c); // between neighbouring output pixels' windows
  const rowStep = bytesT<T>(dilH * wp * c);
  const pix = bytesT<T>(kp);
  // output row r is row r % nH of image r / nH; each is computed alone, so any split of the range agrees
  for (let kb = 0; kb < k8; kb += block<T>()) {
    const wblk = atT<T>(wpk, kb * taps);
    // (the bias is loaded where it is added: four vectors kept across the tap loops would leave its eight
    // accumulators, six operands and a product too few of the 16 registers)
    const bias = atT<T>(b8, kb);
    for (let r = r0; r < r1; r++) {
      const i = r / nH;
      const oh = r - i * nH;
      const xrow = atT<T>(xp, (i * hp + oh * sh) * wp * c);
      const zrow = z + <usize>((i * nH + oh) * nW) * pix;
      for (let ow = 0; ow < nW; ow += 2) {
        // the second pixel of the pair; a row's odd last pixel is paired with itself and stored once
        const two = ow + 1 < nW;
        const second = two ? step : 0;
        let c00 = vsplat<T>(0);
        let c01 = vsplat<T>(0);
        let c02 = vsplat<T>(0);
        let c03 = vsplat<T>(0);
        let c10 = vsplat<T>(0);
        let c11 = vsplat<T>(0);
        let c12 = vsplat<T>(0);
        let c13 = vsplat<T>(0);
        let xr = xrow + <usize>ow * step;
        let wr = wblk;
        if (runs == 1) {
          // the fast case: each kernel row one run of fw*c taps (kept apart: the segment loop below costs
          // 3-6% on layers with few channels)
          for (let kh = 0; kh < fh; kh++) {
            let xa = xr;
            const end = xr + run;
            while (xa < end) {
              const a0 = vloadSplat<T>(xa);
              const a1 = vloadSplat<T>(xa + second);
              const w0 = v128.load(wr);
              const w1 = v128.load(wr, 16);
              const w2 = v128.load(wr, 32);
              const w3 = v128.load(wr, 48);
              c00 = vadd<T>(c00, vmul<T>(a0, w0));
              c01 = vadd<T>(c01, vmul<T>(a0, w1));
              c02 = vadd<T>(c02, vmul<T>(a0, w2));
              c03 = vadd<T>(c03, vmul<T>(a0, w3));
              c10 = vadd<T>(c10, vmul<T>(a1, w0));
              c11 = vadd<T>(c11, vmul<T>(a1, w1));
              c12 = vadd<T>(c12, vmul<T>(a1, w2));
              c13 = vadd<T>(c13, vmul<T>(a1, w3));
              xa += sizeof<T>();
              wr += 64;
            }
            xr += rowStep;
          }
        } else {
          // the window as segments of `run` consecutive taps: kernel row kh's run q starts kh*rowStep + q*jump
          // from the corner
          const segments = fh * runs;
          for (let sgm = 0, q = 0; sgm < segments; sgm++) {
            let xa = xr + <usize>q * jump;
            const end = xa + run;
            while (xa < end) {
              const a0 = vloadSplat<T>(xa);
              const a1 = vloadSplat<T>(xa + second);
              const w0 = v128.load(wr);
              const w1 = v128.load(wr, 16);
              const w2 = v128.load(wr, 32);
              const w3 = v128.load(wr, 48);
              c00 = vadd<T>(c00, vmul<T>(a0, w0));
              c01 = vadd<T>(c01, vmul<T>(a0, w1));
              c02 = vadd<T>(c02, vmul<T>(a0, w2));
              c03 = vadd<T>(c03, vmul<T>(a0, w3));
              c10 = vadd<T>(c10, vmul<T>(a1, w0));
              c11 = vadd<T>(c11, vmul<T>(a1, w1));
              c12 = vadd<T>(c12, vmul<T>(a1, w2));
              c13 = vadd<T>(c13, vmul<T>(a1, w3));
              xa += sizeof<T>();
              wr += 64;
            }
            if (++q == runs) {
              q = 0;
              xr += rowStep;
            }
          }
        }
        const z0 = atT<T>(zrow + <usize>ow * pix, kb);
        const r = res ? res + (z0 - z) : 0;
        const b0 = v128.load(bias);
        const b1 = v128.load(bias, 16);
        const b2 = v128.load(bias, 32);
        const b3 = v128.load(bias, 48);
        storeBlockAct<T>(z0, c00, c01, c02, c03, b0, b1, b2, b3, act, r);
        if (two) storeBlockAct<T>(z0 + pix, c10, c11, c12, c13, b0, b1, b2, b3, act, r ? r + pix : 0);
      }
    }
  }
}

export function conv_forward(
  xp: usize,
  hp: i32,
  wp: i32,
  c: i32,
  cg: i32,
  wpk: usize,
  fh: i32,
  fw: i32,
  dilH: i32,
  dilW: i32,
  k8: i32,
  b8: usize,
  sh: i32,
  sw: i32,
  z: usize,
  kp: i32,
  nH: i32,
  nW: i32,
  r0: i32,
  r1: i32,
  act: i32,
  res: usize,
): void {
  convForward<f64>(xp, hp, wp, c, cg, wpk, fh, fw, dilH, dilW, k8, b8, sh, sw, z, kp, nH, nW, r0, r1, act, res);
}

export function conv_forward_f32(
  xp: usize,
  hp: i32,
  wp: i32,
  c: i32,
  cg: i32,
  wpk: usize,
  fh: i32,
  fw: i32,
  dilH: i32,
  dilW: i32,
  k8: i32,
  b8: usize,
  sh: i32,
  sw: i32,
  z: usize,
  kp: i32,
  nH: i32,
  nW: i32,
  r0: i32,
  r1: i32,
  act: i32,
  res: usize,
): void {
  convForward<f32>(xp, hp, wp, c, cg, wpk, fh, fw, dilH, dilW, k8, b8, sh, sw, z, kp, nH, nW, r0, r1, act, res);
}

/**
 * dW [taps,k8] += sum over output pixels of xp-window * dZ for output rows r0..r1 and tap units u0..u1.
 * Taps are fh*fw*cg in W's order; a unit is a pair of neighbouring taps of one run (see the top of this
 * file), or the last tap of a run of odd length: kernel row kh has runs * ceil(run / 2) units. 2 taps × 8
 * channels in f64x2 registers, reduced along each output row. Every dW element is summed over rows then
 * pixels in order whatever the unit range, so a split of the units (threads) gives the same bits as one
 * call. xp [m,hp,wp,c] padded input (the group's first channel); dz [m,nH,nW,kp] with k8 channels read
 * per pixel (those past k zero).
 */
export function conv_backward_filter(
  xp: usize,
  hp: i32,
  wp: i32,
  c: i32,
  cg: i32,
  fh: i32,
  fw: i32,
  dilH: i32,
  dilW: i32,
  k8: i32,
  sh: i32,
  sw: i32,
  dz: usize,
  kp: i32,
  nH: i32,
  nW: i32,
  gw: usize,
  r0: i32,
  r1: i32,
  u0: i32,
  u1: i32,
): void {
  const runs = runsOf(c, cg, fw, dilW);
  const run = runLength(c, cg, fw, dilW);
  const perRun = (run + 1) >> 1;
  const units = runs * perRun;
  const step = bytes(sw * c);
  const rowBytes = bytes(wp * c);
  const pix = bytes(kp);
  const pix8 = bytes(k8);
  // output row r is row r % nH of image r / nH; consecutive ranges called in order equal one call
  for (let r = r0; r < r1; r++) {
    const i = r / nH;
    const oh = r - i * nH;
    const xrow = at(xp, (i * hp + oh * sh) * wp * c);
    const dzrow = dz + <usize>((i * nH + oh) * nW) * pix;
    // unit u is unit jj of run q of kernel row kh, advanced one unit at a time
    let kh = u0 / units;
    let q = (u0 - kh * units) / perRun;
    let jj = u0 - kh * units - q * perRun;
    for (let u = u0; u < u1; u++, jj++) {
      if (jj == perRun) {
        jj = 0;
        if (++q == runs) {
          q = 0;
          kh++;
        }
      }
      const j = jj << 1;
      const two = j + 1 < run;
      const x0 = at(xrow + <usize>(kh * dilH) * rowBytes, q * dilW * c + j);
      const d0 = gw + <usize>(kh * fw * cg + q * run + j) * pix8;
      const d1 = d0 + pix8;
      if (two) {
        for (let kb = 0; kb < k8; kb += 8) {
          const e0 = at(d0, kb);
          const e1 = at(d1, kb);
          let c00 = v128.load(e0),
            c01 = v128.load(e0, 16),
            c02 = v128.load(e0, 32),
            c03 = v128.load(e0, 48);
          let c10 = v128.load(e1),
            c11 = v128.load(e1, 16),
            c12 = v128.load(e1, 32),
            c13 = v128.load(e1, 48);
          let xa = x0;
          let da = at(dzrow, kb);
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
          store8(e0, c00, c01, c02, c03);
          store8(e1, c10, c11, c12, c13);
        }
      } else {
        // the last tap of a run of odd length: 1 × 8 (kept apart: pairing it with itself measured 10%
        // slower on the pairs)
        for (let kb = 0; kb < k8; kb += 8) {
          const e0 = at(d0, kb);
          let c00 = v128.load(e0),
            c01 = v128.load(e0, 16),
            c02 = v128.load(e0, 32),
            c03 = v128.load(e0, 48);
          let xa = x0;
          let da = at(dzrow, kb);
          for (let ow = 0; ow < nW; ow++) {
            const a0 = v128.load64_splat(xa);
            c00 = f64x2.add(c00, f64x2.mul(a0, v128.load(da)));
            c01 = f64x2.add(c01, f64x2.mul(a0, v128.load(da, 16)));
            c02 = f64x2.add(c02, f64x2.mul(a0, v128.load(da, 32)));
            c03 = f64x2.add(c03, f64x2.mul(a0, v128.load(da, 48)));
            xa += step;
            da += pix;
          }
          store8(e0, c00, c01, c02, c03);
        }
      }
    }
  }
}

/** db [k8] += sum of dZ over the output pixels of rows r0..r1, row by row. dz [m,nH,nW,kp], k8 read per pixel. */
export function conv_backward_bias(dz: usize, k8: i32, kp: i32, nW: i32, db: usize, r0: i32, r1: i32): void {
  const pix = bytes(kp);
  for (let r = r0; r < r1; r++) {
    const dzrow = dz + <usize>(r * nW) * pix;
    for (let kb = 0; kb < k8; kb += 2) {
      const d = at(db, kb);
      let s = v128.load(d);
      let da = at(dzrow, kb);
      for (let ow = 0; ow < nW; ow++) {
        s = f64x2.add(s, v128.load(da));
        da += pix;
      }
      v128.store(d, s);
    }
  }
}

/**
 * Packs W [fh*fw*cg, k] for conv_backward_input: each run of each kernel row (see the top of this file)
 * in blocks of 8 taps (the last one zero-padded), each block stored [k][8], so the micro-kernel reads one
 * channel's 8 taps as 4 vectors.
 */
export function conv_pack_filters_t(w: usize, fh: i32, fw: i32, c: i32, cg: i32, dilW: i32, k: i32, out: usize): void {
  const runs = runsOf(c, cg, fw, dilW);
  const run = runLength(c, cg, fw, dilW);
  let dst = out;
  for (let kh = 0; kh < fh; kh++) {
    for (let q = 0; q < runs; q++) {
      const first = kh * fw * cg + q * run;
      for (let jb = 0; jb < run; jb += 8) {
        for (let kk = 0; kk < k; kk++) {
          for (let l = 0; l < 8; l++) {
            const j = jb + l;
            store<f64>(dst, j < run ? load<f64>(at(w, (first + j) * k + kk)) : 0);
            dst += 8;
          }
        }
      }
    }
  }
}

/** p[0..8] += a0..a3 (8 lanes), or only the first r lanes when r < 8 (the end of a run). */
function addStore8(p: usize, a0: v128, a1: v128, a2: v128, a3: v128, r: i32): void {
  if (r == 8) {
    store8Plus(p, v128.load(p), v128.load(p, 16), v128.load(p, 32), v128.load(p, 48), a0, a1, a2, a3);
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
 * dxp[i, oh*sh+kh*dilH, ow*sw+kw*dilW, :] += W[kh,kw,:,:] · dZ[i,oh,ow,:] (the transposed convolution)
 * for output rows r0..r1; dxp [m,hp,wp,c] is the padded gradient (the group's first channel), zeroed by
 * the caller. wt from conv_pack_filters_t; dz [m,nH,nW,kp], k channels read per pixel. 2 output pixels ×
 * 8 taps in f64x2 registers, reduced over the k channels.
 */
export function conv_backward_input(
  wt: usize,
  fh: i32,
  fw: i32,
  c: i32,
  cg: i32,
  dilH: i32,
  dilW: i32,
  k: i32,
  kp: i32,
  sh: i32,
  sw: i32,
  dz: usize,
  nH: i32,
  nW: i32,
  dxp: usize,
  hp: i32,
  wp: i32,
  r0: i32,
  r1: i32,
): void {
  const runs = runsOf(c, cg, fw, dilW);
  const run = runLength(c, cg, fw, dilW);
  const jump = bytes(dilW * c);
  const step = bytes(sw * c);
  const rowStep = bytes(dilH * wp * c);
  const pix = bytes(kp);
  const block = bytes(k * 8); // one packed block of 8 taps
  // output row r is row r % nH of image r / nH; consecutive ranges called in order equal one call
  for (let r = r0; r < r1; r++) {
    const i = r / nH;
    const oh = r - i * nH;
    const xrow = at(dxp, (i * hp + oh * sh) * wp * c);
    const dzrow = dz + <usize>((i * nH + oh) * nW) * pix;
    let wblk = wt;
    for (let kh = 0; kh < fh; kh++) {
      for (let q = 0; q < runs; q++) {
        const xr = xrow + <usize>kh * rowStep + <usize>q * jump;
        for (let jb = 0; jb < run; jb += 8) {
          const lanes = min(8, run - jb);
          const xj = at(xr, jb);
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
            addStore8(x0, c00, c01, c02, c03, lanes);
            addStore8(x0 + step, c10, c11, c12, c13, lanes);
          }
          if (ow < nW) {
            // a row's odd last pixel: 1 × 8 (kept apart from the pairs: a shared loop measured 8-25% slower)
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
            addStore8(xj + <usize>ow * step, c00, c01, c02, c03, lanes);
          }
          wblk += block;
        }
      }
    }
  }
}

// Depthwise convolutions (one input channel per group): channels are independent, so the kernels run
// along them, 8 at a time in f64x2 registers. Every array has c8 channels per pixel (a multiple of 8,
// zero past the real ones; with a channel multiplier M the caller repeats each input channel M times).

/**
 * Z[i,oh,ow,ch] = sum over kh, kw of xp[i, oh*sh + kh*dilH, ow*sw + kw*dilW, ch] * w[kh,kw,ch], plus
 * b[ch] (then act: 0 none, 1 ReLU, 2 ReLU6), for output rows r0..r1, 2 output pixels × 8 channels at a time.
 * xp [m,hp,wp,c8] padded input;
 * w [fh,fw,c8]; b [c8]; z [m,nH,nW,c8].
 */
function convForwardDepthwise<T>(
  xp: usize,
  hp: i32,
  wp: i32,
  c8: i32,
  w: usize,
  fh: i32,
  fw: i32,
  dilH: i32,
  dilW: i32,
  b: usize,
  sh: i32,
  sw: i32,
  z: usize,
  nH: i32,
  nW: i32,
  r0: i32,
  r1: i32,
  act: i32,
): void {
  const pix = bytesT<T>(c8);
  const step = bytesT<T>(sw * c8);
  const tapW = bytesT<T>(dilW * c8);
  const tapH = bytesT<T>(dilH * wp * c8);
  for (let r = r0; r < r1; r++) {
    const i = r / nH;
    const oh = r - i * nH;
    const xrow = atT<T>(xp, (i * hp + oh * sh) * wp * c8);
    const zrow = atT<T>(z, (i * nH + oh) * nW * c8);
    for (let ow = 0; ow < nW; ow += 2) {
      // a row's odd last pixel is paired with itself and stored once
      const two = ow + 1 < nW;
      const second = two ? step : 0;
      for (let cb = 0; cb < c8; cb += block<T>()) {
        let c00 = vsplat<T>(0);
        let c01 = vsplat<T>(0);
        let c02 = vsplat<T>(0);
        let c03 = vsplat<T>(0);
        let c10 = vsplat<T>(0);
        let c11 = vsplat<T>(0);
        let c12 = vsplat<T>(0);
        let c13 = vsplat<T>(0);
        let xr = atT<T>(xrow + <usize>ow * step, cb);
        let wr = atT<T>(w, cb);
        for (let kh = 0; kh < fh; kh++) {
          let xa = xr;
          for (let kw = 0; kw < fw; kw++) {
            const w0 = v128.load(wr);
            const w1 = v128.load(wr, 16);
            const w2 = v128.load(wr, 32);
            const w3 = v128.load(wr, 48);
            const xb = xa + second;
            c00 = vadd<T>(c00, vmul<T>(v128.load(xa), w0));
            c01 = vadd<T>(c01, vmul<T>(v128.load(xa, 16), w1));
            c02 = vadd<T>(c02, vmul<T>(v128.load(xa, 32), w2));
            c03 = vadd<T>(c03, vmul<T>(v128.load(xa, 48), w3));
            c10 = vadd<T>(c10, vmul<T>(v128.load(xb), w0));
            c11 = vadd<T>(c11, vmul<T>(v128.load(xb, 16), w1));
            c12 = vadd<T>(c12, vmul<T>(v128.load(xb, 32), w2));
            c13 = vadd<T>(c13, vmul<T>(v128.load(xb, 48), w3));
            xa += tapW;
            wr += pix;
          }
          xr += tapH;
        }
        const bias = atT<T>(b, cb);
        const b0 = v128.load(bias);
        const b1 = v128.load(bias, 16);
        const b2 = v128.load(bias, 32);
        const b3 = v128.load(bias, 48);
        const z0 = atT<T>(zrow + <usize>ow * pix, cb);
        storeBlockAct<T>(z0, c00, c01, c02, c03, b0, b1, b2, b3, act, 0);
        if (two) storeBlockAct<T>(z0 + pix, c10, c11, c12, c13, b0, b1, b2, b3, act, 0);
      }
    }
  }
}

export function conv_forward_depthwise(
  xp: usize,
  hp: i32,
  wp: i32,
  c8: i32,
  w: usize,
  fh: i32,
  fw: i32,
  dilH: i32,
  dilW: i32,
  b: usize,
  sh: i32,
  sw: i32,
  z: usize,
  nH: i32,
  nW: i32,
  r0: i32,
  r1: i32,
  act: i32,
): void {
  convForwardDepthwise<f64>(xp, hp, wp, c8, w, fh, fw, dilH, dilW, b, sh, sw, z, nH, nW, r0, r1, act);
}

export function conv_forward_depthwise_f32(
  xp: usize,
  hp: i32,
  wp: i32,
  c8: i32,
  w: usize,
  fh: i32,
  fw: i32,
  dilH: i32,
  dilW: i32,
  b: usize,
  sh: i32,
  sw: i32,
  z: usize,
  nH: i32,
  nW: i32,
  r0: i32,
  r1: i32,
  act: i32,
): void {
  convForwardDepthwise<f32>(xp, hp, wp, c8, w, fh, fw, dilH, dilW, b, sh, sw, z, nH, nW, r0, r1, act);
}

/**
 * dxp[i, oh*sh + kh*dilH, ow*sw + kw*dilW, ch] += w[kh,kw,ch] * dz[i,oh,ow,ch] for output rows r0..r1,
 * in order of output pixels, then taps. dxp [m,hp,wp,c8] zeroed by the caller; w [fh,fw,c8]; dz [m,nH,nW,c8].
 */
export function conv_backward_input_depthwise(
  w: usize,
  fh: i32,
  fw: i32,
  dilH: i32,
  dilW: i32,
  c8: i32,
  sh: i32,
  sw: i32,
  dz: usize,
  nH: i32,
  nW: i32,
  dxp: usize,
  hp: i32,
  wp: i32,
  r0: i32,
  r1: i32,
): void {
  const pix = bytes(c8);
  const step = bytes(sw * c8);
  const tapW = bytes(dilW * c8);
  const tapH = bytes(dilH * wp * c8);
  for (let r = r0; r < r1; r++) {
    const i = r / nH;
    const oh = r - i * nH;
    const xrow = at(dxp, (i * hp + oh * sh) * wp * c8);
    const dzrow = at(dz, (i * nH + oh) * nW * c8);
    for (let ow = 0; ow < nW; ow++) {
      const g = dzrow + <usize>ow * pix;
      for (let cb = 0; cb < c8; cb += 8) {
        const g0 = v128.load(at(g, cb));
        const g1 = v128.load(at(g, cb), 16);
        const g2 = v128.load(at(g, cb), 32);
        const g3 = v128.load(at(g, cb), 48);
        let xr = at(xrow + <usize>ow * step, cb);
        let wr = at(w, cb);
        for (let kh = 0; kh < fh; kh++) {
          let xa = xr;
          for (let kw = 0; kw < fw; kw++) {
            store8Plus(
              xa,
              v128.load(xa),
              v128.load(xa, 16),
              v128.load(xa, 32),
              v128.load(xa, 48),
              f64x2.mul(v128.load(wr), g0),
              f64x2.mul(v128.load(wr, 16), g1),
              f64x2.mul(v128.load(wr, 32), g2),
              f64x2.mul(v128.load(wr, 48), g3),
            );
            xa += tapW;
            wr += pix;
          }
          xr += tapH;
        }
      }
    }
  }
}

/**
 * dW[t,ch] += sum over output pixels of xp-window tap t * dZ, for output rows r0..r1 and taps t0..t1
 * (t = kh*fw + kw), summed over rows then pixels in order whatever the tap range (threads split taps).
 * xp [m,hp,wp,c8]; dz [m,nH,nW,c8]; gw [fh*fw,c8].
 */
export function conv_backward_filter_depthwise(
  xp: usize,
  hp: i32,
  wp: i32,
  c8: i32,
  fh: i32,
  fw: i32,
  dilH: i32,
  dilW: i32,
  sh: i32,
  sw: i32,
  dz: usize,
  nH: i32,
  nW: i32,
  gw: usize,
  r0: i32,
  r1: i32,
  t0: i32,
  t1: i32,
): void {
  const pix = bytes(c8);
  const step = bytes(sw * c8);
  for (let r = r0; r < r1; r++) {
    const i = r / nH;
    const oh = r - i * nH;
    const xrow = at(xp, (i * hp + oh * sh) * wp * c8);
    const dzrow = at(dz, (i * nH + oh) * nW * c8);
    for (let t = t0; t < t1; t++) {
      const kh = t / fw;
      const kw = t - kh * fw;
      const xt = at(xrow, (kh * dilH * wp + kw * dilW) * c8);
      for (let cb = 0; cb < c8; cb += 8) {
        const d = at(gw, t * c8 + cb);
        let a0 = v128.load(d);
        let a1 = v128.load(d, 16);
        let a2 = v128.load(d, 32);
        let a3 = v128.load(d, 48);
        let xa = at(xt, cb);
        let ga = at(dzrow, cb);
        for (let ow = 0; ow < nW; ow++) {
          a0 = f64x2.add(a0, f64x2.mul(v128.load(xa), v128.load(ga)));
          a1 = f64x2.add(a1, f64x2.mul(v128.load(xa, 16), v128.load(ga, 16)));
          a2 = f64x2.add(a2, f64x2.mul(v128.load(xa, 32), v128.load(ga, 32)));
          a3 = f64x2.add(a3, f64x2.mul(v128.load(xa, 48), v128.load(ga, 48)));
          xa += step;
          ga += pix;
        }
        store8(d, a0, a1, a2, a3);
      }
    }
  }
}
