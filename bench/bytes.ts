// npm run bench:bytes: what a web app pays to ship convwasm. Two apps are bundled from the built package
// (dist/, reached by its name as an app would) with esbuild, minified, and gzipped at level 6 (what
// servers use by default); their sizes go into BENCHMARKS.md's bytes section with issue 23's targets.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const APPS = [
  {
    name: "`init` + `conv_forward` (the README's bundler example)",
    targetKB: 64,
    source: `import { init, random, conv_forward } from "convwasm";
await init();
random.seed(1);
const [Z] = conv_forward(random.randn(10, 4, 4, 3), random.randn(2, 2, 3, 8), random.randn(1, 1, 1, 8), { stride: 2, pad: 2 });
console.log(Z.shape);`,
  },
  {
    name: "the digits model: build, load weights, predict (f64 and f32)",
    targetKB: 90,
    source: `import { init, sequential, digitsLayers, zeros } from "convwasm";
await init();
const model = sequential([28, 28, 1], digitsLayers());
model.load(new Uint8Array(await (await fetch("pretrained.npz")).arrayBuffer()));
console.log(model.predict(zeros([1, 28, 28, 1])).shape, model.predict(zeros([1, 28, 28, 1]), { precision: "f32" }).shape);`,
  },
];

const rows: { name: string; min: number; gz: number; targetKB: number }[] = [];
for (const app of APPS) {
  const out = await build({
    stdin: { contents: app.source, resolveDir: process.cwd(), sourcefile: "main.js" },
    bundle: true,
    format: "esm",
    minify: true,
    write: false,
    logLevel: "warning",
  });
  const js = out.outputFiles[0].contents;
  rows.push({ name: app.name, min: js.length, gz: gzipSync(js, { level: 6 }).length, targetKB: app.targetKB });
}
const wasm = readFileSync(new URL("../dist/convwasm.wasm", import.meta.url));

const kb = (n: number) => (n / 1024).toFixed(1);
const section = [
  "<!-- bytes:start -->",
  "## Bytes a web app ships (npm run bench:bytes)",
  "",
  "esbuild `--bundle --minify --format=esm` of an app importing the built package, gzipped at level 6. One WASM",
  `build is embedded (${kb(wasm.length)} KB, ${kb(gzipSync(wasm, { level: 6 }).length)} KB gzipped, ` +
    "base64 in the JS); the shared-memory build for threads is made from it at `init()`.",
  "",
  "| app | minified KB | gzipped KB | target KB | met |",
  "| --- | ---: | ---: | ---: | --- |",
  ...rows.map(
    (r) => `| ${r.name} | ${kb(r.min)} | ${kb(r.gz)} | ≤ ${r.targetKB} | ${r.gz <= r.targetKB * 1024 ? "✓" : "✗"} |`,
  ),
  "<!-- bytes:end -->",
].join("\n");

const file = new URL("../BENCHMARKS.md", import.meta.url);
const text = existsSync(file) ? readFileSync(file, "utf8") : "";
writeFileSync(
  file,
  /<!-- bytes:start -->[\s\S]*?<!-- bytes:end -->/.test(text)
    ? text.replace(/<!-- bytes:start -->[\s\S]*?<!-- bytes:end -->/, section)
    : text.trimEnd() + "\n\n" + section + "\n",
);
console.log(section);
