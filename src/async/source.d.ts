// Type of dist/async/source.js, which scripts/embed-wasm.mjs writes at build time.
/** The whole library and src/async/host.ts as one classic script: the body of every convwasm/async worker. */
export declare const hostSource: string;
