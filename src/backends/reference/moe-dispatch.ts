/**
 * MoE FFN in float64 (semantics: src/ops/moe-ffn.ts): for each
 * token, Σ_j w[t,j]·down_e(silu(gate_e·x) ⊙ up_e·x) over its k experts, then
 * the shared expert (times sigmoid(gateInp·x) when it has a gate). Weights are
 * the dequantized values: gate/up [E, F, D], down [E, D, F]. ggml numerics:
 * each matmul's activations rounded through the weight's vec_dot type first
 * (ReferenceFfnWeights.round), as the reference matmul does.
 */
import type { MoeRouteResult } from '../../ops/moe-route.js';

type Vec = ArrayLike<number>;

/** ggml numerics: a matmul's activation row as the weight's vec_dot type holds it (quantized, then exactly decoded). */
export type ActivationRounding = (row: Float32Array) => ArrayLike<number>;

export interface ReferenceFfnWeights {
  gate: Vec;
  up: Vec;
  down: Vec;
  /** F */
  hidden: number;
  /** ggml numerics: how each matmul's activations are rounded (x for gate and up, the f32 SwiGLU row for down). */
  round?: { gate: ActivationRounding; up: ActivationRounding; down: ActivationRounding };
}

export interface ReferenceSharedExpert extends ReferenceFfnWeights {
  /** [D] or null: added unweighted. */
  gateInp: Vec | null;
}

const silu = (v: number) => v / (1 + Math.exp(-v));

/** down_e(silu(gate_e·x) ⊙ up_e·x) for x = x[t·D ..]. */
export function referenceFfn(x: Vec, t: number, D: number, w: ReferenceFfnWeights, e: number): Float64Array {
  const F = w.hidden;
  const row = Array.from({ length: D }, (_, d) => x[t * D + d]);
  const xg = w.round ? w.round.gate(Float32Array.from(row)) : row;
  const xu = w.round ? w.round.up(Float32Array.from(row)) : row;
  let h: ArrayLike<number> = new Float64Array(F);
  for (let f = 0; f < F; f++) {
    let a = 0;
    let b = 0;
    const o = (e * F + f) * D;
    for (let d = 0; d < D; d++) {
      a += xg[d] * w.gate[o + d];
      b += xu[d] * w.up[o + d];
    }
    (h as Float64Array)[f] = silu(a) * b;
  }
  if (w.round) h = w.round.down(Float32Array.from(h));
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
  /** When given, [T, k·D]: each slot's expert output (zeros for a dropped token). */
  slots: Float64Array | null = null,
): Float64Array {
  const out = new Float64Array(T * D);
  for (let t = 0; t < T; t++) {
    if (!route.dropped?.[t])
      for (let j = 0; j < k; j++) {
        const y = referenceFfn(x, t, D, ffn, route.experts[t * k + j]);
        const w = route.weights[t * k + j];
        for (let d = 0; d < D; d++) out[t * D + d] += w * y[d];
        slots?.set(y, (t * k + j) * D);
      }
    if (shared) {
      const y = referenceFfn(x, t, D, shared, 0);
      const g = referenceSharedGate(x, t, D, shared);
      for (let d = 0; d < D; d++) out[t * D + d] += g * y[d];
    }
  }
  return out;
}
