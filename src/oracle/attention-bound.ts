/**
 * Error bounds of plumbline's attention kernels against the float64
 * reference (backends/reference/attention.ts), derived from their precision,
 * never tuned. Notation for one output row: n visible kv positions, true scores
 * s_j, m = max s_j, weights w_j = softmax(s)_j, u = 2^-24 (f32), u_h = 2^-11
 * (f16), ε_e = EXP_REL_ERROR, and per output element d:
 *   M_d = Σ w_j|v_jd|,  P_d = Σ w_j|v_jd|(m − s_j),  T_d = Σ w_j|v_jd|·(n − rank_j).
 *
 * 1. Scores: a dot of head_dim terms then ×scale: |ŝ_j − s_j| ≤ E_j with
 *    E_j = γ(hd + 1, u)·scale·Σ_d|q_d k_jd|; ggml with f16 K also rounds Q to
 *    f16 first: + (u_h + u_h·γ)·scale·Σ|q k| + 2^-25·scale·Σ|k| (subnormal
 *    halves). E = max over the row. Perturbed scores move each softmax weight
 *    by a factor within e^{±2E}: (e^{2E} − 1)·M_d.
 * 2. exp and rescaling: every contribution p_j·v_j passes through at most
 *    n_r + 1 exps (its own, then each later rescale factor), each with relative
 *    error ε_e plus u·|argument| for the rounded argument, and n_r + 1 rounded
 *    multiplications. The arguments along one contribution's chain telescope
 *    to m − s_j, so its relative error is ≤ (n_r + 1)(ε_e + u) + u(m − s_j).
 *    Normalizing by l averages the same errors over the weights
 *    (Σ w_k (m − s_k) ≤ ln n), hence 2(n_r + 1)(ε_e + u) + u·ln n on M_d plus
 *    u·P_d. n_r: prefill, blocks of B positions: n_b − 1 with n_b the blocks
 *    the row touches; decode adds its n_c chunks (one exp each, then the
 *    combine's rescales): n_b − 1 + n_c; ggml's per-position online softmax:
 *    n − 1.
 * 3. Accumulation: exact kernels sum n products (plus n_c chunk sums) into O
 *    and l in f32: γ(n + n_r + n_c + 1, u) each, on M_d. ggml: each step
 *    A = round(A + v·vs) and each rescale A = round(A·ms) round relative to
 *    the running |A| ≤ Σ_{k ≤ step} w_k|v_k| (final scaling), so
 *    (2u + 2u_h)·T_d + u·M_d with f16 V (2u·T_d + u·M_d with f32 V), and the
 *    sum S = S·ms + vs costs γ(2n, u).
 * 4. The last step: O / l (exact) one rounding; ggml's A·(1/S) two.
 * 5. Underflow: an exp result below 2^-126 carries an absolute error of at most
 *    ε_e·2^-126 + 2^-150 < 2^-148 instead; with l ≥ 1 that adds
 *    2(n_r + 2)·2^-148·Σ_j|v_jd| to the output and 2^-146 to a softmax weight.
 * First-order terms are collected as ρ_d = R·M_d + u·P_d + A·T_d; products of
 * factors (1 + δ_i) with Σ|δ_i| ≤ X ≤ 1 deviate from 1 by at most
 * Σ|δ_i|·(1 + X), so the bound is ((e^{2E} − 1)·M_d + e^{2E}·ρ_d)·(1 + X).
 */
import type { AttentionStats, ReferenceAttention } from '../backends/reference/attention.js';
import type { AttentionDims } from '../ops/attention.js';
import { gamma, UNIT_ROUNDOFF } from './tiers.js';

const U = UNIT_ROUNDOFF.f32;
const UH = UNIT_ROUNDOFF.f16;
/** Half the smallest positive f16 subnormal: the absolute rounding error below 2^-14. */
const F16_SUBNORMAL_HALF_ULP = 2 ** -25;
/** Absolute error of one exp result below 2^-126: ε_e·2^-126 + 2^-150 (the subnormal rounding) < 2^-148. */
const EXP_UNDERFLOW = 2 ** -148;

/**
 * Relative error of assembly/nn/exp.ts for results ≥ 2^-126: 1.7201 u at worst
 * over every f32 input (test/assembly/exp.test.ts checks a dense sample each
 * run and every input with PLUMBLINE_EXHAUSTIVE=1).
 */
export const EXP_REL_ERROR = 1.75 * U;

/** Which kernel produced the output: assembly/attention's prefill, decode (chunks + combine) or ggml path. */
export type AttentionPath = 'prefill' | 'decode' | 'ggml';

export interface AttentionBoundOptions {
  path: AttentionPath;
  /** kv positions per online-softmax block (prefill and decode). */
  blockSize: number;
  /** kv positions per decode chunk. */
  chunkSize: number;
}

function spans(lo: number, hi: number, size: number): number {
  return Math.floor((hi - 1) / size) - Math.floor(lo / size) + 1;
}

/** Worst score error of one row (step 1). */
function scoreError(dims: AttentionDims, stats: AttentionStats, row: number): number {
  const g = gamma(dims.headDim + 1, U);
  if (dims.numerics === 'ggml' && dims.kvType === 'f16')
    return (UH + g * (1 + UH)) * stats.scoreMagnitude[row] + F16_SUBNORMAL_HALF_ULP * stats.keyMagnitude[row];
  return g * stats.scoreMagnitude[row];
}

/** Per-element bound on |out − reference.out| ([n_q, n_head·head_dim]). */
export function attentionOutputBound(
  ref: ReferenceAttention,
  dims: AttentionDims,
  opts: AttentionBoundOptions,
): Float64Array {
  const { stats } = ref;
  const { nQ, nHead, headDim: hd } = dims;
  const bound = new Float64Array(ref.out.length);
  const f16Acc = dims.kvType === 'f16';
  for (let i = 0; i < nQ; i++) {
    for (let h = 0; h < nHead; h++) {
      const row = i * nHead + h;
      const lo = stats.lo[row];
      const hi = stats.hi[row];
      const n = hi - lo;
      if (n <= 0) continue; // the output must be exactly zero
      const E = scoreError(dims, stats, row);
      let R: number;
      let A = 0;
      let nr: number;
      if (opts.path === 'ggml') {
        nr = n - 1;
        R = 2 * (nr + 1) * (EXP_REL_ERROR + U) + U * Math.log(n) + gamma(2 * n, U) + U + 2 * U;
        A = f16Acc ? 2 * U + 2 * UH : 2 * U;
      } else {
        const nb = spans(lo, hi, opts.blockSize);
        const nc = opts.path === 'decode' ? spans(lo, hi, opts.chunkSize) : 0;
        nr = nb - 1 + nc;
        const g = gamma(n + nr + nc + 1, U);
        R = 2 * (nr + 1) * (EXP_REL_ERROR + U) + U * Math.log(n) + 2 * g + U;
      }
      const X = 2 * E + R + A * n;
      const e2 = Math.exp(2 * E);
      for (let d = 0; d < hd; d++) {
        const o = i * nHead * hd + h * hd + d;
        const M = stats.magnitude[o];
        const rho = R * M + U * stats.spread[o] + A * stats.tail[o];
        bound[o] = ((e2 - 1) * M + e2 * rho) * (1 + X) + 2 * (nr + 2) * EXP_UNDERFLOW * stats.absSum[o];
      }
    }
  }
  return bound;
}

/** Per-element bound on |scores − reference.scores| ([n_head, n_q, n_kv]); needs the reference's scores. */
export function attentionScoresBound(ref: ReferenceAttention, dims: AttentionDims): Float64Array {
  const sem = ref.stats.scoreElementMagnitude;
  if (!sem) throw new Error('the reference was computed without scores or softmax');
  const { nQ, nHead, nKv } = dims;
  const bound = new Float64Array(sem.length);
  const g = gamma(dims.headDim + 1, U);
  const ggml16 = dims.numerics === 'ggml' && dims.kvType === 'f16';
  for (let h = 0; h < nHead; h++) {
    for (let i = 0; i < nQ; i++) {
      const row = i * nHead + h;
      for (let j = 0; j < nKv; j++) {
        const e = (h * nQ + i) * nKv + j;
        bound[e] = ggml16
          ? (UH + g * (1 + UH)) * sem[e] + F16_SUBNORMAL_HALF_ULP * ref.stats.keyMagnitude[row]
          : g * sem[e];
      }
    }
  }
  return bound;
}

/**
 * Per-element bound on |softmax − reference.softmax|: w_j·((e^{2E} − 1) +
 * e^{2E}·(2ε_e + u·(m − s_j) + u·ln n + γ(n) + u))·(1 + X), with
 * m − s_j ≤ −ln w_j (l ≥ 1). Masked entries must be exactly 0.
 */
export function attentionSoftmaxBound(ref: ReferenceAttention, dims: AttentionDims): Float64Array {
  const w = ref.softmax;
  if (!w) throw new Error('the reference was computed without softmax');
  const { nQ, nHead, nKv } = dims;
  const bound = new Float64Array(w.length);
  for (let h = 0; h < nHead; h++) {
    for (let i = 0; i < nQ; i++) {
      const row = i * nHead + h;
      const n = ref.stats.hi[row] - ref.stats.lo[row];
      if (n <= 0) continue;
      const E = scoreError(dims, ref.stats, row);
      const base = 2 * EXP_REL_ERROR + U * Math.log(n) + gamma(n, U) + U;
      const e2 = Math.exp(2 * E);
      for (let j = ref.stats.lo[row]; j < ref.stats.hi[row]; j++) {
        const e = (h * nQ + i) * nKv + j;
        const rel = base + (w[e] > 0 ? U * -Math.log(w[e]) : 0);
        const X = 2 * E + rel;
        bound[e] = w[e] * (e2 - 1 + e2 * rel) * (1 + X) + 4 * EXP_UNDERFLOW;
      }
    }
  }
  return bound;
}
