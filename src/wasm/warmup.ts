// V8 first runs WASM functions on baseline code (Liftoff, 4-5× slower) and swaps in optimised code only
// after a function has run a while; there is no on-stack replacement, so one long call can run on
// baseline code throughout. init() therefore runs every kernel on small scratch problems until V8 has
// tiered them up, and grows and touches the arena so the first real call does not pay for page faults.
import type { Arena } from "./arena.js";
import type { Kernels } from "./module.js";

/** Rounds of every kernel on scratch data; V8 tiers each up well within this (see bench/firstcall). */
const ROUNDS = 24;

/** Runs every kernel ROUNDS times on small zero-filled problems that reach all of their code paths. */
export async function warmUp(k: Kernels, arena: Arena): Promise<void> {
  const fn = "init";
  // conv: 1 image 9×9×5 (odd widths, odd taps), 3×3 window, 12 filters (k8 = 16), stride 1, pad 1
  const [h, w, c, f, kk, k8, pad] = [9, 9, 5, 3, 12, 16, 1];
  const [hp, wp] = [h + 2 * pad, w + 2 * pad];
  const [nH, nW] = [hp - f + 1, wp - f + 1];
  for (let round = 0; round < ROUNDS; round++) {
    arena.scope(() => {
      const x = arena.zeros(fn, "warm-up", h * w * c);
      const xp = arena.zeros(fn, "warm-up", hp * wp * c);
      const wt = arena.zeros(fn, "warm-up", f * f * c * k8);
      const wpk = arena.zeros(fn, "warm-up", f * f * c * k8);
      const b = arena.zeros(fn, "warm-up", k8);
      const z = arena.zeros(fn, "warm-up", nH * nW * k8);
      const dw = arena.zeros(fn, "warm-up", f * f * c * k8);
      k.zero_pad(x, h * w * c, w * c, c, 1, h, w, c, pad, xp, 0, 1);
      k.conv_pack_filters(wt, f * f * c, kk, k8, wpk);
      k.conv_pack_filters_t(wt, f, c, kk, wpk);
      k.conv_forward(xp, hp, wp, c, wpk, f, k8, b, 1, z, nH, nW, 0, nH);
      k.conv_backward_filter(xp, hp, wp, c, f, k8, 1, z, nH, nW, dw, 0, nH, 0, f * Math.ceil((f * c) / 2));
      k.conv_backward_bias(z, k8, nW, b, 0, nH);
      k.conv_backward_input(wpk, f, c, kk, k8, 1, z, nH, nW, xp, hp, wp, 0, nH);
      // pool: 2×2 and 3×3 windows over the same 9×9×5 image (odd channel count: vector and scalar paths)
      for (const pf of [2, 3]) {
        const [ph, pw] = [Math.floor((h - pf) / pf) + 1, Math.floor((w - pf) / pf) + 1];
        const y = arena.zeros(fn, "warm-up", ph * pw * c);
        k.pool_forward_max(x, h * w * c, w * c, c, 1, c, pf, pf, y, ph, pw, 0, 1);
        k.pool_forward_average(x, h * w * c, w * c, c, 1, c, pf, pf, y, ph, pw, 0, 1);
        k.pool_backward_max(x, h * w * c, w * c, c, 1, h, w, c, pf, pf, y, ph, pw, xp, 0, 1);
        k.pool_backward_average(h, w, c, pf, pf, y, ph, pw, xp, 0, 1);
      }
    });
    // let V8's background compiler publish the optimised code
    if (round % 6 === 5) await new Promise((resolve) => setTimeout(resolve, 0));
  }
}
