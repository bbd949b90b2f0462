/**
 * Tolerance tiers (design.md, "Parity: metrics and tiers"): the unit roundoff
 * of the precision that explains a difference, and the error bounds derived
 * from it. A tier is never a tuned atol/rtol.
 */
export type TierName = 'exact' | 'f32' | 'tf32' | 'f16' | 'bf16' | 'q8';

/** Unit roundoff u per tier. q8: an 8-bit activation step is amax/127, so rounding error ≤ amax/254 ≈ 2^-8·amax. */
export const UNIT_ROUNDOFF: Readonly<Record<TierName, number>> = {
  exact: 0,
  f32: 2 ** -24,
  tf32: 2 ** -11,
  f16: 2 ** -11,
  bf16: 2 ** -8,
  q8: 1 / 254,
};

/** γ(n, u) = n·u / (1 − n·u): the worst-case relative error of an n-term f32 sum/dot (Higham §3.1). */
export function gamma(n: number, u: number): number {
  const nu = n * u;
  return nu >= 1 ? Number.POSITIVE_INFINITY : nu / (1 - nu);
}

/**
 * Worst-case bound for one dot product of length K computed in a precision
 * with unit roundoff u: c·γ(K, u)·m + atol, where m = Σ|x_j|·|w_j|.
 */
export function dotBound(K: number, u: number, magnitude: number, c = 1, atol = 0): number {
  return c * gamma(K, u) * magnitude + atol;
}

/** Probabilistic bound (errors as independent roundings): c·√K·u·m + atol. */
export function dotBoundProbabilistic(K: number, u: number, magnitude: number, c = 1, atol = 0): number {
  return c * Math.sqrt(K) * u * magnitude + atol;
}
