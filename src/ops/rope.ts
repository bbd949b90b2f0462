/**
 * Rotary position embedding (ggml ROPE, modes NORMAL and NEOX, no YaRN).
 * x [n_tokens, n_head, head_dim] f32, positions: one int32 per token. For
 * pair i < n_dims/2 of each head, with p the token's position,
 *
 *   θ_i = p · freqScale · freqBase^(−2i/n_dims) / freqFactors[i]
 *   (y0, y1) = attnFactor · (x0·cos θ_i − x1·sin θ_i,  x0·sin θ_i + x1·cos θ_i)
 *
 * normal mode: (x0, x1) = (x[2i], x[2i+1]) (llama, mistral); NeoX mode:
 * (x[i], x[i + n_dims/2]) (qwen2, qwen3). Dims ≥ n_dims pass through
 * unchanged. Float attributes are f32, as ggml keeps them.
 */
import { ShapeError } from '../errors.js';
import { f32Attribute, f32Rows, type OpOperand } from './operand.js';

export type RopeMode = 'normal' | 'neox';

/** ggml's GGML_ROPE_TYPE_* value of each mode (also the kernels' mode argument). */
export const ROPE_MODE_ID: Readonly<Record<RopeMode, number>> = { normal: 0, neox: 2 };

export interface RopeOptions {
  mode: RopeMode;
  /** Rotated dims (GGUF `rope.dimension_count`), even, ≤ head_dim; default head_dim. */
  nDims?: number;
  /** Default 10000. */
  freqBase?: number;
  /** Default 1 (linear scaling: 1/factor). */
  freqScale?: number;
  /** Scales cos and sin (ggml attn_factor); default 1. */
  attnFactor?: number;
  /** Per-pair divisors of θ (ggml's optional freq_factors tensor), length ≥ n_dims/2. */
  freqFactors?: ArrayLike<number> | null;
}

export interface RopeParams {
  nTokens: number;
  nHead: number;
  headDim: number;
  nDims: number;
  mode: RopeMode;
  freqBase: number;
  freqScale: number;
  attnFactor: number;
  /** n_dims/2 f32 divisors, or null. */
  freqFactors: Float32Array | null;
}

export function validateRope(x: OpOperand, positions: ArrayLike<number>, opts: RopeOptions): RopeParams {
  f32Rows('rope', 'x', x);
  if (x.shape.length !== 3)
    throw new ShapeError(`rope: x must be [n_tokens, n_head, head_dim], got [${x.shape}]`);
  const [nTokens, nHead, headDim] = x.shape;
  if (opts?.mode !== 'normal' && opts?.mode !== 'neox')
    throw new ShapeError(`rope: mode must be 'normal' or 'neox', got ${JSON.stringify(opts?.mode)}`);
  const nDims = opts.nDims ?? headDim;
  if (!Number.isSafeInteger(nDims) || nDims < 2 || nDims % 2 !== 0 || nDims > headDim)
    throw new ShapeError(`rope: nDims must be even, in [2, head_dim = ${headDim}], got ${nDims}`);
  if (positions?.length !== nTokens)
    throw new ShapeError(`rope: ${positions?.length} positions for ${nTokens} tokens`);
  for (let t = 0; t < nTokens; t++) {
    const p = positions[t];
    if (!Number.isInteger(p) || p < -(2 ** 31) || p >= 2 ** 31)
      throw new ShapeError(`rope: positions[${t}] = ${p} is not an int32`);
  }
  let freqFactors: Float32Array | null = null;
  if (opts.freqFactors) {
    if (opts.freqFactors.length < nDims / 2)
      throw new ShapeError(`rope: freqFactors has ${opts.freqFactors.length} entries, need ${nDims / 2}`);
    freqFactors = new Float32Array(nDims / 2);
    for (let i = 0; i < nDims / 2; i++)
      freqFactors[i] = f32Attribute('rope', `freqFactors[${i}]`, opts.freqFactors[i], 'positive');
  }
  return {
    nTokens,
    nHead,
    headDim,
    nDims,
    mode: opts.mode,
    freqBase: f32Attribute('rope', 'freqBase', opts.freqBase ?? 10000, 'positive'),
    freqScale: f32Attribute('rope', 'freqScale', opts.freqScale ?? 1, 'positive'),
    attnFactor: f32Attribute('rope', 'attnFactor', opts.attnFactor ?? 1, 'finite'),
    freqFactors,
  };
}
