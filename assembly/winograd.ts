// Winograd F(2×2, 3×3) for 3×3 stride-1 convolutions: the input and output transforms, a vector of channels per
// v128 (f64 or, in the *_f32 twins, f32). The elementwise stage between them is 16 GEMMs (one per point ξ of the 4×4 transform domain) run
// by conv_forward's packed-panel micro-kernel as 1×1 convolutions, so this file only moves data:
//
//   V[ξ][tile][c] = (Bᵀ d B)[ξ]   d: the tile's 4×4 input patch of channel c
//   M[ξ][tile][k] = Σ_c V[ξ][tile][c] · U[ξ][c][k]   (U = G g Gᵀ, the filters' transform, made by the facade)
//   Y[tile][k]    = Aᵀ M A (2×2 outputs) + b[k]
//
// with Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1] and Aᵀ = [1 1 1 0; 0 1 −1 −1]. Tiles are numbered
// row by row over the batch: tile (i, ty, tx) is number (i·th + ty)·tw + tx. A task covers tile rows
// r0..r1 (r = i·th + ty), so tasks write disjoint tiles and the bits never depend on the split.
import { at, atT, lanes, vadd, vmax, vsplat, vsub } from "./mem";

/**
 * V from the padded input xp [m][hp][wp][c] (hp ≥ 2·th + 2 and wp ≥ 2·tw + 2: zeros past the image),
 * written at v + (ξ·tiles + tile)·c, for tile rows r0..r1.
 */
function winogradInput<T>(xp: usize, hp: i32, wp: i32, c: i32, th: i32, tw: i32, tiles: i32, v: usize, r0: i32, r1: i32): void {
  const rowStride = wp * c;
  const plane = tiles * c;
  for (let r = r0; r < r1; r++) {
    const img = r / th;
    const ty = r - img * th;
    for (let tx = 0; tx < tw; tx++) {
      const src = atT<T>(xp, (img * hp + 2 * ty) * rowStride + 2 * tx * c);
      const dst = atT<T>(v, (r * tw + tx) * c);
      let ch = 0;
      for (; ch + lanes<T>() <= c; ch += lanes<T>()) {
        const p = src + (<usize>ch * sizeof<T>());
        // the 4×4 patch, rows d0..d3, columns 0..3
        const s0 = <usize>rowStride * sizeof<T>();
        const cs = <usize>c * sizeof<T>();
        const d00 = v128.load(p), d01 = v128.load(p + cs), d02 = v128.load(p + 2 * cs), d03 = v128.load(p + 3 * cs);
        const d10 = v128.load(p + s0), d11 = v128.load(p + s0 + cs), d12 = v128.load(p + s0 + 2 * cs), d13 = v128.load(p + s0 + 3 * cs);
        const d20 = v128.load(p + 2 * s0), d21 = v128.load(p + 2 * s0 + cs), d22 = v128.load(p + 2 * s0 + 2 * cs), d23 = v128.load(p + 2 * s0 + 3 * cs);
        const d30 = v128.load(p + 3 * s0), d31 = v128.load(p + 3 * s0 + cs), d32 = v128.load(p + 3 * s0 + 2 * cs), d33 = v128.load(p + 3 * s0 + 3 * cs);
        // Bᵀ d: rows t0..t3
        const t00 = vsub<T>(d00, d20), t01 = vsub<T>(d01, d21), t02 = vsub<T>(d02, d22), t03 = vsub<T>(d03, d23);
        const t10 = vadd<T>(d10, d20), t11 = vadd<T>(d11, d21), t12 = vadd<T>(d12, d22), t13 = vadd<T>(d13, d23);
        const t20 = vsub<T>(d20, d10), t21 = vsub<T>(d21, d11), t22 = vsub<T>(d22, d12), t23 = vsub<T>(d23, d13);
        const t30 = vsub<T>(d10, d30), t31 = vsub<T>(d11, d31), t32 = vsub<T>(d12, d32), t33 = vsub<T>(d13, d33);
        // (Bᵀ d) B: each row's columns the same way
        const q = dst + (<usize>ch * sizeof<T>());
        const pl = <usize>plane * sizeof<T>();
        store4(q, pl, 0, vsub<T>(t00, t02), vadd<T>(t01, t02), vsub<T>(t02, t01), vsub<T>(t01, t03));
        store4(q, pl, 4, vsub<T>(t10, t12), vadd<T>(t11, t12), vsub<T>(t12, t11), vsub<T>(t11, t13));
        store4(q, pl, 8, vsub<T>(t20, t22), vadd<T>(t21, t22), vsub<T>(t22, t21), vsub<T>(t21, t23));
        store4(q, pl, 12, vsub<T>(t30, t32), vadd<T>(t31, t32), vsub<T>(t32, t31), vsub<T>(t31, t33));
      }
      for (; ch < c; ch++) {
        // an odd last channel: the same arithmetic on scalars
        const p = src + (<usize>ch * sizeof<T>());
        const s0 = <usize>rowStride * sizeof<T>();
        const cs = <usize>c * sizeof<T>();
        const q = dst + (<usize>ch * sizeof<T>());
        const pl = <usize>plane * sizeof<T>();
        for (let j = 0; j < 4; j++) {
          // column j of Bᵀ d
          const cj = p + <usize>j * cs;
          const e0 = load<T>(cj), e1 = load<T>(cj + s0), e2 = load<T>(cj + 2 * s0), e3 = load<T>(cj + 3 * s0);
          store<T>(q + <usize>j * pl, e0 - e2);
          store<T>(q + <usize>(4 + j) * pl, e1 + e2);
          store<T>(q + <usize>(8 + j) * pl, e2 - e1);
          store<T>(q + <usize>(12 + j) * pl, e1 - e3);
        }
        for (let i = 0; i < 4; i++) {
          // row i of (Bᵀ d), then times B, in place
          const ri = q + <usize>(4 * i) * pl;
          const a = load<T>(ri), b = load<T>(ri + pl), e = load<T>(ri + 2 * pl), f = load<T>(ri + 3 * pl);
          store<T>(ri, a - e);
          store<T>(ri + pl, b + e);
          store<T>(ri + 2 * pl, e - b);
          store<T>(ri + 3 * pl, b - f);
        }
      }
    }
  }
}

export function winograd_input(xp: usize, hp: i32, wp: i32, c: i32, th: i32, tw: i32, tiles: i32, v: usize, r0: i32, r1: i32): void {
  winogradInput<f64>(xp, hp, wp, c, th, tw, tiles, v, r0, r1);
}

export function winograd_input_f32(xp: usize, hp: i32, wp: i32, c: i32, th: i32, tw: i32, tiles: i32, v: usize, r0: i32, r1: i32): void {
  winogradInput<f32>(xp, hp, wp, c, th, tw, tiles, v, r0, r1);
}

/** Four values of one row of the transform, at points ξ = xi..xi+3 (planes `pl` bytes apart). */
// @ts-ignore: decorator
@inline
function store4(q: usize, pl: usize, xi: i32, a: v128, b: v128, c: v128, d: v128): void {
  v128.store(q + <usize>xi * pl, a);
  v128.store(q + <usize>(xi + 1) * pl, b);
  v128.store(q + <usize>(xi + 2) * pl, c);
  v128.store(q + <usize>(xi + 3) * pl, d);
}

/**
 * Y = Aᵀ M A + b from M at mm + (ξ·tiles + tile)·kp (kp ≥ k8 channels, 8-aligned), written into
 * z [m][nH][nW][kp] for the outputs inside the image (tiles past an odd edge write one row or column),
 * for tile rows r0..r1; with `relu`, max(0, ·) of it.
 */
function winogradOutput<T>(mm: usize, kp: i32, k8: i32, b8: usize, th: i32, tw: i32, tiles: i32, z: usize, nH: i32, nW: i32, r0: i32, r1: i32, relu: i32): void {
  const pl = (<usize>tiles * <usize>kp) * sizeof<T>();
  const zero = vsplat<T>(0);
  for (let r = r0; r < r1; r++) {
    const img = r / th;
    const ty = r - img * th;
    const rows = min(2, nH - 2 * ty);
    for (let tx = 0; tx < tw; tx++) {
      const cols = min(2, nW - 2 * tx);
      const src = atT<T>(mm, (r * tw + tx) * kp);
      const out = atT<T>(z, ((img * nH + 2 * ty) * nW + 2 * tx) * kp);
      const rowBytes = (<usize>nW * <usize>kp) * sizeof<T>();
      for (let k = 0; k < k8; k += lanes<T>()) {
        const p = src + (<usize>k * sizeof<T>());
        const m0 = v128.load(p), m1 = v128.load(p + pl), m2 = v128.load(p + 2 * pl), m3 = v128.load(p + 3 * pl);
        const m4 = v128.load(p + 4 * pl), m5 = v128.load(p + 5 * pl), m6 = v128.load(p + 6 * pl), m7 = v128.load(p + 7 * pl);
        const m8 = v128.load(p + 8 * pl), m9 = v128.load(p + 9 * pl), m10 = v128.load(p + 10 * pl), m11 = v128.load(p + 11 * pl);
        const m12 = v128.load(p + 12 * pl), m13 = v128.load(p + 13 * pl), m14 = v128.load(p + 14 * pl), m15 = v128.load(p + 15 * pl);
        // Aᵀ M: two rows of four
        const s0 = vadd<T>(vadd<T>(m0, m4), m8), s1 = vadd<T>(vadd<T>(m1, m5), m9);
        const s2 = vadd<T>(vadd<T>(m2, m6), m10), s3 = vadd<T>(vadd<T>(m3, m7), m11);
        const u0 = vsub<T>(vsub<T>(m4, m8), m12), u1 = vsub<T>(vsub<T>(m5, m9), m13);
        const u2 = vsub<T>(vsub<T>(m6, m10), m14), u3 = vsub<T>(vsub<T>(m7, m11), m15);
        const bias = v128.load(b8 + (<usize>k * sizeof<T>()));
        let y00 = vadd<T>(vadd<T>(vadd<T>(s0, s1), s2), bias);
        let y01 = vadd<T>(vsub<T>(vsub<T>(s1, s2), s3), bias);
        let y10 = vadd<T>(vadd<T>(vadd<T>(u0, u1), u2), bias);
        let y11 = vadd<T>(vsub<T>(vsub<T>(u1, u2), u3), bias);
        if (relu) {
          y00 = vmax<T>(y00, zero);
          y01 = vmax<T>(y01, zero);
          y10 = vmax<T>(y10, zero);
          y11 = vmax<T>(y11, zero);
        }
        const q = out + (<usize>k * sizeof<T>());
        const kb = <usize>kp * sizeof<T>();
        v128.store(q, y00);
        if (cols > 1) v128.store(q + kb, y01);
        if (rows > 1) {
          v128.store(q + rowBytes, y10);
          if (cols > 1) v128.store(q + rowBytes + kb, y11);
        }
      }
    }
  }
}

export function winograd_output(mm: usize, kp: i32, k8: i32, b8: usize, th: i32, tw: i32, tiles: i32, z: usize, nH: i32, nW: i32, r0: i32, r1: i32, relu: i32): void {
  winogradOutput<f64>(mm, kp, k8, b8, th, tw, tiles, z, nH, nW, r0, r1, relu);
}

export function winograd_output_f32(mm: usize, kp: i32, k8: i32, b8: usize, th: i32, tw: i32, tiles: i32, z: usize, nH: i32, nW: i32, r0: i32, r1: i32, relu: i32): void {
  winogradOutput<f32>(mm, kp, k8, b8, th, tw, tiles, z, nH, nW, r0, r1, relu);
}

/** G of F(2×2, 3×3) and F(4×4, 3×3), row by row (static data). */
const G2: StaticArray<f64> = [1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1];
const G4: StaticArray<f64> = [
  0.25, 0, 0,
  -1.0 / 6, -1.0 / 6, -1.0 / 6,
  -1.0 / 6, 1.0 / 6, -1.0 / 6,
  1.0 / 24, 1.0 / 12, 1.0 / 6,
  1.0 / 24, -1.0 / 12, 1.0 / 6,
  0, 0, 1,
];

/**
 * The filters' transform U = G g Gᵀ (α × α, α = tile + 2) of w [3][3][cin][kout], written straight into
 * the GEMMs' packed panels: point ξ's panel at u + ξ·cin·k8, output channel o of input channel i at
 * (o / 8)·cin·8 + i·8 + o % 8 (conv_pack_filters' layout; the padding lanes must be zero already).
 */
export function winograd_filter(w: usize, cin: i32, kout: i32, k8: i32, tile: i32, u: usize): void {
  const a = tile + 2;
  const G = tile == 2 ? G2 : G4;
  const plane = (<usize>cin * <usize>k8) << 3;
  const tapStride = (<usize>cin * <usize>kout) << 3;
  for (let ci = 0; ci < cin; ci++) {
    for (let ko = 0; ko < kout; ko += 2) {
      const two = ko + 1 < kout;
      const p = w + ((<usize>(ci * kout + ko)) << 3);
      const g0 = tap(p, two), g1 = tap(p + tapStride, two), g2 = tap(p + 2 * tapStride, two);
      const g3 = tap(p + 3 * tapStride, two), g4 = tap(p + 4 * tapStride, two), g5 = tap(p + 5 * tapStride, two);
      const g6 = tap(p + 6 * tapStride, two), g7 = tap(p + 7 * tapStride, two), g8 = tap(p + 8 * tapStride, two);
      const dst = u + ((<usize>((ko >> 3) * cin * 8 + ci * 8 + (ko & 7))) << 3);
      for (let i = 0; i < a; i++) {
        const a0 = f64x2.splat(unchecked(G[i * 3])), a1 = f64x2.splat(unchecked(G[i * 3 + 1])), a2 = f64x2.splat(unchecked(G[i * 3 + 2]));
        // row i of G g
        const t0 = f64x2.add(f64x2.add(f64x2.mul(a0, g0), f64x2.mul(a1, g3)), f64x2.mul(a2, g6));
        const t1 = f64x2.add(f64x2.add(f64x2.mul(a0, g1), f64x2.mul(a1, g4)), f64x2.mul(a2, g7));
        const t2 = f64x2.add(f64x2.add(f64x2.mul(a0, g2), f64x2.mul(a1, g5)), f64x2.mul(a2, g8));
        for (let j = 0; j < a; j++) {
          const b0 = f64x2.splat(unchecked(G[j * 3])), b1 = f64x2.splat(unchecked(G[j * 3 + 1])), b2 = f64x2.splat(unchecked(G[j * 3 + 2]));
          const v = f64x2.add(f64x2.add(f64x2.mul(t0, b0), f64x2.mul(t1, b1)), f64x2.mul(t2, b2));
          const q = dst + <usize>(i * a + j) * plane;
          if (two) v128.store(q, v);
          else store<f64>(q, f64x2.extract_lane(v, 0));
        }
      }
    }
  }
}

/** Output channels ko, ko + 1 of one tap (the second lane 0 past the last channel). */
// @ts-ignore: decorator
@inline
function tap(p: usize, two: bool): v128 {
  return two ? v128.load(p) : f64x2.replace_lane(f64x2.splat(0), 0, load<f64>(p));
}

/**
 * For dW by Winograd F(3×3, 2×2): U[ξ][tile][k] = (G dz G')[ξ] of each 2×2 tile of dz [m][nH][nW][kp]
 * (zeros past the edge), G = [1 0; ½ ½; ½ −½; 0 −1] (the last row negated, so that the input transform
 * is winograd_input's), written at u + (ξ·tiles + tile)·kp for k < k8, for tile rows r0..r1.
 */
export function winograd_dz(dz: usize, kp: i32, k8: i32, nH: i32, nW: i32, th: i32, tw: i32, tiles: i32, u: usize, r0: i32, r1: i32): void {
  const pl = (<usize>tiles * <usize>kp) << 3;
  const kb = (<usize>kp) << 3;
  const rowBytes = (<usize>nW * <usize>kp) << 3;
  const half = f64x2.splat(0.5);
  const zero = f64x2.splat(0);
  for (let r = r0; r < r1; r++) {
    const img = r / th;
    const ty = r - img * th;
    const down = 2 * ty + 1 < nH;
    for (let tx = 0; tx < tw; tx++) {
      const right = 2 * tx + 1 < nW;
      const src = at(dz, ((img * nH + 2 * ty) * nW + 2 * tx) * kp);
      const dst = at(u, (r * tw + tx) * kp);
      for (let k = 0; k < k8; k += 2) {
        const p = src + (<usize>k << 3);
        const g00 = v128.load(p);
        const g01 = right ? v128.load(p + kb) : zero;
        const g10 = down ? v128.load(p + rowBytes) : zero;
        const g11 = down && right ? v128.load(p + rowBytes + kb) : zero;
        // G g: 4 rows of 2
        const a0 = g00, b0 = g01;
        const a1 = f64x2.mul(f64x2.add(g00, g10), half), b1 = f64x2.mul(f64x2.add(g01, g11), half);
        const a2 = f64x2.mul(f64x2.sub(g00, g10), half), b2 = f64x2.mul(f64x2.sub(g01, g11), half);
        const a3 = f64x2.neg(g10), b3 = f64x2.neg(g11);
        // (G g) Gᵀ: each row (a, b) to (a, (a + b)/2, (a − b)/2, −b)
        const q = dst + (<usize>k << 3);
        row4(q, pl, 0, a0, b0, half);
        row4(q, pl, 4, a1, b1, half);
        row4(q, pl, 8, a2, b2, half);
        row4(q, pl, 12, a3, b3, half);
      }
    }
  }
}

/** One row of G g Gᵀ from a row (a, b) of G g, at points xi..xi+3. */
// @ts-ignore: decorator
@inline
function row4(q: usize, pl: usize, xi: i32, a: v128, b: v128, half: v128): void {
  v128.store(q + <usize>xi * pl, a);
  v128.store(q + <usize>(xi + 1) * pl, f64x2.mul(f64x2.add(a, b), half));
  v128.store(q + <usize>(xi + 2) * pl, f64x2.mul(f64x2.sub(a, b), half));
  v128.store(q + <usize>(xi + 3) * pl, f64x2.neg(b));
}
