// An image-classification service over node:http: a PNG or JPEG (or a raw float32 tensor, or JSON) in,
// the top-k classes with labels and probabilities out. The model runs in convwasm/async's worker
// threads, which batch concurrent requests, and images are decoded in a thread of their own: the event
// loop only reads bodies and answers.
//
//   npm run example:server                               # the digits network, PORT=8080
//   MODEL=squeezenet.onnx npm run example:server         # squeezenet.json beside it: preprocessing, labels
//   curl -s --data-binary @digit.png -H 'content-type: image/png' localhost:8080/predict
//
// POST /predict: image/png or image/jpeg (decoded, resized and normalised by the model's preprocessing),
// application/octet-stream (little-endian float32 with an x-shape header, [m, ...input] or [...input]),
// or JSON {"image": numbers in the model's layout}. Answers {"class", "label", "probability", "top": [k
// of {class, label, probability}]} ({"results": [...]} for several examples; ?all=1 adds every class's
// probability). GET /health (alive), GET /ready (200 once the model answered its first predict; 503
// before and while closing), GET /metrics (Prometheus). Errors: 400 malformed body, 404, 405, 413 body
// over MAX_BODY bytes, 415 unsupported type, 422 a body that does not fit the model or an output that is
// not finite, 503 queue full, 504 no answer within TIMEOUT_MS. SIGTERM: stops taking connections,
// answers the requests in flight (with `Connection: close`), exits; after GRACE_MS what is left is cut.
//
// node:http rather than Fastify: one route, bodies read as bytes, and the time goes to decoding and
// inference, where a framework's faster routing and serialisation buy nothing; no dependency to keep.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as convwasm from "convwasm/async";
import { HttpError, IMAGES, examplesOf, imageOf, inLayout, mediaOf } from "./input.js";
import { ImagePool } from "./images.js";
import { metricsOf } from "./metrics.js";
import { type Served, type ServeConfig, served } from "./served.js";

export { HttpError } from "./input.js";
export { served, type Served } from "./served.js";

export interface ServiceOptions {
  /** Refuse inputs holding NaN or ±Infinity (a 400) instead of answering NaN probabilities. */
  checkFinite?: boolean;
  /** A request not answered within this many ms gets a 504. */
  timeoutMs?: number;
  /** Largest request body, in bytes (a 413 past it; default 8 MiB). */
  maxBody?: number;
  /** close() waits this long for the requests in flight, then cuts the connections left (ms, default 10 s). */
  graceMs?: number;
  /** Worker threads decoding images off the event loop (default 1; 0 decodes on it). */
  decoders?: number;
}

/** Past the limit, a body is read and dropped up to this many times the limit (so the client reads the 413), then cut. */
const DRAIN_FACTOR = 16;

/**
 * The body, up to `limit` bytes. A longer one gets a 413 once it has been read (and dropped), so that the
 * client, still sending, reads the answer instead of a reset; one that declares or sends more than
 * DRAIN_FACTOR times the limit gets it at once, and its connection is cut.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLarge = () => new HttpError(413, `the body exceeds ${limit} bytes`);
    if (Number(req.headers["content-length"]) > limit * DRAIN_FACTOR) return reject(tooLarge());
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit * DRAIN_FACTOR) {
        reject(tooLarge());
        req.destroy();
      } else if (size <= limit) chunks.push(c);
    });
    req.on("end", () => (size > limit ? reject(tooLarge()) : resolve(Buffer.concat(chunks))));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, close: boolean, type = "application/json"): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  // (shutting down: answered, then the connection closes, so a keep-alive client cannot hold it open)
  if (close) res.setHeader("connection", "close");
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Scores of one example as probabilities (softmax unless they already are), and the k best. Plain loops
 * and a k-long insertion list: it runs on the event loop once per answer (1,000 classes for ImageNet).
 */
function answer(model: Served, scores: ArrayLike<number>, all: boolean) {
  const n = scores.length;
  const p = new Array<number>(n);
  let [sum, max, already] = [0, -Infinity, true];
  for (let i = 0; i < n; i++) {
    const v = (p[i] = scores[i]);
    sum += v;
    if (v > max) max = v;
    if (!(v >= 0 && v <= 1)) already = false;
  }
  if (model.softmax === true || (model.softmax === "auto" && !(already && Math.abs(sum - 1) < 1e-3))) {
    let z = 0;
    for (let i = 0; i < n; i++) z += p[i] = Math.exp(p[i] - max);
    for (let i = 0; i < n; i++) p[i] /= z;
  }
  // (the k most probable, ties in class order, as a stable sort of all of them would give)
  const best: number[] = [];
  for (let i = 0; i < n; i++) {
    if (best.length === model.topK && !(p[i] > p[best[best.length - 1]])) continue;
    let j = best.length;
    while (j > 0 && p[i] > p[best[j - 1]]) j--;
    best.splice(j, 0, i);
    if (best.length > model.topK) best.pop();
  }
  const top = best.map((i) => ({ class: i, label: model.labels[i], probability: p[i] }));
  return { ...top[0], top, ...(all ? { probabilities: p } : {}) };
}

/** The service around a model: a node:http server (not yet listening), its readiness and a graceful close. */
export function service(model: Served, options: ServiceOptions = {}) {
  const { checkFinite = false, timeoutMs, maxBody = 8 << 20, graceMs = 10_000, decoders = 1 } = options;
  const images = decoders > 0 ? new ImagePool(decoders) : null;
  const imageSpec = inLayout(model.input, model.imageLayout);
  const classes = model.labels.length;
  let closing = false;
  let isReady = false;
  const metrics = metricsOf(model);

  // ready once the model answered a first predict (weights packed, workers warm)
  const ready = model.predict(new Float32Array(model.input.shape.reduce((a, b) => a * b, 1)), 1, {}).then(
    () => {
      isReady = !closing;
      metrics.ready.set(isReady ? 1 : 0);
    },
    (e: unknown) => {
      // (never ready: /ready keeps answering 503 and says so in the log)
      if (!closing) console.error(`the model's first predict failed: ${e instanceof Error ? e.message : String(e)}`);
    },
  );

  async function handle(req: IncomingMessage, res: ServerResponse, route: { name: string }): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    route.name = url.pathname;
    if (req.method === "GET" && url.pathname === "/health") {
      return send(res, 200, { status: "ok", model: model.name, ...(await convwasm.threading()) }, closing);
    }
    if (req.method === "GET" && url.pathname === "/ready") {
      const status = isReady && !closing ? "ready" : closing ? "closing" : "starting";
      return send(res, status === "ready" ? 200 : 503, { status }, closing);
    }
    if (req.method === "GET" && url.pathname === "/metrics") {
      return send(res, 200, await metrics.registry.metrics(), closing, metrics.registry.contentType);
    }
    if (url.pathname !== "/predict") {
      route.name = "other";
      throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
    }
    if (req.method !== "POST") throw new HttpError(405, "/predict expects POST");
    const body = await readBody(req, maxBody);
    const header = req.headers["x-shape"];
    const type = req.headers["content-type"];
    const media = mediaOf(type);
    // (an image is decoded straight into the layout the model takes at least cost)
    const decoded = images !== null && IMAGES.has(media);
    const { m, x, layout } = IMAGES.has(media)
      ? {
          m: 1,
          x: await (images
            ? images.decode(media, body, imageSpec, model.pre)
            : imageOf(media, body, imageSpec, model.pre)),
          layout: imageSpec.layout,
        }
      : {
          ...examplesOf(type, body, model.input, model.pre, Array.isArray(header) ? header[0] : header),
          layout: model.input.layout,
        };
    const answered = model.predict(x, m, { checkFinite, timeoutMs, layout });
    // (predict took its copy before returning: the decoder may write the next image into this buffer)
    if (decoded) images.recycle(x as Float32Array);
    const y = await answered;
    for (let i = 0; i < y.length; i++) {
      if (!Number.isFinite(y[i])) {
        throw new HttpError(422, "the model's output is not finite for this input (its values overflow the network)");
      }
    }
    const all = url.searchParams.get("all") === "1";
    const results = Array.from({ length: m }, (_, i) =>
      answer(
        model,
        Array.from({ length: classes }, (_, j) => y[i * classes + j]),
        all,
      ),
    );
    send(res, 200, m === 1 ? results[0] : { results }, closing);
  }

  const server: Server = createServer((req, res) => {
    const t0 = process.hrtime.bigint();
    const route = { name: "other" };
    res.on("finish", () => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      metrics.latency.observe({ route: route.name, status: String(res.statusCode) }, seconds);
    });
    handle(req, res, route).catch((e: unknown) => {
      const status =
        e instanceof HttpError
          ? e.status
          : e instanceof convwasm.BusyError
            ? 503
            : e instanceof convwasm.TimeoutError
              ? 504
              : e instanceof TypeError || e instanceof RangeError
                ? 400
                : 500;
      metrics.refused.inc({ status: String(status) });
      if (!res.headersSent) send(res, status, { error: e instanceof Error ? e.message : String(e) }, closing);
    });
  });

  /**
   * Stops taking connections, answers the requests in flight (and any a kept-alive connection sends
   * meanwhile) with `Connection: close`, then ends the model; after `graceMs`, cuts what is left.
   */
  const close = () =>
    new Promise<void>((resolve) => {
      closing = true;
      isReady = false;
      metrics.ready.set(0);
      const cut = setTimeout(() => server.closeAllConnections(), graceMs);
      server.close(() => {
        clearTimeout(cut);
        metrics.stop();
        void Promise.all([model.close(), images?.close()]).then(() => resolve());
      });
      server.closeIdleConnections();
    });
  return { server, close, ready };
}

/** The service's settings from the environment (the README's table). */
function fromEnv(env: NodeJS.ProcessEnv) {
  const num = (k: string) => (env[k] === undefined ? undefined : Number(env[k]));
  const overrides: ServeConfig = {
    precision: env.PRECISION as ServeConfig["precision"],
    topK: num("TOPK"),
    labels: env.LABELS,
  };
  return {
    model: env.MODEL,
    config: env.PREPROCESS,
    overrides,
    workers: num("WORKERS"),
    maxBatch: num("MAX_BATCH"),
    threads: num("THREADS"),
    options: {
      checkFinite: env.CHECK_FINITE === "1",
      timeoutMs: num("TIMEOUT_MS"),
      maxBody: num("MAX_BODY"),
      graceMs: num("GRACE_MS"),
      decoders: num("DECODERS"),
    } satisfies ServiceOptions,
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const env = fromEnv(process.env);
  // (one thread per worker by default: batches spread over the workers, and a pool's threads would only
  // take cores from them)
  await convwasm.init({ workers: env.workers, threads: env.threads ?? 1 });
  const batching = env.maxBatch === undefined ? undefined : { maxBatch: env.maxBatch };
  const model = await served({ model: env.model, config: env.config, overrides: env.overrides, batching });
  const port = Number(process.env.PORT ?? 8080);
  const { server, close } = service(model, env.options);
  server.listen(port, () => {
    const address = server.address();
    const at = typeof address === "object" && address ? address.port : port;
    console.log(`${model.name} on http://localhost:${at} (POST /predict, GET /health, /ready, /metrics)`);
  });
  process.once("SIGTERM", () => {
    console.log("SIGTERM: finishing the requests in flight");
    void close().then(() => process.exit(0));
  });
}
