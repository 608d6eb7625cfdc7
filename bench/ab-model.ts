// npx tsx bench/ab-model.ts <other build's dist/index.js> [--rounds N]: an interleaved A/B of model
// predict() between two builds, on the digits network (batch 1, 64, 256) and, where the other build has
// functional models, the small ResNet (batch 1, 64): the same weights in both.
import * as mine from "../dist/index.js";

type Lib = typeof mine;
const other = (await import(new URL(process.argv[2], `file://${process.cwd()}/`).href)) as Lib;
const at = process.argv.indexOf("--rounds");
const rounds = at > 0 ? Number(process.argv[at + 1]) : 7;
await mine.init();
await other.init();

function resnet(lib: Lib) {
  const convBn = (x: mine.SymbolicTensor, filters: number, size: number, stride = 1, relu = true) => {
    const c = lib.layers.conv2d({ filters, size, stride, pad: size === 3 ? 1 : 0, bias: false }).apply(x);
    const b = lib.layers.batchNorm().apply(c);
    return relu ? lib.layers.relu().apply(b) : b;
  };
  const block = (x: mine.SymbolicTensor, f: number, stride: number, project: boolean) => {
    const main = convBn(convBn(x, f, 3, stride), f, 3, 1, false);
    return lib.layers.relu().apply(lib.layers.add().apply([main, project ? convBn(x, f, 1, stride, false) : x]));
  };
  const x = lib.input([28, 28, 1]);
  let h = convBn(x, 12, 3);
  h = block(h, 12, 1, false);
  h = block(h, 24, 2, true);
  h = block(h, 48, 2, true);
  return lib.model(
    x,
    lib.layers.softmax().apply(lib.layers.dense({ units: 10 }).apply(lib.layers.globalAvgPool().apply(h))),
  );
}

const cases: { name: string; a: () => unknown; b: () => unknown }[] = [];
const digitsA = mine.sequential([28, 28, 1], mine.digitsLayers(), { seed: 1 });
const digitsB = other.sequential([28, 28, 1], other.digitsLayers(), { seed: 1 });
for (const m of [1, 64, 256]) {
  const X = new mine.RandomState(m).randn(m, 28, 28, 1);
  const Xb = new other.NDArray(X.data, X.shape);
  cases.push({ name: `digits predict batch ${m}`, a: () => digitsA.predict(X), b: () => digitsB.predict(Xb) });
}
if (typeof other.model === "function") {
  const [ra, rb] = [resnet(mine), resnet(other)];
  for (const m of [1, 64]) {
    const X = new mine.RandomState(m).randn(m, 28, 28, 1);
    const Xb = new other.NDArray(X.data, X.shape);
    cases.push({ name: `resnet_digits predict batch ${m}`, a: () => ra.predict(X), b: () => rb.predict(Xb) });
  }
}
/** Best time of one call (ms) over enough calls to span ~50 ms. */
function best(f: () => unknown): number {
  f();
  let t = Infinity;
  const until = performance.now() + 50;
  do {
    const t0 = performance.now();
    f();
    t = Math.min(t, performance.now() - t0);
  } while (performance.now() < until);
  return t;
}
const results = cases.map(() => ({ a: Infinity, b: Infinity }));
for (let r = 0; r < rounds; r++) {
  cases.forEach((c, i) => {
    results[i].a = Math.min(results[i].a, best(c.a));
    results[i].b = Math.min(results[i].b, best(c.b));
  });
}
console.log(
  `| model | this build ms | other build ms | this/other |  (threads: ${mine.getThreads()}, best of ${rounds} rounds)`,
);
console.log("|---|---:|---:|---:|");
cases.forEach((c, i) => {
  const { a, b } = results[i];
  console.log(`| ${c.name} | ${a.toFixed(3)} | ${b.toFixed(3)} | ${(a / b).toFixed(3)} |`);
});
process.exit(0);
