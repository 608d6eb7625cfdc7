// What a request body becomes: one or more examples of the model's input as float32, in the layout the
// model takes. A PNG or JPEG is decoded (pngjs; @jsquash/jpeg, libjpeg's mozjpeg in WebAssembly: no
// native addon, as the library; 8× jpeg-js's speed, which cost more than squeezenet's inference),
// resized (bilinear) and normalised by the model's preprocessing; raw float32 tensors and JSON arrays
// are taken as they are. Every failure is an HttpError naming what was wrong.
import { readFileSync } from "node:fs";
import decodeJpeg, { init as initJpeg } from "@jsquash/jpeg/decode.js";
import { PNG } from "pngjs";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** How the model wants its images (the JSON beside the model; every field optional). */
export interface Preprocessing {
  /** [height, width] the image is resized to (default: the model's input size). */
  size?: [number, number];
  /** "RGB" (default for 3 channels), "BGR", or "gray" (luma; the default for 1 channel). */
  channels?: "RGB" | "BGR" | "gray";
  /** Pixel values 0..255 are multiplied by this first (default 1/255). */
  scale?: number;
  /** Then per channel (x - mean) / std (defaults 0 and 1). */
  mean?: number[];
  std?: number[];
  /**
   * true: 1 - x (before mean/std: dark ink on white paper read as MNIST's white on black); "auto": only
   * when the image's border is light (default false).
   */
  invert?: boolean | "auto";
}

/** The model's input as the service sees it: per-example shape and layout. */
export interface InputSpec {
  /** Per example, in the model's layout: [C, H, W] for "NCHW", [H, W, C] for "NHWC", or a vector. */
  shape: readonly number[];
  layout: "NCHW" | "NHWC";
}

export const SUPPORTED = "image/png, image/jpeg, application/octet-stream (float32, with x-shape) or application/json";

/** Media types read as images (imageOf). */
export const IMAGES = new Set(["image/png", "image/jpeg"]);

/** The media type of a content-type header, lower case. */
export const mediaOf = (type: string | undefined) => (type ?? "").split(";")[0].trim().toLowerCase();

/** The spec with an image's shape in `layout` ([C, H, W] or [H, W, C]); vectors as they are. */
export function inLayout(spec: InputSpec, layout: "NCHW" | "NHWC"): InputSpec {
  if (spec.shape.length !== 3 || spec.layout === layout) return spec;
  const [a, b, c] = spec.shape;
  return { shape: layout === "NHWC" ? [b, c, a] : [c, a, b], layout };
}

/**
 * The examples of a body that is not an image: how many, and their values (m × the per-example size):
 * float32 from a raw tensor, the numbers as sent (float64) from JSON.
 */
export function examplesOf(
  type: string | undefined,
  body: Buffer,
  spec: InputSpec,
  pre: Preprocessing,
  shapeHeader: string | undefined,
): { m: number; x: Float32Array | Float64Array } {
  const media = mediaOf(type);
  if (media === "application/octet-stream") return rawOf(body, spec, shapeHeader);
  if (
    media === "" ||
    media === "application/json" ||
    media === "text/plain" ||
    media === "application/x-www-form-urlencoded"
  ) {
    return jsonOf(body, spec);
  }
  throw new HttpError(415, `the body's type ${media} is not one this service reads (${SUPPORTED})`);
}

const per = (spec: InputSpec) => spec.shape.reduce((a, b) => a * b, 1);

/** An image's height, width, channels and where each lies in the model's input. */
/** An image input's height, width and channels, whichever its layout; null for a vector input. */
export function imageSize(spec: InputSpec): { h: number; w: number; c: number } | null {
  if (spec.shape.length !== 3) return null;
  const [h, w, c] = spec.layout === "NCHW" ? [spec.shape[1], spec.shape[2], spec.shape[0]] : spec.shape;
  return { h, w, c };
}

function geometry(spec: InputSpec): { h: number; w: number; c: number } {
  const size = imageSize(spec);
  if (size === null) {
    throw new HttpError(
      415,
      `the model takes vectors of ${spec.shape[0]} values, not images: send raw tensors or JSON`,
    );
  }
  return size;
}

/** Larger images are refused before anything is decoded (a crafted header cannot make a decoder allocate gigabytes). */
const MAX_PIXELS = 50e6;

/**
 * The width and height a PNG's IHDR or a JPEG's frame header declares (and a JPEG's components), or null
 * when there is none.
 */
function declaredSize(media: string, b: Buffer): [number, number, number?] | null {
  if (media === "image/png") return b.length >= 24 ? [b.readUInt32BE(16), b.readUInt32BE(20)] : null;
  for (let p = 2; p + 9 < b.length;) {
    if (b[p] !== 0xff) return null;
    const marker = b[p + 1];
    if (marker === 0xff) {
      p++;
      continue;
    }
    // SOF0-3, 5-7, 9-11, 13-15: precision, height, width, components
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return [b.readUInt16BE(p + 7), b.readUInt16BE(p + 5), b[p + 9]];
    }
    if (marker === 0xda) return null; // (scan data before any frame header)
    p += marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9) ? 2 : 2 + b.readUInt16BE(p + 2);
  }
  return null;
}

let jpegModule: Promise<WebAssembly.Module> | null = null;
let jpegReady: Promise<void> | null = null;

/** RGBA pixels of a PNG or JPEG. */
async function decode(media: string, body: Buffer): Promise<{ width: number; height: number; data: Uint8Array }> {
  const kind = media === "image/png" ? "PNG" : "JPEG";
  const size = declaredSize(media, body);
  if (size && size[0] * size[1] > MAX_PIXELS) {
    throw new HttpError(413, `the ${kind} image is ${size[0]}×${size[1]}, more than ${MAX_PIXELS / 1e6} megapixels`);
  }
  // (mozjpeg's decoder to RGBA stops the program on them, "exit(1)")
  if (size?.[2] === 4) throw new HttpError(400, "the JPEG image is CMYK (4 components); send it as RGB or grayscale");
  try {
    if (media === "image/png") return PNG.sync.read(body);
    jpegReady ??= (async () => {
      const wasm = new URL("./codec/dec/mozjpeg_dec.wasm", import.meta.resolve("@jsquash/jpeg/decode.js"));
      jpegModule ??= WebAssembly.compile(readFileSync(wasm));
      // (init takes the compiled module first, though its declaration omits it; libjpeg's warnings,
      // "Premature end of JPEG file", are its error's message: not printed)
      const init = initJpeg as unknown as (module: WebAssembly.Module, overrides: object) => Promise<void>;
      await init(await jpegModule, { print: () => {}, printErr: () => {} });
    })();
    await jpegReady;
    const bytes = body.buffer.slice(body.byteOffset, body.byteOffset + body.length) as ArrayBuffer;
    const img = await decodeJpeg(bytes);
    return {
      width: img.width,
      height: img.height,
      data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.length),
    };
  } catch (e) {
    // (a fresh decoder for the next image: after some failed decodes, mozjpeg's instance hung on the
    // next one; instantiating the compiled module again costs ~1 ms)
    if (kind === "JPEG") jpegReady = null;
    throw new HttpError(400, `the body is not a readable ${kind} image (${(e as Error).message})`);
  }
}

/** A PNG or JPEG body as one example of the model's input (decoded, resized, normalised). */
export async function imageOf(
  media: string,
  body: Buffer,
  spec: InputSpec,
  pre: Preprocessing,
  /** Where to write it, when it has the right length (a recycled buffer). */
  into?: Float32Array,
): Promise<Float32Array> {
  const { h, w, c } = geometry(spec);
  const img = await decode(media, body);
  if (img.width === 0 || img.height === 0) throw new HttpError(400, "the image has no pixels");
  // (size and channels are the model's: served.ts's configError saw to it at start)
  const channels = pre.channels ?? (c === 1 ? "gray" : "RGB");
  const scale = pre.scale ?? 1 / 255;
  // the channels the model reads, as planes of floats (RGBA → gray by luma, or R, G, B in its order), a
  // transparent pixel over white as a page shows it (a canvas's PNG: ink on transparent black, which
  // read without its alpha is black on black); an opaque pixel's values as they are
  const [iw, ih] = [img.width, img.height];
  const src = img.data;
  const planes = Array.from({ length: c }, () => new Float32Array(iw * ih));
  const over = (v: number, a: number) => (a === 255 ? v : (v * a) / 255 + (255 - a));
  if (c === 1) {
    const g = planes[0];
    for (let i = 0, o = 0; i < iw * ih; i++, o += 4)
      g[i] = over(0.299 * src[o] + 0.587 * src[o + 1] + 0.114 * src[o + 2], src[o + 3]);
  } else {
    for (let ch = 0; ch < 3; ch++) {
      const [q, from] = [planes[ch], channels === "BGR" ? 2 - ch : ch];
      for (let i = 0, o = from; i < iw * ih; i++, o += 4) q[i] = over(src[o], src[o - from + 3]);
    }
  }
  const invert = pre.invert === "auto" ? lightBorder(planes[0], iw, ih) : pre.invert === true;
  // bilinear resize (pixel centres aligned, as PIL's and torchvision's resize without antialias): each
  // output column's two source columns and weight, computed once
  const axis = (n: number, size: number) => {
    const lo = new Int32Array(n);
    const hi = new Int32Array(n);
    const t = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const f = Math.min(Math.max((i + 0.5) * (size / n) - 0.5, 0), size - 1);
      lo[i] = Math.floor(f);
      hi[i] = Math.min(lo[i] + 1, size - 1);
      t[i] = f - lo[i];
    }
    return { lo, hi, t };
  };
  const X = axis(w, iw);
  const Y = axis(h, ih);
  const out = into?.length === h * w * c ? into : new Float32Array(h * w * c);
  // where output (y, x) of channel ch goes: ch·chStep + (y·w + x)·pixStep
  const [chStep, pixStep] = spec.layout === "NCHW" ? [h * w, 1] : [1, c];
  const { lo: xlo, hi: xhi, t: xt } = X;
  for (let ch = 0; ch < c; ch++) {
    const p = planes[ch];
    const m = pre.mean?.[ch] ?? 0;
    const s = pre.std?.[ch] ?? 1;
    // v → ((invert ? 1 - v·scale : v·scale) − mean) / std, as a·v + b
    const a = (invert ? -scale : scale) / s;
    const b = ((invert ? 1 : 0) - m) / s;
    for (let y = 0; y < h; y++) {
      const r0 = Y.lo[y] * iw;
      const r1 = Y.hi[y] * iw;
      const dy = Y.t[y];
      let o = ch * chStep + y * w * pixStep;
      for (let x = 0; x < w; x++, o += pixStep) {
        const x0 = xlo[x];
        const x1 = xhi[x];
        const dx = xt[x];
        const top = p[r0 + x0] + (p[r0 + x1] - p[r0 + x0]) * dx;
        const bottom = p[r1 + x0] + (p[r1 + x1] - p[r1 + x0]) * dx;
        out[o] = a * (top + (bottom - top) * dy) + b;
      }
    }
  }
  return out;
}

/** Is the image's border light on average (dark ink on paper)? `p`: its first channel, 0..255. */
function lightBorder(p: Float32Array, w: number, h: number): boolean {
  let sum = 0;
  for (let x = 0; x < w; x++) sum += p[x] + p[(h - 1) * w + x];
  for (let y = 0; y < h; y++) sum += p[y * w] + p[y * w + w - 1];
  return sum / (2 * (w + h)) > 127.5;
}

/** Little-endian float32 values, shaped by the x-shape header: [m, ...shape] or the shape of one example. */
function rawOf(body: Buffer, spec: InputSpec, header: string | undefined): { m: number; x: Float32Array } {
  const want = `[m,${spec.shape}] or [${spec.shape}]`;
  if (header === undefined) throw new HttpError(400, `a raw tensor expects an x-shape header, ${want}`);
  const dims = header.split(",").map((d) => Number(d.trim()));
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new HttpError(400, `x-shape expects comma-separated sizes but got ${JSON.stringify(header)}`);
  }
  const m = dims.length === spec.shape.length ? 1 : dims[0];
  const rest = dims.length === spec.shape.length ? dims : dims.slice(1);
  if (rest.length !== spec.shape.length || rest.some((d, i) => d !== spec.shape[i])) {
    throw new HttpError(422, `x-shape expects ${want} for this model but got [${dims}]`);
  }
  if (m < 1) throw new HttpError(422, "x-shape expects at least one example");
  if (body.length !== m * per(spec) * 4) {
    throw new HttpError(
      400,
      `x-shape [${dims}] needs ${m * per(spec) * 4} bytes of float32 but the body has ${body.length}`,
    );
  }
  const x = new Float32Array(m * per(spec));
  new Uint8Array(x.buffer).set(body); // (a copy: the body's buffer may be unaligned or pooled)
  return { m, x };
}

/** {"image": numbers} in the model's layout, flat or nested (28 rows of 28, say): one example, as sent. */
function jsonOf(body: Buffer, spec: InputSpec): { m: number; x: Float64Array } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (e) {
    throw new HttpError(400, `the body is not JSON (${(e as Error).message})`);
  }
  const image = (parsed as { image?: unknown } | null)?.image;
  if (!Array.isArray(image)) {
    throw new HttpError(
      400,
      `the body expects {"image": [${per(spec)} numbers]} (flat or nested, shape [${spec.shape}])`,
    );
  }
  const flat = (image as unknown[]).flat(spec.shape.length);
  if (!flat.every((v) => typeof v === "number")) throw new HttpError(400, "image expects numbers only");
  if (flat.length !== per(spec)) {
    throw new HttpError(422, `image expects ${per(spec)} numbers (shape [${spec.shape}]) but got ${flat.length}`);
  }
  return { m: 1, x: Float64Array.from(flat as number[]) };
}
