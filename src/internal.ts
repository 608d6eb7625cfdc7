// convwasm/internal: what the repository's tests and benchmarks reach inside the library (the runtime,
// the pool, the kernel table, the scheduler's tuning). Not documented for users and not stable.
export { wasm, limits } from "./wasm/runtime.js";
export { tuning } from "./wasm/schedule.js";
export { Pool } from "./wasm/pool.js";
export { KERNELS, KERNEL_NAMES, ABI_VERSION, mismatch, task } from "./wasm/kernels.js";
export type { Kernels, Task } from "./wasm/kernels.js";
export { platform } from "./wasm/platform.js";
export { winogradTuning } from "./ops/winograd.js";
export { OPS as ASYNC_OPS } from "./async/protocol.js";
