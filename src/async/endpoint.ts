// A worker of convwasm/async as the calling thread sees it: started from the bundled host's source (a
// Node worker_thread or a Web Worker), posted to, listened to; and the cores the platform reports.
import { NDArray, copyStrided, messageOf, snapshot, F64_BYTES } from "../core/ndarray.js";
import { hostSource } from "./source.js";
import { type Reply, type Request } from "./protocol.js";

export interface Endpoint {
  post(message: Request, transfer?: Transferable[]): void;
  /** Adds a handler; the function returned removes it. */
  onMessage(handler: (reply: Reply) => void): () => void;
  onExit(handler: (reason: string) => void): void;
  terminate(): void;
  /** Node: keep the process alive while a call is in flight, not while idle. */
  hold(busy: boolean): void;
}

type NodeWorker = {
  on(event: string, listener: (...args: unknown[]) => void): void;
  off(event: string, listener: (...args: unknown[]) => void): void;
  postMessage(message: unknown, transfer?: unknown[]): void;
  terminate(): Promise<number>;
  ref(): void;
  unref(): void;
};
type NodeProcess = { versions?: { node?: string }; getBuiltinModule?(id: string): unknown };

export function spawn(): Endpoint {
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (proc?.versions?.node && proc.getBuiltinModule) {
    const { Worker } = proc.getBuiltinModule("node:worker_threads") as {
      Worker: new (code: string, options: { eval: true }) => NodeWorker;
    };
    const w = new Worker(hostSource, { eval: true });
    w.unref();
    return {
      post: (m, t) => w.postMessage(m, t),
      onMessage: (h) => {
        const f = (m: unknown) => h(m as Reply);
        w.on("message", f);
        return () => w.off("message", f);
      },
      onExit: (h) => {
        w.on("error", (e) => h(`error: ${messageOf(e)}`));
        w.on("exit", (code) => h(`exit code ${String(code)}`));
      },
      terminate: () => void w.terminate(),
      hold: (busy) => (busy ? w.ref() : w.unref()),
    };
  }
  if (typeof Worker !== "function") throw new Error("init: this context cannot start Web Workers");
  const url = URL.createObjectURL(new Blob([hostSource], { type: "text/javascript" }));
  const w = new Worker(url);
  URL.revokeObjectURL(url);
  return {
    post: (m, t) => w.postMessage(m, t ?? []),
    onMessage: (h) => {
      const f = (e: MessageEvent) => h(e.data as Reply);
      w.addEventListener("message", f);
      return () => w.removeEventListener("message", f);
    },
    onExit: (h) => w.addEventListener("error", (e) => h(`error: ${e.message}`)),
    terminate: () => w.terminate(),
    hold: () => undefined,
  };
}

export function cores(): { cores: number; isolated: boolean } {
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (proc?.versions?.node && proc.getBuiltinModule) {
    const os = proc.getBuiltinModule("node:os") as { availableParallelism(): number };
    return { cores: os.availableParallelism(), isolated: true };
  }
  const g = globalThis as { navigator?: { hardwareConcurrency?: number }; crossOriginIsolated?: boolean };
  return { cores: g.navigator?.hardwareConcurrency ?? 1, isolated: g.crossOriginIsolated === true };
}

/**
 * A copy of `x` (C order) in a SharedArrayBuffer, where there is one (Node; a cross-origin isolated
 * page): such arrays go to the workers with no copy at all, so a server that keeps its inputs in
 * shared memory hands a call over in microseconds, however big. Elsewhere, a plain copy.
 */
export function shared(x: NDArray): NDArray {
  const v = snapshot("shared", "x", x);
  const data =
    typeof SharedArrayBuffer === "function" && cores().isolated
      ? new Float64Array(new SharedArrayBuffer(v.size * F64_BYTES))
      : new Float64Array(v.size);
  copyStrided(v, data, 0);
  return new NDArray(data, v.shape);
}
