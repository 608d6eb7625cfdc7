// An interleaved A/B of two builds of convwasm on every conv and pool workload, one thread (or --threads N):
//   npx tsx bench/ab.ts <path to the other build's dist/index.js> [--threads N] [--rounds R] [--only REGEX]
// Each round times every op on both builds alternately, best of several calls each; the table gives the
// best per build over all rounds and the ratio (this build / the other), so machine phases cancel out.
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import * as mine from "../dist/index.js";
import { loadWorkloads } from "./workloads.js";

type Lib = typeof mine;
const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
if (!args[0] || args[0].startsWith("--")) {
  console.error("usage: tsx bench/ab.ts <other dist/index.js> [--threads N] [--rounds R]");
  process.exit(2);
}
const other = (await import(pathToFileURL(resolve(args[0])).href)) as Lib;
const threads = flag("threads", 1);
const onlyAt = args.indexOf("--only");
const only = new RegExp(onlyAt >= 0 ? args[onlyAt + 1] : "");
const rounds = flag("rounds", 5);
await mine.init({ threads });
await other.init({ threads });

function best(fn: () => void, ms = 150): number {
  let best = Infinity;
  const until = performance.now() + ms;
  let n = 0;
  while (n < 3 || performance.now() < until) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
    n++;
  }
  return best;
}

const { conv, pool } = loadWorkloads();
const cases: { name: string; run: (lib: Lib) => () => void }[] = [];
for (const w of conv) {
  const r = new mine.RandomState(1);
  const A = r.randn(w.m, w.h, w.w, w.c);
  const W = r.randn(w.f, w.f, w.c, w.k);
  const b = r.randn(1, 1, 1, w.k);
  const hp = { stride: w.stride, pad: w.pad };
  cases.push({
    name: `conv_forward ${w.name}`,
    run: (lib) => () => lib.conv_forward(A as never, W as never, b as never, hp),
  });
  const [Z, cache] = mine.conv_forward(A, W, b, hp);
  cases.push({ name: `conv_backward ${w.name}`, run: (lib) => () => lib.conv_backward(Z as never, cache as never) });
}
for (const w of pool) {
  const r = new mine.RandomState(2);
  const A = r.randn(w.m, w.h, w.w, w.c);
  const hp = { f: w.f, stride: w.stride };
  for (const mode of ["max", "average"] as const) {
    cases.push({ name: `pool_forward ${mode} ${w.name}`, run: (lib) => () => lib.pool_forward(A as never, hp, mode) });
    const [P, cache] = mine.pool_forward(A, hp, mode);
    cases.push({
      name: `pool_backward ${mode} ${w.name}`,
      run: (lib) => () => lib.pool_backward(P as never, cache as never, mode),
    });
  }
}
// (arrays are passed across builds: both accept any object with the NDArray fields only if it is their own
// class, so each build gets arrays re-made with its own constructor)
const own = (lib: Lib, x: unknown): unknown =>
  x instanceof mine.NDArray
    ? new lib.NDArray(x.data, x.shape, x.strides, x.offset)
    : Array.isArray(x)
      ? x.map((v) => own(lib, v))
      : x;
const chosen = cases.filter((c) => only.test(c.name));
const results = chosen.map(() => ({ a: Infinity, b: Infinity }));
for (let round = 0; round < rounds; round++) {
  chosen.forEach((c, i) => {
    const fa = c.run(mine);
    const fb = c.run(
      new Proxy(other, {
        get: (t, p) =>
          typeof t[p as keyof Lib] === "function" && /_(forward|backward)$/.test(String(p))
            ? (...a: unknown[]) => (t[p as keyof Lib] as (...x: unknown[]) => unknown)(...a.map((v) => own(other, v)))
            : t[p as keyof Lib],
      }) as Lib,
    );
    results[i].a = Math.min(results[i].a, best(fa));
    results[i].b = Math.min(results[i].b, best(fb));
  });
  process.stderr.write(`round ${round + 1}/${rounds}\n`);
}
console.log(
  `| op | this build ms | other build ms | this/other |  (threads: ${threads}, best of ${rounds} interleaved rounds)`,
);
console.log("|---|---:|---:|---:|");
chosen.forEach((c, i) => {
  const { a, b } = results[i];
  console.log(`| ${c.name} | ${a.toFixed(3)} | ${b.toFixed(3)} | ${(a / b).toFixed(3)} |`);
});
process.exit(0);
