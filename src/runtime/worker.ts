// The body of every pool thread (Node worker_threads and Web Workers alike). scripts/embed-wasm.mjs turns
// `workerMain` into a string at build time, so it must stay self-contained: no imports, no outer names.
// Protocol (see pool.ts): the thread instantiates the shared module once, then sleeps on GEN, claims
// tasks by compare-and-swap on NEXT, runs them and flags each one done. Nothing here allocates in WASM.

/** What the bootstrap gives the thread: receive its one start message, post replies, end itself. */
export interface WorkerHost {
  receive(handler: (message: StartMessage) => void): void;
  post(message: { ready: true } | { error: string }): void;
  exit(): void;
}

export interface StartMessage {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  kernels: string[];
  /** Word indices in `control` (Int32) and where the task table starts (Float64). */
  layout: Record<
    | "GEN"
    | "NEXT"
    | "NTASKS"
    | "LIMIT"
    | "ERROR"
    | "QUIT"
    | "MESSAGE"
    | "MESSAGE_CHARS"
    | "FLAGS"
    | "TASKS"
    | "ROWS"
    | "TASK_WORDS",
    number
  >;
}

export function workerMain(host: WorkerHost): void {
  host.receive((start) => {
    const L = start.layout;
    const ctl = new Int32Array(start.control);
    const table = new Float64Array(start.control);
    let fns: Function[];
    try {
      const abort = (): never => {
        throw new Error("abort in a convwasm kernel");
      };
      const instance = new WebAssembly.Instance(start.module, { env: { memory: start.memory, abort } });
      fns = start.kernels.map((name) => instance.exports[name] as Function);
    } catch (e) {
      host.post({ error: String(e) });
      return;
    }
    host.post({ ready: true });
    const fail = (task: number, e: unknown): void => {
      if (Atomics.compareExchange(ctl, L.ERROR, 0, task + 1) !== 0) return;
      const text = String(e instanceof Error ? e.message : e).slice(0, L.MESSAGE_CHARS - 1);
      for (let i = 0; i < text.length; i++) ctl[L.MESSAGE + i] = text.charCodeAt(i);
      ctl[L.MESSAGE + text.length] = 0;
    };
    let seen = Atomics.load(ctl, L.GEN);
    for (;;) {
      if (Atomics.load(ctl, L.QUIT) !== 0) return host.exit();
      // claim tasks of the published job until none is left; the word NEXT is (generation << 16 | index).
      // In a stream, only tasks below LIMIT are ready: wait for the calling thread to write more.
      for (;;) {
        const word = Atomics.load(ctl, L.NEXT);
        const n = Atomics.load(ctl, L.NTASKS);
        const task = word & 0xffff;
        if (task >= n) break;
        const limit = Atomics.load(ctl, L.LIMIT);
        if (task >= limit) {
          for (let spin = 0; spin < 4000 && Atomics.load(ctl, L.LIMIT) === limit; spin++);
          if (Atomics.load(ctl, L.LIMIT) === limit) Atomics.wait(ctl, L.LIMIT, limit, 1);
          continue;
        }
        if (Atomics.compareExchange(ctl, L.NEXT, word, word + 1) !== word) continue;
        const at = L.TASKS + (task % L.ROWS) * L.TASK_WORDS;
        try {
          const argc = table[at + 1];
          fns[table[at]](...table.subarray(at + 2, at + 2 + argc));
        } catch (e) {
          fail(task, e);
        }
        Atomics.store(ctl, L.FLAGS + task, 1);
        Atomics.notify(ctl, L.FLAGS + task);
      }
      // a model's layers come as jobs a few microseconds apart: spin a little before sleeping, since waking
      // a sleeping thread costs tens of microseconds, more than many of those layers take
      for (let spin = 0; spin < 20000 && Atomics.load(ctl, L.GEN) === seen; spin++);
      Atomics.wait(ctl, L.GEN, seen);
      seen = Atomics.load(ctl, L.GEN);
    }
  });
}
