// Address arithmetic on float64 elements. The element size lives here alone, so that a float32 build
// could follow by changing it (and the f64x2 lanes) in one place.

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

/** p[0..8] = a0..a3 + b0..b3, and with `relu` max(0, ·) of that (np.maximum(0, Z): NaN stays NaN). */
/**
 * p[0..8] = act(a + b + res[0..8]) (res 0: nothing added): act 0 none, 1 max(0, ·) (ReLU), 2 min(max(0, ·), 6)
 * (ReLU6). The residual add and the activation fused into a conv's stores, as a ResNet block ends.
 */
// @ts-ignore: decorator
@inline
export function store8Act(p: usize, a0: v128, a1: v128, a2: v128, a3: v128, b0: v128, b1: v128, b2: v128, b3: v128, act: i32, res: usize): void {
  let v0 = f64x2.add(a0, b0);
  let v1 = f64x2.add(a1, b1);
  let v2 = f64x2.add(a2, b2);
  let v3 = f64x2.add(a3, b3);
  if (res) {
    v0 = f64x2.add(v0, v128.load(res));
    v1 = f64x2.add(v1, v128.load(res, 16));
    v2 = f64x2.add(v2, v128.load(res, 32));
    v3 = f64x2.add(v3, v128.load(res, 48));
  }
  if (act != 0) {
    const zero = f64x2.splat(0);
    v0 = f64x2.max(v0, zero);
    v1 = f64x2.max(v1, zero);
    v2 = f64x2.max(v2, zero);
    v3 = f64x2.max(v3, zero);
    if (act == 2) {
      const six = f64x2.splat(6);
      v0 = f64x2.min(v0, six);
      v1 = f64x2.min(v1, six);
      v2 = f64x2.min(v2, six);
      v3 = f64x2.min(v3, six);
    }
  }
  store8(p, v0, v1, v2, v3);
}
