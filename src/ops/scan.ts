/**
 * Linear recurrence (a diagonal linear scan) over time:
 *
 *   h_t = a_t ⊙ h_{t−1} + b_t,   t = 0 … T−1,   h_{−1} = h0 (zeros if absent)
 *
 * a, b: [T, D] f32, h0: [D] f32; the result is every h_t, [T, D]. In f32
 * each step is one multiply and one add, each rounded to nearest even (never
 * fused): that is the sequential scan, the semantics every kernel is held to.
 *
 * What is bit-identical, and what is within the f32 tier:
 * - The sequential kernel gives the same bits for any split of the channels
 *   across calls or workers (channels are independent; SIMD lanes and scalar
 *   tails do the same two roundings).
 * - The chunked scan (chunk length L, fixed by the problem sizes, never by the
 *   worker count) gives the same bits for any split of chunks or channels;
 *   its first chunk (rows [0, L)) is bit-identical to the sequential scan, and
 *   with L ≥ T all of it is. Later chunks start from a carry computed as
 *   H_c = E_c + (Π a over chunk c)·H_{c−1}: the products of a's reassociate,
 *   so from row L on it is not bit-identical to the sequential scan.
 * - Both are within the f32 bound of the exact result: h_t = Σ_s (Π_{s<k≤t} a_k)·b_s
 *   + (Π_{k≤t} a_k)·h0 is a sum of products, and each computed term carries at
 *   most n_t = 2t + 3 roundings along its path (sequential: a multiply and an
 *   add per step, ≤ 2(t − s) + 1; chunked: the local scan, the add into the
 *   carry, L − 1 roundings of the chunk product plus its multiply and add per
 *   chunk crossed — L + 1 ≤ 2L — and the re-run of the last chunk), so
 *   |ĥ_t − h_t| ≤ γ(2t + 3, 2^−24)·m_t + (2t + 3)·2^−149, with the magnitude
 *   m_t = |a_t|·m_{t−1} + |b_t|, m_{−1} = |h0| (the same sum with every term
 *   taken in absolute value), and the absolute term for roundings in the
 *   subnormal range. The reference (src/backends/reference/scan.ts) returns
 *   h and m in float64.
 * - The WebGPU kernels (src/backends/webgpu/ops/scan.ts) do the same roundings
 *   with WGSL's arithmetic: 1 ULP each (u = 2^-23) and subnormals that may
 *   flush (2^-126 per rounding instead of 2^-149).
 */
import { ShapeError } from '../errors.js';
import { CPU_F32, type F32Arithmetic } from '../oracle/arithmetic.js';
import { gamma } from '../oracle/tiers.js';
import { f32Rows, type OpOperand, requireSameShape } from './operand.js';

export interface ScanShape {
  T: number;
  D: number;
}

/** Checks a, b ([T, D] f32) and h0 ([D] f32, optional). */
export function validateScan(a: OpOperand, b: OpOperand, h0?: OpOperand): ScanShape {
  if (a.shape.length !== 2) throw new ShapeError(`scan: a must be [T, D], got [${a.shape}]`);
  const { rows: T, dim: D } = f32Rows('scan', 'a', a);
  f32Rows('scan', 'b', b);
  requireSameShape('scan', a, 'a', b, 'b');
  if (h0) {
    f32Rows('scan', 'h0', h0);
    if (h0.shape.length !== 1 || h0.shape[0] !== D)
      throw new ShapeError(`scan: h0 must be [${D}], got [${h0.shape}]`);
  }
  return { T, D };
}

/** Roundings along any term's path to h_t (see the file comment). */
export function scanRoundings(t: number): number {
  return 2 * t + 3;
}

/**
 * The f32 bound on |ĥ_t − h_t| for step t with magnitude m_t (sequential and
 * chunked): per rounding u relative, and absolute a subnormal ULP or a flush.
 */
export function linearScanBound(t: number, magnitude: number, arith: F32Arithmetic = CPU_F32): number {
  const n = scanRoundings(t);
  return gamma(n, arith.u) * magnitude + n * Math.max(2 ** -149, arith.flush);
}

/** Chunks of the chunked scan: a function of T alone, so results never depend on the worker count. */
export const SCAN_CHUNKS = 64;

/** The chunk length L for T rows: ⌈T / SCAN_CHUNKS⌉ (≥ 1). */
export function scanChunkLength(T: number): number {
  return Math.max(1, Math.ceil(T / SCAN_CHUNKS));
}
