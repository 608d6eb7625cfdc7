// The page's main thread: convwasm runs on this one thread (Atomics.wait is not allowed here) and says why.
import { init, threading } from "convwasm";
import * as A from "convwasm/async";
import { asyncLayer, layer } from "./layer.js";

await init();
const main = { ...threading(), digests: layer(), isolated: self.crossOriginIsolated };
const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const inWorker = await new Promise((resolve, reject) => {
  worker.onmessage = (e) => resolve(e.data);
  worker.onerror = (e) => reject(new Error(e.message));
});
// convwasm/async from this main thread: its workers compute, with threads where the page is isolated
await A.init();
const asyncRun = { ...(await A.threading()), digests: await asyncLayer(A) };
A.dispose();
window.result = { main, worker: inWorker, async: asyncRun };
document.getElementById("out").textContent = JSON.stringify(window.result, null, 2);
