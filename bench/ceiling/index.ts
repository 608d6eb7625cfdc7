// The machine's attainable f64x2 throughput: a register-blocked multiply-add loop (2 rows × 8 columns of
// accumulators, as a GEMM micro-kernel) on operands that stay in L1. Compiled with the library's flags.

/**
 * reps × n steps of acc[r][0..8] += a[r][j] * b[j][0..8] for r = 0, 1; a [2,n], b [n,8].
 * Returns the sum of the accumulators so the work cannot be optimised away. 32 flops a step.
 */
export function ceiling(a: usize, b: usize, n: i32, reps: i32): f64 {
  let c00 = f64x2.splat(0),
    c01 = f64x2.splat(0),
    c02 = f64x2.splat(0),
    c03 = f64x2.splat(0);
  let c10 = f64x2.splat(0),
    c11 = f64x2.splat(0),
    c12 = f64x2.splat(0),
    c13 = f64x2.splat(0);
  for (let r = 0; r < reps; r++) {
    let pa = a;
    let pb = b;
    for (let j = 0; j < n; j++) {
      const a0 = v128.load64_splat(pa);
      const a1 = v128.load64_splat(pa + ((<usize>n) << 3));
      const b0 = v128.load(pb);
      const b1 = v128.load(pb, 16);
      const b2 = v128.load(pb, 32);
      const b3 = v128.load(pb, 48);
      c00 = f64x2.add(c00, f64x2.mul(a0, b0));
      c01 = f64x2.add(c01, f64x2.mul(a0, b1));
      c02 = f64x2.add(c02, f64x2.mul(a0, b2));
      c03 = f64x2.add(c03, f64x2.mul(a0, b3));
      c10 = f64x2.add(c10, f64x2.mul(a1, b0));
      c11 = f64x2.add(c11, f64x2.mul(a1, b1));
      c12 = f64x2.add(c12, f64x2.mul(a1, b2));
      c13 = f64x2.add(c13, f64x2.mul(a1, b3));
      pa += 8;
      pb += 64;
    }
  }
  const s = f64x2.add(
    f64x2.add(f64x2.add(c00, c01), f64x2.add(c02, c03)),
    f64x2.add(f64x2.add(c10, c11), f64x2.add(c12, c13)),
  );
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}

/** Where the operands go: the first byte past static data. */
export function heap_base(): usize {
  return __heap_base;
}

/**
 * The f32x4 line: reps × n steps of acc[r][0..16] += a[r][j] * b[j][0..16] for r = 0, 1; a [2,n], b [n,16]
 * in float32. The same 8 accumulators, loads and instructions as ceiling(), twice the lanes: 64 flops a step.
 */
export function ceiling_f32(a: usize, b: usize, n: i32, reps: i32): f64 {
  let c00 = f32x4.splat(0),
    c01 = f32x4.splat(0),
    c02 = f32x4.splat(0),
    c03 = f32x4.splat(0);
  let c10 = f32x4.splat(0),
    c11 = f32x4.splat(0),
    c12 = f32x4.splat(0),
    c13 = f32x4.splat(0);
  for (let r = 0; r < reps; r++) {
    let pa = a;
    let pb = b;
    for (let j = 0; j < n; j++) {
      const a0 = v128.load32_splat(pa);
      const a1 = v128.load32_splat(pa + ((<usize>n) << 2));
      const b0 = v128.load(pb);
      const b1 = v128.load(pb, 16);
      const b2 = v128.load(pb, 32);
      const b3 = v128.load(pb, 48);
      c00 = f32x4.add(c00, f32x4.mul(a0, b0));
      c01 = f32x4.add(c01, f32x4.mul(a0, b1));
      c02 = f32x4.add(c02, f32x4.mul(a0, b2));
      c03 = f32x4.add(c03, f32x4.mul(a0, b3));
      c10 = f32x4.add(c10, f32x4.mul(a1, b0));
      c11 = f32x4.add(c11, f32x4.mul(a1, b1));
      c12 = f32x4.add(c12, f32x4.mul(a1, b2));
      c13 = f32x4.add(c13, f32x4.mul(a1, b3));
      pa += 4;
      pb += 64;
    }
  }
  const s = f32x4.add(
    f32x4.add(f32x4.add(c00, c01), f32x4.add(c02, c03)),
    f32x4.add(f32x4.add(c10, c11), f32x4.add(c12, c13)),
  );
  return <f64>(
    (f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3))
  );
}
