// A worker of convwasm/async as the calling thread sees it: started from the bundled host's source (a
// Node worker_thread or a Web Worker), posted to, listened to; and the cores the platform reports.
import { NDArray, copyStrided, messageOf, snapshot, F64_BYTES } from "../core/ndarray.js";
import { hostSource } from "./source.js";
import { BELL_IN, BELL_OUT, type Reply, type Request } from "./protocol.js";

export interface Endpoint {
  post(message: Request, transfer?: Transferable[]): void;
  /** Adds a handler; the function returned removes it. */
  onMessage(handler: (reply: Reply) => void): () => void;
  onExit(handler: (reason: string) => void): void;
  terminate(): void;
  /** Node: keep the process alive while a call is in flight, not while idle. */
  hold(busy: boolean): void;
  /**
   * Polls for the answers until `done()` holds, handing each to the handlers as it arrives, for at most
   * `ms`; whether `done()` held. Node with two cores or more only (elsewhere false at once: the answers
   * come as events; a page's main thread may not block, and one core would be taken from the worker).
   */
  wait(ms: number, done: () => boolean): boolean;
}

type NodePort = {
  on(event: "message", listener: (m: unknown) => void): void;
  off(event: "message", listener: (m: unknown) => void): void;
  postMessage(message: unknown, transfer?: unknown[]): void;
  unref(): void;
  close(): void;
};
type NodeWorker = {
  on(event: string, listener: (...args: unknown[]) => void): void;
  postMessage(message: unknown, transfer?: unknown[]): void;
  terminate(): Promise<number>;
  ref(): void;
  unref(): void;
};
type WorkerThreads = {
  Worker: new (code: string, options: { eval: true; workerData: unknown; transferList: unknown[] }) => NodeWorker;
  MessageChannel: new () => { port1: NodePort; port2: NodePort };
  receiveMessageOnPort(port: NodePort): { message: unknown } | undefined;
};
type NodeProcess = { versions?: { node?: string }; getBuiltinModule?(id: string): unknown };

export function spawn(): Endpoint {
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (proc?.versions?.node && proc.getBuiltinModule) {
    const wt = proc.getBuiltinModule("node:worker_threads") as WorkerThreads;
    const { port1, port2 } = new wt.MessageChannel();
    const bell = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
    const w = new wt.Worker(hostSource, { eval: true, workerData: { port: port2, bell }, transferList: [port2] });
    w.unref();
    // (the port never keeps the process alive: the worker does, while a call is in flight)
    port1.unref();
    const handlers = new Set<(reply: Reply) => void>();
    const spins = cores().cores >= 2;
    const dispatch = (m: unknown) => handlers.forEach((h) => h(m as Reply));
    port1.on("message", dispatch);
    return {
      post: (m, t) => {
        port1.postMessage(m, t);
        Atomics.add(bell, BELL_IN, 1);
        Atomics.notify(bell, BELL_IN);
      },
      onMessage: (h) => {
        handlers.add(h);
        return () => handlers.delete(h);
      },
      onExit: (h) => {
        w.on("error", (e) => h(`error: ${messageOf(e)}`));
        w.on("exit", (code) => h(`exit code ${String(code)}`));
      },
      terminate: () => {
        port1.close();
        void w.terminate();
      },
      hold: (busy) => (busy ? w.ref() : w.unref()),
      wait: (ms, done) => {
        if (!spins) return false;
        const until = performance.now() + ms;
        for (;;) {
          const seen = Atomics.load(bell, BELL_OUT);
          for (let got = wt.receiveMessageOnPort(port1); got; got = wt.receiveMessageOnPort(port1)) {
            dispatch(got.message);
          }
          if (done()) return true;
          // polled, not slept: a thread asleep in Atomics.wait takes 15-70 µs to wake on these VMs
          while (Atomics.load(bell, BELL_OUT) === seen) if (performance.now() >= until) return false;
        }
      },
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
    wait: () => false,
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
