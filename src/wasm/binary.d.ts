// Type of dist/wasm/binary.js, which scripts/embed-wasm.mjs writes at build time.
/** The release WASM module, base64-encoded. */
export declare const wasmBase64: string;
