/**
 * RMSNorm over the last dimension: y = x / √(mean(x²) + eps) ⊙ weight
 * (ggml RMS_NORM followed by the MUL by the norm weight, which llama.cpp's
 * CPU backend fuses). x [..., dim] f32, weight [dim] f32 or none, y like x.
 * Also the per-head q/k norm of qwen3 (x [n_tokens·n_head, head_dim]).
 */
import { ShapeError } from '../errors.js';
import { f32Attribute, f32Rows, type OpOperand, type RowShape } from './operand.js';

export interface RmsNormOptions {
  /** ε ≥ 0 (GGUF `*.attention.layer_norm_rms_epsilon`), used as an f32. */
  eps: number;
}

export interface RmsNormDims extends RowShape {
  eps: number;
}

/** A per-feature vector (norm weight or bias): f32 [dim]. */
export function validateFeatureVector(op: string, name: string, v: OpOperand, dim: number): void {
  const { rows, dim: d } = f32Rows(op, name, v);
  if (v.shape.length !== 1 || rows !== 1 || d !== dim)
    throw new ShapeError(`${op}: ${name} must be [${dim}], got [${v.shape}]`);
}

export function validateRmsNorm(
  x: OpOperand,
  weight: OpOperand | null | undefined,
  opts: RmsNormOptions,
): RmsNormDims {
  const { rows, dim } = f32Rows('rmsNorm', 'x', x);
  if (weight) validateFeatureVector('rmsNorm', 'weight', weight, dim);
  return { rows, dim, eps: f32Attribute('rmsNorm', 'eps', opts?.eps, 'non-negative') };
}
