// The layers of ResNet and MobileNet around the convs, on flat float64 memory: activations (one kernel
// per direction, the function chosen by a code), elementwise sums and products, and the per-channel
// reductions and affine maps that BatchNorm, global pooling and channel gates are made of. Images are
// NHWC: `pixels` rows of `c` channels.
import { at, atT, bytesT, lanes, vadd } from "./mem";

// activation codes: src/ops/activations.ts ACTIVATIONS lists the same numbers
const RELU6: i32 = 0; // hardtanh(0, 6): the gradient passes strictly inside (PyTorch's ReLU6)
const CLIP: i32 = 1; // clamp(a, b): the gradient passes on [a, b] (torch.clamp)
const LEAKY: i32 = 2; // a = the slope below 0
const SIGMOID: i32 = 3;
const HARD_SIGMOID: i32 = 4; // max(0, min(1, a·x + b)), the gradient a strictly inside
const HARD_SWISH: i32 = 5; // x · relu6(x + 3) / 6
const SWISH: i32 = 6; // x · sigmoid(x)

function sigmoid(x: f64): f64 {
  return 1 / (1 + Math.exp(-x));
}

/** y[i] = act(x[i]) for elements i0..i1; NaN stays NaN. */
function actForward<T>(kind: i32, x: usize, y: usize, i0: i32, i1: i32, a: f64, b: f64): void {
  for (let i = i0; i < i1; i++) {
    const v = <f64>load<T>(atT<T>(x, i));
    let r: f64;
    if (kind == RELU6) r = min<f64>(max<f64>(v, 0), 6);
    else if (kind == CLIP) r = min<f64>(max<f64>(v, a), b);
    else if (kind == LEAKY) r = v > 0 ? v : v * a;
    else if (kind == SIGMOID) r = sigmoid(v);
    else if (kind == HARD_SIGMOID) r = min<f64>(max<f64>(a * v + b, 0), 1);
    else if (kind == HARD_SWISH) r = (v * min<f64>(max<f64>(v + 3, 0), 6)) / 6;
    else r = v * sigmoid(v);
    store<T>(atT<T>(y, i), <T>r);
  }
}

export function act_forward(kind: i32, x: usize, y: usize, i0: i32, i1: i32, a: f64, b: f64): void {
  actForward<f64>(kind, x, y, i0, i1, a, b);
}

export function act_forward_f32(kind: i32, x: usize, y: usize, i0: i32, i1: i32, a: f64, b: f64): void {
  actForward<f32>(kind, x, y, i0, i1, a, b);
}

/** dx[i] = dy[i] · act'(x[i]) for elements i0..i1, with PyTorch's choices at the kinks. */
export function act_backward(kind: i32, x: usize, dy: usize, dx: usize, i0: i32, i1: i32, a: f64, b: f64): void {
  for (let i = i0; i < i1; i++) {
    const v = load<f64>(at(x, i));
    const g = load<f64>(at(dy, i));
    let r: f64;
    if (kind == RELU6) r = v > 0 && v < 6 ? g : 0;
    else if (kind == CLIP) r = v >= a && v <= b ? g : 0;
    else if (kind == LEAKY) r = v > 0 ? g : g * a;
    else if (kind == SIGMOID) {
      const s = sigmoid(v);
      r = g * s * (1 - s);
    } else if (kind == HARD_SIGMOID) {
      const t = a * v + b;
      r = t > 0 && t < 1 ? g * a : 0;
    } else if (kind == HARD_SWISH) r = v < -3 ? 0 : v <= 3 ? g * (v / 3 + 0.5) : g;
    else {
      const s = sigmoid(v);
      r = g * (s * (1 + v * (1 - s)));
    }
    store<f64>(at(dx, i), r);
  }
}

/** y[i] = a[i] + b[i] for elements i0..i1. */
function addForward<T>(a: usize, b: usize, y: usize, i0: i32, i1: i32): void {
  let i = i0;
  for (; i + lanes<T>() <= i1; i += lanes<T>())
    v128.store(atT<T>(y, i), vadd<T>(v128.load(atT<T>(a, i)), v128.load(atT<T>(b, i))));
  for (; i < i1; i++) store<T>(atT<T>(y, i), load<T>(atT<T>(a, i)) + load<T>(atT<T>(b, i)));
}

export function add_forward(a: usize, b: usize, y: usize, i0: i32, i1: i32): void {
  addForward<f64>(a, b, y, i0, i1);
}

export function add_forward_f32(a: usize, b: usize, y: usize, i0: i32, i1: i32): void {
  addForward<f32>(a, b, y, i0, i1);
}

/** y[i] = a[i] · b[i] for elements i0..i1. */
export function mul_forward(a: usize, b: usize, y: usize, i0: i32, i1: i32): void {
  let i = i0;
  for (; i + 2 <= i1; i += 2) v128.store(at(y, i), f64x2.mul(v128.load(at(a, i)), v128.load(at(b, i))));
  if (i < i1) store<f64>(at(y, i), load<f64>(at(a, i)) * load<f64>(at(b, i)));
}

/**
 * s1[ch] += Σ d and s2[ch] += Σ d² over the pixels, d = x − shift[ch] (shift 0: none). Two passes make
 * a variance as exact as numpy's: the mean with no shift, then the squares around it.
 */
function channelMoments<T>(x: usize, pixels: i32, c: i32, shift: usize, s1: usize, s2: usize): void {
  for (let p = 0; p < pixels; p++) {
    const row = p * c;
    for (let ch = 0; ch < c; ch++) {
      const d = <f64>load<T>(atT<T>(x, row + ch)) - (shift ? load<f64>(at(shift, ch)) : 0);
      store<f64>(at(s1, ch), load<f64>(at(s1, ch)) + d);
      store<f64>(at(s2, ch), load<f64>(at(s2, ch)) + d * d);
    }
  }
}

export function channel_moments(x: usize, pixels: i32, c: i32, shift: usize, s1: usize, s2: usize): void {
  channelMoments<f64>(x, pixels, c, shift, s1, s2);
}

export function channel_moments_f32(x: usize, pixels: i32, c: i32, shift: usize, s1: usize, s2: usize): void {
  channelMoments<f32>(x, pixels, c, shift, s1, s2);
}

/** sdy[ch] += Σ dy and sdyx[ch] += Σ dy · (x − shift[ch]) over the pixels (shift 0: none). */
export function channel_dots(x: usize, dy: usize, pixels: i32, c: i32, shift: usize, sdy: usize, sdyx: usize): void {
  for (let p = 0; p < pixels; p++) {
    const row = p * c;
    for (let ch = 0; ch < c; ch++) {
      const g = load<f64>(at(dy, row + ch));
      const d = load<f64>(at(x, row + ch)) - (shift ? load<f64>(at(shift, ch)) : 0);
      store<f64>(at(sdy, ch), load<f64>(at(sdy, ch)) + g);
      store<f64>(at(sdyx, ch), load<f64>(at(sdyx, ch)) + g * d);
    }
  }
}

/**
 * y = (x − sub[ch]) · scale[ch] + add[ch] over the pixels (sub or add 0: none, so −0 stays −0):
 * BatchNorm as (x − μ) · γ/√(σ² + ε) + β, a channel gate as x · s.
 */
function channelAffine<T>(x: usize, pixels: i32, c: i32, sub: usize, scale: usize, add: usize, y: usize): void {
  for (let p = 0; p < pixels; p++) {
    const row = p * c;
    for (let ch = 0; ch < c; ch++) {
      const d = sub ? load<T>(atT<T>(x, row + ch)) - load<T>(atT<T>(sub, ch)) : load<T>(atT<T>(x, row + ch));
      const v = d * load<T>(atT<T>(scale, ch));
      store<T>(atT<T>(y, row + ch), add ? v + load<T>(atT<T>(add, ch)) : v);
    }
  }
}

export function channel_affine(x: usize, pixels: i32, c: i32, sub: usize, scale: usize, add: usize, y: usize): void {
  channelAffine<f64>(x, pixels, c, sub, scale, add, y);
}

export function channel_affine_f32(
  x: usize,
  pixels: i32,
  c: i32,
  sub: usize,
  scale: usize,
  add: usize,
  y: usize,
): void {
  channelAffine<f32>(x, pixels, c, sub, scale, add, y);
}

/**
 * dx = (dy − k[ch] − (x − shift[ch]) · b[ch]) · a[ch] over the pixels: BatchNorm's input gradient in
 * training, arranged as PyTorch's (so that infinities and NaNs come out as there).
 */
export function channel_affine2(
  dy: usize,
  x: usize,
  pixels: i32,
  c: i32,
  a: usize,
  b: usize,
  shift: usize,
  k: usize,
  dx: usize,
): void {
  for (let p = 0; p < pixels; p++) {
    const row = p * c;
    for (let ch = 0; ch < c; ch++) {
      const d = load<f64>(at(x, row + ch)) - load<f64>(at(shift, ch));
      const v = (load<f64>(at(dy, row + ch)) - load<f64>(at(k, ch)) - d * load<f64>(at(b, ch))) * load<f64>(at(a, ch));
      store<f64>(at(dx, row + ch), v);
    }
  }
}

/** y[p, ch] = v[ch] for every pixel: global average pooling's gradient. */
export function channel_fill(v: usize, pixels: i32, c: i32, y: usize): void {
  for (let p = 0; p < pixels; p++) memory.copy(at(y, p * c), v, (<usize>c) << 3);
}

/** y[p, 0..c) = x[p, 0..c) for pixels p of a value `xs` wide into one `ys` wide (concat, another width). */
function copyChannels<T>(x: usize, xs: i32, c: i32, y: usize, ys: i32, p0: i32, p1: i32): void {
  for (let p = p0; p < p1; p++) memory.copy(atT<T>(y, p * ys), atT<T>(x, p * xs), bytesT<T>(c));
}

export function copy_channels(x: usize, xs: i32, c: i32, y: usize, ys: i32, p0: i32, p1: i32): void {
  copyChannels<f64>(x, xs, c, y, ys, p0, p1);
}

export function copy_channels_f32(x: usize, xs: i32, c: i32, y: usize, ys: i32, p0: i32, p1: i32): void {
  copyChannels<f32>(x, xs, c, y, ys, p0, p1);
}

/** y[ch] = max over the pixels, arg[ch] = its first pixel (a NaN wins, as torch.max). */
function channelMax<T>(x: usize, pixels: i32, c: i32, y: usize, arg: usize): void {
  for (let ch = 0; ch < c; ch++) {
    let best = <f64>load<T>(atT<T>(x, ch));
    let where = 0;
    for (let p = 1; p < pixels && best == best; p++) {
      const v = <f64>load<T>(atT<T>(x, p * c + ch));
      if (v > best || v != v) {
        best = v;
        where = p;
      }
    }
    store<f64>(at(y, ch), best);
    store<f64>(at(arg, ch), <f64>where);
  }
}

export function channel_max(x: usize, pixels: i32, c: i32, y: usize, arg: usize): void {
  channelMax<f64>(x, pixels, c, y, arg);
}

export function channel_max_f32(x: usize, pixels: i32, c: i32, y: usize, arg: usize): void {
  channelMax<f32>(x, pixels, c, y, arg);
}
