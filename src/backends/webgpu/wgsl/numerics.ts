/**
 * WGSL's f32 accuracy, as error-bound constants (WGSL §"Floating Point
 * Accuracy"): no rounding mode is fixed — a result that is not representable
 * may round up or down — so each + − × is off by up to 1 ULP (relative
 * 2^-23, not round-to-nearest's 2^-24); division 2.5 ULP; exp (3 + 2|x|)
 * ULP; subnormal results may flush to zero (an absolute 2^-126).
 */

/** One ULP, relative: the unit roundoff of one WGSL + − × (round up or down). */
export const WGSL_ULP = 2 ** -23;
/** Absolute loss of a flushed subnormal. */
export const WGSL_FLUSH = 2 ** -126;
/** Relative error of a WGSL division (2.5 ULP). */
export const WGSL_DIV_ERROR = 2.5 * WGSL_ULP;

/** Relative error of WGSL exp at x: (3 + 2|x|) ULP. */
export function wgslExpError(x: number): number {
  return (3 + 2 * Math.abs(x)) * WGSL_ULP;
}
