// The shared-memory build made from the one-thread build's bytes. The two builds differ only in their
// memory: the one-thread build defines and exports its own, the shared one imports `env.memory` as a
// shared memory (asc's output for the two differed in nothing else: no atomics in the kernels). Shipping
// one build and rewriting its memory section here halves the WASM every bundle carries (23 KB gzipped).
// The one-thread build's data segments skip zero bytes, which holds for a shared memory too: every
// memory it is instantiated over is fresh (zeroed), and the workers' instantiations write the same bytes.

const MAGIC = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const IMPORT = 2;
const MEMORY = 5;
const SECTION_ORDER = [1, 2, 3, 4, 5, 6, 13, 7, 8, 9, 12, 10, 11]; // by id; custom sections (0) anywhere

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

interface Section {
  id: number;
  body: Uint8Array;
}

function sections(fn: string, bytes: Uint8Array): Section[] {
  const bad = (why: string) => new TypeError(`${fn}: wasm expects a convwasm module but ${why}`);
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad("its bytes are not a WebAssembly 1 module");
  const out: Section[] = [];
  let p = 8;
  const u32 = () => {
    let n = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (p >= bytes.length) throw bad("it ends inside a section header");
      const b = bytes[p++];
      n += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return n;
    }
    throw bad("a section's size is not a 32-bit LEB128");
  };
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = u32();
    if (p + size > bytes.length) throw bad(`its section ${id} runs past the end`);
    out.push({ id, body: bytes.subarray(p, p + size) });
    p += size;
  }
  return out;
}

/** A vector's count and the bytes after it (a section's body is a vector for the two sections read here). */
function vector(body: Uint8Array): { count: number; rest: Uint8Array } {
  let count = 0;
  let p = 0;
  for (let shift = 0; ; shift += 7) {
    const b = body[p++];
    count += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) break;
  }
  return { count, rest: body.subarray(p) };
}

/**
 * The module `bytes` (a one-thread convwasm build: one memory of its own, no memory imported) with that
 * memory replaced by an import of `env.memory`, shared, of at most `maxPages` pages.
 */
export function sharedBuild(fn: string, bytes: Uint8Array, maxPages: number): Uint8Array<ArrayBuffer> {
  const all = sections(fn, bytes);
  const memory = all.filter((s) => s.id === MEMORY);
  if (memory.length !== 1 || vector(memory[0].body).count !== 1) {
    throw new TypeError(`${fn}: wasm expects a convwasm module with one memory of its own but got another module`);
  }
  const min = vector(vector(memory[0].body).rest.subarray(1)).count; // limits: flags byte, then min
  const memoryImport = [
    ...leb(3),
    ...[..."env"].map((c) => c.charCodeAt(0)),
    ...leb(6),
    ...[..."memory"].map((c) => c.charCodeAt(0)),
    0x02, // a memory
    0x03, // limits with a maximum, shared
    ...leb(min),
    ...leb(maxPages),
  ];
  const imports = all.find((s) => s.id === IMPORT);
  const importBody = imports
    ? (() => {
        const { count, rest } = vector(imports.body);
        return Uint8Array.from([...leb(count + 1), ...rest, ...memoryImport]);
      })()
    : Uint8Array.from([...leb(1), ...memoryImport]);
  const kept = all.filter((s) => s.id !== MEMORY && s.id !== IMPORT);
  // the import section goes before the first section that must follow it
  const rank = (id: number) => SECTION_ORDER.indexOf(id);
  const at = kept.findIndex((s) => s.id !== 0 && rank(s.id) > rank(IMPORT));
  kept.splice(at < 0 ? kept.length : at, 0, { id: IMPORT, body: importBody });
  const heads = kept.map((s) => [s.id, ...leb(s.body.length)]);
  const out = new Uint8Array(kept.reduce((n, s, i) => n + heads[i].length + s.body.length, MAGIC.length));
  out.set(MAGIC);
  let p = MAGIC.length;
  kept.forEach((s, i) => {
    out.set(heads[i], p);
    out.set(s.body, p + heads[i].length);
    p += heads[i].length + s.body.length;
  });
  return out;
}
