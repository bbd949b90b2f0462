/**
 * Error growth from a stage's inputs to the stage: did this op introduce the
 * error, or only carry what it received?
 *
 * Errors are compared as relative errors ε = ‖a − r‖/‖r‖ = √NMSE. What the
 * inputs' errors can account for at the stage, to first order and assuming
 * the op does not amplify relative error beyond what its algebra says:
 * - add (residuals): absolute errors add, ‖e_out‖ ≤ Σ‖e_i‖ (exact, by the
 *   triangle inequality), so carried = Σ‖e_i‖ / ‖r_out‖ — cancellation in
 *   the sum is accounted for;
 * - softmax: p_i = exp(s_i)/Σexp(s_j) is shift-invariant, δp_i/p_i =
 *   δs_i − Σ_j p_j δs_j, so the relative error of p is at most 2·max|δs| —
 *   the inputs' largest absolute error;
 * - products of inputs (scores Q·Kᵀ, softmax·V, SwiGLU, the MoE combine):
 *   relative errors add, carried = Σ ε_i;
 * - everything else (norms, projections, RoPE, activations): relative error
 *   passes through, carried = max ε_i.
 * The stage introduced error when ε > carried + its own allowance (√ of the
 * tier's NMSE threshold for that stage: what its own rounding may add).
 * An op that amplifies relative error (an ill-conditioned projection, a
 * softmax over large scores) can be labelled as introducing what it only
 * amplified; replay, which recomputes each stage from the candidate's own
 * inputs, settles that.
 */
import type { StageKind } from '../trace/stages.js';

/** A compared stage's error, as growth needs it. */
export interface ErrorSummary {
  /** ‖a − r‖ / ‖r‖ over finite pairs (√NMSE). */
  relError: number;
  /** ‖a − r‖. */
  errorNorm: number;
  /** max |a − r|. */
  maxAbs: number;
  /** Non-finite mismatches (NaN or inf on one side only). */
  nonFinite: number;
}

export type GrowthModel = 'none' | 'sum' | 'softmax' | 'product' | 'max';

export type Origin = 'introduced' | 'carried' | 'none' | 'unknown';

export interface Growth {
  /** The captured stages the carried error was taken from (nearest captured ancestors of missing inputs). */
  inputs: string[];
  model: GrowthModel;
  /** Relative error the inputs account for; null when no input was captured. */
  carried: number | null;
  /** relError / carried (inf when carried is 0; null when either is unknown or both 0). */
  ratio: number | null;
  /** The stage's own allowance: √ of its NMSE threshold (0 at the exact tier). */
  allowance: number;
  origin: Origin;
}

export function growthModel(kind: StageKind): GrowthModel {
  switch (kind) {
    case 'lookup':
      return 'none';
    case 'add':
      return 'sum';
    case 'softmax':
      return 'softmax';
    case 'scores':
    case 'attention':
    case 'gated':
    case 'combine':
      return 'product';
    default:
      return 'max';
  }
}

export function errorGrowth(
  kind: StageKind,
  own: ErrorSummary,
  refNorm: number,
  inputs: readonly { name: string; error: ErrorSummary }[],
  allowance: number,
): Growth {
  const model = growthModel(kind);
  const names = inputs.map((i) => i.name);
  if (model === 'none') {
    // A source stage (the embedding lookup) carries nothing: any error is its own.
    const origin: Origin = own.relError > 0 || own.nonFinite > 0 ? 'introduced' : 'none';
    return { inputs: names, model, carried: 0, ratio: null, allowance, origin };
  }
  if (inputs.length === 0) {
    const origin: Origin = own.relError > 0 || own.nonFinite > 0 ? 'unknown' : 'none';
    return { inputs: names, model, carried: null, ratio: null, allowance, origin };
  }
  const errs = inputs.map((i) => i.error);
  let carried: number;
  if (model === 'sum')
    carried =
      refNorm > 0
        ? errs.reduce((s, e) => s + e.errorNorm, 0) / refNorm
        : errs.some((e) => e.errorNorm > 0)
          ? Number.POSITIVE_INFINITY
          : 0;
  else if (model === 'softmax') carried = 2 * Math.max(...errs.map((e) => e.maxAbs));
  else if (model === 'product') carried = errs.reduce((s, e) => s + e.relError, 0);
  else carried = Math.max(...errs.map((e) => e.relError));
  const ratio =
    own.relError === 0 && carried === 0
      ? null
      : carried === 0
        ? Number.POSITIVE_INFINITY
        : own.relError / carried;
  let origin: Origin;
  if (own.nonFinite > 0) origin = errs.some((e) => e.nonFinite > 0) ? 'carried' : 'introduced';
  else if (own.relError === 0) origin = 'none';
  else origin = own.relError > carried + allowance ? 'introduced' : 'carried';
  return { inputs: names, model, carried, ratio, allowance, origin };
}
