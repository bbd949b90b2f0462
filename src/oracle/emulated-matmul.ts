/**
 * An emulated reference matmul, y = x · Wᵀ (x [M, K], W [N, K]), computed the
 * way a kernel of a given precision computes it, so "is this GPU output what a
 * correct TF32 (f16, bf16, int8) kernel produces?" gets a tight answer:
 *
 *   const e = emulatedMatmul(x, w, M, N, K, { inputs: 'tf32-rna', accumulate: 'f32' });
 *   compare(gpu, e.y, { tier: 'f32', magnitude: e.magnitude, K });   // only the summation order may differ
 *   compare(gpu, ref.y, { tier: 'tf32', magnitude: ref.magnitude, K }); // against the exact product
 *
 * Operands are rounded first (emulate.ts); products of rounded operands are
 * formed exactly (tf32/f16/bf16 products are exact in f32, as in tensor cores;
 * f32 × f32 products are exact in float64, as an FMA forms them) and added in
 * ascending k, each addition rounded to the accumulator's precision. int8:
 * activations quantized per row (or per block, emulate.ts quantizeInt8), the
 * integer-valued q_j·w_j summed, each block's sum scaled by its s — as a DP4A
 * kernel scales its integer block sums (weights stay as given: they are the
 * reference's dequantized weights). The output keeps the accumulator's values
 * (float64 storage; f32/f16 values when accumulating in those).
 */
import { ShapeError } from '../errors.js';
import { type Int8Options, type OperandRounding, quantizeInt8, roundF16, roundOperands } from './emulate.js';
import type { Accumulation } from './tiers.js';

export type EmulatedInputs = OperandRounding | 'int8';

export interface EmulatedMatmulOptions {
  /** Rounding of both operands ('int8': activations only, quantized). */
  inputs: EmulatedInputs;
  accumulate: Accumulation;
  /** int8 quantization of the activations (default: per row, ties to even). */
  int8?: Int8Options;
}

export interface EmulatedMatmul {
  /** [M, N]: the emulated kernel's results. */
  y: Float64Array;
  /**
   * [M, N]: Σ_k |x̂_k|·|ŵ_k| over the rounded operands — the magnitude of the
   * dot the emulated kernel computes, which bounds the summation-order
   * difference between it and any correct kernel of the same numerics.
   */
  magnitude: Float64Array;
  /** int8 only: Σ_k amax_{block(k)}·|w_k|, the magnitude of the q8 tier bound against the exact product. */
  quantMagnitude?: Float64Array;
}

const ACC: Readonly<Record<Accumulation, (x: number) => number>> = {
  f32: Math.fround,
  f16: roundF16,
  f64: (x) => x,
};

export function emulatedMatmul(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
  opts: EmulatedMatmulOptions,
): EmulatedMatmul {
  if (x.length !== M * K)
    throw new ShapeError(`x has ${x.length} values, [M, K] = [${M}, ${K}] needs ${M * K}`);
  if (w.length !== N * K)
    throw new ShapeError(`w has ${w.length} values, [N, K] = [${N}, ${K}] needs ${N * K}`);
  const acc = ACC[opts.accumulate];
  const y = new Float64Array(M * N);
  const magnitude = new Float64Array(M * N);
  if (opts.inputs === 'int8') {
    const qx = quantizeInt8(x, M, K, opts.int8);
    const wr = roundOperands(w, 'f32');
    const block = qx.block;
    const nb = K / block;
    const quantMagnitude = new Float64Array(M * N);
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let total = 0;
        let mag = 0;
        let qmag = 0;
        for (let b = 0; b < nb; b++) {
          const s = qx.scales[m * nb + b];
          let sum = 0;
          let wsum = 0;
          for (let i = 0; i < block; i++) {
            const k = b * block + i;
            const wk = wr[n * K + k];
            sum = acc(sum + qx.q[m * K + k] * wk);
            mag += Math.abs(qx.dequantized[m * K + k] * wk);
            wsum += Math.abs(wk);
          }
          total = acc(total + acc(sum * s));
          qmag += 127 * s * wsum;
        }
        y[m * N + n] = total;
        magnitude[m * N + n] = mag;
        quantMagnitude[m * N + n] = qmag;
      }
    return { y, magnitude, quantMagnitude };
  }
  const xr = roundOperands(x, opts.inputs);
  const wr = roundOperands(w, opts.inputs);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      let a = 0;
      for (let k = 0; k < K; k++) {
        const p = xr[m * K + k] * wr[n * K + k];
        s = acc(s + p);
        a += Math.abs(p);
      }
      y[m * N + n] = s;
      magnitude[m * N + n] = a;
    }
  return { y, magnitude };
}
