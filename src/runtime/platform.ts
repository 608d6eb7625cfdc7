// Where threads are possible and how to start one: Node's worker_threads (reached through
// process.getBuiltinModule, so no bundler ever sees a `node:` import) or Web Workers from a Blob.
import type { Spawn, Thread } from "./pool.js";

/** At most this many threads by default: beyond it the conv layers of common sizes stop scaling. */
const DEFAULT_MAX_THREADS = 8;

export interface Platform {
  /** How to start a thread, or null with the reason threads are unavailable here. */
  spawn: Spawn | null;
  reason: string;
  /** Cores this context reports (the default thread count is this, capped). */
  cores: number;
}

type NodeWorker = {
  on(event: string, listener: (...args: unknown[]) => void): void;
  once(event: string, listener: (...args: unknown[]) => void): void;
  postMessage(message: unknown): void;
  terminate(): Promise<number>;
  unref(): void;
};
type NodeWorkerThreads = { Worker: new (code: string, options: { eval: true }) => NodeWorker };
type NodeOs = { availableParallelism(): number };

function nodeSpawn(wt: NodeWorkerThreads): Spawn {
  return (source) => {
    const code =
      `const { parentPort } = process.getBuiltinModule("node:worker_threads");\n(${source})({` +
      ` receive: (f) => parentPort.once("message", f), post: (m) => parentPort.postMessage(m),` +
      ` exit: () => process.exit(0) });`;
    const w = new wt.Worker(code, { eval: true });
    // idle workers sleep in Atomics.wait; unref'd, they never keep the process alive
    w.unref();
    return {
      post: (m) => w.postMessage(m),
      onReply: (h) => w.once("message", (m) => h(m as Parameters<typeof h>[0])),
      onExit: (h) => {
        w.on("error", (e) => h(`error: ${e instanceof Error ? e.message : String(e)}`));
        w.on("exit", (code) => h(`exit code ${String(code)}`));
      },
      terminate: () => void w.terminate(),
    };
  };
}

function browserSpawn(): Spawn {
  return (source): Thread => {
    const code =
      `(${source})({ receive: (f) => { self.onmessage = (e) => f(e.data); },` +
      ` post: (m) => self.postMessage(m), exit: () => self.close() });`;
    const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
    const w = new Worker(url);
    URL.revokeObjectURL(url);
    return {
      post: (m) => w.postMessage(m),
      onReply: (h) => w.addEventListener("message", (e) => h(e.data), { once: true }),
      onExit: (h) => w.addEventListener("error", (e) => h(`error: ${e.message}`)),
      terminate: () => w.terminate(),
    };
  };
}

/** What this JavaScript context allows. */
export function platform(): Platform {
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?(id: string): unknown } })
    .process;
  if (proc?.versions?.node) {
    if (typeof proc.getBuiltinModule !== "function") {
      return {
        spawn: null,
        reason: `Node ${proc.versions.node} lacks process.getBuiltinModule (Node ≥ 20.16 has it)`,
        cores: 1,
      };
    }
    const wt = proc.getBuiltinModule("node:worker_threads") as NodeWorkerThreads;
    const os = proc.getBuiltinModule("node:os") as NodeOs;
    return { spawn: nodeSpawn(wt), reason: "Node worker_threads", cores: os.availableParallelism() };
  }
  const g = globalThis as {
    crossOriginIsolated?: boolean;
    navigator?: { hardwareConcurrency?: number };
    document?: unknown;
  };
  const cores = g.navigator?.hardwareConcurrency ?? 1;
  if (g.crossOriginIsolated !== true) {
    return {
      spawn: null,
      reason: "this page is not cross-origin isolated (serve it with COOP: same-origin and COEP: require-corp)",
      cores,
    };
  }
  if (g.document !== undefined) {
    return {
      spawn: null,
      reason: "browsers forbid Atomics.wait on the main thread; call convwasm from a Web Worker to use threads",
      cores,
    };
  }
  if (typeof Worker !== "function") return { spawn: null, reason: "this context cannot start Web Workers", cores };
  return { spawn: browserSpawn(), reason: "Web Workers", cores };
}

export function defaultThreads(p: Platform): number {
  return p.spawn ? Math.max(1, Math.min(DEFAULT_MAX_THREADS, p.cores)) : 1;
}
