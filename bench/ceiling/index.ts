// The machine's attainable SIMD multiply-add throughput: a register-blocked loop (2 rows × 4 registers of
// accumulators, as the conv micro-kernel) on operands that stay in L1, written once over the element type
// with the kernels' own vector helpers and compiled with the library's flags: f64x2 and its f32x4 line.
import { vadd, vloadSplat, vmul, vsplat } from "../../assembly/mem";

/**
 * reps × n steps of acc[r][0..4 registers] += a[r][j] * b[j][0..4 registers] for r = 0, 1; a [2,n], b
 * [n,4 registers] of T. The lanes of the 8 accumulators, summed (so the work cannot be optimised away).
 * 16 multiply-adds of registers a step: 32 flops in f64, 64 in f32.
 */
function ceilingOf<T>(a: usize, b: usize, n: i32, reps: i32): v128 {
  let c00 = vsplat<T>(0),
    c01 = vsplat<T>(0),
    c02 = vsplat<T>(0),
    c03 = vsplat<T>(0);
  let c10 = vsplat<T>(0),
    c11 = vsplat<T>(0),
    c12 = vsplat<T>(0),
    c13 = vsplat<T>(0);
  const row = <usize>n * sizeof<T>();
  for (let r = 0; r < reps; r++) {
    let pa = a;
    let pb = b;
    for (let j = 0; j < n; j++) {
      const a0 = vloadSplat<T>(pa);
      const a1 = vloadSplat<T>(pa + row);
      const b0 = v128.load(pb);
      const b1 = v128.load(pb, 16);
      const b2 = v128.load(pb, 32);
      const b3 = v128.load(pb, 48);
      c00 = vadd<T>(c00, vmul<T>(a0, b0));
      c01 = vadd<T>(c01, vmul<T>(a0, b1));
      c02 = vadd<T>(c02, vmul<T>(a0, b2));
      c03 = vadd<T>(c03, vmul<T>(a0, b3));
      c10 = vadd<T>(c10, vmul<T>(a1, b0));
      c11 = vadd<T>(c11, vmul<T>(a1, b1));
      c12 = vadd<T>(c12, vmul<T>(a1, b2));
      c13 = vadd<T>(c13, vmul<T>(a1, b3));
      pa += sizeof<T>();
      pb += 64;
    }
  }
  return vadd<T>(vadd<T>(vadd<T>(c00, c01), vadd<T>(c02, c03)), vadd<T>(vadd<T>(c10, c11), vadd<T>(c12, c13)));
}

/** The f64x2 line: a [2,n], b [n,8] float64. */
export function ceiling(a: usize, b: usize, n: i32, reps: i32): f64 {
  const s = ceilingOf<f64>(a, b, n, reps);
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}

/** The f32x4 line: a [2,n], b [n,16] float32, the same instructions on four lanes. */
export function ceiling_f32(a: usize, b: usize, n: i32, reps: i32): f64 {
  const s = ceilingOf<f32>(a, b, n, reps);
  return <f64>(
    (f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3))
  );
}

/** Where the operands go: the first byte past static data. */
export function heap_base(): usize {
  return __heap_base;
}
