/**
 * erf / erfc in float64 for the reference backend (GELU, erf variant), from
 * two textbook expansions, each used where it converges fast and loses no
 * digits to cancellation:
 *
 *   t < 2.5: erf(t) = (2/√π)·e^(−t²)·Σ_n 2^n·t^(2n+1) / (1·3·5···(2n+1))   (all terms positive)
 *   t ≥ 2.5: erfc(t) = (e^(−t²)/√π) · 1/(t + (1/2)/(t + 1/(t + (3/2)/(t + 2/(t + ...)))))
 *
 * (Abramowitz & Stegun 7.1.6 and 7.1.14.) Relative error below 1e-12 for
 * erfc up to its underflow, far below f32's 6e-8: enough to judge f32
 * kernels. test/backends/reference/erf.test.ts checks the two expansions
 * against each other where both converge.
 */

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const ONE_OVER_SQRT_PI = 1 / Math.sqrt(Math.PI);

/** Where erfcx switches from the series to the continued fraction. */
export const ERF_SWITCH = 2.5;

/** Σ_n 2^n t^(2n+1) / (2n+1)!!, summed until the terms no longer change the sum. */
export function erfSeriesSum(t: number): number {
  const t2 = 2 * t * t;
  let term = t;
  let sum = t;
  for (let n = 1; n < 500; n++) {
    term *= t2 / (2 * n + 1);
    const next = sum + term;
    if (next === sum) break;
    sum = next;
  }
  return sum;
}

/** 1/(t + (1/2)/(t + (2/2)/(t + (3/2)/(t + ...)))), evaluated from the tail with `terms` levels. */
export function erfcContinuedFraction(t: number, terms = erfcTerms(t)): number {
  let f = t;
  for (let k = terms; k >= 1; k--) f = t + k / 2 / f;
  return 1 / f;
}

/** Levels that make the continued fraction converge to double precision (t ≥ 2). */
function erfcTerms(t: number): number {
  return Math.ceil(20 + 1600 / (t * t));
}

/** erfcx(t) = e^(t²)·erfc(t) for t ≥ 0 (finite, ~1/(t√π) for large t). */
export function erfcx(t: number): number {
  if (Number.isNaN(t)) return Number.NaN;
  if (t === Number.POSITIVE_INFINITY) return 0;
  if (t < ERF_SWITCH) return Math.exp(t * t) - TWO_OVER_SQRT_PI * erfSeriesSum(t);
  return ONE_OVER_SQRT_PI * erfcContinuedFraction(t);
}

/** erfc(x) for any x. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < ERF_SWITCH) return 1 - TWO_OVER_SQRT_PI * Math.exp(-x * x) * erfSeriesSum(x);
  if (x > 27.3) return 0; // erfc(27.3) < 2^-1074: below the smallest double
  return Math.exp(-x * x) * erfcx(x);
}

/** erf(x) for any x. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x < 0) return -erf(-x);
  if (x < ERF_SWITCH) return TWO_OVER_SQRT_PI * Math.exp(-x * x) * erfSeriesSum(x);
  return 1 - erfc(x);
}
