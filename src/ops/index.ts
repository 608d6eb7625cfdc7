// The op registry: every family's definitions (src/ops/registry.ts), in the order the README lists them.
import { OPS as pad } from "./pad.js";
import { OPS as conv } from "./conv.js";
import { OPS as pool } from "./pool.js";
import { OPS as relu } from "./relu.js";
import { OPS as dense } from "./dense.js";
import { OPS as softmax } from "./softmax.js";
import { OPS as activations } from "./activations.js";
import { OPS as batchnorm } from "./batchnorm.js";
import { OPS as merge } from "./merge.js";
import { OPS as dropout } from "./dropout.js";

/** The families by their module's name in src/ops/. */
export const FAMILIES = { pad, conv, pool, relu, dense, softmax, activations, batchnorm, merge, dropout };

/** Every op by name. */
export const REGISTRY = {
  ...pad,
  ...conv,
  ...pool,
  ...relu,
  ...dense,
  ...softmax,
  ...activations,
  ...batchnorm,
  ...merge,
  ...dropout,
};
export type OpName = keyof typeof REGISTRY;
