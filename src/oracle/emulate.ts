/**
 * Numerics emulation: the roundings GPU kernels apply to their operands, on
 * f32 values, so the reference can compute what a correct kernel of a given
 * precision produces.
 *
 * tf32 (1 sign, 8 exponent, 10 mantissa bits, kept in an f32 container):
 * - 'tf32-rna': CUTLASS's round_half_ulp_truncate — add 0x1000 (half a tf32
 *   ulp) to the f32 bits, then clear the low 13 bits. Round to nearest, ties
 *   away from zero (PTX cvt.rna.tf32.f32); the largest finite f32 values
 *   overflow to ±inf, subnormals round in their own (fixed) spacing. CUTLASS
 *   adds 0x1000 only to finite values and clears the low bits when reading,
 *   so ±inf stays ±inf; a NaN whose payload lies only in those 13 bits would
 *   come back as inf there — here every NaN stays NaN (a NaN operand makes
 *   the tensor-core result NaN anyway).
 * - 'tf32-rne': round to nearest, ties to even (the IEEE rounding).
 * - 'tf32-trunc': clear the low 13 mantissa bits (fp32 fed to tensor cores
 *   as is: the hardware ignores them), i.e. round toward zero.
 * 'bf16' and 'f16': round to nearest even as ggml converts (src/types/half.ts):
 * f16 overflows to ±inf from 65520 on and has subnormals below 2^-14.
 */
import { bf16ToF32, bitsToF32, f16ToF32, f32ToBf16, f32ToBits, f32ToF16 } from '../types/half.js';

export type OperandRounding = 'tf32-rna' | 'tf32-rne' | 'tf32-trunc' | 'bf16' | 'f16' | 'f32';

const EXP_MASK = 0x7f800000;
const LOW13 = 0x1fff;

/** CUTLASS round_half_ulp_truncate: f32 → tf32, nearest, ties away from zero. */
export function roundTf32Rna(x: number): number {
  const b = f32ToBits(x);
  if ((b & EXP_MASK) === EXP_MASK) return Number.isNaN(x) ? Number.NaN : Math.fround(x);
  return bitsToF32(((b + 0x1000) & ~LOW13) >>> 0);
}

/** f32 → tf32, nearest, ties to even. */
export function roundTf32Rne(x: number): number {
  const b = f32ToBits(x);
  if ((b & EXP_MASK) === EXP_MASK) return Number.isNaN(x) ? Number.NaN : Math.fround(x);
  return bitsToF32(((b + 0xfff + ((b >>> 13) & 1)) & ~LOW13) >>> 0);
}

/** f32 → tf32 by dropping the low 13 mantissa bits (toward zero). */
export function truncTf32(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  return bitsToF32((f32ToBits(x) & ~LOW13) >>> 0);
}

/** f32 → bf16 → f32 (nearest even; NaN stays NaN). */
export function roundBf16(x: number): number {
  return bf16ToF32(f32ToBf16(x));
}

/** f32 → f16 → f32 (nearest even, overflow to ±inf, f16 subnormals). */
export function roundF16(x: number): number {
  return f16ToF32(f32ToF16(x));
}

const ROUNDERS: Readonly<Record<OperandRounding, (x: number) => number>> = {
  'tf32-rna': roundTf32Rna,
  'tf32-rne': roundTf32Rne,
  'tf32-trunc': truncTf32,
  bf16: roundBf16,
  f16: roundF16,
  f32: Math.fround,
};

/** A rounded copy of x. */
export function roundOperands(x: ArrayLike<number>, format: OperandRounding): Float32Array {
  const f = ROUNDERS[format];
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
  return out;
}

/**
 * f16 staging of activations, as llama.cpp's WebGPU backend does in its
 * register-tiled matmul: both operand tiles are stored in f16 workgroup
 * memory (whatever their type in the buffer) and multiplied into f32
 * accumulators. emulatedMatmul(x, w, …, { inputs: 'f16', accumulate: 'f32' })
 * reproduces it up to summation order.
 */
export function stageF16(x: ArrayLike<number>): Float32Array {
  return roundOperands(x, 'f16');
}

export type TieRule = 'even' | 'away';

/** Round to an integer: ties to even (IEEE, WGSL round) or away from zero (C roundf, ggml q8_0). */
export function roundTies(v: number, ties: TieRule): number {
  if (ties === 'away') return Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export interface Int8Options {
  /** Values sharing one scale along each row (default: the whole row). */
  block?: number;
  /** Tie rule of the rounding (default 'even'). */
  ties?: TieRule;
}

export interface Int8Quantized {
  /** [rows, cols] integers in [−127, 127]. */
  q: Int8Array;
  /** One f32 scale per block, row-major ([rows, cols/block]). */
  scales: Float32Array;
  block: number;
  /** q·scale per element (exact in float64), the activation the kernel effectively multiplies. */
  dequantized: Float64Array;
}

/**
 * Symmetric int8 quantization of activations, per row or per block of a row
 * (ORT's dynamic quantization for its DP4A matmul path): scale s = amax/127
 * (an f32), q = round(x/s) with x/s rounded to f32 first, clamped to ±127, an
 * all-zero block gets s = 0 and q = 0. Ties go to even by default; ORT's WGSL
 * DP4A shader quantizes blocks of 128 through pack4x8snorm(x/amax), whose
 * ties depend on the GPU's rounding, and ggml's q8_0 uses blocks of 32, ties
 * away from zero and an f16 scale: ties are measure-zero for real activations,
 * so the choice matters only for hand-made inputs. A non-finite value in a
 * block makes its scale, and so the whole block, NaN.
 */
export function quantizeInt8(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  opts: Int8Options = {},
): Int8Quantized {
  const block = opts.block ?? cols;
  const ties = opts.ties ?? 'even';
  if (x.length !== rows * cols)
    throw new RangeError(`quantizeInt8: ${x.length} values for [${rows}, ${cols}]`);
  if (!(Number.isInteger(block) && block > 0 && cols % block === 0))
    throw new RangeError(`quantizeInt8: block ${block} does not divide the row length ${cols}`);
  const perRow = cols / block;
  const q = new Int8Array(rows * cols);
  const scales = new Float32Array(rows * perRow);
  const dequantized = new Float64Array(rows * cols);
  for (let b = 0; b < rows * perRow; b++) {
    const off = b * block;
    let amax = 0;
    for (let i = 0; i < block; i++) {
      const v = Math.abs(x[off + i]);
      amax = v > amax || Number.isNaN(v) ? v : amax;
      if (Number.isNaN(v)) break;
    }
    const s = Math.fround(amax / 127);
    scales[b] = s;
    for (let i = 0; i < block; i++) {
      let qi = 0;
      if (!Number.isFinite(s)) {
        dequantized[off + i] = Number.NaN;
        continue;
      }
      if (s > 0) qi = Math.max(-127, Math.min(127, roundTies(Math.fround(x[off + i] / s), ties)));
      q[off + i] = qi;
      dequantized[off + i] = qi * s;
    }
  }
  return { q, scales, block, dequantized };
}

/**
 * The magnitude a q8 tier bound needs (tiers.ts, TIERS.q8): per output
 * element Σ_j amax_{block(j)}·|w_j|, the amax of the activation block that
 * holds x_j, since an activation quantized in steps of amax/127 carries an
 * error of up to amax/254 whatever its own size. x is [M, K], w is [N, K];
 * block = 32 for ggml's q8_0/q8_1, 256 for q8_K, K for per-row scales.
 */
export function quantizationMagnitude(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
  block: number,
): Float64Array {
  if (!(Number.isInteger(block) && block > 0 && K % block === 0))
    throw new RangeError(`quantizationMagnitude: block ${block} does not divide K = ${K}`);
  const nb = K / block;
  const amax = new Float64Array(M * nb);
  for (let m = 0; m < M; m++)
    for (let b = 0; b < nb; b++) {
      let a = 0;
      for (let i = 0; i < block; i++) a = Math.max(a, Math.abs(x[m * K + b * block + i]));
      amax[m * nb + b] = a;
    }
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let b = 0; b < nb; b++) {
        let wsum = 0;
        for (let i = 0; i < block; i++) wsum += Math.abs(w[n * K + b * block + i]);
        s += amax[m * nb + b] * wsum;
      }
      out[m * N + n] = s;
    }
  return out;
}
