// One conv layer big enough to be shared out (vgg32-like, 2 images), and a digest of its results' bits.
import { RandomState, conv_backward, conv_forward } from "convwasm";

export function layer() {
  const rs = new RandomState(3);
  const A = rs.randn(2, 32, 32, 32);
  const W = rs.randn(3, 3, 32, 64);
  const b = rs.randn(1, 1, 1, 64);
  const [Z, cache] = conv_forward(A, W, b, { stride: 1, pad: 1 });
  const dZ = rs.randn(...Z.shape);
  return [Z, ...conv_backward(dZ, cache)].map(digest);
}

/** FNV-1a over the float64 bytes. */
function digest(a) {
  const bytes = new Uint8Array(a.toFloat64Array().buffer);
  let h = 0x811c9dc5;
  for (const x of bytes) h = Math.imul(h ^ x, 0x01000193) >>> 0;
  return h.toString(16);
}

/** The same layer through convwasm/async (from the page's main thread: its workers compute it). */
export async function asyncLayer(A) {
  const rs = new RandomState(3);
  const X = rs.randn(2, 32, 32, 32);
  const W = rs.randn(3, 3, 32, 64);
  const b = rs.randn(1, 1, 1, 64);
  const [Z, cache] = await A.conv_forward(X, W, b, { stride: 1, pad: 1 });
  const dZ = rs.randn(...Z.shape);
  return [Z, ...(await A.conv_backward(dZ, cache))].map(digest);
}
