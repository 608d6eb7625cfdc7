// The step-by-step page (examples/web), built with Vite and opened in headless Chromium at desktop and
// phone sizes: it loads, every panel renders, the controls update the maps, nothing logs an error.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { ROOT, bin, requireChromium, cleanup, launch, openPage, screenshot, serve } from "./harness.js";

let browser: Browser;
let out: string;
let server: Awaited<ReturnType<typeof serve>>;

beforeAll(async () => {
  requireChromium();
  out = mkdtempSync(join(tmpdir(), "convwasm-demo-"));
  execFileSync(
    bin("vite"),
    ["build", "--config", "examples/web/vite.config.ts", "--outDir", out, "--emptyOutDir", "--logLevel", "warn"],
    {
      cwd: ROOT,
    },
  );
  server = await serve(out);
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  cleanup(out);
});

/** For each canvas in the page: its id (or its map index) and whether it shows more than one colour. */
/** For each canvas: its id (or index), whether it shows more than one colour, and whether it shows anything. */
function canvases(page: Page): Promise<{ id: string; width: number; varied: boolean; drawn: boolean }[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll("canvas")).map((c, i) => {
      const data = (c.getContext("2d") as CanvasRenderingContext2D).getImageData(0, 0, c.width, c.height).data;
      let varied = false;
      let drawn = false;
      for (let p = 0; p < data.length; p += 4) {
        varied ||= data[p] !== data[0] || data[p + 1] !== data[1] || data[p + 2] !== data[2];
        drawn ||= data[p + 3] === 255 && (data[p] !== 255 || data[p + 1] !== 255 || data[p + 2] !== 255);
      }
      return { id: c.id || `map ${i}`, width: c.width, varied, drawn };
    }),
  );
}

const mapImage = (page: Page) =>
  page.evaluate(() => (document.querySelector("#maps canvas") as HTMLCanvasElement).toDataURL());

for (const [label, viewport] of [
  ["desktop", { width: 1280, height: 900 }],
  ["phone", { width: 390, height: 844 }],
] as const) {
  describe(`the demo page (${label}, ${viewport.width}×${viewport.height})`, () => {
    it("renders every panel, reacts to its controls, and logs no error", async () => {
      const { page, errors } = await openPage(browser, viewport);
      try {
        await page.goto(server.url);
        await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
        expect(await page.textContent("#status")).toMatch(/convwasm ready in \d+ ms/);

        // every panel drew something: all canvases non-blank (the padded picture, the maps, pools, gradients)
        const drawn = await canvases(page);
        expect(drawn.length).toBeGreaterThanOrEqual(12);
        expect(drawn.filter((c) => !c.varied)).toEqual([]);
        for (const id of ["#grid", "#win-slice", "#win-filter", "#win-out", "#timing"]) {
          expect((await page.locator(`${id} td`).count()) > 0, id).toBe(true);
        }

        // zero padding: the slider changes the padded picture's size
        const paddedWidth = () => page.evaluate(() => (document.getElementById("padded") as HTMLCanvasElement).width);
        await page.locator("#pad").fill("2");
        expect(await paddedWidth()).toBe(68);
        await page.locator("#pad").fill("8");
        expect(await paddedWidth()).toBe(80);

        // another filter bank gives other feature maps
        const before = await mapImage(page);
        await page.selectOption("#bank", "blur");
        expect(await mapImage(page)).not.toBe(before);
        expect(await page.locator("#maps canvas").count()).toBe(3);

        // stride 2 halves the maps
        await page.selectOption("#stride", "2");
        const mapWidth = await page.evaluate(() => (document.querySelector("#maps canvas") as HTMLCanvasElement).width);
        expect(mapWidth).toBe(32);
        // 'same' padding keeps ceil(64 / 2) = 32 columns (pad 1 with the 3×3 filters gives the same here);
        // with stride 1 it keeps the picture's 64
        await page.selectOption("#conv-pad", "same");
        await page.selectOption("#stride", "1");
        const sameWidth = await page.evaluate(
          () => (document.querySelector("#maps canvas") as HTMLCanvasElement).width,
        );
        expect(sameWidth).toBe(64);
        await page.selectOption("#conv-pad", "1");
        await page.selectOption("#stride", "2");

        // clicking a map picks the cell whose gradients are shown
        const cellBefore = await page.textContent("#grad-cell");
        const map = page.locator("#maps canvas").nth(1);
        const box = (await map.boundingBox())!;
        // the middle of cell (8, 24) of the 32×32 map
        await map.click({ position: { x: (box.width * 24.5) / 32, y: (box.height * 8.5) / 32 } });
        const cellAfter = await page.textContent("#grad-cell");
        expect(cellAfter).not.toBe(cellBefore);
        expect(cellAfter).toMatch(/^Cell Z\[0, 8, 24, 1\]/);

        // the window slides: Step moves it by one position
        const pos = await page.textContent("#win-pos");
        await page.click("#step");
        expect(await page.textContent("#win-pos")).not.toBe(pos);

        // pooling panel follows its controls
        const poolBefore = await page.evaluate(() => (document.getElementById("pool-max") as HTMLCanvasElement).width);
        await page.selectOption("#pool-stride", "1");
        expect(
          await page.evaluate(() => (document.getElementById("pool-max") as HTMLCanvasElement).width),
        ).toBeGreaterThan(poolBefore);

        // the timing panel lists every op with numbers
        await page.click("#bench");
        const timing = await page.textContent("#timing");
        for (const op of [
          "zero_pad",
          "conv_forward",
          "conv_backward",
          "pool_forward max",
          "pool_forward average",
          "pool_backward max",
        ]) {
          expect(timing).toContain(op);
        }
        // (a gradient over a uniform patch of sky is one colour, so only "drawn" is required here)
        expect(await canvases(page).then((c) => c.filter((x) => !x.drawn))).toEqual([]);
        await screenshot(page, `demo-${label}`);
        expect(errors).toEqual([]);
      } finally {
        await page.close();
      }
    });
  });
}
