// zero_pad: np.pad(X, ((0,0),(top,bottom),(left,right),(0,0))) on raw NHWC memory.
import { atT, bytesT } from "./mem";

/**
 * Zero-pads H and W of images i0..i1 (exclusive): x [m,h,w,c] read through element strides
 * (sx0..sx3) -> out [m,top+h+bottom,left+w+right,c] C-contiguous. Every element of those images is written.
 */
function zeroPad<T>(
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
  const rowBytes = bytesT<T>((left + w + right) * c);
  const imageBytes = <usize>(top + h + bottom) * rowBytes;
  const leftBytes = bytesT<T>(left * c);
  const rightBytes = bytesT<T>(right * c);
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
        memory.copy(dst, atT<T>(x, src), bytesT<T>(w * c));
      } else {
        for (let xw = 0; xw < w; xw++) {
          const s = src + xw * sx2;
          const d = atT<T>(dst, xw * c);
          for (let ch = 0; ch < c; ch++) store<T>(atT<T>(d, ch), load<T>(atT<T>(x, s + ch * sx3)));
        }
      }
    }
  }
}

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
  zeroPad<f64>(x, sx0, sx1, sx2, sx3, h, w, c, top, bottom, left, right, out, i0, i1);
}

export function zero_pad_f32(
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
  zeroPad<f32>(x, sx0, sx1, sx2, sx3, h, w, c, top, bottom, left, right, out, i0, i1);
}
