// The model of examples/server run by onnxruntime: the same service code (examples/server/server.ts's
// service()), the same preprocessing JSON, with onnxruntime-web (wasm, one session per worker thread, one
// thread each, as many workers as convwasm/async's) or onnxruntime-node (native, for reference) doing the
// inference. Each request runs as it comes (onnxruntime has no micro-batching of its own), on the worker
// with the fewest requests.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { Worker } from "node:worker_threads";
import * as ortNode from "onnxruntime-node";
import { configError, serveConfig, type Served } from "../../examples/server/served.js";
import { HttpError } from "../../examples/server/input.js";

export async function ortServed(file: string, kind: "web" | "node", workers: number): Promise<Served> {
  const config = serveConfig({ model: file });
  const [h, w] = config.size!;
  const shape = [config.channels === "gray" ? 1 : 3, h, w];
  const per = shape.reduce((a, b) => a * b, 1);
  const classes = config.labels?.length ?? 1000;
  // (the same check of the JSON as the convwasm service's, at start)
  const wrong = configError(config, { shape, layout: "NCHW" }, classes);
  if (wrong !== null) throw new Error(`${basename(file)}: ${wrong}`);
  const bytes = readFileSync(file);
  let pending = 0;
  const listeners = new Set<(n: number) => void>();
  let run: (x: Float32Array, m: number) => Promise<Float32Array>;
  let close: () => Promise<void>;
  if (kind === "web") {
    const pool = await Promise.all(
      Array.from({ length: workers }, async () => {
        const worker = new Worker(new URL("./ort-worker.mjs", import.meta.url), { workerData: { bytes } });
        await new Promise<void>((resolve, reject) => {
          worker.once("message", () => resolve());
          worker.once("error", reject);
        });
        const calls = new Map<number, { resolve: (y: Float32Array) => void; reject: (e: Error) => void }>();
        worker.on("message", (r: { id: number; y?: Float32Array; error?: string }) => {
          const c = calls.get(r.id)!;
          calls.delete(r.id);
          if (r.error !== undefined) c.reject(new Error(r.error));
          else c.resolve(r.y!);
        });
        return { worker, calls };
      }),
    );
    let nextId = 1;
    run = (x, m) => {
      const p = pool.reduce((a, b) => (b.calls.size < a.calls.size ? b : a));
      const id = nextId++;
      return new Promise<Float32Array>((resolve, reject) => {
        p.calls.set(id, { resolve, reject });
        p.worker.postMessage({ id, x, shape: [m, ...shape] });
      });
    };
    close = async () => void (await Promise.all(pool.map((p) => p.worker.terminate())));
  } else {
    const session = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: workers });
    run = async (x, m) => {
      // (a copy: the service may reuse x once predict returned, and run reads it later)
      const input = new ortNode.Tensor("float32", x.slice(), [m, ...shape]);
      const out = await session.run({ [session.inputNames[0]]: input });
      return out[session.outputNames[0]].data as Float32Array;
    };
    close = () => session.release();
  }
  return {
    name: `${basename(file)} (onnxruntime-${kind})`,
    input: { shape, layout: "NCHW" },
    imageLayout: "NCHW",
    pre: config,
    labels: config.labels ?? Array.from({ length: classes }, (_, i) => String(i)),
    softmax: config.softmax ?? "auto",
    topK: Math.min(classes, config.topK ?? 5),
    async predict(x, m, o) {
      if (x.length !== m * per) throw new HttpError(422, `expects ${m * per} values`);
      pending++;
      try {
        for (const l of listeners) l(m);
        const y = run(x instanceof Float32Array ? x : Float32Array.from(x), m);
        if (o.timeoutMs === undefined) return await y;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new HttpError(504, `no answer within ${o.timeoutMs} ms`)), o.timeoutMs);
        });
        try {
          return await Promise.race([y, late]);
        } finally {
          clearTimeout(timer);
        }
      } finally {
        pending--;
      }
    },
    pending: () => pending,
    onBatch(l) {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
    wasmBytes: () => 0,
    close,
  };
}
