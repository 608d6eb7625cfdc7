// The floor under bench:async's figures: the same work in worker_threads driven by bare postMessage, with
// no library on the calling thread (no checks, no copies into recycled buffers, no ordering, no
// micro-batching). Whatever this measures on a machine, no message-based design can beat there; the
// distance from it to convwasm/async is what the library itself costs.
import { Worker } from "node:worker_threads";
import type { NDArray } from "convwasm";

// (a message is a list of jobs, its answer a list of theirs: a conv's Z moved back, the digits' scores copied)
const BODY = `
const { parentPort } = require("node:worker_threads");
import("convwasm").then(async (S) => {
  await S.init({ threads: 1 });
  const digits = S.sequential([28, 28, 1], S.digitsLayers(), { seed: 1 });
  parentPort.on("message", (jobs) => {
    const answers = [];
    const moved = [];
    for (const j of jobs) {
      if (j.op === "echo") answers.push({ id: j.id });
      else if (j.op === "digits") {
        const y = digits.predict(j.x, { precision: j.precision });
        answers.push({ id: j.id, y: y.data });
      } else {
        const nd = (data, shape) => new S.NDArray(data, shape);
        const [Z] = S.conv_forward(nd(j.x, j.shape), nd(j.W, j.wShape), nd(j.b, [j.wShape[3]]), j.hp);
        answers.push({ id: j.id, z: Z.data.buffer, shape: Z.shape });
        moved.push(Z.data.buffer);
      }
    }
    parentPort.postMessage(answers, moved);
  });
  parentPort.postMessage("ready");
});`;

/** Calls per message when many are posted at once (as convwasm/async's scheduler sends them). */
const PER_MESSAGE = 4;

export class BareWorkers {
  private readonly waiting = new Map<number, (answer: Record<string, unknown>) => void>();
  private next = 1;

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on("message", (answers: { id: number }[]) => {
        for (const a of answers) {
          this.waiting.get(a.id)!(a);
          this.waiting.delete(a.id);
        }
      });
    }
  }

  static async start(n: number): Promise<BareWorkers> {
    const workers = Array.from({ length: n }, () => new Worker(BODY, { eval: true }));
    await Promise.all(workers.map((w) => new Promise((r) => w.once("message", r))));
    return new BareWorkers(workers);
  }

  private post(
    w: number,
    jobs: Record<string, unknown>[],
    transfer: ArrayBuffer[] = [],
  ): Promise<Record<string, unknown>>[] {
    const answers = jobs.map((j) => {
      j.id = this.next++;
      return new Promise<Record<string, unknown>>((r) => this.waiting.set(j.id as number, r));
    });
    this.workers[w].postMessage(jobs, transfer);
    return answers;
  }

  /** A message to the first worker and its answer, nothing done. */
  echo(): Promise<unknown> {
    return this.post(0, [{ op: "echo" }])[0];
  }

  /** The digits network's predict of one image (flat, C order) on the first worker. */
  digits(x: Float64Array | Float32Array, precision: "f64" | "f32"): Promise<unknown> {
    return this.post(0, [{ op: "digits", x, precision }])[0];
  }

  /** conv_forward of each input, spread over the workers a few calls a message; the Z arrays' buffers, in order. */
  convs(xs: NDArray[], W: NDArray, b: NDArray, hp: { stride: number; pad: number }): Promise<unknown[]> {
    const boxes: Record<string, unknown>[][] = this.workers.map(() => []);
    const at: number[][] = this.workers.map(() => []);
    const answers: Promise<Record<string, unknown>>[] = [];
    const send = (w: number) => {
      const sent = this.post(
        w,
        boxes[w],
        boxes[w].map((j) => (j.x as Float64Array).buffer as ArrayBuffer),
      );
      sent.forEach((a, k) => (answers[at[w][k]] = a));
      [boxes[w], at[w]] = [[], []];
    };
    xs.forEach((x, i) => {
      const w = i % this.workers.length;
      // (copies, as any call from plain arrays must make; the input's moved, not copied again)
      at[w].push(i);
      boxes[w].push({
        op: "conv",
        x: x.toFloat64Array(),
        shape: x.shape,
        W: W.toFloat64Array(),
        wShape: W.shape,
        b: b.toFloat64Array(),
        hp,
      });
      if (boxes[w].length === PER_MESSAGE) send(w);
    });
    boxes.forEach((box, w) => box.length > 0 && send(w));
    return Promise.all(answers.map((a) => a.then((r) => r.z)));
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
