// Images decoded off the event loop: worker threads running input.ts's imageOf, so that a JPEG's
// milliseconds of decoding and resizing never delay the answers of other requests (the event loop only
// moves bytes). A worker that dies (a crafted image, out of memory) fails its requests with a 500 and is
// replaced.
import { setPriority } from "node:os";
import { Worker, parentPort, workerData } from "node:worker_threads";
import { HttpError, imageOf, type InputSpec, type Preprocessing } from "./input.js";

interface Job {
  recycle?: undefined;
  id: number;
  media: string;
  body: ArrayBuffer;
  spec: InputSpec;
  pre: Preprocessing;
}
type Done =
  | { id: number; x: Float32Array }
  | { id: number; error: { status: number; message: string } }
  /** The decoder asks to be replaced (after many failures): it answers what it was sent, then ends. */
  | { retire: true };

// (the worker starts from this file, through tsx: the service may run under tsx or inside vitest)
const BOOT = `const { workerData } = require("node:worker_threads");
import(workerData.tsx).then((m) => {
  m.register();
  return import(workerData.self);
});`;
const ROLE = "convwasm-example-image-decoder";
/** Far longer than any image within the 50-megapixel limit should take a decoder. */
const DEADLINE_MS = 10_000;

export class ImagePool {
  private readonly workers: {
    worker: Worker;
    calls: Map<number, { resolve: (x: Float32Array) => void; reject: (e: Error) => void }>;
  }[] = [];
  private nextId = 1;
  private nextRecycle = 0;
  private closed = false;

  constructor(n: number) {
    for (let i = 0; i < n; i++) this.workers.push(this.spawn());
  }

  private spawn() {
    const worker = new Worker(BOOT, {
      eval: true,
      workerData: { role: ROLE, tsx: import.meta.resolve("tsx/esm/api"), self: import.meta.url },
    });
    const entry = {
      worker,
      calls: new Map<number, { resolve: (x: Float32Array) => void; reject: (e: Error) => void }>(),
      retired: false,
    };
    const retire = () => {
      // (out of the pool at once: no new job reaches it; it ends once it answered those it has)
      entry.retired = true;
      const i = this.workers.indexOf(entry);
      if (i >= 0 && !this.closed) this.workers[i] = this.spawn();
      if (entry.calls.size === 0) void worker.terminate();
    };
    worker.on("message", (d: Done) => {
      if ("retire" in d) return retire();
      const c = entry.calls.get(d.id);
      entry.calls.delete(d.id);
      if ("error" in d) c?.reject(new HttpError(d.error.status, d.error.message));
      else c?.resolve(d.x);
      if (entry.retired && entry.calls.size === 0) void worker.terminate();
    });
    const died = (why: string) => {
      for (const c of entry.calls.values()) c.reject(new HttpError(500, `the image decoder stopped (${why})`));
      entry.calls.clear();
      const i = this.workers.indexOf(entry);
      if (i >= 0 && !this.closed) this.workers[i] = this.spawn();
    };
    worker.on("error", (e) => died(e.message));
    worker.on("exit", (code) => died(`exit code ${code}`));
    worker.unref(); // (an idle decoder never keeps the process alive)
    return entry;
  }

  /**
   * Gives a decoded image's buffer back once its values were copied (into a batch): the decoder writes the
   * next image there, so the event loop allocates nothing per image (600 KB at 224×224×3, whose garbage
   * made the main thread's full GCs: 5-10 ms pauses, 3 a second).
   */
  recycle(x: Float32Array): void {
    if (this.closed || x.buffer.byteLength === 0) return;
    const w = this.workers[this.nextRecycle++ % this.workers.length];
    w.worker.postMessage({ recycle: x.buffer }, [x.buffer as ArrayBuffer]);
  }

  /** The image as one example of the model's input, decoded on the least busy worker. */
  decode(media: string, body: Buffer, spec: InputSpec, pre: Preprocessing): Promise<Float32Array> {
    const w = this.workers.reduce((a, b) => (b.calls.size < a.calls.size ? b : a));
    const id = this.nextId++;
    const bytes = new Uint8Array(body).buffer; // (a copy of its own, moved to the worker)
    return new Promise((resolve, reject) => {
      // (a watchdog: a decoder stuck on an image is ended, failing its images, and replaced)
      const stuck = setTimeout(() => void w.worker.terminate(), DEADLINE_MS);
      const settle =
        <T>(f: (v: T) => void) =>
        (v: T) => {
          clearTimeout(stuck);
          f(v);
        };
      w.calls.set(id, { resolve: settle(resolve), reject: settle(reject) });
      const job: Job = { id, media, body: bytes, spec, pre };
      w.worker.postMessage(job, [bytes]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}

// (in a decoder only: this file is imported by other threads too, whose ports are not ours)
if (parentPort && (workerData as { role?: string } | null)?.role === ROLE) {
  const port = parentPort;
  // below the event loop's priority, as convwasm/async's workers (Linux: this thread alone), so that it
  // gets a core the moment it wakes
  try {
    setPriority(0, 10);
  } catch {
    // not allowed here: the decoder keeps the service's priority
  }
  // (a decoder that failed this many times starts afresh: a WebAssembly decoder's memory is not
  // guaranteed back after an error)
  let failures = 0;
  const spare: Float32Array[] = [];
  port.on("message", async (job: Job | { recycle: ArrayBuffer }) => {
    if (job.recycle) {
      if (spare.length < 8) spare.push(new Float32Array(job.recycle));
      return;
    }
    let done: Done;
    try {
      const x = await imageOf(job.media, Buffer.from(job.body), job.spec, job.pre, spare.pop());
      done = { id: job.id, x };
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 400;
      done = { id: job.id, error: { status, message: e instanceof Error ? e.message : String(e) } };
      failures++;
    }
    port.postMessage(done, "x" in done ? [done.x.buffer as ArrayBuffer] : []);
    if (failures === 256) port.postMessage({ retire: true } satisfies Done);
  });
}
