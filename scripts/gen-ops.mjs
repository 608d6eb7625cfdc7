// npm run gen:ops [-- --check]: writes, from the op registry (src/ops/*.ts's OPS, built in dist/), the
// regions between `<ops>` markers of the sync entry (src/index.ts: exports and camelCase aliases),
// convwasm/async (src/async/index.ts: its ops; src/async/protocol.ts: arguments and costs) and the
// README's API tables. --check changes nothing and exits 1 if a region is out of date (npm test checks).
import { readFileSync, writeFileSync } from "node:fs";

/** The op's camelCase alias (relu6_backward → relu6Backward). */
export const camel = (name) => name.replace(/_([a-z0-9])/g, (_, ch) => ch.toUpperCase());

/** How the README shows a call: as defined, or the name and its arguments but options. */
const callOf = (name, def) => def.call ?? `${name}(${def.args.filter((a) => a !== "options").join(", ")})`;

/** The regions' contents for `families`: { [module]: { [op]: definition } }. */
export function render(families) {
  const ops = Object.entries(families).flatMap(([module, defs]) =>
    Object.entries(defs).map(([name, def]) => ({ module, name, def })),
  );
  const aliased = ops.filter(({ name }) => camel(name) !== name);
  const sync = Object.entries(families)
    .map(([module, defs]) => {
      const names = Object.keys(defs).flatMap((n) => (camel(n) === n ? [n] : [n, `${n} as ${camel(n)}`]));
      return `export { ${names.join(", ")} } from "./ops/${module}.js";`;
    })
    .join("\n");
  const asyncOps = [
    ...ops.map(({ name }) => `export const ${name} = op("${name}");`),
    `export { ${aliased.map(({ name }) => `${name} as ${camel(name)}`).join(", ")} };`,
  ].join("\n");
  const protocol = [
    "/** The ops convwasm/async runs, by their names in the synchronous API, with their arguments' names. */",
    "export const OPS = {",
    ...ops.map(({ name, def }) => `  ${name}: ${JSON.stringify(def.args)},`),
    "} as const;",
    "/** The keys the ops read of their plain-object arguments (hyperparameters and options). */",
    `export const OP_KEYS = ${JSON.stringify([...new Set(ops.flatMap(({ def }) => def.keys ?? []))])};`,
    "/** Each op's cost, where it has one (src/ops/registry.ts's Cost). */",
    "export const COSTS: { readonly [op: string]: Cost } = {",
    ...ops.filter(({ def }) => def.cost).map(({ name, def }) => `  ${name}: ${JSON.stringify(def.cost)},`),
    "};",
  ].join("\n");
  const readme = {};
  for (const section of ["notebook", "convnet", "layers"]) {
    const rows = ops
      .filter(({ def }) => def.section === section)
      .map(
        ({ name, def }) =>
          `| \`${callOf(name, def)}\` | ${camel(name) === name ? "" : `\`${camel(name)}\``} | ${def.doc} |`,
      );
    readme[section] = ["| function | alias | arguments → result |", "| --- | --- | --- |", ...rows].join("\n");
  }
  return { sync, asyncOps, protocol, readme };
}

/** `text` with the region between `open` and `close` replaced by `body`. */
export function replaceRegion(text, open, close, body, file) {
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  if (a < 0 || b < a) throw new Error(`gen-ops: ${file} lacks its markers ${open} … ${close}`);
  return `${text.slice(0, a + open.length)}\n${body}\n${text.slice(b)}`;
}

/** Every file's new text, from the registry built in dist/. */
export async function generate(root = new URL("../", import.meta.url)) {
  const { FAMILIES } = await import(new URL("dist/ops/index.js", root).href);
  const r = render(FAMILIES);
  const ts = ["// <ops> (written by scripts/gen-ops.mjs from src/ops/'s definitions: npm run gen:ops)", "// </ops>"];
  const edits = [
    ["src/index.ts", [[...ts, r.sync]]],
    ["src/async/index.ts", [[...ts, r.asyncOps]]],
    ["src/async/protocol.ts", [[...ts, r.protocol]]],
    [
      "README.md",
      Object.entries(r.readme).map(([section, table]) => [
        `<!-- <ops ${section}> (npm run gen:ops) -->`,
        `<!-- </ops ${section}> -->`,
        table,
      ]),
    ],
  ];
  return edits.map(([file, regions]) => {
    const url = new URL(file, root);
    const before = readFileSync(url, "utf8");
    const after = regions.reduce((text, [open, close, body]) => replaceRegion(text, open, close, body, file), before);
    return { file, url, before, after };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const check = process.argv.includes("--check");
  const prettier = await import("prettier");
  const stale = [];
  for (const f of await generate()) {
    const options = await prettier.resolveConfig(f.url.pathname);
    const after = await prettier.format(f.after, { ...options, filepath: f.url.pathname });
    if (after === f.before) continue;
    stale.push(f.file);
    if (!check) writeFileSync(f.url, after);
  }
  if (check && stale.length > 0) {
    console.error(`gen-ops: out of date: ${stale.join(", ")} (npm run gen:ops)`);
    process.exit(1);
  }
  console.log(stale.length === 0 ? "gen-ops: up to date" : `gen-ops: wrote ${stale.join(", ")}`);
}
