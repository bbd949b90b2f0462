/**
 * LayerNorm over the last dimension: y = (x − mean) / √(var + eps) ⊙ weight
 * + bias, var the population variance (ggml NORM, then MUL and ADD).
 * x [..., dim] f32, weight and bias [dim] f32 or none, y like x.
 */
import { f32Attribute, f32Rows, type OpOperand, type RowShape } from './operand.js';
import { validateFeatureVector } from './rms-norm.js';

export interface LayerNormOptions {
  /** ε ≥ 0, used as an f32. */
  eps: number;
}

export interface LayerNormDims extends RowShape {
  eps: number;
}

export function validateLayerNorm(
  x: OpOperand,
  weight: OpOperand | null | undefined,
  bias: OpOperand | null | undefined,
  opts: LayerNormOptions,
): LayerNormDims {
  const { rows, dim } = f32Rows('layerNorm', 'x', x);
  if (weight) validateFeatureVector('layerNorm', 'weight', weight, dim);
  if (bias) validateFeatureVector('layerNorm', 'bias', bias, dim);
  return { rows, dim, eps: f32Attribute('layerNorm', 'eps', opts?.eps, 'non-negative') };
}
