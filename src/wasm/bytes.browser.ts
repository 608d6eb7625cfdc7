// Browsers and bundlers: fetch the .wasm, so it compiles asynchronously and streams.

/** The module's Response, for streaming compilation. */
export async function wasmSource(url: URL): Promise<Uint8Array | Response> {
  return fetch(url);
}
