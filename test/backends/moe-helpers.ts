/** Shared pieces of the MoE tests: options per scheme for the sweeps, the deepseek-v3 hand case. */
import type { MoeRouteOptions, MoeScheme } from '../../src/ops/moe-route.js';
import { uniform } from './wasm/nn-helpers.js';

/** Options per scheme for the invariant sweeps (shared with the kernel tests). */
export function schemeOptions(scheme: MoeScheme, E: number, k: number): MoeRouteOptions {
  if (scheme === 'switch') return { scheme, k: 1, capacityFactor: 1.25 };
  if (scheme === 'deepseek-v3') {
    const nGroup = E % 8 === 0 ? 8 : 1;
    const bias = Array.from(uniform(E, E + 7, 0.1));
    return { scheme, k, bias, nGroup, topkGroup: Math.min(nGroup, 4), scale: 2.5 };
  }
  return { scheme, k };
}

/**
 * deepseek-v3 by hand: 8 experts in 4 groups, the top-2 groups by the sum of
 * their top-2 biased scores; expected experts [0, 2] with weights 1.5 and 1
 * (the bias selects, the scale 2.5 multiplies the unbiased weights).
 */
export function deepseekHandCase(): { logits: Float32Array; opts: MoeRouteOptions } {
  return {
    logits: Float32Array.from([Math.log(3), 0, 0, 0, 0, 0, 0, 0]),
    opts: {
      scheme: 'deepseek-v3',
      k: 2,
      bias: [0.05, 0, 0.2, 0.2, 0.25, 0, 0, 0.1],
      nGroup: 4,
      topkGroup: 2,
      scale: 2.5,
    },
  };
}
