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
import { EXP_REL_ERROR } from './arithmetic.js';
import { gamma, TIERS } from './tiers.js';

const U = 2 ** -24;
const F64 = 2 ** -53;
const SECOND_ORDER = 1 + 2 ** -16;

type Vec = ArrayLike<number>;

/** δ_i: how far the kernel's selection value of each expert can be from the reference's. */
export function moeSelectionError(row: Vec, plan: MoeRoutePlan): Float64Array {
  const d = new Float64Array(plan.experts);
  if (plan.gating !== 'sigmoid') return d;
  const s = referenceSelectionValues(row, plan);
  for (let i = 0; i < plan.experts; i++) {
    const sig = 1 / (1 + Math.exp(-row[i]));
    d[i] = ((EXP_REL_ERROR + 2 * U) * sig + U * Math.abs(s[i])) * SECOND_ORDER + 2 ** -126;
  }
  return d;
}

/** Relative error of the kernel's probability of each selected expert (before normalization). */
function probabilityError(row: Vec, plan: MoeRoutePlan, experts: ArrayLike<number>): number[] {
  const k = experts.length;
  if (plan.gating === 'sigmoid') return Array.from({ length: k }, () => EXP_REL_ERROR + 2 * U);
  const over =
    plan.gating === 'softmax' ? Array.from({ length: row.length }, (_, i) => i) : Array.from(experts);
  const m = Math.max(...over.map((i) => row[i]));
  const eps = (i: number) => EXP_REL_ERROR + U * Math.abs(row[i] - m);
  const e = over.map((i) => Math.exp(row[i] - m));
  const sum = e.reduce((a, b) => a + b, 0);
  const A = over.reduce((acc, i, n) => acc + (e[n] / sum) * eps(i), 0) + over.length * F64;
  return Array.from(experts, (j) => eps(j) + A + 2 * U);
}

/** Per-weight absolute bound |w̃_j − w_j| for the kernel's selected experts; w: the reference weights for them. */
export function moeWeightBound(
  row: Vec,
  plan: MoeRoutePlan,
  experts: ArrayLike<number>,
  w: ArrayLike<number>,
): Float64Array {
  // The arithmetic the kernel runs (renormalized softmax as a softmax over the selected logits).
  const path = { ...plan, ...moeKernelPath(plan) };
  const rho = probabilityError(row, path, experts);
  const worst = Math.max(...rho);
  const atol = 2 ** -148 * 2 ** 14 * Math.max(plan.scale, 1);
  return Float64Array.from(rho, (r, j) => {
    const rel = path.normalize ? r + worst + U + (experts.length + 3) * F64 : r + (plan.scale !== 1 ? U : 0);
    return rel * SECOND_ORDER * Math.abs(w[j]) + atol;
  });
}

/** A kernel's selection-value error δ_i and the roundoff of its group-score add (another backend's kernel: its own). */
export interface SelectionErrorModel {
  delta: (row: Vec, plan: MoeRoutePlan) => Float64Array;
  roundoff: number;
}

const WASM_SELECTION: SelectionErrorModel = { delta: moeSelectionError, roundoff: U };

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
  kernel: SelectionErrorModel = WASM_SELECTION,
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
 * Bound of the wasm MoE FFN (src/backends/wasm/moe-dispatch.ts, exact
 * numerics) against referenceMoeFfn, per output element, first order:
 * - gate and up dots (f32 over D): |δa| ≤ γ_D·Σ|x||W_g|, likewise δb;
 * - h = silu(a)·b: |δh| ≤ L·|δa|·|b| + |silu(a)|·|δb| + (2·NN_MAX_ULP.silu + 1)·u·|h|,
 *   L = max|silu′| < 1.1;
 * - down (f32 over F): |δy_d| ≤ Σ_f |δh_f|·|W_df| + γ_F·Σ_f |h_f|·|W_df|;
 * - combine (k products, k + 1 sums, f32): Σ_j |w_j|·|δy_j| + γ_{k+2}·(Σ_j |w_j·y_j| + |g·s|);
 * - shared expert: its δs likewise, times g; its gate g = sigmoid of an f64
 *   dot rounded to f32: |δg| ≤ g(1 − g)·u·|z| + u·g (the sigmoid rounded once).
 * ggml numerics (`quantBlock` set): the activations of each matmul (x, then
 * h) are quantized in blocks of quantBlock values, |x̂ − x| ≤ q·amax of the
 * block (q = TIERS.q8.operandError: the 8-bit step and the f16 scale), which
 * adds Σ q·amax·|W| to the dot's error and to its magnitude. That holds for
 * weight types whose ggml dot has no separate min term (q8_0, q4_0, q5_0,
 * iq4_nl); with a min term (q4_1, k-quants) the partial sums can exceed
 * Σ|x̂||ŵ| and this magnitude is not a bound.
 * Times (1 + 2^-10) for products of two errors (each relative term < 2^-11
 * in the tested sizes), plus 2^-140 for results in the subnormal range.
 */
export function moeFfnBound(
  x: Vec,
  T: number,
  D: number,
  route: MoeRouteResult,
  k: number,
  ffn: ReferenceFfnWeights,
  shared: ReferenceSharedExpert | null = null,
  quantBlock = 0,
): Float64Array {
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
  const hU = (2 * NN_MAX_ULP.silu + 1) * U;
  /** |y| and |δy| of one FFN for token t. */
  const ffnError = (w: ReferenceFfnWeights, t: number, e: number) => {
    const F = w.hidden;
    const h = new Float64Array(F);
    const dh = new Float64Array(F);
    for (let f = 0; f < F; f++) {
      let a = 0;
      let b = 0;
      let ma = 0;
      let mb = 0;
      const o = (e * F + f) * D;
      let qa = 0;
      let qb = 0;
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
      const da = gamma(D, U) * ma + qa;
      const db = gamma(D, U) * mb + qb;
      dh[f] = L * da * Math.abs(b) + Math.abs(s) * db + hU * Math.abs(h[f]);
    }
    if (q) for (let f = 0; f < F; f++) dh[f] += quantError(h, 0, f);
    const y = new Float64Array(D);
    const dy = new Float64Array(D);
    for (let d = 0; d < D; d++) {
      let s = 0;
      let m = 0;
      let p = 0;
      const o = (e * D + d) * F;
      for (let f = 0; f < F; f++) {
        s += h[f] * w.down[o + f];
        m += (Math.abs(h[f]) + (q ? quantError(h, 0, f) : 0)) * Math.abs(w.down[o + f]);
        p += dh[f] * Math.abs(w.down[o + f]);
      }
      y[d] = s;
      dy[d] = p + gamma(F, U) * m;
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
      let z = 0;
      if (shared.gateInp) for (let d = 0; d < D; d++) z += x[t * D + d] * shared.gateInp[d];
      const dg = shared.gateInp ? g * (1 - g) * U * Math.abs(z) + U * g : 0;
      for (let d = 0; d < D; d++) {
        mag[d] += g * Math.abs(y[d]);
        err[d] += g * dy[d] + dg * Math.abs(y[d]) + (shared.gateInp ? U * g * Math.abs(y[d]) : 0);
      }
    }
    for (let d = 0; d < D; d++)
      bound[t * D + d] = (err[d] + gamma(k + 2, U) * mag[d]) * (1 + 2 ** -10) + 2 ** -140;
  }
  return bound;
}
