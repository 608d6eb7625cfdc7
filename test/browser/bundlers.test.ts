// A fresh Vite app, a fresh esbuild bundle and a fresh webpack 5 bundle import the packed package
// (npm pack) by name, with no plugin or configuration, and run the notebook in headless Chromium.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { bin, requireChromium, cleanup, freshApp, launch, openPage, pack, screenshot, serve } from "./harness.js";

const Z_MEAN = 0.048995203528855794;
const Z_321 = [-0.61490741, -6.7439236, -2.55153897, 1.75698377, 3.56208902, 0.53036437, 5.18531798, 8.75898442];

/** Builds the app with a bundler and returns the folder to serve. */
const BUILD: Record<string, (app: string) => string> = {
  vite: (app) => {
    execFileSync(bin("vite"), ["build", "--outDir", "out", "--emptyOutDir", "--logLevel", "warn"], { cwd: app });
    return join(app, "out");
  },
  esbuild: (app) => {
    execFileSync(
      bin("esbuild"),
      ["main.js", "--bundle", "--format=esm", "--outfile=out/main.js", "--log-level=warning"],
      { cwd: app },
    );
    copyFileSync(join(app, "index.html"), join(app, "out", "index.html"));
    return join(app, "out");
  },
  webpack: (app) => {
    execFileSync(bin("webpack"), ["./main.js", "--mode", "production", "--output-path", "out"], {
      cwd: app,
      stdio: "pipe",
    });
    copyFileSync(join(app, "index.html"), join(app, "out", "index.html"));
    return join(app, "out");
  },
};

let browser: Browser;
let tarball: string;
const temp: string[] = [];

beforeAll(async () => {
  requireChromium();
  tarball = pack();
  temp.push(join(tarball, ".."));
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  cleanup(...temp);
});

describe("the packed package in a bundled app, in Chromium", () => {
  for (const bundler of Object.keys(BUILD)) {
    it(`${bundler}: conv_forward gives the notebook's values and every notebook cell matches`, async () => {
      const app = freshApp(tarball);
      temp.push(app);
      const out = BUILD[bundler](app);
      mkdirSync(out, { recursive: true });
      const server = await serve(out);
      const { page, errors } = await openPage(browser);
      try {
        await page.goto(server.url);
        await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, null, {
          timeout: 60_000,
        });
        const result = await page.evaluate(() => (window as unknown as { __result: Record<string, unknown> }).__result);
        expect(result.error).toBeUndefined();
        expect(Math.abs((result.zMean as number) / Z_MEAN - 1)).toBeLessThan(1e-12);
        (result.z321 as number[]).forEach((v, i) => expect(Math.abs(v - Z_321[i])).toBeLessThan(1e-8));
        const checks = result.checks as { label: string; ok: boolean }[];
        expect(checks.length).toBe(19);
        expect(checks.filter((c) => !c.ok)).toEqual([]);
        expect(result.arenaBytesInUse).toBe(0);
        await screenshot(page, `bundler-${bundler}`);
        expect(errors).toEqual([]);
      } finally {
        await page.close();
        await server.close();
      }
    });
  }
});
