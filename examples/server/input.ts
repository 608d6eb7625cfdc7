// What a request body becomes: one or more examples of the model's input as float32, in the layout the
// model takes. A PNG or JPEG is decoded (pngjs, jpeg-js: pure JS, no native addon, as the library),
// resized (bilinear) and normalised by the model's preprocessing; raw float32 tensors and JSON arrays
// are taken as they are. Every failure is an HttpError naming what was wrong.
import jpeg from "jpeg-js";
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

/**
 * The body's examples: how many, and their values (m × the per-example size): float32 from an image or a
 * raw tensor, the numbers as sent (float64) from JSON.
 */
export function examplesOf(
  type: string | undefined,
  body: Buffer,
  spec: InputSpec,
  pre: Preprocessing,
  shapeHeader: string | undefined,
): { m: number; x: Float32Array | Float64Array } {
  const media = (type ?? "").split(";")[0].trim().toLowerCase();
  if (media === "image/png" || media === "image/jpeg") return { m: 1, x: imageOf(media, body, spec, pre) };
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
function geometry(spec: InputSpec): { h: number; w: number; c: number } {
  if (spec.shape.length !== 3) {
    throw new HttpError(
      415,
      `the model takes vectors of ${spec.shape[0]} values, not images: send raw tensors or JSON`,
    );
  }
  const [h, w, c] = spec.layout === "NCHW" ? [spec.shape[1], spec.shape[2], spec.shape[0]] : spec.shape;
  return { h, w, c };
}

/** RGBA pixels of a PNG or JPEG. */
function decode(media: string, body: Buffer): { width: number; height: number; data: Uint8Array } {
  try {
    if (media === "image/png") return PNG.sync.read(body);
    // (jpeg-js refuses images past maxResolutionInMP and maxMemoryUsageInMB: a crafted header cannot
    // make it allocate gigabytes)
    return jpeg.decode(body, { useTArray: true, maxResolutionInMP: 50, maxMemoryUsageInMB: 256 });
  } catch (e) {
    throw new HttpError(
      400,
      `the body is not a readable ${media === "image/png" ? "PNG" : "JPEG"} image (${(e as Error).message})`,
    );
  }
}

function imageOf(media: string, body: Buffer, spec: InputSpec, pre: Preprocessing): Float32Array {
  const { h, w, c } = geometry(spec);
  const img = decode(media, body);
  if (img.width === 0 || img.height === 0) throw new HttpError(400, "the image has no pixels");
  const [th, tw] = pre.size ?? [h, w];
  if (th !== h || tw !== w) {
    throw new HttpError(500, `the preprocessing's size ${th}×${tw} is not the model's input ${h}×${w}`);
  }
  const channels = pre.channels ?? (c === 1 ? "gray" : "RGB");
  const scale = pre.scale ?? 1 / 255;
  const planes = channels === "gray" ? 1 : 3;
  if (planes !== c) throw new HttpError(500, `the preprocessing's channels ${channels} do not fill the model's ${c}`);
  // bilinear resize of each channel (pixel centres aligned, as PIL and torchvision's resize without antialias)
  const src = img.data;
  const value = (x: number, y: number, ch: number) => {
    const o = (y * img.width + x) * 4;
    if (channels === "gray") return 0.299 * src[o] + 0.587 * src[o + 1] + 0.114 * src[o + 2];
    return src[o + (channels === "BGR" ? 2 - ch : ch)];
  };
  const invert = pre.invert === "auto" ? lightBorder(img, value) : pre.invert === true;
  const mean = pre.mean ?? [];
  const std = pre.std ?? [];
  const out = new Float32Array(h * w * c);
  const sy = img.height / h;
  const sx = img.width / w;
  for (let y = 0; y < h; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), img.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, img.height - 1);
    const dy = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), img.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, img.width - 1);
      const dx = fx - x0;
      for (let ch = 0; ch < c; ch++) {
        const top = value(x0, y0, ch) * (1 - dx) + value(x1, y0, ch) * dx;
        const bottom = value(x0, y1, ch) * (1 - dx) + value(x1, y1, ch) * dx;
        let v = (top * (1 - dy) + bottom * dy) * scale;
        if (invert) v = 1 - v;
        v = (v - (mean[ch] ?? 0)) / (std[ch] ?? 1);
        out[spec.layout === "NCHW" ? (ch * h + y) * w + x : (y * w + x) * c + ch] = v;
      }
    }
  }
  return out;
}

/** Is the image's border light on average (dark ink on paper)? */
function lightBorder(
  img: { width: number; height: number },
  value: (x: number, y: number, ch: number) => number,
): boolean {
  let sum = 0;
  let n = 0;
  for (let x = 0; x < img.width; x++) {
    sum += value(x, 0, 0) + value(x, img.height - 1, 0);
    n += 2;
  }
  for (let y = 0; y < img.height; y++) {
    sum += value(0, y, 0) + value(img.width - 1, y, 0);
    n += 2;
  }
  return sum / n > 127.5;
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
