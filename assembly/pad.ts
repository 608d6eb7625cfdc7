// zero_pad: np.pad(X, ((0,0),(top,bottom),(left,right),(0,0))) on raw NHWC memory.
import { at, bytes } from "./mem";

/**
 * Zero-pads H and W of images i0..i1 (exclusive): x [m,h,w,c] read through element strides
 * (sx0..sx3) -> out [m,top+h+bottom,left+w+right,c] C-contiguous. Every element of those images is written.
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
  top: i32,
  bottom: i32,
  left: i32,
  right: i32,
  out: usize,
  i0: i32,
  i1: i32,
): void {
  const rowBytes = bytes((left + w + right) * c);
  const imageBytes = <usize>(top + h + bottom) * rowBytes;
  const leftBytes = bytes(left * c);
  const rightBytes = bytes(right * c);
  for (let i = i0; i < i1; i++) {
    const img = out + <usize>i * imageBytes;
    // top and bottom bands of zero rows
    memory.fill(img, 0, <usize>top * rowBytes);
    memory.fill(img + <usize>(top + h) * rowBytes, 0, <usize>bottom * rowBytes);
    for (let y = 0; y < h; y++) {
      const row = img + <usize>(y + top) * rowBytes;
      memory.fill(row, 0, leftBytes);
      memory.fill(row + rowBytes - rightBytes, 0, rightBytes);
      const dst = row + leftBytes;
      const src = i * sx0 + y * sx1;
      if (sx3 == 1 && sx2 == c) {
        // channels and columns contiguous: one copy per row
        memory.copy(dst, at(x, src), bytes(w * c));
      } else {
        for (let xw = 0; xw < w; xw++) {
          const s = src + xw * sx2;
          const d = at(dst, xw * c);
          for (let ch = 0; ch < c; ch++) store<f64>(at(d, ch), load<f64>(at(x, s + ch * sx3)));
        }
      }
    }
  }
}
