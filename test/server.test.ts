// examples/server: the digits service answers with the synchronous model's probabilities, turns every bad
// request into a 400 carrying the library's message, never crashes, and finishes its requests on SIGTERM.
import { spawn } from "node:child_process";
import { Agent, request } from "node:http";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as S from "convwasm";
import * as A from "convwasm/async";
import { digitsModel, service } from "../examples/server/server.js";

let base = "";
let close: () => Promise<void>;
const sync = S.sequential([28, 28, 1], S.digitsLayers());

beforeAll(async () => {
  await S.init({ threads: 1 });
  await A.init({ workers: 2 });
  sync.load(readFileSync(new URL("../examples/digits/pretrained.npz", import.meta.url)));
  const svc = service(await digitsModel(), { checkFinite: true });
  close = svc.close;
  await new Promise<void>((r) => svc.server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(svc.server.address() as AddressInfo).port}`;
});
afterAll(() => close());

const post = async (body: string) => {
  const r = await fetch(`${base}/predict`, { method: "POST", body });
  return { status: r.status, json: (await r.json()) as { class?: number; probabilities?: number[]; error?: string } };
};

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

/** A digit-like picture: a vertical bar. */
const image = Array.from({ length: 784 }, (_, i) => (i % 28 > 11 && i % 28 < 16 && i > 140 && i < 640 ? 1 : 0));

describe("examples/server", () => {
  it("answers POST /predict with the synchronous model's probabilities (flat or 28 rows), concurrently", async () => {
    const expected = Array.from(sync.predict(S.array(image, [1, 28, 28, 1])).data);
    const rows = Array.from({ length: 28 }, (_, r) => image.slice(r * 28, r * 28 + 28));
    const answers = await Promise.all([
      ...Array.from({ length: 20 }, () => post(JSON.stringify({ image }))),
      post(JSON.stringify({ image: rows })),
    ]);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.json.probabilities).toEqual(expected);
      expect(a.json.class).toBe(expected.indexOf(Math.max(...expected)));
    }
  });

  it("turns bad requests into 400s with the library's message, and keeps serving", async () => {
    const cases: [string, RegExp][] = [
      ["{bad", /^the body is not JSON/],
      [JSON.stringify({ picture: image }), /^the body expects \{"image"/],
      [JSON.stringify({ image: [1, 2] }), /^array: data has 2 elements but shape \[1,28,28,1\] needs 784$/],
      [JSON.stringify({ image: image.map((v, i) => (i === 5 ? "x" : v)) }), /^image expects numbers only$/],
      [
        JSON.stringify({ image }).replace(/^\{"image":\[0/, '{"image":[1e999'),
        /^predict: X expects finite values but X\[0,0,0,0\] is Infinity$/,
      ],
    ];
    for (const [body, message] of cases) {
      const { status, json } = await post(body);
      expect(status, body.slice(0, 30)).toBe(400);
      expect(json.error).toMatch(message);
    }
    expect((await fetch(`${base}/predict`)).status).toBe(405);
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);
    const health = await (await fetch(`${base}/health`)).json();
    expect(health).toMatchObject({ status: "ok", workers: 2 });
    expect((await post(JSON.stringify({ image }))).status).toBe(200);
    const metrics = (await (await fetch(`${base}/metrics?reset`)).json()) as { eventLoopDelay: { p99: number } };
    expect(metrics.eventLoopDelay.p99).toBeGreaterThan(0);
  });

  it("answers a 422 when the output is not finite, and a 413 (not a reset) to a body over the limit (issue 20)", async () => {
    const huge = JSON.stringify({ image: image.map(() => 1e308) });
    const { status, json } = await post(huge);
    expect(status).toBe(422);
    expect(json.error).toMatch(/^the model's output is not finite for this image/);
    const big = JSON.stringify({ image: Array.from({ length: 300_000 }, () => 0.5) });
    expect(big.length).toBeGreaterThan(1 << 20);
    const r = await fetch(`${base}/predict`, { method: "POST", body: big });
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: string }).error).toBe(`the body exceeds ${1 << 20} bytes`);
    expect((await post(JSON.stringify({ image }))).status).toBe(200);
  });

  it("on SIGTERM with keep-alive clients still sending: closes their connections and exits within seconds (issue 20)", async () => {
    const { child, port } = await startServer();
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    const body = JSON.stringify({ image });
    let exited = false;
    const served = { before: 0, after: 0, closeHeaders: 0 };
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
              if (termAt === 0) served.before++;
              else served.after++;
              if (res.headers.connection === "close") served.closeHeaders++;
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
    while (served.before < 64) await new Promise((r) => setTimeout(r, 10));
    termAt = Date.now();
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    exited = true;
    const seconds = (Date.now() - termAt) / 1000;
    await Promise.all(clients);
    agent.destroy();
    const seen = JSON.stringify({ ...served, seconds });
    expect(code, seen).toBe(0);
    expect(seconds, seen).toBeLessThan(5);
    // answers written after SIGTERM tell their clients the connection closes: at most one answer per
    // connection (written before the signal arrived) goes without, and each connection then ends (one
    // idle at the signal is closed at once, with no answer at all)
    expect(served.after - served.closeHeaders, seen).toBeLessThanOrEqual(32);
    expect(served.after, seen).toBeLessThanOrEqual(3 * 32);
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
