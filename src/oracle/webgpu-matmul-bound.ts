/**
 * The WebGPU matmul kernels' bound (src/backends/webgpu/wgsl/matmul*.ts),
 * exact numerics: weights decoded to their exact f32 values, f32
 * activations, f32 sums of K products in a fixed tree. WGSL fixes no
 * rounding mode (a + − × result may round up or down: one ULP, 2^-23
 * relative), so each element is within γ(K, 2^-23)·Σ|x||w| of the float64
 * dot (Higham; any summation tree of K terms), plus 2K·2^-126 because WGSL
 * may flush subnormal results: each of the K products and K sums loses less
 * than 2^-126 that way.
 */
import { WGSL_FLUSH, WGSL_ULP } from '../backends/webgpu/wgsl/numerics.js';
import { roundF16 as roundHalf } from './emulate.js';
import { dotBound } from './tiers.js';

/** Bound on |y − reference| for one output with dot magnitude Σ|x||w| over K terms. */
export function matmulGpuBound(K: number, magnitude: number): number {
  return dotBound(K, WGSL_ULP, magnitude, 1, 2 * K * WGSL_FLUSH);
}

/** Largest error of rounding an f32 to f16 (nearest even, below 65520): relative 2^-11, absolute 2^-25 (subnormals). */
const F16_REL = 2 ** -11;
const F16_ABS = 2 ** -25;

/**
 * matmulPrecision 'f16' (wgsl/matmul-f32.ts, f16 operands): x and W rounded
 * to f16, exact products, f32 sums. Against the float64 dot of the unrounded
 * operands, each product x̂ŵ is off from xw by at most
 * (2·2^-11 + 2^-22)·|x||w| + 2^-25·(1 + 2^-11)·(|x| + |w|) + 2^-50 (rounding
 * to nearest even: relative 2^-11 for normal halves, absolute 2^-25 in the
 * subnormal range), and the f32 sum adds matmulGpuBound over Σ|x̂||ŵ|, plus
 * `flushLoss` where the device may flush f16 subnormal operands when it
 * widens stored halves (f16OperandFlushLoss). Operands at or above 65520
 * round to ±inf: outside any bound.
 */
export function matmulF16OperandsBound(
  K: number,
  magnitude: number,
  absSum: number,
  roundedMagnitude: number,
  flushLoss = 0,
): number {
  const rounding =
    (2 * F16_REL + F16_REL ** 2) * magnitude + F16_ABS * (1 + F16_REL) * absSum + K * F16_ABS ** 2;
  return rounding + matmulGpuBound(K, roundedMagnitude) + flushLoss;
}

/** The smallest normal f16: halves below it are subnormal, which a device may flush when widening them. */
export const F16_MIN_NORMAL = 2 ** -14;

/** Σ_k |x̂_k·ŵ_k| over the products with a subnormal f16 operand: what flushing those operands can lose. */
export function f16OperandFlushLoss(xr: ArrayLike<number>, wr: ArrayLike<number>): number {
  let loss = 0;
  for (let k = 0; k < xr.length; k++) {
    const a = Math.abs(xr[k]);
    const b = Math.abs(wr[k]);
    if ((a > 0 && a < F16_MIN_NORMAL) || (b > 0 && b < F16_MIN_NORMAL)) loss += a * b;
  }
  return loss;
}

/**
 * Per output of y = x·Wᵀ (x [M, K], W [N, K] as f32 values), the bound of a
 * WebGPU matmul with f16 operands against the float64 dot of the unrounded
 * operands: matmulF16OperandsBound with the magnitudes of the rounded
 * operands and the flush loss computed from the operands themselves.
 */
export function matmulF16OperandsBounds(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
): Float64Array {
  const xr = Float64Array.from(x, roundHalf);
  const wr = Float64Array.from(w, roundHalf);
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let mag = 0;
      let absSum = 0;
      let rounded = 0;
      let flush = 0;
      for (let k = 0; k < K; k++) {
        const a = Math.abs(x[m * K + k]);
        const b = Math.abs(w[n * K + k]);
        const ar = Math.abs(xr[m * K + k]);
        const br = Math.abs(wr[n * K + k]);
        mag += a * b;
        absSum += a + b;
        rounded += ar * br;
        if ((ar > 0 && ar < F16_MIN_NORMAL) || (br > 0 && br < F16_MIN_NORMAL)) flush += ar * br;
      }
      out[m * N + n] = matmulF16OperandsBound(K, mag, absSum, rounded, flush);
    }
  return out;
}
