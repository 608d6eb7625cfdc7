// convwasm/internal: what the repository's tests and benchmarks reach inside the library (the runtime,
// the pool, the kernel table, the scheduler's tuning). Not documented for users and not stable.
export { wasm, limits } from "./runtime/runtime.js";
export { tuning } from "./runtime/schedule.js";
export { Pool } from "./runtime/pool.js";
export { KERNELS, KERNEL_NAMES, ABI_VERSION, mismatch, task } from "./kernels/kernels.js";
export type { Kernels, Task } from "./kernels/kernels.js";
export { platform } from "./runtime/platform.js";
export { winogradTuning } from "./ops/winograd.js";
export { OPS as ASYNC_OPS } from "./async/protocol.js";
export { ACTIVATIONS } from "./ops/activations.js";
export { sharedBuild } from "./runtime/shared-build.js";
