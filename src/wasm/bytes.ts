// Node: the .wasm beside dist/ is read from disk. Bundlers swap in bytes.browser.ts ("browser" field).
import { readFile } from "node:fs/promises";

/** The module's bytes (or a Response for streaming compilation) from its URL. */
export async function wasmSource(url: URL): Promise<Uint8Array | Response> {
  if (url.protocol === "file:") return readFile(url);
  return fetch(url);
}
