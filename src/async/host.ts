// The body of every convwasm/async worker: the whole synchronous library, driven by messages. Built into
// one self-contained script (scripts/embed-wasm.mjs bundles it) that the calling thread starts from a
// string, as the pool's threads are started: no worker file for a bundler or a server to find.
import * as lib from "../index.js";
import { NDArray, messageOf } from "../core/ndarray.js";
import { Model, Sequential, type FitOptions, type GraphDescription, type Labels } from "../model/model.js";
import { type Optimizer, optimizerOf } from "../model/optimizers.js";
import { state } from "../runtime/runtime.js";
import { Incoming, type Wire } from "./wire.js";
import { OP_NAMES, type ModelRequest, type Reply, type Request } from "./protocol.js";

type Post = (reply: Reply, transfer?: ArrayBuffer[]) => void;

const ops = Object.fromEntries(OP_NAMES.map((n) => [n, lib[n] as (...args: unknown[]) => unknown]));
const models = new Map<number, Model>();
const optimizers = new Map<number, Optimizer>();

function modelCall(m: ModelRequest, args: unknown[]): unknown {
  if (m.method === "create") {
    // sequential(inputShape, layers, options) or model(): (graph, options)
    const model =
      args.length === 2
        ? new Model(
            "model",
            args[0] as GraphDescription,
            (args[1] as { seed?: number }).seed,
            undefined,
            (args[1] as { random?: boolean }).random !== false,
          )
        : new Sequential(...(args as ConstructorParameters<typeof Sequential>));
    models.set(m.model, model);
    const { inputShape, outputShape, work } = model;
    return { inputShape, outputShape, work, summary: model.summary(), weights: model.weights() };
  }
  const model = models.get(m.model);
  if (!model) throw new Error(`${m.method}: this model was dropped`);
  switch (m.method) {
    case "predict":
      return model.predict(...(args as Parameters<Sequential["predict"]>));
    case "evaluate":
      return model.evaluate(...(args as Parameters<Sequential["evaluate"]>));
    case "save":
      return model.save();
    case "fit": {
      const [X, Y, options] = args as [NDArray, Labels, (FitOptions & { stop?: Int32Array }) | undefined];
      const stop = options?.stop;
      // the calling thread sets the shared flag when a callback throws or the model is disposed
      const signal = stop
        ? {
            get aborted() {
              return Atomics.load(stop, 0) !== 0;
            },
          }
        : undefined;
      return {
        history: model.fit(X, Y, { ...options, stop: undefined, signal } as FitOptions),
        weights: model.weights(),
      };
    }
    case "setWeights":
      model.setWeights(...(args as Parameters<Sequential["setWeights"]>));
      return { weights: model.weights() };
    case "load":
      model.load(...(args as Parameters<Sequential["load"]>));
      return { weights: model.weights() };
    case "weights":
      return { weights: model.weights() };
    case "drop":
      model.dispose();
      models.delete(m.model);
      return null;
  }
}

function handle(msg: Request, post: Post): void {
  if (msg.type === "sync") {
    const model = models.get(msg.model);
    const arrays = Object.fromEntries(Object.entries(msg.weights).map(([k, w]) => [k, new NDArray(w.data, w.shape)]));
    model?.setWeights(arrays);
    return;
  }
  if (msg.type === "init") return;
  if (msg.type === "batch") {
    // the answers go back together: one message for the lot (callbacks, from fit, go at once)
    const replies: Reply[] = [];
    const transfer: ArrayBuffer[] = [];
    for (const m of msg.requests) {
      handle(m, (r, t) => {
        if (r.type === "callback") return post(r);
        replies.push(r);
        if (t) transfer.push(...t);
      });
    }
    if (replies.length > 0) post({ type: "batch", replies }, transfer);
    return;
  }
  const input = new Incoming(
    msg.buffers,
    (k) =>
      (...cbArgs: unknown[]) =>
        post({ type: "callback", id: msg.id, k, args: cbArgs }),
    (id, config) => {
      let o = optimizers.get(id);
      if (!o) optimizers.set(id, (o = optimizerOf(config)));
      return o;
    },
  );
  // a call runs alone on the pool only when the calling thread said the other workers are idle
  state.shareOut = msg.pool;
  let value: Wire;
  try {
    const args = msg.args.map((a) => input.decode(a));
    const result = msg.type === "call" ? ops[msg.fn](...args) : modelCall(msg, args);
    value = input.encode(result);
  } catch (e) {
    const returned = input.hand().returned;
    const name = e instanceof TypeError ? "TypeError" : e instanceof RangeError ? "RangeError" : "Error";
    post(
      {
        type: "error",
        id: msg.id,
        error: { name, message: messageOf(e) },
        returned,
        wasmBytes: lib.memory().wasmBytes,
      },
      returned.filter((b) => b !== null),
    );
    return;
  }
  const { buffers, returned, transfer } = input.hand();
  post({ type: "done", id: msg.id, value, buffers, returned, wasmBytes: lib.memory().wasmBytes }, transfer);
}

async function start(msg: Request, post: Post): Promise<void> {
  if (msg.type !== "init") return;
  try {
    const { threads, arenaBytes, wasm, sharedWasm, algorithm } = msg.options;
    await lib.init({
      threads,
      arenaBytes,
      wasm: wasm as lib.WasmInput,
      sharedWasm: sharedWasm as lib.WasmInput,
      algorithm: algorithm as lib.InitOptions["algorithm"],
    });
    post({ type: "ready", ...lib.threading(), wasmBytes: lib.memory().wasmBytes });
  } catch (e) {
    post({ type: "failed", error: { name: (e as Error)?.name ?? "Error", message: messageOf(e) } });
  }
}

/** Wires the handlers to this worker's port (Node's worker_threads, or a Web Worker's global scope). */
function main(): void {
  const proc = (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process;
  const wt = proc?.getBuiltinModule?.("node:worker_threads") as
    | {
        parentPort: {
          on(e: "message", f: (m: Request) => void): void;
          postMessage(m: unknown, t?: ArrayBuffer[]): void;
        };
      }
    | undefined;
  let post: Post;
  let listen: (f: (m: Request) => void) => void;
  if (wt?.parentPort) {
    // below the calling thread's priority (Linux: this thread alone, and the pool threads it starts):
    // the event loop that hands out the calls gets a core the moment it wakes, however busy these are
    try {
      (proc!.getBuiltinModule!("node:os") as { setPriority(pid: number, priority: number): void }).setPriority(0, 10);
    } catch {
      // not allowed here: the workers keep the calling thread's priority
    }
    const port = wt.parentPort;
    post = (r, t) => port.postMessage(r, t);
    listen = (f) => port.on("message", f);
  } else {
    const scope = globalThis as unknown as {
      postMessage(m: unknown, t?: ArrayBuffer[]): void;
      onmessage: ((e: { data: Request }) => void) | null;
    };
    post = (r, t) => scope.postMessage(r, t ?? []);
    listen = (f) => (scope.onmessage = (e) => f(e.data));
  }
  listen((m) => (m.type === "init" ? void start(m, post) : handle(m, post)));
}

main();
