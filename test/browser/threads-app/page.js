// The page's main thread: convwasm runs on this one thread (Atomics.wait is not allowed here) and says why.
import { init, threading } from "convwasm";
import { layer } from "./layer.js";

await init();
const main = { ...threading(), digests: layer(), isolated: self.crossOriginIsolated };
const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const inWorker = await new Promise((resolve, reject) => {
  worker.onmessage = (e) => resolve(e.data);
  worker.onerror = (e) => reject(new Error(e.message));
});
window.result = { main, worker: inWorker };
document.getElementById("out").textContent = JSON.stringify(window.result, null, 2);
