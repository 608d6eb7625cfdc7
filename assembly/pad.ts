// zero_pad: the notebook's np.pad(X, ((0,0),(pad,pad),(pad,pad),(0,0))) on raw NHWC memory.

/**
 * Zero-pads H and W of images i0..i1 (exclusive): x [m,h,w,c] read through element strides
 * (sx0..sx3) -> out [m,h+2*pad,w+2*pad,c] C-contiguous. Every element of those images is written.
 */
export function zero_pad(
  x: usize,
  sx0: i32,
  sx1: i32,
  sx2: i32,
  sx3: i32,
  h: i32,
  w: i32,
  c: i32,
  pad: i32,
  out: usize,
  i0: i32,
  i1: i32,
): void {
  const wp = w + 2 * pad;
  const rowBytes = (<usize>(wp * c)) << 3;
  const imageBytes = <usize>(h + 2 * pad) * rowBytes;
  const padBytes = (<usize>(pad * c)) << 3;
  for (let i = i0; i < i1; i++) {
    const img = out + <usize>i * imageBytes;
    // top and bottom bands of zero rows
    memory.fill(img, 0, <usize>pad * rowBytes);
    memory.fill(img + <usize>(pad + h) * rowBytes, 0, <usize>pad * rowBytes);
    for (let y = 0; y < h; y++) {
      const row = img + <usize>(y + pad) * rowBytes;
      memory.fill(row, 0, padBytes);
      memory.fill(row + rowBytes - padBytes, 0, padBytes);
      const dst = row + padBytes;
      const src = i * sx0 + y * sx1;
      if (sx3 == 1 && sx2 == c) {
        // channels and columns contiguous: one copy per row
        memory.copy(dst, x + ((<usize>src) << 3), (<usize>(w * c)) << 3);
      } else {
        for (let xw = 0; xw < w; xw++) {
          const s = src + xw * sx2;
          const d = dst + ((<usize>(xw * c)) << 3);
          for (let ch = 0; ch < c; ch++) {
            store<f64>(d + ((<usize>ch) << 3), load<f64>(x + ((<usize>(s + ch * sx3)) << 3)));
          }
        }
      }
    }
  }
}
