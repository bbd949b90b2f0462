/**
 * Error bounds of the WebGPU attention kernels (src/backends/webgpu/wgsl/
 * attention.ts) against the float64 reference: the derivation of
 * attention-bound.ts (read it first) with WGSL's accuracy in place of the
 * wasm kernels', never tuned:
 * - + − × round either way (WGSL fixes no rounding mode): u = 2^-23, one ULP;
 * - exp is within (3 + 2|x|) ULP: along one contribution's chain of n_r + 1
 *   exps the arguments telescope to m − s_j, so the chain costs
 *   (n_r + 1)·3 ULP + 2 ULP·(m − s_j) (with the argument's own rounding,
 *   (2 ULP + u)(m − s_j)); normalizing by l averages that to (2 ULP + u)·ln n;
 * - the final O / l is a 2.5-ULP division;
 * - accumulation: a product passes at most ATTN_BLOCK additions inside its
 *   block, then per later block one rescale and one addition, and per chunk
 *   (decode) one scaling and one addition: γ(B + 2n_b + 2n_c + 4, u);
 * - subnormals may flush: an exp result below 2^-126 is off by up to 2^-125
 *   absolute; products in the score dots by 2^-126 each.
 * n_b counts the online-softmax blocks a row touches (blocks start at the
 * row's first visible position, or at its chunk's start); n_r = n_b − 1
 * rescales (+ n_c for the decode combine).
 */
import type { ReferenceAttention } from '../backends/reference/attention.js';
import { ATTN_BLOCK, ATTN_CHUNK } from '../backends/webgpu/wgsl/attention.js';
import { rowSumDepth } from '../backends/webgpu/wgsl/nn-common.js';
import { WGSL_ULP } from '../backends/webgpu/wgsl/numerics.js';
import type { AttentionDims } from '../ops/attention.js';
import { gamma } from './tiers.js';

/**
 * One + − × (WGSL fixes no rounding mode: a result may round up or down, so
 * 1 ULP, 2^-23 relative — not round-to-nearest's 2^-24).
 */
const U = WGSL_ULP;
/** One ULP of a result, relative (the unit of WGSL's exp and division accuracy). */
const ULP = WGSL_ULP;
const FTZ = 2 ** -125;
/** exp's relative error at argument 0 (3 ULP), per exp in a chain. */
const EXP0 = 3 * ULP;
/** Per unit of |argument|: 2 ULP from exp, one rounding of the argument. */
const EXP_SLOPE = 2 * ULP + U;
const DIV = 2.5 * ULP;

export type GpuAttentionPath = 'prefill' | 'decode';

/** Score error of one row: the f32 dot and scale, plus flushed products. */
function scoreError(dims: AttentionDims, scoreMagnitude: number): number {
  return (
    gamma(dims.headDim + 1, U) * scoreMagnitude + (dims.headDim + 2) * 2 ** -126 * Math.max(dims.scale, 1)
  );
}

/** Blocks and chunks a row over kv positions [lo, hi) touches. */
function blocksOf(lo: number, hi: number, path: GpuAttentionPath): { nb: number; nc: number } {
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

/** Per-element bound on |out − reference.out| ([n_q, n_head·head_dim]). */
export function attentionOutputGpuBound(
  ref: ReferenceAttention,
  dims: AttentionDims,
  path: GpuAttentionPath,
): Float64Array {
  const { stats } = ref;
  const { nQ, nHead, headDim: hd } = dims;
  const bound = new Float64Array(ref.out.length);
  for (let i = 0; i < nQ; i++) {
    for (let h = 0; h < nHead; h++) {
      const row = i * nHead + h;
      const lo = stats.lo[row];
      const hi = stats.hi[row];
      const n = hi - lo;
      if (n <= 0) continue; // exactly zero
      const E = scoreError(dims, stats.scoreMagnitude[row]);
      const { nb, nc } = blocksOf(lo, hi, path);
      const nr = nb - 1 + nc;
      const g = gamma(ATTN_BLOCK + 2 * nb + 2 * nc + 4, U);
      const R = 2 * (nr + 1) * (EXP0 + U) + EXP_SLOPE * Math.log(n) + 2 * g + DIV;
      const X = 2 * E + R;
      const e2 = Math.exp(2 * E);
      for (let d = 0; d < hd; d++) {
        const o = i * nHead * hd + h * hd + d;
        const M = stats.magnitude[o];
        const rho = R * M + EXP_SLOPE * stats.spread[o];
        bound[o] = ((e2 - 1) * M + e2 * rho) * (1 + X) + 2 * (nr + 2) * FTZ * stats.absSum[o];
      }
    }
  }
  return bound;
}

/** Per-element bound on |scores − reference.scores|. */
export function attentionScoresGpuBound(ref: ReferenceAttention, dims: AttentionDims): Float64Array {
  const sem = ref.stats.scoreElementMagnitude;
  if (!sem) throw new Error('the reference was computed without scores or softmax');
  return Float64Array.from(sem, (m) => scoreError(dims, m));
}

/**
 * Per-element bound on |softmax − reference.softmax| (the weights kernel:
 * max, Σ exp(s − m) in a row tree, exp(s − m)/l): w_j·((e^{2E} − 1) +
 * e^{2E}·ρ_j)·(1 + X), ρ_j = 2·6u + 5u(m − s_j) + 5u·ln n + γ(depth) + 5u,
 * m − s_j ≤ −ln w_j. Masked entries must be exactly 0.
 */
export function attentionSoftmaxGpuBound(ref: ReferenceAttention, dims: AttentionDims): Float64Array {
  const w = ref.softmax;
  if (!w) throw new Error('the reference was computed without softmax');
  const { nQ, nHead, nKv } = dims;
  const bound = new Float64Array(w.length);
  for (let h = 0; h < nHead; h++) {
    for (let i = 0; i < nQ; i++) {
      const row = i * nHead + h;
      const n = ref.stats.hi[row] - ref.stats.lo[row];
      if (n <= 0) continue;
      const E = scoreError(dims, ref.stats.scoreMagnitude[row]);
      const base = 2 * EXP0 + EXP_SLOPE * Math.log(n) + gamma(rowSumDepth(n), U) + DIV;
      const e2 = Math.exp(2 * E);
      for (let j = ref.stats.lo[row]; j < ref.stats.hi[row]; j++) {
        const e = (h * nQ + i) * nKv + j;
        const rel = base + (w[e] > 0 ? EXP_SLOPE * -Math.log(w[e]) : 0);
        const X = 2 * E + rel;
        bound[e] = w[e] * (e2 - 1 + e2 * rel) * (1 + X) + 4 * FTZ;
      }
    }
  }
  return bound;
}
