/**
 * matmul's semantics (design.md, "Conventions for ops"): y = x · Wᵀ with x
 * [M, K] f32 and W [N, K] in any ggml type, y [M, N] f32. Two numerics:
 * `exact` (f32 activations, weights dequantized exactly) and `ggml`
 * (activations converted to the weight type's vec_dot type first, as ggml's
 * CPU backend does). Every backend implements this; validation lives here.
 */
import { ShapeError, UnsupportedTypeError } from '../errors.js';
import type { GgmlTypeInfo } from '../types/ggml-types.js';

export type MatmulNumerics = 'exact' | 'ggml';

/**
 * The operands of a matmul whose products are f32: 'f32' as given; 'f16' rounded to f16 (nearest
 * even, ±inf from 65520 on), their products exact and their sums f32 — the f16 tier. A WebGPU engine
 * option (WebGpuEngineOptions.matmulPrecision); replay reads it from a trace's metadata.
 */
export type MatmulPrecision = 'f32' | 'f16';

export interface MatmulOptions {
  /** Default 'exact'. */
  numerics?: MatmulNumerics;
}

export interface MatmulOperand {
  readonly shape: readonly number[];
  readonly type: GgmlTypeInfo;
}

export interface MatmulDims {
  M: number;
  N: number;
  K: number;
  numerics: MatmulNumerics;
}

/** Checks shapes, types and options before any work; returns the dimensions. */
export function validateMatmul(x: MatmulOperand, w: MatmulOperand, opts: MatmulOptions = {}): MatmulDims {
  const numerics = opts.numerics ?? 'exact';
  if (numerics !== 'exact' && numerics !== 'ggml') {
    throw new ShapeError(`matmul: numerics must be 'exact' or 'ggml', got ${JSON.stringify(opts.numerics)}`);
  }
  if (x.type.name !== 'f32') throw new UnsupportedTypeError(x.type.name, 'matmul: x must be f32, got');
  if (x.shape.length !== 2) throw new ShapeError(`matmul: x must be [M, K], got shape [${x.shape}]`);
  if (w.shape.length !== 2) throw new ShapeError(`matmul: w must be [N, K], got shape [${w.shape}]`);
  const [M, K] = x.shape;
  const [N, Kw] = w.shape;
  if (K !== Kw) {
    throw new ShapeError(`matmul: x is [${M}, ${K}] but w is [${N}, ${Kw}]: the inner dimensions K differ`);
  }
  if (w.type.name === 'q8_1' || w.type.name === 'q8_K') {
    if (numerics === 'ggml') {
      throw new UnsupportedTypeError(
        w.type.name,
        'matmul: ggml has no weight-side dot product for activation type',
      );
    }
  }
  return { M, N, K, numerics };
}
