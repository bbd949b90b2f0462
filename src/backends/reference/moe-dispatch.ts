/**
 * MoE FFN in float64 (semantics: src/backends/wasm/moe-dispatch.ts): for each
 * token, Σ_j w[t,j]·down_e(silu(gate_e·x) ⊙ up_e·x) over its k experts, then
 * the shared expert (times sigmoid(gateInp·x) when it has a gate). Weights are
 * the dequantized values: gate/up [E, F, D], down [E, D, F].
 */
import type { MoeRouteResult } from '../../ops/moe-route.js';

type Vec = ArrayLike<number>;

export interface ReferenceFfnWeights {
  gate: Vec;
  up: Vec;
  down: Vec;
  /** F */
  hidden: number;
}

export interface ReferenceSharedExpert extends ReferenceFfnWeights {
  /** [D] or null: added unweighted. */
  gateInp: Vec | null;
}

const silu = (v: number) => v / (1 + Math.exp(-v));

/** down_e(silu(gate_e·x) ⊙ up_e·x) for x = x[t·D ..]. */
export function referenceFfn(x: Vec, t: number, D: number, w: ReferenceFfnWeights, e: number): Float64Array {
  const F = w.hidden;
  const h = new Float64Array(F);
  for (let f = 0; f < F; f++) {
    let a = 0;
    let b = 0;
    const o = (e * F + f) * D;
    for (let d = 0; d < D; d++) {
      a += x[t * D + d] * w.gate[o + d];
      b += x[t * D + d] * w.up[o + d];
    }
    h[f] = silu(a) * b;
  }
  const y = new Float64Array(D);
  for (let d = 0; d < D; d++) {
    let s = 0;
    const o = (e * D + d) * F;
    for (let f = 0; f < F; f++) s += h[f] * w.down[o + f];
    y[d] = s;
  }
  return y;
}

/** The shared expert's gate for token t: sigmoid(gateInp·x_t), or 1. */
export function referenceSharedGate(x: Vec, t: number, D: number, sh: ReferenceSharedExpert): number {
  if (!sh.gateInp) return 1;
  let s = 0;
  for (let d = 0; d < D; d++) s += x[t * D + d] * sh.gateInp[d];
  return 1 / (1 + Math.exp(-s));
}

export function referenceMoeFfn(
  x: Vec,
  T: number,
  D: number,
  route: MoeRouteResult,
  k: number,
  ffn: ReferenceFfnWeights,
  shared: ReferenceSharedExpert | null = null,
): Float64Array {
  const out = new Float64Array(T * D);
  for (let t = 0; t < T; t++) {
    if (!route.dropped?.[t])
      for (let j = 0; j < k; j++) {
        const y = referenceFfn(x, t, D, ffn, route.experts[t * k + j]);
        const w = route.weights[t * k + j];
        for (let d = 0; d < D; d++) out[t * D + d] += w * y[d];
      }
    if (shared) {
      const y = referenceFfn(x, t, D, shared, 0);
      const g = referenceSharedGate(x, t, D, shared);
      for (let d = 0; d < D; d++) out[t * D + d] += g * y[d];
    }
  }
  return out;
}
