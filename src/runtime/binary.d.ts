// Type of dist/runtime/binary.js, which scripts/embed-wasm.mjs writes at build time.
/** The one-thread release module (its own memory), base64-encoded. */
export declare const wasmBase64: string;
/** The ceiling probe (bench/ceiling/index.ts, the library's asc flags), base64-encoded: convwasm/bench. */
export declare const ceilingBase64: string;
/** The source of `workerMain` (src/runtime/worker.ts): the body of every pool thread. */
export declare const workerSource: string;
