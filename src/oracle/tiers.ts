/**
 * Tolerance tiers (design.md, "Parity: metrics and tiers"): the unit roundoff
 * of the precision that explains a difference, and the error bounds and
 * statistical thresholds derived from it. A tier is never a tuned atol/rtol.
 * This file is the one definition of what each tier allows.
 */
export type TierName = 'exact' | 'f32' | 'tf32' | 'f16' | 'bf16' | 'q8';

export const TIER_NAMES: readonly TierName[] = ['exact', 'f32', 'tf32', 'f16', 'bf16', 'q8'];

export function isTierName(s: string): s is TierName {
  return (TIER_NAMES as readonly string[]).includes(s);
}

/** Unit roundoff u per tier. q8: an 8-bit activation step is amax/127, so rounding error ≤ amax/254 ≈ 2^-8·amax. */
export const UNIT_ROUNDOFF: Readonly<Record<TierName, number>> = {
  exact: 0,
  f32: 2 ** -24,
  tf32: 2 ** -11,
  f16: 2 ** -11,
  bf16: 2 ** -8,
  q8: 1 / 254,
};

/** Where a computation accumulates its sums; overrides a tier's f32 accumulation. */
export type Accumulation = 'f32' | 'f16' | 'f64';

export const ACCUMULATION_ROUNDOFF: Readonly<Record<Accumulation, number>> = {
  f32: 2 ** -24,
  f16: 2 ** -11,
  f64: 2 ** -53,
};

/**
 * What a tier assumes about the computation that produced a candidate, for a
 * dot product y = Σ_j x_j·w_j (an elementwise op is K = 1):
 * - `operandError`: the largest relative error of converting one operand to
 *   the tier's input format, and `operands` how many operands are converted.
 *   tf32 covers both conversions in use: round to nearest (≤ 2^-11) and plain
 *   truncation of fp32 fed to tensor cores (< 2^-10). q8: one operand (the
 *   activations) at |x̂ − x| ≤ (1/254 + 2^-11)·amax of its block — 1/254 for
 *   rounding q·amax/127, 2^-11 for the scale stored as f16 (ggml q8_0/q8_1);
 *   the magnitude must then be the quantization magnitude Σ_j amax_j·|w_j|
 *   (see quantizationMagnitude in emulate.ts).
 * - `operandVariance`: E[δ²] of one operand conversion for the statistical
 *   model (uniform errors: u²/3 for round to nearest; tf32 takes truncation's
 *   (2u)²/3 so that both conversions pass).
 * - `accumulateU`: the unit roundoff of the sums (f32 on every tier).
 * - `outputU`: results stored in the tier's format (f16/bf16 storage).
 * Operands in the target format's subnormal range (f16 below 2^-14) carry an
 * absolute error (≤ 2^-25 for f16) instead of a relative one: with operands
 * that small, add it through `atol` (2^-25·Σ|w| per output).
 */
export interface TierSpec {
  name: TierName;
  u: number;
  operands: number;
  operandError: number;
  operandVariance: number;
  accumulateU: number;
  outputU: number;
  description: string;
}

/**
 * Crest factor amax/rms of one q8 quantization block assumed by the q8
 * statistical model: 32 Gaussian values reach ≈ 2.1σ on average and rarely
 * exceed 4σ; activations with outlier channels quantized per row need a
 * magnitude (bound mode) instead.
 */
export const Q8_CREST_FACTOR = 4;

const U32 = 2 ** -24;
const U16 = 2 ** -11;
const UBF = 2 ** -8;

export const TIERS: Readonly<Record<TierName, TierSpec>> = {
  exact: {
    name: 'exact',
    u: 0,
    operands: 0,
    operandError: 0,
    operandVariance: 0,
    accumulateU: 0,
    outputU: 0,
    description: 'bit-identical f32 values (±0 equal, NaN = NaN)',
  },
  f32: {
    name: 'f32',
    u: U32,
    operands: 0,
    operandError: 0,
    operandVariance: 0,
    accumulateU: U32,
    outputU: 0,
    description: 'f32 operands, f32 arithmetic in any order',
  },
  tf32: {
    name: 'tf32',
    u: U16,
    operands: 2,
    operandError: 2 * U16,
    operandVariance: (2 * U16) ** 2 / 3,
    accumulateU: U32,
    outputU: 0,
    description: 'operands converted to tf32 (rounded or truncated), f32 accumulation',
  },
  f16: {
    name: 'f16',
    u: U16,
    operands: 2,
    operandError: U16,
    operandVariance: U16 ** 2 / 3,
    accumulateU: U32,
    outputU: U16,
    description: 'operands and results stored as f16, f32 accumulation',
  },
  bf16: {
    name: 'bf16',
    u: UBF,
    operands: 2,
    operandError: UBF,
    operandVariance: UBF ** 2 / 3,
    accumulateU: U32,
    outputU: UBF,
    description: 'operands and results stored as bf16, f32 accumulation',
  },
  q8: {
    name: 'q8',
    u: 1 / 254,
    operands: 1,
    operandError: 1 / 254 + U16,
    // Rounding to a step s = amax/127: uniform ±s/2, E = s²/12 = amax²·(1/254)²/3;
    // relative to E[x²] that is crest²·(1/254)²/3 (see Q8_CREST_FACTOR).
    operandVariance: (Q8_CREST_FACTOR / 254) ** 2 / 3,
    accumulateU: U32,
    outputU: 0,
    description: 'activations quantized to 8 bits per block (amax/127 steps), f32 accumulation',
  },
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

export interface TierBoundOptions {
  /** 'worst' (γ(K,u), Higham) or 'probabilistic' (√K·u, Higham–Mary); default 'worst'. */
  model?: 'worst' | 'probabilistic';
  /** Safety multiplier c (default 1: the bound as derived). */
  c?: number;
  /** Absolute slack; default K·2^-149 (f32 subnormal results: 2^-150 per rounding). */
  atol?: number;
  /** Where the sums accumulate, if not f32. */
  accumulate?: Accumulation;
}

/** The relative coefficient ρ of a tier bound: |a − r| ≤ c·(ρ·m + u_out·(|r| + ρ·m)) + atol. */
export function tierBoundCoefficient(tier: TierName, K: number, opts: TierBoundOptions = {}): number {
  const t = TIERS[tier];
  if (tier === 'exact') return 0;
  const uAcc = opts.accumulate ? ACCUMULATION_ROUNDOFF[opts.accumulate] : t.accumulateU;
  // Operand conversions: each product carries (1 + δ_x)(1 + δ_w), |δ| ≤ operandError.
  const conv = (1 + t.operandError) ** t.operands - 1;
  // Converted products of tf32/f16/bf16/int8 operands are exact in f32; the
  // worst case counts K roundings (Higham's γ(K) for a dot), the probabilistic
  // model √K·u. A biased conversion (truncation) does not average out, so the
  // conversion term stays worst-case in both models.
  const acc = (opts.model ?? 'worst') === 'worst' ? gamma(K, uAcc) : Math.sqrt(K) * uAcc;
  return (1 + conv) * (1 + acc) - 1;
}

/**
 * Per-element bound of a tier for a dot of length K with magnitude m and
 * reference value r: c·(ρ·m + u_out·(|r| + ρ·m)) + atol (see tierBoundCoefficient).
 */
export function tierBound(
  tier: TierName,
  K: number,
  magnitude: number,
  reference: number,
  opts: TierBoundOptions = {},
): number {
  const rho = tierBoundCoefficient(tier, K, opts);
  const out = TIERS[tier].outputU;
  const atol = opts.atol ?? K * 2 ** -149;
  if (tier === 'exact') return 0;
  return (opts.c ?? 1) * (rho * magnitude + out * (Math.abs(reference) + rho * magnitude)) + atol;
}

/**
 * Statistical model of a tier without magnitudes: the expected squared
 * relative error σ² = E[(a − r)²] / E[r²] of one result element.
 *
 * Assumptions: every rounding contributes an independent relative error δ,
 * zero-mean and uniform (E[δ²] = u²/3 for round to nearest; truncation, which
 * is biased, E[δ²] = (2u)²/3); the terms of a dot product have random signs
 * and comparable sizes, so E[r²] = Σ E[p_j²] and the errors of different
 * terms do not add coherently. Then for y = Σ_{j<K} x_j·w_j:
 * - each of the `operands` conversions adds operandVariance (relative to each
 *   product, hence to r);
 * - recursive summation in precision u_a rounds K products (u_a²/3 each,
 *   relative to r²) and K − 1 partial sums s_k with E[s_k²] = k·E[p²], which
 *   adds (u_a²/3)·(K − 1)(K + 2)/(2K) — the largest of the common orders
 *   (blocked and pairwise sums round less);
 * - results stored in the tier's format add outputU²/3.
 * So σ² = operands·operandVariance + (u_a²/3)·(1 + (K − 1)(K + 2)/(2K)) + u_out²/3.
 */
export function tierVariance(tier: TierName, K = 1, accumulate?: Accumulation): number {
  const t = TIERS[tier];
  if (tier === 'exact') return 0;
  const ua = accumulate ? ACCUMULATION_ROUNDOFF[accumulate] : t.accumulateU;
  const sums = (ua * ua) / 3;
  return (
    t.operands * t.operandVariance + sums * (1 + ((K - 1) * (K + 2)) / (2 * K)) + (t.outputU * t.outputU) / 3
  );
}

/**
 * The safety constant κ² of the statistical thresholds: an rms error up to
 * κ = 4 times the model's is still "explained by the tier". It absorbs what
 * the model idealizes (non-uniform mantissa distributions, a few correlated
 * roundings, the spread of NMSE over a finite tensor: its relative standard
 * error is √(2/n) for n elements, under 15% from n = 100), while a kernel
 * bug that rounds in the wrong precision moves the NMSE by a factor 2^6
 * (f32 → tf32 operands) or more.
 */
export const STATISTICAL_SAFETY = 16;

export interface TierThresholds {
  /** Largest NMSE = Σ(a−r)²/Σr² explained by the tier: κ²·σ². */
  nmse: number;
  /** Smallest cosine similarity: 1/√(1 + nmse), the cosine of an error orthogonal to r. */
  cosine: number;
  /** The model's σ² (see tierVariance). */
  variance: number;
}

/**
 * NMSE and cosine thresholds of a tier for results formed by dots of length
 * K (1: elementwise). NMSE = Σ(a−r)²/Σr² estimates σ², so the limit is κ²·σ²;
 * an error e independent of r has E⟨e, r⟩ = 0, for which
 * cos(a, r) = |r|/√(|r|² + |e|²) = 1/√(1 + NMSE): the cosine limit follows.
 */
export function tierThresholds(tier: TierName, K = 1, accumulate?: Accumulation): TierThresholds {
  const variance = tierVariance(tier, K, accumulate);
  const nmse = STATISTICAL_SAFETY * variance;
  return { nmse, cosine: 1 / Math.sqrt(1 + nmse), variance };
}
