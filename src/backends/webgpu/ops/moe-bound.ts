/**
 * Error bound of the WebGPU MoE routing kernel (../wgsl/moe.ts) against the
 * float64 reference (src/backends/reference/moe.ts), from WGSL's accuracy
 * rules, never tuned. WGSL fixes no rounding mode (a result may round up or
 * down), so each + − × is off by up to 1 ULP: relative v = 2^-23; division
 * 2.5 ULP (2.5·v); exp(x) (3 + 2|x|) ULP: ε_e(x) = (3 + 2|x|)·v; any sum of
 * n terms, in whatever order the compiler keeps: γ(n − 1, v); subnormals may
 * flush: an absolute 2^-126 per flushed value.
 *
 * Selection values: the softmax schemes rank the logits' bits (δ = 0; the
 * kernel's experts must be the reference's, ties included). Sigmoid:
 * σ̃ = 1/(1 + exp(−l)): ε_e(l) + v (the add) + 2.5v (the division), the bias
 * add v·|s|: δ_i = (ε_e(l_i) + 3.5v)·σ_i + v·|s_i| + 2^-126. A group score
 * (one add of two values) is off by 2·max δ + v·|G| (moeSelectionProblems).
 *
 * Weights, relative error ρ_j of expert j's probability (m = the top logit):
 * - softmax over n logits (n = E, or the k selected on the top-k path that
 *   renormalized softmax takes: moeKernelPath): ε_j = ε_e(l_j − m) + v·|l_j − m|
 *   (the subtraction, then exp); the sum carries A = Σ p_i·ε_i + γ(n − 1, v);
 *   the division 2.5v: ρ_j = ε_j + A + 2.5v;
 * - sigmoid: ρ_j = ε_e(l_j) + 3.5v.
 * Normalization (f32 sum of k, one division): ρ_j + max ρ + γ(k − 1, v) + 2.5v;
 * the scale product + v. First order, times (1 + 4·max ρ) for the products
 * of errors, plus 2^-126·2^15·max(scale, 1) for flushed subnormals (a flushed
 * value divided by a normalizer ≥ 2^-14, then scaled).
 */

import type { MoeRoutePlan } from '../../../ops/moe-route.js';
import type { SelectionErrorModel } from '../../../oracle/moe-bound.js';
import { gamma } from '../../../oracle/tiers.js';
import { referenceSelectionValues } from '../../reference/moe.js';
import { moeKernelPath } from '../../wasm/moe.js';
import { WGSL_FLUSH as FLUSH, WGSL_DIV_ERROR, WGSL_ULP, wgslExpError } from '../wgsl/numerics.js';

type Vec = ArrayLike<number>;

/** δ_i of the GPU's selection values (0 for the softmax schemes). */
export function gpuMoeSelectionError(row: Vec, plan: MoeRoutePlan): Float64Array {
  const d = new Float64Array(plan.experts);
  if (plan.gating !== 'sigmoid') return d;
  const s = referenceSelectionValues(row, plan);
  for (let i = 0; i < plan.experts; i++) {
    const sig = 1 / (1 + Math.exp(-row[i]));
    const rel = wgslExpError(row[i]) + 3.5 * WGSL_ULP;
    d[i] = (rel * sig + WGSL_ULP * Math.abs(s[i])) * (1 + 4 * rel) + FLUSH;
  }
  return d;
}

/** Per-weight absolute bound |w̃_j − w_j| for the kernel's selected experts; w: the reference weights for them. */
export function gpuMoeWeightBound(
  row: Vec,
  plan: MoeRoutePlan,
  experts: ArrayLike<number>,
  w: ArrayLike<number>,
): Float64Array {
  const path = moeKernelPath(plan);
  const k = experts.length;
  let rho: number[];
  if (path.gating === 'sigmoid') {
    rho = Array.from(experts, (e) => wgslExpError(row[e]) + 3.5 * WGSL_ULP);
  } else {
    const over =
      path.gating === 'softmax' ? Array.from({ length: row.length }, (_, i) => i) : Array.from(experts);
    const m = Math.max(...over.map((i) => row[i]));
    const eps = (i: number) => wgslExpError(row[i] - m) + WGSL_ULP * Math.abs(row[i] - m);
    const e = over.map((i) => Math.exp(row[i] - m));
    const sum = e.reduce((a, b) => a + b, 0);
    const A = over.reduce((acc, i, n) => acc + (e[n] / sum) * eps(i), 0) + gamma(over.length - 1, WGSL_ULP);
    rho = Array.from(experts, (j) => eps(j) + A + WGSL_DIV_ERROR);
  }
  const worst = Math.max(...rho);
  const atol = FLUSH * 2 ** 15 * Math.max(plan.scale, 1);
  return Float64Array.from(rho, (r, j) => {
    let rel = path.normalize ? r + worst + gamma(k - 1, WGSL_ULP) + WGSL_DIV_ERROR : r;
    if (plan.scale !== 1) rel += WGSL_ULP;
    return rel * (1 + 4 * (worst + 4 * WGSL_ULP)) * Math.abs(w[j]) + atol;
  });
}

/** The GPU kernel's selection error model for moeSelectionProblems. */
export const GPU_MOE_SELECTION: SelectionErrorModel = { delta: gpuMoeSelectionError, roundoff: WGSL_ULP };
