// Address arithmetic and vector helpers: on float64 elements (at, bytes), and on either element type T
// (atT, bytesT, v*) for the kernels written once for f64 and f32.

/** log2 of the element size in bytes. */
export const SHIFT: i32 = 3;

/** Bytes of `n` elements. */
// @ts-ignore: decorator
@inline
export function bytes(n: i32): usize {
  return (<usize>n) << SHIFT;
}

/** The address of element `i` from `base`. */
// @ts-ignore: decorator
@inline
export function at(base: usize, i: i32): usize {
  return base + ((<usize>i) << SHIFT);
}

/** p[0..8] = a0..a3 (8 lanes). */
// @ts-ignore: decorator
@inline
export function store8(p: usize, a0: v128, a1: v128, a2: v128, a3: v128): void {
  v128.store(p, a0);
  v128.store(p, a1, 16);
  v128.store(p, a2, 32);
  v128.store(p, a3, 48);
}

/** p[0..8] = a0..a3 + b0..b3. */
// @ts-ignore: decorator
@inline
export function store8Plus(p: usize, a0: v128, a1: v128, a2: v128, a3: v128, b0: v128, b1: v128, b2: v128, b3: v128): void {
  store8(p, f64x2.add(a0, b0), f64x2.add(a1, b1), f64x2.add(a2, b2), f64x2.add(a3, b3));
}

// ---- the same, for either element type T (f64 or f32): sizeof<T>() is a compile-time constant, so each
// helper compiles to the one instruction of its type. A kernel written with these is one source for both.

/** Elements of T in one v128: 2 f64 or 4 f32. */
// @ts-ignore: decorator
@inline
export function lanes<T>(): i32 {
  return <i32>(16 / sizeof<T>());
}

/** Channels of a micro-kernel's block, four v128 registers: 8 f64 or 16 f32. */
// @ts-ignore: decorator
@inline
export function block<T>(): i32 {
  return <i32>(64 / sizeof<T>());
}

/** The address of element `i` of T from `base`. */
// @ts-ignore: decorator
@inline
export function atT<T>(base: usize, i: i32): usize {
  return base + (<usize>i) * sizeof<T>();
}

/** Bytes of `n` elements of T. */
// @ts-ignore: decorator
@inline
export function bytesT<T>(n: i32): usize {
  return (<usize>n) * sizeof<T>();
}

// @ts-ignore: decorator
@inline
export function vadd<T>(a: v128, b: v128): v128 {
  if (sizeof<T>() == 8) return f64x2.add(a, b);
  return f32x4.add(a, b);
}

// @ts-ignore: decorator
@inline
export function vmul<T>(a: v128, b: v128): v128 {
  if (sizeof<T>() == 8) return f64x2.mul(a, b);
  return f32x4.mul(a, b);
}

// @ts-ignore: decorator
@inline
export function vmax<T>(a: v128, b: v128): v128 {
  if (sizeof<T>() == 8) return f64x2.max(a, b);
  return f32x4.max(a, b);
}

// @ts-ignore: decorator
@inline
export function vmin<T>(a: v128, b: v128): v128 {
  if (sizeof<T>() == 8) return f64x2.min(a, b);
  return f32x4.min(a, b);
}

/** pmax(v, m) = v < m ? m : v (see pool.ts). */
// @ts-ignore: decorator
@inline
export function vpmax<T>(a: v128, b: v128): v128 {
  if (sizeof<T>() == 8) return f64x2.pmax(a, b);
  return f32x4.pmax(a, b);
}

/** All ones in the lanes where a ≠ b (a NaN: a ≠ a). */
// @ts-ignore: decorator
@inline
export function vne<T>(a: v128, b: v128): v128 {
  if (sizeof<T>() == 8) return f64x2.ne(a, b);
  return f32x4.ne(a, b);
}

/** Every lane `x`. */
// @ts-ignore: decorator
@inline
export function vsplat<T>(x: f64): v128 {
  if (sizeof<T>() == 8) return f64x2.splat(x);
  return f32x4.splat(<f32>x);
}

/** Every lane the element at p. */
// @ts-ignore: decorator
@inline
export function vloadSplat<T>(p: usize): v128 {
  if (sizeof<T>() == 8) return v128.load64_splat(p);
  return v128.load32_splat(p);
}

/**
 * p[0..block) = act(a + b + res[0..block)) (res 0: nothing added): act 0 none, 1 max(0, ·) (ReLU), 2
 * min(max(0, ·), 6) (ReLU6). The residual add and the activation fused into a conv's stores, as a ResNet
 * block ends.
 */
// @ts-ignore: decorator
@inline
export function storeBlockAct<T>(p: usize, a0: v128, a1: v128, a2: v128, a3: v128, b0: v128, b1: v128, b2: v128, b3: v128, act: i32, res: usize): void {
  let v0 = vadd<T>(a0, b0);
  let v1 = vadd<T>(a1, b1);
  let v2 = vadd<T>(a2, b2);
  let v3 = vadd<T>(a3, b3);
  if (res) {
    v0 = vadd<T>(v0, v128.load(res));
    v1 = vadd<T>(v1, v128.load(res, 16));
    v2 = vadd<T>(v2, v128.load(res, 32));
    v3 = vadd<T>(v3, v128.load(res, 48));
  }
  if (act != 0) {
    const zero = vsplat<T>(0);
    v0 = vmax<T>(v0, zero);
    v1 = vmax<T>(v1, zero);
    v2 = vmax<T>(v2, zero);
    v3 = vmax<T>(v3, zero);
    if (act == 2) {
      const six = vsplat<T>(6);
      v0 = vmin<T>(v0, six);
      v1 = vmin<T>(v1, six);
      v2 = vmin<T>(v2, six);
      v3 = vmin<T>(v3, six);
    }
  }
  store8(p, v0, v1, v2, v3);
}

// @ts-ignore: decorator
@inline
export function vdiv<T>(a: v128, b: v128): v128 {
  if (sizeof<T>() == 8) return f64x2.div(a, b);
  return f32x4.div(a, b);
}

// @ts-ignore: decorator
@inline
export function vsub<T>(a: v128, b: v128): v128 {
  if (sizeof<T>() == 8) return f64x2.sub(a, b);
  return f32x4.sub(a, b);
}
