// Writes a .d.cts beside every .d.ts in dist (relative imports pointing at .cjs), for TypeScript projects
// that are CommonJS under `module: node16`: there a file that `require`s convwasm must see types of a
// CommonJS module (else TS1479), while Node (>= 20.19) loads the same ES modules through require(esm).
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dist = new URL("../dist/", import.meta.url).pathname;
let n = 0;
for (const entry of readdirSync(dist, { recursive: true })) {
  const file = String(entry);
  if (!file.endsWith(".d.ts")) continue;
  const text = readFileSync(join(dist, file), "utf8").replace(
    /(from\s+|import\s*\(\s*)(["'])(\.{1,2}\/[^"']*?)\.js\2/g,
    (_, lead, q, path) => `${lead}${q}${path}.cjs${q}`,
  );
  writeFileSync(join(dist, file.replace(/\.d\.ts$/, ".d.cts")), text);
  n++;
}
console.log(`wrote ${n} .d.cts files for CommonJS TypeScript projects`);
