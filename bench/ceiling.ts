// The ceiling probe: the one convwasm/bench ships (bench/ceiling/index.ts, the library's asc flags).
export { CEILING_FLOPS, ceilingProbe as loadCeiling } from "convwasm/bench";
