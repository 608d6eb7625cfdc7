import { defineConfig } from "vitest/config";

// Real-browser tests (npm run test:browser): bundled apps and the demo page in Debian's Chromium.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
