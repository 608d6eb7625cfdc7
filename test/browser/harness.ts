// Real-browser test plumbing: pack the package, lay out a fresh app that installs it, serve a folder
// on 127.0.0.1, and drive Debian's headless Chromium with playwright-core (never a downloaded browser).
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const ARTIFACTS = join(ROOT, "test", "artifacts");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** `npm pack` of the built package; returns the tarball's path (in a fresh temporary folder). */
export function pack(): string {
  const dir = mkdtempSync(join(tmpdir(), "convwasm-pack-"));
  const out = execFileSync("npm", ["pack", "--pack-destination", dir, "--json"], { cwd: ROOT, encoding: "utf8" });
  return join(dir, JSON.parse(out)[0].filename);
}

/** A fresh app folder with test/browser/<name>'s files and the packed package installed in node_modules. */
export function freshApp(tarball: string, name = "app"): string {
  const app = mkdtempSync(join(tmpdir(), "convwasm-app-"));
  cpSync(join(ROOT, "test", "browser", name), app, { recursive: true });
  const pkg = join(app, "node_modules", "convwasm");
  mkdirSync(pkg, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", pkg, "--strip-components=1"]);
  // its dependencies, as npm would install them
  const dependencies = Object.keys(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).dependencies);
  for (const dep of dependencies) {
    mkdirSync(dirname(join(app, "node_modules", dep)), { recursive: true });
    symlinkSync(join(ROOT, "node_modules", dep), join(app, "node_modules", dep));
  }
  return app;
}

export function bin(name: string): string {
  return join(ROOT, "node_modules", ".bin", name);
}

const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".css": "text/css",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".json": "application/json",
};

/** Headers that make a page cross-origin isolated (SharedArrayBuffer, shared WebAssembly.Memory). */
export const ISOLATED = { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" };

/** Serves `dir` on 127.0.0.1 (a free port) with `headers` on every response; resolves to its base URL and a close function. */
export async function serve(
  dir: string,
  headers: Record<string, string> = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)).replace(
      /^(\.\.[/\\])+/,
      "",
    );
    let file = join(dir, path);
    if (existsSync(file) && !extname(file)) file = join(file, "index.html");
    if (!existsSync(file)) {
      res.writeHead(404).end("not found");
      return;
    }
    res
      .writeHead(200, { ...headers, "content-type": TYPES[extname(file)] ?? "application/octet-stream" })
      .end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Fails at once, with how to fix it, when Debian's Chromium is not installed. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM))
    throw new Error(`browser tests need Debian's chromium at ${CHROMIUM}: apt-get install -y chromium`);
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
    ],
  });
}

/** A page that records console errors and uncaught exceptions. */
export async function openPage(
  browser: Browser,
  viewport = { width: 1280, height: 900 },
): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  return { page, errors };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export function cleanup(...dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
