/**
 * Whole-model parity: whether the logits of a forward pass on one backend are
 * explained by precision against those of another (the reference), with
 * NMSE and cosine limits derived from the tiers (oracle/tiers.ts).
 *
 * Derivation. A forward pass is a chain of dot products (projections,
 * scores, softmax·V, FFN) joined by RMSNorms, SwiGLU and residual adds.
 * Under the tiers' model every rounding is an independent relative error, so
 * the relative error variances of successive stages add along the path from
 * the embedding to the logits; an RMSNorm passes a relative error through
 * unchanged (one row scale divides error and value) and a residual add does
 * not grow it. Along the longest path:
 * - f32 accumulation: the sums of one dot whose length is the sum of the dot
 *   lengths on the path (per layer n_embd for Q/K/V, head_dim for the scores,
 *   n_kv for softmax·V, n_head·head_dim for O, n_embd for gate/up, n_ff for
 *   down; then n_embd for the head): tierVariance('f32', K);
 *   (MoE: the expert widths replace n_ff; routing changes weights, not depth)
 * - ggml numerics only: each matmul on the path converts its activations to
 *   the weight's vec_dot type — q8_0/q8_1/q8_K add the q8 tier's operand
 *   variance, f16/bf16 theirs, f32 nothing — and attention rounds Q to f16
 *   and accumulates softmax·V in f16 (two f16 operand variances per layer).
 *   Two computations that quantize slightly different inputs differ where a
 *   rounding flips, by one step at most: the same order as one quantization.
 * The limits are κ²·σ² for the NMSE and 1/√(1 + NMSE) for the cosine
 * (tierThresholds' construction), with κ² = STATISTICAL_SAFETY.
 */
import type { Tensor } from '../engine/tensor.js';
import { type Comparison, compare } from '../oracle/compare.js';
import { STATISTICAL_SAFETY, TIERS, tierVariance } from '../oracle/tiers.js';
import type { GgmlTypeInfo } from '../types/ggml-types.js';
import type { HParams } from './hparams.js';
import type { Model, Numerics } from './model.js';
import type { LayerWeights } from './weights.js';

/** Sum of the dot lengths along the longest path from the embedding to the logits. */
export function forwardDepth(h: HParams, nKv: number): number {
  const attention = h.nEmbd + h.headDim + nKv + h.nHead * h.headDim;
  const ffn = h.nEmbd + (h.moe ? Math.max(h.moe.nFfExp, h.moe.nFfShexp) : h.nFf);
  return h.nLayer * (attention + ffn) + h.nEmbd;
}

/** Operand variance of converting activations to a weight's vec_dot type (ggml numerics). */
function conversionVariance(w: GgmlTypeInfo): number {
  const v = w.vecDotType;
  if (v === 'q8_0' || v === 'q8_1' || v === 'q8_K') return TIERS.q8.operandVariance;
  if (v === 'f16') return TIERS.f16.operandVariance;
  if (v === 'bf16') return TIERS.bf16.operandVariance;
  return 0;
}

/** The largest conversion variance among weights that share one activation input. */
function worst(...ts: Tensor[]): number {
  return Math.max(...ts.map((t) => conversionVariance(t.type)));
}

/** The FFN's two conversions (gate/up input, down input); for MoE the worst over routed and shared experts. */
function ffnConversionVariance(f: LayerWeights['ffn']): number {
  if (f.kind === 'dense') return worst(f.gate, f.up) + worst(f.down);
  const x = f.experts;
  const sh = x.shared ? [x.shared] : [];
  return worst(x.gate, x.up, ...sh.flatMap((s) => [s.gate, s.up])) + worst(x.down, ...sh.map((s) => s.down));
}

export interface ForwardThresholds {
  /** σ²: the expected squared relative error of a logit. */
  variance: number;
  nmse: number;
  cosine: number;
  /** The accumulation depth used (forwardDepth). */
  K: number;
}

/** The NMSE/cosine limits of a model's logits in the given numerics (see the derivation above). */
export function forwardThresholds(model: Model, nKv: number, numerics: Numerics): ForwardThresholds {
  const h = model.hparams;
  const K = forwardDepth(h, nKv);
  let variance = tierVariance('f32', K);
  if (numerics === 'ggml') {
    for (const w of model.weights.layers)
      variance +=
        worst(w.wq, w.wk, w.wv) + worst(w.wo) + ffnConversionVariance(w.ffn) + 2 * TIERS.f16.operandVariance;
    variance += worst(model.weights.output);
  }
  const nmse = STATISTICAL_SAFETY * variance;
  return { variance, nmse, cosine: 1 / Math.sqrt(1 + nmse), K };
}

export interface LogitParity {
  pass: boolean;
  reason: string;
  thresholds: ForwardThresholds;
  /** Every metric of the pair (its own verdict is the f32 tier's at depth K; `pass` above decides). */
  comparison: Comparison;
}

/**
 * Compares candidate logits [rows, n_vocab] with reference logits of the same
 * pass (nKv: how many positions the last row attended over), with top-10
 * agreement per row.
 */
export function compareLogits(
  candidate: Float32Array,
  reference: Float32Array,
  model: Model,
  nKv: number,
  numerics: Numerics,
): LogitParity {
  const thresholds = forwardThresholds(model, nKv, numerics);
  const comparison = compare(candidate, reference, {
    tier: 'f32',
    K: thresholds.K,
    logits: true,
    rowLength: model.hparams.nVocab,
  });
  const nonFinite = comparison.verdict.basis === 'non-finite';
  const okN = comparison.nmse <= thresholds.nmse;
  const okC = comparison.cosine >= thresholds.cosine;
  const pass = !nonFinite && okN && okC;
  const reason = nonFinite
    ? comparison.verdict.reason
    : `NMSE ${comparison.nmse.toExponential(3)} ${okN ? '≤' : '>'} ${thresholds.nmse.toExponential(3)}, ` +
      `cosine ${comparison.cosine} ${okC ? '≥' : '<'} ${thresholds.cosine} ` +
      `(${numerics} numerics, depth ${thresholds.K}, ${comparison.finiteCount} logits)`;
  return { pass, reason, thresholds, comparison };
}
