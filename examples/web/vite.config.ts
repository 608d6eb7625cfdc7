import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The demo uses the package built in dist/ (npm run build), imported by its name as an app would.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  resolve: {
    alias: [
      { find: /^convwasm\/bench$/, replacement: fileURLToPath(new URL("../../dist/bench.js", import.meta.url)) },
      { find: /^convwasm$/, replacement: fileURLToPath(new URL("../../dist/index.js", import.meta.url)) },
    ],
  },
});
