// One conv layer big enough to be shared out (vgg32-like, 2 images), the digits network's predict of 3
// images, and a digest of their results' bits.
import { NDArray, RandomState, conv_backward, conv_forward, digitsLayers, sequential } from "convwasm";

export function layer() {
  const rs = new RandomState(3);
  const A = rs.randn(2, 32, 32, 32);
  const W = rs.randn(3, 3, 32, 64);
  const b = rs.randn(1, 1, 1, 64);
  const [Z, cache] = conv_forward(A, W, b, { stride: 1, pad: 1 });
  const dZ = rs.randn(...Z.shape);
  const P = sequential([28, 28, 1], digitsLayers(), { seed: 1 }).predict(rs.randn(3, 28, 28, 1));
  return [Z, ...conv_backward(dZ, cache), P].map(digest);
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
  // three requests in one tick: micro-batched (the batch's buffer is shared memory where the page is
  // cross-origin isolated, a plain one moved to the worker where not), answered one by one
  const images = rs.randn(3, 28, 28, 1);
  const model = await A.sequential([28, 28, 1], digitsLayers(), { seed: 1 });
  const answers = await Promise.all(
    [0, 1, 2].map((i) => model.predict(new NDArray(images.data, [1, 28, 28, 1], undefined, i * 784))),
  );
  await model.dispose();
  const P = new NDArray(Float64Array.from(answers.flatMap((a) => Array.from(a.toFloat64Array()))), [3, 10]);
  return [Z, ...(await A.conv_backward(dZ, cache)), P].map(digest);
}
