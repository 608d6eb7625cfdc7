// Threads: every op gives the same bits on 1, 2 and 3 threads; the pool reports what it does, ends
// with dispose(), never keeps Node alive, and a thread that fails or dies surfaces as an Error.
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  NDArray,
  conv_backward,
  conv_forward,
  dispose,
  getThreads,
  init,
  memory,
  pool_backward,
  pool_forward,
  setThreads,
  threading,
  zero_pad,
} from "convwasm";
import { Pool, Task, limits, platform, wasm } from "convwasm/internal";
import { expectIdentical, randn, shareSmallCalls } from "../helpers.js";

beforeAll(() => init());
afterAll(() => setThreads(availableParallelism() > 1 ? 2 : 1));
shareSmallCalls();

/** Jobs handed to the pool while `body` ran (so a test knows whether work was shared out). */
function sharedJobs(body: () => void): number {
  const pool = wasm("test").pool;
  if (!pool) {
    body();
    return 0;
  }
  const stream = pool.stream;
  let jobs = 0;
  pool.stream = function (...args: Parameters<Pool["stream"]>) {
    jobs++;
    return stream.apply(this, args);
  };
  try {
    body();
  } finally {
    pool.stream = stream;
  }
  return jobs;
}

/**
 * Runs `op` on 1, 2 and 3 threads; every output must be bitwise the same. Says whether the work was
 * shared out (on 2 and 3 threads alike).
 */
async function sameOnEveryThreadCount(op: () => NDArray[]): Promise<boolean> {
  const results: NDArray[][] = [];
  const shared: boolean[] = [];
  for (const threads of [1, 2, 3]) {
    expect(await setThreads(threads)).toBe(threads);
    let out: NDArray[] = [];
    shared.push(sharedJobs(() => (out = op())) > 0);
    results.push(out);
  }
  for (const r of results.slice(1)) r.forEach((a, i) => expectIdentical(a, results[0][i]));
  expect(memory().arenaBytesInUse).toBe(0);
  expect(shared[0]).toBe(false);
  expect(shared[2]).toBe(shared[1]);
  return shared[1];
}

describe("threads", () => {
  it("init() starts one thread per core (at most 8) and threading() says how they run", () => {
    const cores = availableParallelism();
    expect(getThreads()).toBe(Math.min(8, cores));
    const { threads, reason } = threading();
    expect(threads).toBe(getThreads());
    expect(reason).toMatch(threads > 1 ? /^\d+ threads \(Node worker_threads/ : /^1 thread: /);
    expect(platform().spawn).not.toBeNull();
  });

  it("conv_forward and conv_backward give the same bits on 1, 2 and 3 threads (random shapes, strides, pads)", async () => {
    let sharedCases = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          m: fc.integer({ min: 1, max: 3 }),
          h: fc.integer({ min: 16, max: 44 }),
          w: fc.integer({ min: 16, max: 44 }),
          c: fc.integer({ min: 3, max: 24 }),
          f: fc.integer({ min: 1, max: 5 }),
          k: fc.integer({ min: 8, max: 32 }),
          stride: fc.integer({ min: 1, max: 2 }),
          pad: fc.integer({ min: 0, max: 2 }),
          seed: fc.integer({ min: 0, max: 1000 }),
        }),
        async ({ m, h, w, c, f, k, stride, pad, seed }) => {
          const [nH, nW] = [Math.floor((h + 2 * pad - f) / stride) + 1, Math.floor((w + 2 * pad - f) / stride) + 1];
          const macs = m * nH * nW * Math.ceil(k / 8) * 8 * f * f * c;
          const A = randn(seed, m, h, w, c);
          const W = randn(seed + 1, f, f, c, k);
          const b = randn(seed + 2, 1, 1, 1, k);
          const hp = { stride, pad };
          const [Z] = conv_forward(A, W, b, hp);
          const dZ = randn(seed + 3, ...Z.shape);
          // large enough calls are shared out (2^24 multiply-adds by default, here 1/32 of that)
          const shared = await sameOnEveryThreadCount(() => {
            const [Z1, cache] = conv_forward(A, W, b, hp);
            return [Z1, ...conv_backward(dZ, cache)];
          });
          if (macs >= 2 ** 19) expect(shared).toBe(true);
          if (shared) sharedCases++;
        },
      ),
      { numRuns: 16, seed: 4 },
    );
    expect(sharedCases).toBeGreaterThanOrEqual(6);
  });

  it("a layer of the benchmark (vgg32, 16 dA_prev chunks in two waves) gives the same bits on 1, 2 and 3 threads", async () => {
    const A = randn(5, 8, 32, 32, 32);
    const W = randn(6, 3, 3, 32, 64);
    const b = randn(7, 1, 1, 1, 64);
    const dZ = randn(8, 8, 32, 32, 64);
    const shared = await sameOnEveryThreadCount(() => {
      const [Z, cache] = conv_forward(A, W, b, { stride: 1, pad: 1 });
      return [Z, ...conv_backward(dZ, cache)];
    });
    expect(shared).toBe(true);
  });

  it("zero_pad, pool_forward and pool_backward stay on the calling thread (copy-bound) with the same bits", async () => {
    for (const [f, stride] of [
      [2, 2],
      [3, 2],
      [3, 1],
    ]) {
      const A = randn(f, 4, 60, 44, 24);
      const shared = await sameOnEveryThreadCount(() => {
        const out: NDArray[] = [zero_pad(A, 2)];
        for (const mode of ["max", "average"] as const) {
          const [P, cache] = pool_forward(A, { f, stride }, mode);
          out.push(P, pool_backward(randn(9, ...P.shape), cache, mode));
        }
        return out;
      });
      expect(shared).toBe(false);
    }
  });

  it("small calls stay on the calling thread (no job is handed out)", async () => {
    await setThreads(2);
    const jobs = sharedJobs(() => {
      const [, cache] = conv_forward(randn(1, 10, 4, 4, 3), randn(2, 2, 2, 3, 8), randn(3, 1, 1, 1, 8), {
        stride: 2,
        pad: 2,
      });
      conv_backward(randn(4, 10, 4, 4, 8), cache);
      const [, pc] = pool_forward(randn(5, 2, 4, 4, 3), { f: 3, stride: 2 });
      pool_backward(randn(6, 2, 1, 1, 3), pc);
    });
    expect(jobs).toBe(0);
  });

  it("dispose() ends the pool; calls keep working on one thread and setThreads() starts a new pool", async () => {
    const A = randn(11, 2, 24, 24, 16);
    const W = randn(12, 3, 3, 16, 16);
    const b = randn(13, 1, 1, 1, 16);
    await setThreads(2);
    const [before] = conv_forward(A, W, b, { stride: 1, pad: 1 });
    dispose();
    expect(getThreads()).toBe(1);
    expect(threading().reason).toBe("1 thread: dispose() was called");
    expectIdentical(conv_forward(A, W, b, { stride: 1, pad: 1 })[0], before);
    expect(await setThreads(3)).toBe(3);
    expectIdentical(conv_forward(A, W, b, { stride: 1, pad: 1 })[0], before);
  });

  it("caps threads at the cores reported, and threading() says so (issue 20)", async () => {
    limits.threadsBeyondCores = false;
    try {
      const cores = availableParallelism();
      expect(await setThreads(cores + 62)).toBe(cores);
      expect(threading().reason).toMatch(
        new RegExp(
          `; setThreads\\(\\) asked for ${cores + 62} threads, capped at the ${cores} cores this machine reports$`,
        ),
      );
      expect(await setThreads(1)).toBe(1);
      expect(threading().reason).toBe("1 thread: setThreads(1) was called");
    } finally {
      limits.threadsBeyondCores = true;
    }
  });

  it("bad thread counts are refused with the function, the argument and what came", async () => {
    expect(() => setThreads(0)).toThrow("setThreads: threads expects an integer >= 1 but got number 0");
    expect(() => setThreads(1.5)).toThrow("setThreads: threads expects an integer >= 1 but got number 1.5");
    expect(() => setThreads(1000)).toThrow("setThreads: threads expects an integer <= 256 but got 1000");
    expect(getThreads()).toBeGreaterThan(0);
  });

  it("a worker thread that exits between calls surfaces as an Error on the next call; then one thread works", async () => {
    await setThreads(2);
    const A = randn(14, 2, 32, 32, 16);
    const W = randn(15, 3, 3, 16, 16);
    const b = randn(16, 1, 1, 1, 16);
    const [expected] = conv_forward(A, W, b, { stride: 1, pad: 1 });
    const pool = wasm("test").pool!;
    pool.threads[0].terminate();
    for (let i = 0; i < 100 && pool.broken === null; i++) await new Promise((r) => setTimeout(r, 20));
    expect(() => conv_forward(A, W, b, { stride: 1, pad: 1 })).toThrow(
      /^conv_forward: worker thread 1 exited \(exit code 1\); the thread pool is closed and convwasm now runs on one thread/,
    );
    expect(getThreads()).toBe(1);
    expect(threading().reason).toMatch(/^1 thread: the thread pool was closed after an error: worker thread 1 exited/);
    expect(memory().arenaBytesInUse).toBe(0);
    expectIdentical(conv_forward(A, W, b, { stride: 1, pad: 1 })[0], expected);
    expect(await setThreads(2)).toBe(2);
    expectIdentical(conv_forward(A, W, b, { stride: 1, pad: 1 })[0], expected);
  });
});

describe("Pool (the protocol under the ops)", () => {
  /** A job whose first task keeps the calling thread busy for a while, so a worker takes the second. */
  function job(second: Task): Task[] {
    const [hp, wp, c, f, k8, nH, nW] = [130, 130, 64, 3, 64, 128, 128];
    const { arena } = wasm("test").shared!;
    const xp = arena.zeros("test", "xp", hp * wp * c);
    const wpk = arena.zeros("test", "wpk", f * f * c * k8);
    const b = arena.zeros("test", "b", k8);
    const z = arena.alloc("test", "z", nH * nW * k8 * 8);
    return [["conv_forward", xp, hp, wp, c, c, wpk, f, f, 1, 1, k8, b, 1, 1, z, k8, nH, nW, 0, nH, 0, 0], second];
  }

  async function startPool(stallMs: number, source?: string): Promise<Pool> {
    const shared = wasm("test").shared!;
    const spawn = source === undefined ? shared.spawn : () => shared.spawn(source);
    return Pool.start(spawn, 1, shared.module, shared.memory, shared.kernels, stallMs);
  }

  /** A stand-in for a pool thread that dies: it follows the protocol far enough to claim one task, then exits. */
  const dying = `(host) => host.receive((start) => {
    const L = start.layout;
    const ctl = new Int32Array(start.control);
    host.post({ ready: true });
    for (;;) {
      const word = Atomics.load(ctl, L.NEXT);
      const t = word & 0xffff;
      const limit = Atomics.load(ctl, L.LIMIT);
      if (t < Atomics.load(ctl, L.NTASKS) && t < limit && Atomics.compareExchange(ctl, L.NEXT, word, word + 1) === word) {
        return host.exit();
      }
      Atomics.wait(ctl, L.LIMIT, limit, 5);
    }
  })`;

  it("a task that traps in a worker thread is an Error naming the task; the pool keeps working", async () => {
    const pool = await startPool(5000);
    const { arena } = wasm("test").shared!;
    try {
      arena.scope(() => {
        // a pointer far past the memory: the kernel traps (out of bounds)
        const bad: Task = ["zero_pad", 2 ** 31, 1, 1, 1, 1, 4, 4, 1, 0, 0, 0, 0, 2 ** 31, 0, 1];
        // (a worker takes it unless the calling thread is done with task 0 first: the message is the same)
        expect(() => pool.run("test", job(bad))).toThrow(
          /^test: task 1 \(zero_pad\) failed( in a worker thread)?: .*out of bounds/,
        );
        const x = arena.zeros("test", "x", 16);
        const xp = arena.alloc("test", "xp", 36 * 8);
        pool.run("test", [
          ["zero_pad", x, 16, 4, 1, 1, 4, 4, 1, 1, 1, 1, 1, xp, 0, 1],
          ["zero_pad", x, 16, 4, 1, 1, 4, 4, 1, 1, 1, 1, 1, xp, 0, 1],
        ]);
        expect(pool.broken).toBeNull();
      });
    } finally {
      pool.dispose();
    }
  });

  it("a worker thread that dies holding a task is an Error after the stall limit, not a hang", async () => {
    const pool = await startPool(300, dying);
    const { arena } = wasm("test").shared!;
    const t0 = performance.now();
    arena.scope(() => {
      const x = arena.zeros("test", "x", 16);
      const xp = arena.alloc("test", "xp", 36 * 8);
      expect(() => pool.run("test", job(["zero_pad", x, 16, 4, 1, 1, 4, 4, 1, 1, 1, 1, 1, xp, 0, 1]))).toThrow(
        /^test: a worker thread stopped responding \(no task finished in \d+ ms\)$/,
      );
    });
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(pool.broken).not.toBeNull();
  });
});

describe("a Node process using convwasm with threads", () => {
  it("exits by itself after its work (idle worker threads do not keep it alive)", () => {
    const script = `
      import { init, conv_forward, getThreads, RandomState } from "convwasm";
      await init({ threads: 3 });
      const r = new RandomState(1);
      const [Z] = conv_forward(r.randn(4, 32, 32, 16), r.randn(3, 3, 16, 32), r.randn(1, 1, 1, 32), { stride: 1, pad: 1 });
      console.log(getThreads(), Z.shape.join("x"));
    `;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(run.signal).toBeNull();
    expect(run.stderr).toBe("");
    // (3 threads asked for: capped at the cores where there are fewer)
    expect(run.stdout.trim()).toBe(`${Math.min(3, availableParallelism())} 4x32x32x32`);
    expect(run.status).toBe(0);
  });
});
