// IEEE half precision, as .npy files ('<f2') and ONNX initializers (FLOAT16) store it.

/** The number 16 bits of IEEE half precision stand for (subnormals, ±Infinity and NaN included). */
export function half(bits: number): number {
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  const s = bits & 0x8000 ? -1 : 1;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
