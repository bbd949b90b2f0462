/**
 * Error bounds of the wasm MoE routing kernel (assembly/moe/route.ts) against
 * the float64 reference (src/backends/reference/moe.ts), derived from its
 * arithmetic, never tuned. u = 2^-24, ε_e = EXP_REL_ERROR (f32 exp).
 *
 * Selection values: softmax schemes select on the logits themselves (exact,
 * δ = 0: the kernel must pick the reference's experts bit for bit, ties
 * included). Sigmoid: σ̃ = 1/(1 + exp(−l)) has relative error ≤ ε_e + 2u (exp,
 * the add, the division), the bias add one more rounding:
 * δ_i = (ε_e + 2u)·σ_i + u·|s_i| + 2^-126 (exp's clamp at 89 and subnormals).
 * A group score (sum of the top-2) is off by at most 2·max δ in its group
 * plus the rounding of the sum.
 *
 * Weights, relative error ρ_j of expert j's probability:
 * - softmax over E logits, m = max: ε_j = ε_e + u·|l_j − m| (the f32
 *   subtraction, then exp); the f64 denominator carries A = Σ p_i·ε_i;
 *   f32(1/Σ) and the product two roundings: ρ_j = ε_j + A + 2u.
 * - top-k then softmax: the same over the k selected logits.
 * - sigmoid: ρ_j = ε_e + 2u.
 * Normalization (f64 sum and factor, one f32 rounding): ρ_j + max_s ρ_s + u;
 * scaling alone: + u. The bound is first order, times (1 + 2^-16) for the
 * products of two errors (valid while every ρ < 2^-16, i.e. logit spreads
 * below ~200), plus an absolute 2^-148·2^14·scale for results in the
 * subnormal range.
 *
 * The WebGPU kernel (src/backends/webgpu/wgsl/moe.ts) is the same derivation
 * with WGSL's arithmetic (./arithmetic.ts WGSL_F32: v = 2^-23, ε_e(x) =
 * (3 + 2|x|)·v, division 2.5v, flushed subnormals 2^-126) and f32 sums (any
 * order: γ(n − 1, v)) where the wasm kernel sums in f64:
 * - sigmoid: δ_i = (ε_e(l_i) + 3.5v)·σ_i + v·|s_i| + 2^-126;
 * - softmax: ε_j = ε_e(l_j − m) + v·|l_j − m|, A = Σ p_i·ε_i + γ(n − 1, v),
 *   ρ_j = ε_j + A + 2.5v; sigmoid ρ_j = ε_e(l_j) + 3.5v;
 * - normalization (f32 sum of k, one division): ρ_j + max ρ + γ(k − 1, v) +
 *   2.5v; the scale product + v. Times (1 + 4·max ρ) for the products of
 *   errors, plus 2^-126·2^15·max(scale, 1) for flushed subnormals (a flushed
 *   value divided by a normalizer ≥ 2^-14, then scaled).
 */
import { referenceGroupScores, referenceSelectionValues, topIndices } from '../backends/reference/moe.js';
import {
  type ReferenceFfnWeights,
  type ReferenceSharedExpert,
  referenceSharedGate,
} from '../backends/reference/moe-dispatch.js';
import { moeKernelPath } from '../backends/wasm/moe.js';
import { NN_MAX_ULP } from '../backends/wasm/nn.js';
import type { MoeRoutePlan, MoeRouteResult } from '../ops/moe-route.js';
import { CPU_F32, type F32Arithmetic, WGSL_F32 } from './arithmetic.js';
import { gamma, TIERS } from './tiers.js';

const U = CPU_F32.u;
const F64 = 2 ** -53;
const SECOND_ORDER = 1 + 2 ** -16;

type Vec = ArrayLike<number>;

/** A routing kernel: its arithmetic, and how it sums, divides and normalizes the probabilities. */
interface MoeRouteKernel {
  arith: F32Arithmetic;
  /** Relative error of the softmax denominator's sum of n terms (wasm: f64; WebGPU: f32, any order). */
  sumError(n: number): number;
  /** The factor covering products of errors, for relative errors up to rel. */
  secondOrder(rel: number): number;
  /** Relative error of weight j after the normalization and scaling, from its probability's r and the worst. */
  weight(r: number, worst: number, k: number, normalize: boolean, scale: number): number;
  /** Relative error of p_j = e_j/Σ: f32(1/Σ) and the product (wasm), or one division (WebGPU). */
  quotient: number;
  /** Absolute term of a weight (results in the subnormal range) at the plan's scale. */
  atol(scale: number): number;
}

const WASM_ROUTE: MoeRouteKernel = {
  arith: CPU_F32,
  sumError: (n) => n * F64,
  secondOrder: () => SECOND_ORDER,
  quotient: 2 * U,
  // f64 normalization and scale, one f32 rounding.
  weight: (r, worst, k, normalize, scale) =>
    (normalize ? r + worst + U + (k + 3) * F64 : r + (scale !== 1 ? U : 0)) * SECOND_ORDER,
  atol: (scale) => 2 ** -148 * 2 ** 14 * Math.max(scale, 1),
};

const V = WGSL_F32.u;
const GPU_ROUTE: MoeRouteKernel = {
  arith: WGSL_F32,
  sumError: (n) => gamma(n - 1, V),
  secondOrder: (rel) => 1 + 4 * rel,
  quotient: WGSL_F32.div,
  weight: (r, worst, k, normalize, scale) => {
    let rel = normalize ? r + worst + gamma(k - 1, V) + WGSL_F32.div : r;
    if (scale !== 1) rel += V;
    return rel * (1 + 4 * (worst + 4 * V));
  },
  atol: (scale) => WGSL_F32.flush * 2 ** 15 * Math.max(scale, 1),
};

/** Relative error of σ(l) = 1/(1 + exp(−l)): exp, the add, the division. */
const sigmoidError = (a: F32Arithmetic, l: number) => a.expError(l) + (a.u + a.div);

/** δ_i: how far the kernel's selection value of each expert can be from the reference's. */
function selectionError(kernel: MoeRouteKernel, row: Vec, plan: MoeRoutePlan): Float64Array {
  const d = new Float64Array(plan.experts);
  if (plan.gating !== 'sigmoid') return d;
  const a = kernel.arith;
  const s = referenceSelectionValues(row, plan);
  for (let i = 0; i < plan.experts; i++) {
    const sig = 1 / (1 + Math.exp(-row[i]));
    const rel = sigmoidError(a, row[i]);
    // 2^-126: exp's clamp at 89 and subnormals (wasm), a flushed value (WebGPU).
    d[i] = (rel * sig + a.u * Math.abs(s[i])) * kernel.secondOrder(rel) + 2 ** -126;
  }
  return d;
}

/** Relative error of the kernel's probability of each selected expert (before normalization). */
function probabilityError(
  kernel: MoeRouteKernel,
  row: Vec,
  gating: MoeRoutePlan['gating'],
  experts: ArrayLike<number>,
): number[] {
  const a = kernel.arith;
  if (gating === 'sigmoid') return Array.from(experts, (e) => sigmoidError(a, row[e]));
  const over = gating === 'softmax' ? Array.from({ length: row.length }, (_, i) => i) : Array.from(experts);
  const m = Math.max(...over.map((i) => row[i]));
  const eps = (i: number) => a.expError(row[i] - m) + a.u * Math.abs(row[i] - m);
  const e = over.map((i) => Math.exp(row[i] - m));
  const sum = e.reduce((acc, b) => acc + b, 0);
  const A = over.reduce((acc, i, n) => acc + (e[n] / sum) * eps(i), 0) + kernel.sumError(over.length);
  return Array.from(experts, (j) => eps(j) + A + kernel.quotient);
}

function weightBound(
  kernel: MoeRouteKernel,
  row: Vec,
  plan: MoeRoutePlan,
  experts: ArrayLike<number>,
  w: ArrayLike<number>,
): Float64Array {
  // The arithmetic the kernel runs (renormalized softmax as a softmax over the selected logits).
  const path = moeKernelPath(plan);
  const rho = probabilityError(kernel, row, path.gating, experts);
  const worst = Math.max(...rho);
  const atol = kernel.atol(plan.scale);
  return Float64Array.from(rho, (r, j) => {
    const rel = kernel.weight(r, worst, experts.length, path.normalize, plan.scale);
    return rel * Math.abs(w[j]) + atol;
  });
}

/** δ_i of the wasm kernel's selection values (0 for the softmax schemes). */
export const moeSelectionError = (row: Vec, plan: MoeRoutePlan) => selectionError(WASM_ROUTE, row, plan);

/** Per-weight absolute bound |w̃_j − w_j| for the wasm kernel's selected experts; w: the reference weights for them. */
export function moeWeightBound(
  row: Vec,
  plan: MoeRoutePlan,
  experts: ArrayLike<number>,
  w: ArrayLike<number>,
) {
  return weightBound(WASM_ROUTE, row, plan, experts, w);
}

/** The same for the WebGPU kernel. */
export function gpuMoeWeightBound(
  row: Vec,
  plan: MoeRoutePlan,
  experts: ArrayLike<number>,
  w: ArrayLike<number>,
) {
  return weightBound(GPU_ROUTE, row, plan, experts, w);
}

/** A kernel's selection-value error δ_i and the roundoff of its group-score add (another backend's kernel: its own). */
export interface SelectionErrorModel {
  delta: (row: Vec, plan: MoeRoutePlan) => Float64Array;
  roundoff: number;
}

/** The wasm kernel's selection error model (moeSelectionProblems' default). */
export const CPU_MOE_SELECTION: SelectionErrorModel = { delta: moeSelectionError, roundoff: U };
/** The WebGPU kernel's selection error model for moeSelectionProblems. */
export const GPU_MOE_SELECTION: SelectionErrorModel = {
  delta: (row, plan) => selectionError(GPU_ROUTE, row, plan),
  roundoff: V,
};

/**
 * Whether the kernel's selection for one token is explained by its error:
 * softmax schemes must equal the reference exactly; sigmoid schemes may
 * differ only between values within δ_a + δ_b of each other — group scores
 * within their bound of the reference's, no group kept over a clearly better
 * one, every expert from a kept group, none chosen over a clearly better
 * eligible one, listed in an order no clear inversion contradicts.
 * Returns the reasons it is not (empty: explained).
 */
export function moeSelectionProblems(
  row: Vec,
  plan: MoeRoutePlan,
  experts: ArrayLike<number>,
  groupScores: ArrayLike<number> | null,
  reference: ArrayLike<number>,
  kernel: SelectionErrorModel = CPU_MOE_SELECTION,
): string[] {
  const got = Array.from(experts);
  const want = Array.from(reference);
  if (new Set(got).size !== got.length) return [`experts not distinct: ${got}`];
  if (plan.gating !== 'sigmoid')
    return got.every((e, j) => e === want[j]) ? [] : [`experts ${got}, reference ${want}`];
  const problems: string[] = [];
  const s = referenceSelectionValues(row, plan);
  const d = kernel.delta(row, plan);
  const size = plan.experts / plan.nGroup;
  let kept = new Set(Array.from({ length: plan.nGroup }, (_, g) => g));
  if (plan.nGroup > 1) {
    if (!groupScores) return ['no group scores'];
    const G = referenceGroupScores(s, plan);
    const dG = Array.from(G, (g, j) => {
      let m = 0;
      for (let i = j * size; i < (j + 1) * size; i++) m = Math.max(m, d[i]);
      return 2 * m + kernel.roundoff * Math.abs(g);
    });
    for (let g = 0; g < plan.nGroup; g++)
      if (Math.abs(groupScores[g] - G[g]) > dG[g])
        problems.push(`group ${g} score ${groupScores[g]} vs ${G[g]}`);
    kept = new Set(topIndices(Array.from(groupScores), () => true, plan.topkGroup));
    for (const g of kept)
      for (let h = 0; h < plan.nGroup; h++)
        if (!kept.has(h) && G[g] + dG[g] < G[h] - dG[h])
          problems.push(`group ${g} kept over clearly better ${h}`);
  }
  const eligible = (i: number) => kept.has(Math.floor(i / size));
  for (const e of got) if (!eligible(e)) problems.push(`expert ${e} from a group not kept`);
  for (const e of got)
    for (let j = 0; j < plan.experts; j++)
      if (eligible(j) && !got.includes(j) && s[e] + d[e] < s[j] - d[j])
        problems.push(`expert ${e} chosen over clearly better ${j}`);
  for (let p = 0; p + 1 < got.length; p++)
    if (s[got[p]] + d[got[p]] < s[got[p + 1]] - d[got[p + 1]])
      problems.push(`order ${got[p]} before ${got[p + 1]}`);
  return problems;
}

/**
 * Bound of the MoE FFN (wasm: src/backends/wasm/moe-dispatch.ts; WebGPU:
 * src/backends/webgpu/ops/moe-ffn.ts; exact numerics) against
 * referenceMoeFfn, per output element, first order, with the kernel's
 * arithmetic (u; flush: 0 on wasm, 2^-126 per flushed value on WebGPU):
 * - gate and up dots (f32 over D, any order): |δa| ≤ γ_D·Σ|x||W_g| + D·flush, likewise δb;
 * - h = silu(a)·b: |δh| ≤ L·|δa|·|b| + |silu(a)|·|δb| + ε_h(a)·|h| + flush,
 *   L = max|silu′| < 1.1; ε_h: wasm (2·NN_MAX_ULP.silu + 1)·u, WebGPU the engine's
 *   swiglu (exp, an add, a division, at most two products) ε_e(a) + 6v;
 * - down (f32 over F): |δy_d| ≤ Σ_f |δh_f|·|W_df| + γ_F·Σ_f |h_f|·|W_df| + F·flush;
 * - combine (k products, k + 1 sums, f32): Σ_j |w_j|·|δy_j| + γ_{k+2}·(Σ_j |w_j·y_j| + |g·s|);
 * - shared expert: its δs likewise, times g; its gate g = sigmoid(z): wasm an f64
 *   dot rounded to f32, |δg| ≤ g(1 − g)·u·|z| + u·g (the sigmoid rounded once)
 *   and g·s one more rounding; WebGPU an f32 dot, |δg| ≤ g(1 − g)·(γ_D·Σ|x||g_in|
 *   + D·flush) + (ε_e(z) + 3.5v)·g.
 * ggml numerics (`quantBlock` set): the activations of each matmul (x, then
 * h) are quantized in blocks of quantBlock values, |x̂ − x| ≤ q·amax of the
 * block (q = TIERS.q8.operandError: the 8-bit step and the f16 scale), which
 * adds Σ q·amax·|W| to the dot's error and to its magnitude. That holds for
 * weight types whose ggml dot has no separate min term (q8_0, q4_0, q5_0,
 * iq4_nl); with a min term (q4_1, k-quants) the partial sums can exceed
 * Σ|x̂||ŵ| and this magnitude is not a bound.
 * Times (1 + 2^-10) for products of two errors (each relative term < 2^-11
 * in the tested sizes), plus 2^-140 (wasm) or 2^-120 (WebGPU) for results in
 * the subnormal range.
 */
interface MoeFfnKernel {
  arith: F32Arithmetic;
  /** ε_h(a): relative error of h = silu(a)·b beyond the dots'. */
  swigluError(a: number): number;
  /** The shared gate g = σ(z), Σ|x·g_in| = mz over D terms: |δg|, and the rounding of g·s relative to |g·s|. */
  gateError(z: number, mz: number, g: number, D: number): { dg: number; product: number };
  atol: number;
}

const WASM_FFN: MoeFfnKernel = {
  arith: CPU_F32,
  swigluError: () => (2 * NN_MAX_ULP.silu + 1) * U,
  gateError: (z, _mz, g) => ({ dg: g * (1 - g) * U * Math.abs(z) + U * g, product: U * g }),
  atol: 2 ** -140,
};

const GPU_FFN: MoeFfnKernel = {
  arith: WGSL_F32,
  swigluError: (a) => WGSL_F32.expError(a) + 6 * V,
  gateError: (z, mz, g, D) => ({
    dg: g * (1 - g) * (gamma(D, V) * mz + D * WGSL_F32.flush) + sigmoidError(WGSL_F32, z) * g,
    product: 0,
  }),
  atol: 2 ** -120,
};

function ffnBound(
  kernel: MoeFfnKernel,
  x: Vec,
  T: number,
  D: number,
  route: MoeRouteResult,
  k: number,
  ffn: ReferenceFfnWeights,
  shared: ReferenceSharedExpert | null = null,
  /** ggml numerics: the activation block of the matmuls' quantization (0: exact). */
  quantBlock = 0,
): Float64Array {
  const { u, flush } = kernel.arith;
  const bound = new Float64Array(T * D);
  const q = quantBlock ? TIERS.q8.operandError : 0;
  /** q·amax of the quantization block holding v[i] (0 in exact numerics). */
  const quantError = (v: ArrayLike<number>, o: number, i: number) => {
    if (!q) return 0;
    const b0 = o + i - (i % quantBlock);
    let m = 0;
    for (let j = b0; j < b0 + quantBlock; j++) m = Math.max(m, Math.abs(v[j]));
    return q * m;
  };
  const L = 1.1;
  /** |y| and |δy| of one FFN for token t. */
  const ffnError = (w: ReferenceFfnWeights, t: number, e: number) => {
    const F = w.hidden;
    const h = new Float64Array(F);
    const dh = new Float64Array(F);
    for (let f = 0; f < F; f++) {
      let [a, b, ma, mb, qa, qb] = [0, 0, 0, 0, 0, 0];
      const o = (e * F + f) * D;
      for (let d = 0; d < D; d++) {
        const xv = x[t * D + d];
        const qx = quantError(x, t * D, d);
        a += xv * w.gate[o + d];
        b += xv * w.up[o + d];
        ma += (Math.abs(xv) + qx) * Math.abs(w.gate[o + d]);
        mb += (Math.abs(xv) + qx) * Math.abs(w.up[o + d]);
        qa += qx * Math.abs(w.gate[o + d]);
        qb += qx * Math.abs(w.up[o + d]);
      }
      const s = a / (1 + Math.exp(-a));
      h[f] = s * b;
      const da = gamma(D, u) * ma + qa + D * flush;
      const db = gamma(D, u) * mb + qb + D * flush;
      dh[f] = L * da * Math.abs(b) + Math.abs(s) * db + kernel.swigluError(a) * Math.abs(h[f]) + flush;
    }
    if (q) for (let f = 0; f < F; f++) dh[f] += quantError(h, 0, f);
    const y = new Float64Array(D);
    const dy = new Float64Array(D);
    for (let d = 0; d < D; d++) {
      let [s, m, p] = [0, 0, 0];
      const o = (e * D + d) * F;
      for (let f = 0; f < F; f++) {
        s += h[f] * w.down[o + f];
        m += (Math.abs(h[f]) + quantError(h, 0, f)) * Math.abs(w.down[o + f]);
        p += dh[f] * Math.abs(w.down[o + f]);
      }
      y[d] = s;
      dy[d] = p + gamma(F, u) * m + F * flush;
    }
    return { y, dy };
  };
  for (let t = 0; t < T; t++) {
    const mag = new Float64Array(D);
    const err = new Float64Array(D);
    if (!route.dropped?.[t])
      for (let j = 0; j < k; j++) {
        const w = Math.abs(route.weights[t * k + j]);
        const { y, dy } = ffnError(ffn, t, route.experts[t * k + j]);
        for (let d = 0; d < D; d++) {
          mag[d] += w * Math.abs(y[d]);
          err[d] += w * dy[d];
        }
      }
    if (shared) {
      const { y, dy } = ffnError(shared, t, 0);
      const g = referenceSharedGate(x, t, D, shared);
      let [dg, product] = [0, 0];
      if (shared.gateInp) {
        let [z, mz] = [0, 0];
        for (let d = 0; d < D; d++) {
          z += x[t * D + d] * shared.gateInp[d];
          mz += Math.abs(x[t * D + d] * shared.gateInp[d]);
        }
        ({ dg, product } = kernel.gateError(z, mz, g, D));
      }
      for (let d = 0; d < D; d++) {
        mag[d] += g * Math.abs(y[d]);
        err[d] += g * dy[d] + dg * Math.abs(y[d]) + (product ? product * Math.abs(y[d]) : 0);
      }
    }
    for (let d = 0; d < D; d++)
      bound[t * D + d] = (err[d] + gamma(k + 2, u) * mag[d]) * (1 + 2 ** -10) + kernel.atol;
  }
  return bound;
}

/** ffnBound's arguments after the kernel: x, T, D, route, k, ffn, shared?, quantBlock?. */
type FfnBoundArgs = Parameters<typeof ffnBound> extends [MoeFfnKernel, ...infer A] ? A : never;

/** The wasm MoE FFN's bound (ffnBound). */
export function moeFfnBound(...args: FfnBoundArgs): Float64Array {
  return ffnBound(WASM_FFN, ...args);
}

/** The WebGPU MoE FFN's bound (ffnBound). */
export function gpuMoeFfnBound(...args: FfnBoundArgs): Float64Array {
  return ffnBound(GPU_FFN, ...args);
}
