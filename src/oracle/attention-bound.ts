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
 *
 * The WebGPU kernels (src/backends/webgpu/wgsl/attention.ts) follow the same
 * derivation with WGSL's arithmetic (./arithmetic.ts WGSL_F32):
 * - exp is within (3 + 2|x|) ULP: along one contribution's chain of n_r + 1
 *   exps the arguments telescope to m − s_j, so the chain costs
 *   (n_r + 1)·3 ULP + 2 ULP·(m − s_j) (with the argument's own rounding,
 *   (2 ULP + u)(m − s_j)); normalizing by l averages that to (2 ULP + u)·ln n
 *   — the CPU's u·P_d and u·ln n with the slope expGrowth + u;
 * - the final O / l is a 2.5-ULP division;
 * - accumulation: a product passes at most ATTN_BLOCK additions inside its
 *   block, then per later block one rescale and one addition, and per chunk
 *   (decode) one scaling and one addition: γ(B + 2n_b + 2n_c + 4, u), where
 *   blocks start at the row's first visible position or at its chunk's start;
 * - subnormals may flush: an exp result below 2^-126 is off by up to 2^-125
 *   absolute; products in the score dots by 2^-126 each;
 * - the weights kernel sums exp(s − m) in a row tree: γ(depth) for γ(n).
 */
import type { ReferenceAttention } from '../backends/reference/attention.js';
import { ATTN_BLOCK, ATTN_CHUNK } from '../backends/webgpu/wgsl/attention.js';
import { rowSumDepth } from '../backends/webgpu/wgsl/nn-common.js';
import type { AttentionDims } from '../ops/attention.js';
import { CPU_F32, type F32Arithmetic, WGSL_F32 } from './arithmetic.js';
import { gamma, UNIT_ROUNDOFF } from './tiers.js';

const UH = UNIT_ROUNDOFF.f16;
/** Half the smallest positive f16 subnormal: the absolute rounding error below 2^-14. */
const F16_SUBNORMAL_HALF_ULP = 2 ** -25;

/** Which kernel produced the output: assembly/attention's prefill, decode (chunks + combine) or ggml path. */
export type AttentionPath = 'prefill' | 'decode' | 'ggml';
export type GpuAttentionPath = 'prefill' | 'decode';

export interface AttentionBoundOptions {
  path: AttentionPath;
  /** kv positions per online-softmax block (prefill and decode). */
  blockSize: number;
  /** kv positions per decode chunk. */
  chunkSize: number;
}

/** One kernel's arithmetic and order: what the shared derivation needs to know about it. */
interface AttentionKernel {
  arith: F32Arithmetic;
  /** ggml with f16 K: Q rounded to f16 before the score dot. */
  f16Scores: boolean;
  /** One output row over kv [lo, hi): rescales n_r, relative error R on M_d, A on T_d (steps 2–4). */
  row(lo: number, hi: number): { nr: number; R: number; A: number };
  /** Depth of the weights kernel's sum over n exps (γ's n). */
  sumDepth(n: number): number;
}

/** R of an online softmax with n_r rescales whose accumulation rounds `roundings` times (steps 2–4). */
function onlineSoftmaxError(a: F32Arithmetic, n: number, nr: number, roundings: number): number {
  const g = gamma(roundings, a.u);
  return 2 * (nr + 1) * (a.exp0 + a.u) + (a.expGrowth + a.u) * Math.log(n) + 2 * g + a.div;
}

function spans(lo: number, hi: number, size: number): number {
  return Math.floor((hi - 1) / size) - Math.floor(lo / size) + 1;
}

function wasmKernel(dims: AttentionDims, opts: AttentionBoundOptions): AttentionKernel {
  const f16 = dims.kvType === 'f16';
  const a = CPU_F32;
  const U = a.u;
  const row = (lo: number, hi: number) => {
    const n = hi - lo;
    if (opts.path === 'ggml') {
      const nr = n - 1;
      const R = 2 * (nr + 1) * (a.exp0 + U) + U * Math.log(n) + gamma(2 * n, U) + U + 2 * U;
      return { nr, R, A: f16 ? 2 * U + 2 * UH : 2 * U };
    }
    const nb = spans(lo, hi, opts.blockSize);
    const nc = opts.path === 'decode' ? spans(lo, hi, opts.chunkSize) : 0;
    const nr = nb - 1 + nc;
    return { nr, R: onlineSoftmaxError(a, n, nr, n + nr + nc + 1), A: 0 };
  };
  return { arith: a, f16Scores: dims.numerics === 'ggml' && f16, row, sumDepth: (n) => n };
}

/** Blocks and chunks a GPU row over kv positions [lo, hi) touches. */
function gpuBlocks(lo: number, hi: number, path: GpuAttentionPath): { nb: number; nc: number } {
  if (path === 'prefill') return { nb: Math.ceil((hi - lo) / ATTN_BLOCK), nc: 0 };
  let nb = 0;
  let nc = 0;
  for (let c = Math.floor(lo / ATTN_CHUNK); c * ATTN_CHUNK < hi; c++) {
    const a = Math.max(lo, c * ATTN_CHUNK);
    const b = Math.min(hi, (c + 1) * ATTN_CHUNK);
    nb += Math.ceil((b - a) / ATTN_BLOCK);
    nc++;
  }
  return { nb, nc };
}

function gpuKernel(path: GpuAttentionPath): AttentionKernel {
  const row = (lo: number, hi: number) => {
    const { nb, nc } = gpuBlocks(lo, hi, path);
    const nr = nb - 1 + nc;
    return { nr, R: onlineSoftmaxError(WGSL_F32, hi - lo, nr, ATTN_BLOCK + 2 * nb + 2 * nc + 4), A: 0 };
  };
  return { arith: WGSL_F32, f16Scores: false, row, sumDepth: rowSumDepth };
}

/** The wasm kernels as the scores and weights bounds see them (rows' accumulation unused). */
const cpuScores = (dims: AttentionDims) => wasmKernel(dims, { path: 'ggml', blockSize: 1, chunkSize: 1 });

/** Score error of one row or element with magnitude scale·Σ|q k| (step 1); flushed products where they may flush. */
function scoreError(
  k: AttentionKernel,
  dims: AttentionDims,
  scoreMagnitude: number,
  keyMagnitude: number,
): number {
  const { u, flush } = k.arith;
  const g = gamma(dims.headDim + 1, u);
  if (k.f16Scores) return (UH + g * (1 + UH)) * scoreMagnitude + F16_SUBNORMAL_HALF_ULP * keyMagnitude;
  return g * scoreMagnitude + (dims.headDim + 2) * flush * Math.max(dims.scale, 1);
}

function outputBound(ref: ReferenceAttention, dims: AttentionDims, k: AttentionKernel): Float64Array {
  const { stats } = ref;
  const { nQ, nHead, headDim: hd } = dims;
  const a = k.arith;
  const slope = a.expGrowth + a.u;
  const bound = new Float64Array(ref.out.length);
  for (let i = 0; i < nQ; i++) {
    for (let h = 0; h < nHead; h++) {
      const row = i * nHead + h;
      const lo = stats.lo[row];
      const hi = stats.hi[row];
      const n = hi - lo;
      if (n <= 0) continue; // the output must be exactly zero
      const E = scoreError(k, dims, stats.scoreMagnitude[row], stats.keyMagnitude[row]);
      const { nr, R, A } = k.row(lo, hi);
      const X = A ? 2 * E + R + A * n : 2 * E + R;
      const e2 = Math.exp(2 * E);
      for (let d = 0; d < hd; d++) {
        const o = i * nHead * hd + h * hd + d;
        const M = stats.magnitude[o];
        const rho = R * M + slope * stats.spread[o] + (A ? A * stats.tail[o] : 0);
        bound[o] = ((e2 - 1) * M + e2 * rho) * (1 + X) + 2 * (nr + 2) * a.expUnderflow * stats.absSum[o];
      }
    }
  }
  return bound;
}

function scoresBound(ref: ReferenceAttention, dims: AttentionDims, k: AttentionKernel): Float64Array {
  const sem = ref.stats.scoreElementMagnitude;
  if (!sem) throw new Error('the reference was computed without scores or softmax');
  const { nQ, nHead, nKv } = dims;
  const bound = new Float64Array(sem.length);
  for (let h = 0; h < nHead; h++)
    for (let i = 0; i < nQ; i++)
      for (let j = 0; j < nKv; j++) {
        const e = (h * nQ + i) * nKv + j;
        bound[e] = scoreError(k, dims, sem[e], ref.stats.keyMagnitude[i * nHead + h]);
      }
  return bound;
}

/**
 * |softmax − reference.softmax| (the weights kernel: max, Σ exp(s − m), exp(s − m)/l):
 * w_j·((e^{2E} − 1) + e^{2E}·ρ_j)·(1 + X), ρ_j = 2ε_e(0) + slope·((m − s_j) + ln n) + γ(depth) + div,
 * with m − s_j ≤ −ln w_j (l ≥ 1). Masked entries must be exactly 0.
 */
function softmaxBound(ref: ReferenceAttention, dims: AttentionDims, k: AttentionKernel): Float64Array {
  const w = ref.softmax;
  if (!w) throw new Error('the reference was computed without softmax');
  const { nQ, nHead, nKv } = dims;
  const a = k.arith;
  const slope = a.expGrowth + a.u;
  const bound = new Float64Array(w.length);
  for (let h = 0; h < nHead; h++) {
    for (let i = 0; i < nQ; i++) {
      const row = i * nHead + h;
      const n = ref.stats.hi[row] - ref.stats.lo[row];
      if (n <= 0) continue;
      const E = scoreError(k, dims, ref.stats.scoreMagnitude[row], ref.stats.keyMagnitude[row]);
      const base = 2 * a.exp0 + slope * Math.log(n) + gamma(k.sumDepth(n), a.u) + a.div;
      const e2 = Math.exp(2 * E);
      for (let j = ref.stats.lo[row]; j < ref.stats.hi[row]; j++) {
        const e = (h * nQ + i) * nKv + j;
        const rel = base + (w[e] > 0 ? slope * -Math.log(w[e]) : 0);
        const X = 2 * E + rel;
        bound[e] = w[e] * (e2 - 1 + e2 * rel) * (1 + X) + 4 * a.expUnderflow;
      }
    }
  }
  return bound;
}

/** Per-element bound on |out − reference.out| ([n_q, n_head·head_dim]) of the wasm kernels. */
export function attentionOutputBound(
  ref: ReferenceAttention,
  dims: AttentionDims,
  opts: AttentionBoundOptions,
): Float64Array {
  return outputBound(ref, dims, wasmKernel(dims, opts));
}

/** Per-element bound on |scores − reference.scores| ([n_head, n_q, n_kv]); needs the reference's scores. */
export function attentionScoresBound(ref: ReferenceAttention, dims: AttentionDims): Float64Array {
  return scoresBound(ref, dims, cpuScores(dims));
}

/** Per-element bound on |softmax − reference.softmax| of the wasm kernels. */
export function attentionSoftmaxBound(ref: ReferenceAttention, dims: AttentionDims): Float64Array {
  return softmaxBound(ref, dims, cpuScores(dims));
}

/** The WebGPU kernels' bound on |out − reference.out|. */
export function attentionOutputGpuBound(
  ref: ReferenceAttention,
  dims: AttentionDims,
  path: GpuAttentionPath,
): Float64Array {
  return outputBound(ref, dims, gpuKernel(path));
}

/** The WebGPU kernels' bound on |scores − reference.scores|. */
export function attentionScoresGpuBound(ref: ReferenceAttention, dims: AttentionDims): Float64Array {
  return scoresBound(ref, dims, gpuKernel('prefill'));
}

/** The WebGPU weights kernel's bound on |softmax − reference.softmax|. */
export function attentionSoftmaxGpuBound(ref: ReferenceAttention, dims: AttentionDims): Float64Array {
  return softmaxBound(ref, dims, gpuKernel('prefill'));
}
