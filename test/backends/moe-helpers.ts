/** Shared pieces of the MoE tests: options per scheme for the sweeps. */
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
