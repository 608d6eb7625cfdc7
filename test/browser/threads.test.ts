// Threads in the browser: inside a Web Worker of a cross-origin isolated page the synchronous calls use
// the pool (and give the same bits as one thread, and as Node); on the page's main thread, or on a page
// that is not isolated, convwasm runs on one thread and threading() says why in one line.
import { execFileSync } from "node:child_process";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { ISOLATED, bin, requireChromium, cleanup, freshApp, launch, openPage, pack, serve } from "./harness.js";

interface Run {
  used: number;
  digests: string[];
  ms: number;
}
interface Result {
  main: { threads: number; reason: string; digests: string[]; isolated: boolean };
  worker: {
    first: { threads: number; reason: string };
    runs: Record<string, Run>;
    last: { threads: number; reason: string };
  };
  async: { workers: number; threads: number; reason: string; digests: string[] };
}

let browser: Browser;
let out: string;
let nodeDigests: string[];
const temp: string[] = [];

beforeAll(async () => {
  requireChromium();
  const tarball = pack();
  temp.push(join(tarball, ".."));
  const app = freshApp(tarball, "threads-app");
  temp.push(app);
  execFileSync(
    bin("esbuild"),
    ["page.js", "worker.js", "--bundle", "--format=esm", "--outdir=out", "--log-level=warning"],
    { cwd: app },
  );
  copyFileSync(join(app, "index.html"), join(app, "out", "index.html"));
  out = join(app, "out");
  // the same layer in Node, on 2 threads, from the same installed package
  const script = `import { init } from "convwasm"; import { layer } from "./layer.js";
    await init({ threads: 2 }); console.log(JSON.stringify(layer()));`;
  nodeDigests = JSON.parse(
    execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: app, encoding: "utf8" }),
  );
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  cleanup(...temp);
});

async function open(headers: Record<string, string>): Promise<Result> {
  const server = await serve(out, headers);
  try {
    const { page, errors } = await openPage(browser);
    await page.goto(server.url);
    await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, {
      timeout: 120_000,
    });
    expect(errors).toEqual([]);
    return (await page.evaluate(() => (window as unknown as { result: unknown }).result)) as Result;
  } finally {
    await server.close();
  }
}

describe("threads in Chromium", () => {
  it("a cross-origin isolated page: its worker computes on a pool of Web Workers, same bits on 1, 2 and 3 threads", async () => {
    const r = await open(ISOLATED);
    expect(r.main.isolated).toBe(true);
    expect(r.worker.first.threads).toBeGreaterThanOrEqual(2);
    expect(r.worker.first.reason).toMatch(/^\d+ threads \(Web Workers over one shared WebAssembly\.Memory\)$/);
    expect([1, 2, 3].map((n) => r.worker.runs[n].used)).toEqual([1, 2, 3]);
    expect(r.worker.runs[2].digests).toEqual(r.worker.runs[1].digests);
    expect(r.worker.runs[3].digests).toEqual(r.worker.runs[1].digests);
    // and the page's main thread (one thread) and Node (2 threads) get the same bits too
    expect(r.main.digests).toEqual(r.worker.runs[1].digests);
    expect(nodeDigests).toEqual(r.worker.runs[1].digests);
    expect(r.main.threads).toBe(1);
    expect(r.main.reason).toBe(
      "1 thread: browsers forbid Atomics.wait on the main thread; call convwasm from a Web Worker to use threads",
    );
    // convwasm/async on the page's main thread: workers (one per core), the first with a pool; same bits
    expect(r.async.workers).toBeGreaterThanOrEqual(2);
    expect(r.async.threads).toBeGreaterThanOrEqual(2);
    expect(r.async.digests).toEqual(r.worker.runs[1].digests);
  });

  it("a page that is not cross-origin isolated: one thread everywhere, and the reason says so", async () => {
    const r = await open({});
    expect(r.main.isolated).toBe(false);
    const reason =
      "1 thread: this page is not cross-origin isolated (serve it with COOP: same-origin and COEP: require-corp)";
    expect(r.worker.first).toEqual({ threads: 1, reason });
    expect(r.worker.runs[2].used).toBe(1);
    expect(r.worker.last.reason).toBe(reason);
    expect(r.main.reason).toBe(reason);
    expect(r.worker.runs[2].digests).toEqual(r.worker.runs[1].digests);
    // convwasm/async: one worker (no shared memory to share with more), on one thread; same bits
    expect(r.async).toMatchObject({ workers: 1, threads: 1, reason: reason });
    expect(r.async.digests).toEqual(r.worker.runs[1].digests);
  });
});
