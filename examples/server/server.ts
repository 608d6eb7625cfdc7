// A node:http JSON service of the digits ConvNet, through convwasm/async: the event loop only parses
// requests and hands images over; the network runs in worker threads, and concurrent requests are
// micro-batched.
//
//   npm run example:server                # PORT=8080, weights from examples/digits/pretrained.npz
//   curl -s localhost:8080/health
//   curl -s -X POST localhost:8080/predict -d '{"image": [0, 0, …784 pixel values in 0..1]}'
//
// POST /predict {"image": 784 numbers, or 28 rows of 28} → {"class": 7, "probabilities": [10 numbers]}
// GET /health → {"status": "ok", workers, threads}; GET /metrics → event-loop delay (ms) since the last
// ?reset. A malformed body is a 400 whose error is the library's message; a body over 1 MB a 413; an
// answer that is not finite (pixels so large the network overflows) a 422; a full queue a 503; a request
// that waited longer than TIMEOUT_MS a 504. CHECK_FINITE=1 refuses non-finite pixels (1e999 parses as
// Infinity). SIGTERM stops taking connections, answers the requests in flight (each with `Connection:
// close`, so keep-alive clients go), then exits; after GRACE_MS (default 10 s) whatever is left is cut.
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { resolve } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import * as convwasm from "convwasm/async";

export interface ServiceOptions {
  /** Refuse images holding NaN or ±Infinity (a 400) instead of answering NaN probabilities. */
  checkFinite?: boolean;
  /** A request not answered within this many ms gets a 504. */
  timeoutMs?: number;
  /** Largest request body, in bytes (a 413 past it). */
  maxBody?: number;
  /** close() waits this long for the requests in flight, then cuts the connections left (ms, default 10 s). */
  graceMs?: number;
}

/** Past the limit, a body is read and dropped up to this many times the limit (so the client reads the 413), then cut. */
const DRAIN_FACTOR = 16;

/** The HTTP error for what a request got wrong or what the service could not do. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The body, up to `limit` bytes. A longer one gets a 413 once it has been read (and dropped), so that the
 * client, still sending, reads the answer instead of a reset; one that declares or sends more than
 * DRAIN_FACTOR times the limit gets it at once, and its connection is cut.
 */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
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
    req.on("end", () => (size > limit ? reject(tooLarge()) : resolve(Buffer.concat(chunks).toString("utf8"))));
    req.on("error", reject);
  });
}

/** The image of a request body as 784 float64 pixels (the library checks them; this only unpacks JSON). */
function imageOf(body: string): Float64Array {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    throw new HttpError(400, `the body is not JSON (${(e as Error).message})`);
  }
  const image = (parsed as { image?: unknown } | null)?.image;
  const flat = Array.isArray(image) && image.every(Array.isArray) ? (image as unknown[][]).flat() : image;
  if (!Array.isArray(flat)) throw new HttpError(400, 'the body expects {"image": [784 numbers]} (or 28 rows of 28)');
  if (!flat.every((v) => typeof v === "number")) {
    throw new HttpError(400, "image expects numbers only");
  }
  return Float64Array.from(flat as number[]);
}

function send(res: ServerResponse, status: number, body: unknown, close = false): void {
  const text = JSON.stringify(body);
  // (shutting down: answered, then the connection closes, so a keep-alive client cannot hold it open)
  if (close) res.setHeader("connection", "close");
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** The service around a model: a node:http server (not yet listening) and a graceful close. */
export function service(model: convwasm.AsyncSequential, options: ServiceOptions = {}) {
  const { checkFinite = false, timeoutMs, maxBody = 1 << 20, graceMs = 10_000 } = options;
  let closing = false;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method === "GET" && url.pathname === "/health") {
      return send(res, 200, { status: "ok", ...(await convwasm.threading()) }, closing);
    }
    if (req.method === "GET" && url.pathname === "/metrics") {
      const body = {
        eventLoopDelay: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
      };
      if (url.searchParams.has("reset")) delay.reset();
      return send(res, 200, body, closing);
    }
    if (url.pathname !== "/predict") throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
    if (req.method !== "POST") throw new HttpError(405, "/predict expects POST");
    // (the library checks the pixels: their number here, their values in predict)
    const X = convwasm.array(imageOf(await readBody(req, maxBody)), [1, 28, 28, 1]);
    const P = await model.predict(X, { checkFinite, timeout: timeoutMs });
    const probabilities = Array.from(P.data.subarray(P.offset, P.offset + P.size));
    if (!probabilities.every(Number.isFinite)) {
      throw new HttpError(422, "the model's output is not finite for this image (its values overflow the network)");
    }
    send(res, 200, { class: probabilities.indexOf(Math.max(...probabilities)), probabilities }, closing);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
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
      if (!res.headersSent) send(res, status, { error: e instanceof Error ? e.message : String(e) }, closing);
    });
  });

  /**
   * Stops taking connections, answers the requests in flight (and any a kept-alive connection sends
   * meanwhile) with `Connection: close`, then ends the workers; after `graceMs`, cuts what is left.
   */
  const close = () =>
    new Promise<void>((resolve) => {
      closing = true;
      const cut = setTimeout(() => server.closeAllConnections(), graceMs);
      server.close(() => {
        clearTimeout(cut);
        delay.disable();
        convwasm.dispose();
        resolve();
      });
      server.closeIdleConnections();
    });
  return { server, close };
}

/** The digits model with the shipped weights (or those of WEIGHTS=path.npz). */
export async function digitsModel(weights = process.env.WEIGHTS): Promise<convwasm.AsyncSequential> {
  const model = await convwasm.sequential([28, 28, 1], convwasm.digitsLayers());
  await model.load(readFileSync(weights ?? new URL("../digits/pretrained.npz", import.meta.url)));
  return model;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await convwasm.init();
  const model = await digitsModel();
  const port = Number(process.env.PORT ?? 8080);
  const { server, close } = service(model, {
    checkFinite: process.env.CHECK_FINITE === "1",
    timeoutMs: process.env.TIMEOUT_MS ? Number(process.env.TIMEOUT_MS) : undefined,
    graceMs: process.env.GRACE_MS ? Number(process.env.GRACE_MS) : undefined,
  });
  server.listen(port, () => {
    const address = server.address();
    const at = typeof address === "object" && address ? address.port : port;
    console.log(`digits service on http://localhost:${at} (POST /predict, GET /health, GET /metrics)`);
  });
  process.once("SIGTERM", () => {
    console.log("SIGTERM: finishing the requests in flight");
    void close().then(() => process.exit(0));
  });
}
