// Inside a Web Worker: convwasm's synchronous calls may use threads here when the page is isolated.
import { init, setThreads, threading } from "convwasm";
import { limits } from "convwasm/internal";
import { layer } from "./layer.js";

// (3 threads even where the browser reports 2 cores: uneven splits)
limits.threadsBeyondCores = true;
await init();
const first = threading();
const runs = {};
for (const n of [1, 2, 3]) {
  const used = await setThreads(n);
  const t = performance.now();
  const digests = layer();
  runs[n] = { used, digests, ms: performance.now() - t };
}
postMessage({ first, runs, last: threading() });
