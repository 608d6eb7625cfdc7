// ConvNetJS 0.3: plain-JavaScript float64 layers, one image at a time (its Vol is [h][w][c], as NHWC).
import { createRequire } from "node:module";
import type { ConvWorkload, PoolWorkload } from "../workloads.js";

interface Vol {
  w: Float64Array;
  dw: Float64Array;
}
interface Layer {
  forward(v: Vol): Vol;
  backward(): void;
  in_act: Vol;
  out_act: Vol;
  filters: Vol[];
  biases: Vol;
}
interface ConvNetJS {
  Vol: new (sx: number, sy: number, depth: number, fill?: number) => Vol;
  ConvLayer: new (opt: Record<string, number>) => Layer;
  PoolLayer: new (opt: Record<string, number>) => Layer;
}

const convnetjs = createRequire(import.meta.url)("convnetjs") as ConvNetJS;

export const name = "ConvNetJS (f64)";
const version: string = createRequire(import.meta.url)("convnetjs/package.json").version;

export function setup(): string {
  return `convnetjs ${version}`;
}

/** One Vol per image, holding its slice of an NHWC batch. */
function vols(data: Float64Array, m: number, h: number, w: number, c: number): Vol[] {
  return Array.from({ length: m }, (_, i) => {
    const v = new convnetjs.Vol(w, h, c, 0);
    v.w.set(data.subarray(i * h * w * c, (i + 1) * h * w * c));
    return v;
  });
}

/** A plain convolution (ConvNetJS has neither 'same', dilation nor groups). */
export function conv(
  wl: ConvWorkload & { pad: number },
  x: Float64Array,
  filter: Float64Array,
  dz: Float64Array,
  zShape: number[],
) {
  const layer = new convnetjs.ConvLayer({
    in_sx: wl.w,
    in_sy: wl.h,
    in_depth: wl.c,
    sx: wl.f,
    filters: wl.k,
    stride: wl.stride,
    pad: wl.pad,
  });
  const taps = wl.f * wl.f * wl.c;
  layer.filters.forEach((fv, kk) => {
    for (let t = 0; t < taps; t++) fv.w[t] = filter[t * wl.k + kk];
  });
  const inputs = vols(x, wl.m, wl.h, wl.w, wl.c);
  const [, nH, nW, k] = zShape;
  const outputs = inputs.map((_, i) => {
    const o = new convnetjs.Vol(nW, nH, k, 0);
    o.dw = dz.slice(i * nH * nW * k, (i + 1) * nH * nW * k);
    return o;
  });
  return {
    forward: () => inputs.forEach((v) => layer.forward(v)),
    // dA_prev, dW and db, image by image (its backward reads in_act and out_act.dw)
    backward: () =>
      inputs.forEach((v, i) => {
        layer.in_act = v;
        layer.out_act = outputs[i];
        layer.backward();
      }),
  };
}

/** ConvNetJS pools by max only; its backward needs the switches of its own forward, so only forward is timed. */
export function pool(wl: PoolWorkload, x: Float64Array) {
  const layer = new convnetjs.PoolLayer({ in_sx: wl.w, in_sy: wl.h, in_depth: wl.c, sx: wl.f, stride: wl.stride });
  const inputs = vols(x, wl.m, wl.h, wl.w, wl.c);
  return { forward: () => inputs.forEach((v) => layer.forward(v)) };
}
