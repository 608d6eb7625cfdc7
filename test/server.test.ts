// examples/server over real HTTP on 127.0.0.1: drawn digits as PNG and JPEG read as the digit, a
// squeezenet ONNX model answering 1,000 classes, raw tensors and JSON, Prometheus metrics, every error
// status with its message, readiness, and a graceful SIGTERM.
import { spawn } from "node:child_process";
import { Agent, request } from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import * as S from "convwasm";
import * as A from "convwasm/async";
import { served, service } from "../examples/server/server.js";
import { digits } from "../examples/digits/data.js";
import { zoo } from "./onnx-fixtures.js";

type Answer = {
  class?: number;
  label?: string;
  probability?: number;
  top?: { class: number; label: string; probability: number }[];
  probabilities?: number[];
  results?: Answer[];
  error?: string;
};

const temp = mkdtempSync(join(tmpdir(), "convwasm-server-"));
const services: { base: string; close: () => Promise<void> }[] = [];
const sync = S.sequential([28, 28, 1], S.digitsLayers());

async function start(model: Awaited<ReturnType<typeof served>>, options: Parameters<typeof service>[1] = {}) {
  const svc = service(model, options);
  await new Promise<void>((r) => svc.server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(svc.server.address() as AddressInfo).port}`;
  services.push({ base, close: svc.close });
  return { base, ready: svc.ready, close: svc.close };
}

let digitsBase = "";
let squeezeBase = "";

beforeAll(async () => {
  await S.init({ threads: 1 });
  await A.init({ workers: 2 });
  sync.load(readFileSync(new URL("../examples/digits/pretrained.npz", import.meta.url)));
  const d = await start(await served(), { checkFinite: true, timeoutMs: 20_000 });
  await d.ready;
  digitsBase = d.base;
  // squeezenet1_1 (the ONNX fixture, random weights) at 64×64, ImageNet's preprocessing beside it
  const file = join(temp, "squeezenet.onnx");
  writeFileSync(file, zoo("squeezenet1_1", "f32", 64).bytes);
  writeFileSync(join(temp, "labels.txt"), Array.from({ length: 1000 }, (_, i) => `class ${i}`).join("\n") + "\n");
  writeFileSync(
    join(temp, "squeezenet.json"),
    JSON.stringify({
      size: [64, 64],
      channels: "RGB",
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      labels: "labels.txt",
    }),
  );
  // (its images decoded on the event loop: decoders 0)
  const q = await start(await served({ model: file }), { maxBody: 1 << 20, timeoutMs: 20_000, decoders: 0 });
  await q.ready;
  squeezeBase = q.base;
}, 120_000);

afterAll(async () => {
  for (const s of services) await s.close();
  rmSync(temp, { recursive: true, force: true });
});

const post = async (
  base: string,
  body: string | Buffer,
  type?: string,
  headers: Record<string, string> = {},
  query = "",
) => {
  const r = await fetch(`${base}/predict${query}`, {
    method: "POST",
    body: typeof body === "string" ? body : new Uint8Array(body),
    headers: { ...(type ? { "content-type": type } : {}), ...headers },
  });
  return { status: r.status, json: (await r.json()) as Answer };
};

const { test } = digits();

/** A held-out digit drawn as a page would have it: dark ink on white, 4× larger (112×112), RGBA. */
function drawn(i: number): { rgba: Buffer; label: number } {
  const px = test.X.data.subarray(i * 784, (i + 1) * 784);
  const rgba = Buffer.alloc(112 * 112 * 4);
  for (let y = 0; y < 112; y++)
    for (let x = 0; x < 112; x++) {
      const v = Math.round(255 * (1 - px[Math.floor(y / 4) * 28 + Math.floor(x / 4)]));
      rgba.set([v, v, v, 255], (y * 112 + x) * 4);
    }
  return { rgba, label: test.y[i] };
}

/** A PNG or JPEG whose header declares a huge image (its signature, then the header alone). */
function bomb(kind: "png" | "jpeg"): Buffer {
  if (kind === "png") {
    const b = Buffer.alloc(33);
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b);
    b.writeUInt32BE(13, 8);
    b.write("IHDR", 12);
    b.writeUInt32BE(100_000, 16);
    b.writeUInt32BE(100_000, 20);
    return b;
  }
  // SOI, then SOF0: length 17, precision 8, height and width (set below), 3 components
  const b = Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0, 0, 0, 0, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  b.writeUInt16BE(65000, 7);
  b.writeUInt16BE(65000, 9);
  return b;
}

const png = (rgba: Buffer, w: number, h: number) => {
  const p = new PNG({ width: w, height: h });
  rgba.copy(p.data);
  return PNG.sync.write(p);
};
const jpg = (rgba: Buffer, w: number, h: number) =>
  Buffer.from(jpeg.encode({ data: rgba, width: w, height: h }, 90).data);

describe("examples/server: the digits network", () => {
  it("reads a PNG and a JPEG of a drawn digit as the digit, for one digit of each class", async () => {
    const picked = Array.from({ length: 10 }, (_, d) => test.y.indexOf(d));
    for (const i of picked) {
      const { rgba, label } = drawn(i);
      for (const [type, body] of [
        ["image/png", png(rgba, 112, 112)],
        ["image/jpeg", jpg(rgba, 112, 112)],
      ] as const) {
        const { status, json } = await post(digitsBase, body, type);
        expect(status, `${type} digit ${i}`).toBe(200);
        expect([json.class, json.label], `${type} of a ${label}`).toEqual([label, String(label)]);
        expect(json.top!.length).toBe(3);
        expect(json.top![0].probability).toBe(json.probability);
      }
    }
  });

  it("reads a digit drawn on a transparent canvas (black ink, coverage in alpha) as the digit: over white", async () => {
    const picked = Array.from({ length: 10 }, (_, d) => test.y.indexOf(d));
    for (const i of picked) {
      const { rgba, label } = drawn(i);
      // (a canvas's toBlob("image/png"): transparent black where nothing was drawn, the ink's coverage in alpha)
      const canvas = Buffer.alloc(rgba.length);
      for (let p = 0; p < rgba.length; p += 4) canvas.set([0, 0, 0, 255 - rgba[p]], p);
      const opaque = await post(digitsBase, png(rgba, 112, 112), "image/png", {}, "?all=1");
      const { status, json } = await post(digitsBase, png(canvas, 112, 112), "image/png", {}, "?all=1");
      expect(status).toBe(200);
      expect([json.class, json.label], `a transparent PNG of a ${label}`).toEqual([label, String(label)]);
      // (the same pixels as the opaque drawing, but for rounding: ink 255 - a over white is 255 - a)
      json.probabilities!.forEach((p, k) => expect(p).toBeCloseTo(opaque.json.probabilities![k], 5));
    }
  });

  it("answers JSON with the synchronous f32 plan's probabilities (flat or 28 rows), concurrently", async () => {
    const image = Array.from(test.X.data.subarray(0, 784));
    const expected = Array.from(sync.predict(S.array(image, [1, 28, 28, 1]), { precision: "f32" }).data);
    const rows = Array.from({ length: 28 }, (_, r) => image.slice(r * 28, r * 28 + 28));
    const answers = await Promise.all([
      ...Array.from({ length: 20 }, () =>
        post(digitsBase, JSON.stringify({ image }), "application/json", {}, "?all=1"),
      ),
      post(digitsBase, JSON.stringify({ image: rows }), undefined, {}, "?all=1"),
    ]);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.json.probabilities).toEqual(expected);
      expect(a.json.class).toBe(expected.indexOf(Math.max(...expected)));
    }
  });

  it("names every bad request: 400, 404, 405, 413, 415, 422, and keeps serving", async () => {
    const image = Array.from({ length: 784 }, () => 0.5);
    const cases: [string | Buffer, string | undefined, Record<string, string>, number, RegExp][] = [
      ["{bad", "application/json", {}, 400, /^the body is not JSON/],
      [JSON.stringify({ picture: image }), undefined, {}, 400, /^the body expects \{"image"/],
      [
        JSON.stringify({ image: [1, 2] }),
        undefined,
        {},
        422,
        /^image expects 784 numbers \(shape \[28,28,1\]\) but got 2$/,
      ],
      [
        JSON.stringify({ image: image.map((v, i) => (i === 5 ? "x" : v)) }),
        undefined,
        {},
        400,
        /^image expects numbers only$/,
      ],
      [
        JSON.stringify({ image }).replace(/^\{"image":\[0.5/, '{"image":[1e999'),
        undefined,
        {},
        400,
        /^predict: X expects finite values but X\[0,0,0,0\] is Infinity$/,
      ],
      [JSON.stringify({ image: image.map(() => 1e308) }), undefined, {}, 422, /^the model's output is not finite/],
      [Buffer.from("GIF89a"), "image/gif", {}, 415, /^the body's type image\/gif is not one this service reads/],
      [Buffer.from("not a png"), "image/png", {}, 400, /^the body is not a readable PNG image/],
      [Buffer.from([0xff, 0xd8, 0xff, 0x00]), "image/jpeg", {}, 400, /^the body is not a readable JPEG image/],
      // (an 8×8 CMYK JPEG written by PIL)
      [
        readFileSync(new URL("./fixtures/cmyk.jpg", import.meta.url)),
        "image/jpeg",
        {},
        400,
        /^the JPEG image is CMYK \(4 components\); send it as RGB or grayscale$/,
      ],
      // headers declaring billions of pixels: refused before a byte is decoded
      [bomb("png"), "image/png", {}, 413, /^the PNG image is 100000×100000, more than 50 megapixels$/],
      [bomb("jpeg"), "image/jpeg", {}, 413, /^the JPEG image is 65000×65000, more than 50 megapixels$/],
      [Buffer.alloc(784 * 4), "application/octet-stream", {}, 400, /^a raw tensor expects an x-shape header/],
      [
        Buffer.alloc(784 * 4),
        "application/octet-stream",
        { "x-shape": "1,28,28,3" },
        422,
        /^x-shape expects \[m,28,28,1\]/,
      ],
      [
        Buffer.alloc(10),
        "application/octet-stream",
        { "x-shape": "28,28,1" },
        400,
        /needs 3136 bytes of float32 but the body has 10$/,
      ],
    ];
    for (const [body, type, headers, status, message] of cases) {
      const r = await post(digitsBase, body, type, headers);
      expect([r.status, r.json.error], String(message)).toEqual([status, expect.stringMatching(message)]);
    }
    expect((await fetch(`${digitsBase}/predict`)).status).toBe(405);
    expect((await fetch(`${digitsBase}/nowhere`)).status).toBe(404);
    const big = Buffer.alloc(9 << 20);
    const r = await fetch(`${digitsBase}/predict`, {
      method: "POST",
      body: big,
      headers: { "content-type": "image/png" },
    });
    expect([r.status, ((await r.json()) as Answer).error]).toEqual([413, `the body exceeds ${8 << 20} bytes`]);
    expect((await post(digitsBase, JSON.stringify({ image }))).status).toBe(200);
  });

  it("raw float32 tensors: one example or a batch of them, as the JSON numbers give", async () => {
    const x = Float32Array.from(test.X.data.subarray(0, 3 * 784));
    const body = Buffer.from(x.buffer);
    const { status, json } = await post(
      digitsBase,
      body,
      "application/octet-stream",
      { "x-shape": "3,28,28,1" },
      "?all=1",
    );
    expect(status).toBe(200);
    expect(json.results!.map((a) => a.class)).toEqual([0, 1, 2].map((i) => test.y[i]));
    const one = await post(
      digitsBase,
      JSON.stringify({ image: Array.from(x.subarray(784, 1568)) }),
      undefined,
      {},
      "?all=1",
    );
    expect(json.results![1].probabilities).toEqual(one.json.probabilities);
  });

  it("GET /health, /ready and /metrics in Prometheus's text format", async () => {
    expect(await (await fetch(`${digitsBase}/health`)).json()).toMatchObject({ status: "ok", workers: 2 });
    const ready = await fetch(`${digitsBase}/ready`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: "ready" }]);
    await post(digitsBase, JSON.stringify({ image: Array.from({ length: 784 }, () => 0) }));
    const r = await fetch(`${digitsBase}/metrics`);
    expect(r.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    // every sample line is a metric name, optional labels and a number (Prometheus's exposition format)
    for (const line of text.split("\n").filter((l) => l !== "" && !l.startsWith("#"))) {
      expect(line).toMatch(
        /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/,
      );
    }
    const value = (re: RegExp) => Number(re.exec(text)?.[1]);
    expect(text).toMatch(/^# TYPE http_request_duration_seconds histogram$/m);
    expect(value(/^http_request_duration_seconds_count\{route="\/predict",status="200"\} (\d+)$/m)).toBeGreaterThan(0);
    expect(value(/^convwasm_batch_examples_count (\d+)$/m)).toBeGreaterThan(0);
    expect(value(/^convwasm_batch_examples_sum (\d+)$/m)).toBeGreaterThanOrEqual(
      value(/^convwasm_batch_examples_count (\d+)$/m),
    );
    expect(value(/^convwasm_queue_depth (\d+)$/m)).toBe(0);
    expect(value(/^convwasm_wasm_memory_bytes (\d+)$/m)).toBeGreaterThan(1 << 20);
    expect(value(/^convwasm_ready (\d+)$/m)).toBe(1);
    expect(value(/^nodejs_eventloop_lag_p99_seconds ([\d.e-]+)$/m)).toBeGreaterThan(0);
  });
});

describe("examples/server: an ONNX model (squeezenet1_1) with a preprocessing file and labels", () => {
  it("answers a JPEG of any size with the top 5 of 1,000 labelled classes, and all 1,000 on request", async () => {
    const w = 100;
    const h = 80;
    const rgba = Buffer.alloc(w * h * 4);
    for (let i = 0; i < w * h; i++) rgba.set([(i * 7) % 256, (i * 3) % 256, (i >> 4) % 256, 255], i * 4);
    const { status, json } = await post(squeezeBase, jpg(rgba, w, h), "image/jpeg", {}, "?all=1");
    expect(status).toBe(200);
    expect(json.top!.length).toBe(5);
    expect(json.label).toBe(`class ${json.class}`);
    expect(json.probabilities!.length).toBe(1000);
    expect(json.probabilities!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const sorted = json.top!.map((t) => t.probability);
    expect(sorted).toEqual([...sorted].sort((a, b) => b - a));
    expect(json.top![0].probability).toBe(Math.max(...json.probabilities!));
    // the same picture as a PNG decodes to the same pixels: the JPEG's are near them
    expect((await post(squeezeBase, png(rgba, w, h), "image/png")).json.top!.length).toBe(5);
  });

  it("raw NCHW float32 tensors in, and a 504 when the answer takes longer than the timeout", async () => {
    const x = new Float32Array(2 * 3 * 64 * 64).map((_, i) => Math.sin(i));
    const { status, json } = await post(squeezeBase, Buffer.from(x.buffer), "application/octet-stream", {
      "x-shape": "2,3,64,64",
    });
    expect(status).toBe(200);
    expect(json.results!.length).toBe(2);
    const slow = service(await served({ model: join(temp, "squeezenet.onnx") }), { timeoutMs: 1 });
    await new Promise<void>((r) => slow.server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(slow.server.address() as AddressInfo).port}`;
    const many = new Float32Array(64 * 3 * 64 * 64);
    const r = await post(base, Buffer.from(many.buffer), "application/octet-stream", { "x-shape": "64,3,64,64" });
    expect([r.status, r.json.error]).toEqual([504, "predict: no answer within options.timeout (1 ms)"]);
    await slow.close();
  });

  it("/ready is 503 until the model's first predict answered; a full queue answers 503", async () => {
    const model = await served({ model: join(temp, "squeezenet.onnx"), batching: { maxQueue: 2, maxBatch: 1 } });
    // (the first predict, the service's warm-up, held until the gate opens)
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let first = true;
    const held = {
      ...model,
      predict: (...a: Parameters<typeof model.predict>) =>
        first ? ((first = false), gate.then(() => model.predict(...a))) : model.predict(...a),
    };
    const svc = service(held, {});
    await new Promise<void>((r) => svc.server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(svc.server.address() as AddressInfo).port}`;
    const starting = await fetch(`${base}/ready`);
    expect([starting.status, await starting.json()]).toEqual([503, { status: "starting" }]);
    open();
    await svc.ready;
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    const x = Buffer.from(new Float32Array(3 * 64 * 64).buffer);
    const statuses = await Promise.all(
      Array.from({ length: 24 }, () => post(base, x, "application/octet-stream", { "x-shape": "3,64,64" })),
    );
    const busy = statuses.filter((s) => s.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    expect(busy[0].json.error).toMatch(/^predict: the model's queue is full/);
    expect(statuses.filter((s) => s.status === 200).length).toBeGreaterThan(0);
    await svc.close();
  });

  it("refuses a config with keys it does not know or values that do not fit the model, naming them", async () => {
    const file = join(temp, "odd.onnx");
    writeFileSync(file, zoo("squeezenet1_1", "f32", 64).bytes);
    writeFileSync(join(temp, "odd.json"), JSON.stringify({ sise: [64, 64] }));
    await expect(served({ model: file })).rejects.toThrow(/has keys this service does not know: sise/);
    for (const [config, message] of [
      [{ labels: ["a", "b"] }, "odd.onnx: the labels name 2 classes but the model answers 1000"],
      [{ size: [224, 224] }, "odd.onnx: size expects the model's input size [64, 64] but got [224,224]"],
      [{ channels: "gray" }, "odd.onnx: channels gray do not fill the model's 3 input channels"],
      [{ mean: [0.5] }, "odd.onnx: mean expects 3 numbers (one per channel) but got [0.5]"],
      [{ std: [1, 0, 1] }, "odd.onnx: std expects no zero"],
      [{ topK: 0 }, "odd.onnx: topK expects an integer >= 1 but got 0"],
      [{ invert: "yes" }, 'odd.onnx: invert expects true, false or "auto" but got "yes"'],
    ] as const) {
      writeFileSync(join(temp, "odd.json"), JSON.stringify(config));
      await expect(served({ model: file }), message).rejects.toThrow(message);
    }
  });
});

/** `npm run example:server` in a process of its own, on a free port: the process, the port, what it printed. */
async function startServer() {
  const child = spawn(process.execPath, ["--import", "tsx", "examples/server/server.ts"], {
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /localhost:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`the server exited (${code}): ${out}`)));
  });
  return { child, port, output: () => out };
}

const image = Array.from({ length: 784 }, (_, i) => (i % 28 > 11 && i % 28 < 16 && i > 140 && i < 640 ? 1 : 0));

describe("examples/server: shutting down", () => {
  it("on SIGTERM with keep-alive clients still sending: closes their connections and exits within seconds (issue 20)", async () => {
    const { child, port } = await startServer();
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    const body = JSON.stringify({ image });
    let exited = false;
    const count = { before: 0, after: 0, closeHeaders: 0 };
    let termAt = 0;
    const one = () =>
      new Promise<void>((resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port,
            path: "/predict",
            method: "POST",
            agent,
            headers: { "content-length": body.length },
          },
          (res) => {
            res.resume();
            res.on("end", () => {
              if (termAt === 0) count.before++;
              else count.after++;
              if (res.headers.connection === "close") count.closeHeaders++;
              resolve();
            });
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    // 32 clients, each sending request after request on its kept-alive connection, for at most 20 s
    const until = Date.now() + 20_000;
    const clients = Array.from({ length: 32 }, async () => {
      while (!exited && Date.now() < until) {
        try {
          await one();
        } catch {
          if (termAt > 0) return; // refused or cut once the server is closing: this client is done
        }
      }
    });
    while (count.before < 64) await new Promise((r) => setTimeout(r, 10));
    termAt = Date.now();
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    exited = true;
    const seconds = (Date.now() - termAt) / 1000;
    await Promise.all(clients);
    agent.destroy();
    const seen = JSON.stringify({ ...count, seconds });
    expect(code, seen).toBe(0);
    expect(seconds, seen).toBeLessThan(5);
    // answers written after SIGTERM tell their clients the connection closes: at most one answer per
    // connection (written before the signal arrived) goes without, and each connection then ends (one
    // idle at the signal is closed at once, with no answer at all)
    expect(count.after - count.closeHeaders, seen).toBeLessThanOrEqual(32);
    expect(count.after, seen).toBeLessThanOrEqual(3 * 32);
  });

  it("on SIGTERM stops taking connections, answers the requests in flight and exits 0", async () => {
    const { child, port, output } = await startServer();
    const inFlight = Array.from({ length: 8 }, () =>
      fetch(`http://127.0.0.1:${port}/predict`, { method: "POST", body: JSON.stringify({ image }) }),
    );
    await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGTERM");
    const statuses = await Promise.all(
      inFlight.map((p) =>
        p.then(
          (r) => r.status,
          () => "refused",
        ),
      ),
    );
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    expect(code).toBe(0);
    // every request that reached the server got its answer
    expect(statuses.filter((s) => s === 200).length + statuses.filter((s) => s === "refused").length).toBe(8);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(output()).toMatch(/SIGTERM: finishing the requests in flight/);
  });
});
