/**
 * Bound of the WebGPU moeFfn (./moe-ffn.ts, exact numerics) against
 * referenceMoeFfn, per output element, first order, from WGSL's accuracy
 * (v = 2^-23: no rounding mode fixed; exp (3 + 2|x|) ULP; division 2.5 ULP;
 * subnormals may flush, 2^-126 each):
 * - gate and up dots (the engine's f32 matmul, any summation order):
 *   |δa| ≤ γ(D, v)·Σ|x||W_g| + D·2^-126, likewise δb;
 * - h = silu(a)·b (the engine's swiglu: exp, an add, a division, at most two
 *   products — or the wasm kernel's 3.26 ULP, within it):
 *   |δh| ≤ L·|δa|·|b| + |silu(a)|·|δb| + (ε_e(a) + 6v)·|h|, L = max|silu′| < 1.1;
 * - down: |δy| ≤ Σ_f |δh_f|·|W| + γ(F, v)·Σ_f |h_f|·|W| + F·2^-126;
 * - combine (k products, k sums, the shared term's product and sum):
 *   Σ_j |w_j|·|δy_j| + γ(k + 2, v)·(Σ_j |w_j y_j| + |g·s|);
 * - shared gate: z an f32 dot (γ(D, v)·Σ|x||g_in|), g = 1/(1 + exp(−z)):
 *   |δg| ≤ g(1 − g)·|δz| + (ε_e(z) + 3.5v)·g.
 * ggml numerics (`quantBlock`): each matmul's activations (x, then h) are
 * quantized in blocks, |x̂ − x| ≤ q·amax of the block (q = TIERS.q8.operandError),
 * which adds Σ q·amax·|W| to the dot's error and to its magnitude — for weight
 * types whose ggml dot has no separate min term (q8_0, q4_0, …), as
 * moeFfnBound (src/oracle/moe-bound.ts) states.
 * Times (1 + 2^-10) for products of errors, plus 2^-120.
 */

import type { MoeRouteResult } from '../../../ops/moe-route.js';
import { gamma, TIERS } from '../../../oracle/tiers.js';
import type { ReferenceFfnWeights, ReferenceSharedExpert } from '../../reference/moe-dispatch.js';
import { WGSL_FLUSH, WGSL_ULP, wgslExpError } from '../wgsl/numerics.js';

type Vec = ArrayLike<number>;

export function gpuMoeFfnBound(
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
  const v = WGSL_ULP;
  const L = 1.1;
  const q = quantBlock ? TIERS.q8.operandError : 0;
  /** q·amax of the quantization block holding vec[o + i] (0 in exact numerics). */
  const quantError = (vec: Vec, o: number, i: number) => {
    if (!q) return 0;
    const b0 = o + i - (i % quantBlock);
    let m = 0;
    for (let j = b0; j < b0 + quantBlock; j++) m = Math.max(m, Math.abs(vec[j]));
    return q * m;
  };
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
      const da = gamma(D, v) * ma + qa + D * WGSL_FLUSH;
      const db = gamma(D, v) * mb + qb + D * WGSL_FLUSH;
      dh[f] =
        L * da * Math.abs(b) + Math.abs(s) * db + (wgslExpError(a) + 6 * v) * Math.abs(h[f]) + WGSL_FLUSH;
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
      dy[d] = p + gamma(F, v) * m + F * WGSL_FLUSH;
    }
    return { y, dy };
  };
  const bound = new Float64Array(T * D);
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
      let [g, dg] = [1, 0];
      if (shared.gateInp) {
        let [z, mz] = [0, 0];
        for (let d = 0; d < D; d++) {
          z += x[t * D + d] * shared.gateInp[d];
          mz += Math.abs(x[t * D + d] * shared.gateInp[d]);
        }
        g = 1 / (1 + Math.exp(-z));
        dg = g * (1 - g) * (gamma(D, v) * mz + D * WGSL_FLUSH) + (wgslExpError(z) + 3.5 * v) * g;
      }
      for (let d = 0; d < D; d++) {
        mag[d] += g * Math.abs(y[d]);
        err[d] += g * dy[d] + dg * Math.abs(y[d]);
      }
    }
    for (let d = 0; d < D; d++)
      bound[t * D + d] = (err[d] + gamma(k + 2, v) * mag[d]) * (1 + 2 ** -10) + 2 ** -120;
  }
  return bound;
}
