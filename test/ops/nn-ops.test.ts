import { describe, expect, it } from 'vitest';
import { ShapeError, UnsupportedTypeError } from '../../src/errors.js';
import { validateAdd } from '../../src/ops/add.js';
import { validateEmbedding } from '../../src/ops/embedding.js';
import { validateGelu } from '../../src/ops/gelu.js';
import { validateLayerNorm } from '../../src/ops/layer-norm.js';
import type { OpOperand } from '../../src/ops/operand.js';
import { validateRmsNorm } from '../../src/ops/rms-norm.js';
import { validateRope } from '../../src/ops/rope.js';
import { validateSilu } from '../../src/ops/silu.js';
import { validateSoftmax } from '../../src/ops/softmax.js';
import { validateSwiglu } from '../../src/ops/swiglu.js';
import { GGML_TYPES, type GgmlTypeName } from '../../src/types/ggml-types.js';

const t = (shape: number[], type: GgmlTypeName = 'f32'): OpOperand => ({ shape, type: GGML_TYPES[type] });

describe('nn op semantics: shapes, attributes, typed errors', () => {
  it('rmsNorm / layerNorm: rows × dim, weight and bias [dim], eps ≥ 0 rounded to f32', () => {
    expect(validateRmsNorm(t([2, 3, 5]), t([5]), { eps: 1e-6 })).toEqual({
      rows: 6,
      dim: 5,
      eps: Math.fround(1e-6),
    });
    expect(() => validateRmsNorm(t([2, 5]), t([4]), { eps: 1e-6 })).toThrow(/weight must be \[5\]/);
    expect(() => validateRmsNorm(t([2, 5], 'f16'), null, { eps: 1e-6 })).toThrow(UnsupportedTypeError);
    expect(() => validateRmsNorm(t([2, 0]), null, { eps: 1e-6 })).toThrow(
      /last dimension must be at least 1/,
    );
    expect(() => validateRmsNorm(t([2, 5]), null, { eps: -1 })).toThrow(/eps must be a non-negative f32/);
    expect(() => validateRmsNorm(t([2, 5]), null, {} as { eps: number })).toThrow(ShapeError);
    expect(validateLayerNorm(t([4]), t([4]), t([4]), { eps: 0 })).toEqual({ rows: 1, dim: 4, eps: 0 });
    expect(() => validateLayerNorm(t([3, 4]), null, t([1, 4]), { eps: 0 })).toThrow(/bias must be \[4\]/);
  });

  it('rope: [n_tokens, n_head, head_dim], even nDims ≤ head_dim, one int32 position per token', () => {
    const q = validateRope(t([2, 4, 64]), [0, 7], {
      mode: 'neox',
      nDims: 32,
      freqBase: 1e6,
      freqFactors: new Array(16).fill(2),
    });
    expect(q).toMatchObject({
      nTokens: 2,
      nHead: 4,
      headDim: 64,
      nDims: 32,
      mode: 'neox',
      freqBase: 1e6,
      freqScale: 1,
    });
    expect(q.freqFactors).toHaveLength(16);
    expect(() => validateRope(t([2, 64]), [0, 1], { mode: 'normal' })).toThrow(
      /\[n_tokens, n_head, head_dim\]/,
    );
    expect(() => validateRope(t([1, 1, 8]), [0], { mode: 'normal', nDims: 5 })).toThrow(/nDims must be even/);
    expect(() => validateRope(t([1, 1, 8]), [0], { mode: 'normal', nDims: 10 })).toThrow(/nDims/);
    expect(() => validateRope(t([2, 1, 8]), [0], { mode: 'normal' })).toThrow(/1 positions for 2 tokens/);
    expect(() => validateRope(t([1, 1, 8]), [0.5], { mode: 'normal' })).toThrow(/positions\[0\] = 0.5/);
    expect(() => validateRope(t([1, 1, 8]), [0], { mode: 'yarn' as 'normal' })).toThrow(/mode/);
    expect(() => validateRope(t([1, 1, 8]), [0], { mode: 'normal', freqBase: 0 })).toThrow(/freqBase/);
    expect(() => validateRope(t([1, 1, 8]), [0], { mode: 'normal', freqFactors: [1, 2] })).toThrow(/need 4/);
  });

  it('softmax: mask rows divide x rows and match its length; scale finite', () => {
    expect(validateSoftmax(t([8, 3, 5]), { mask: t([3, 5]), scale: 0.125 })).toEqual({
      rows: 24,
      dim: 5,
      maskRows: 3,
      scale: 0.125,
    });
    expect(validateSoftmax(t([2, 5]))).toMatchObject({ maskRows: 0, scale: 1 });
    expect(() => validateSoftmax(t([2, 5]), { mask: t([2, 4]) })).toThrow(/mask rows have 4 entries/);
    expect(() => validateSoftmax(t([5, 5]), { mask: t([2, 5]) })).toThrow(/not a multiple/);
    expect(() => validateSoftmax(t([2, 5]), { scale: Number.POSITIVE_INFINITY })).toThrow(/scale/);
  });

  it('element-wise ops: f32, swiglu shapes match, gelu variant named', () => {
    expect(validateSilu(t([3, 7]))).toBe(21);
    expect(validateGelu(t([4]))).toEqual({ count: 4, approximate: 'tanh' });
    expect(validateGelu(t([4]), { approximate: 'erf' }).approximate).toBe('erf');
    expect(() => validateGelu(t([4]), { approximate: 'sigmoid' as 'erf' })).toThrow(/approximate/);
    expect(validateSwiglu(t([2, 6]), t([2, 6]))).toBe(12);
    expect(() => validateSwiglu(t([2, 6]), t([6, 2]))).toThrow(/gate is \[2,6\] but up is \[6,2\]/);
  });

  it('add: b broadcast by rows (residual or bias)', () => {
    expect(validateAdd(t([4, 8]), t([4, 8]))).toEqual({ rows: 4, dim: 8, bRows: 4 });
    expect(validateAdd(t([4, 8]), t([8]))).toEqual({ rows: 4, dim: 8, bRows: 1 });
    expect(() => validateAdd(t([4, 8]), t([3, 8]))).toThrow(/not a multiple/);
    expect(() => validateAdd(t([4, 8]), t([4, 7]))).toThrow(/7 entries/);
  });

  it('embedding: any ggml type, n_embd whole blocks, ids in range', () => {
    expect(validateEmbedding(t([100, 256], 'q4_K'), [0, 99])).toEqual({
      nVocab: 100,
      nEmbd: 256,
      nTokens: 2,
    });
    expect(() => validateEmbedding(t([100, 96], 'q4_K'), [0])).toThrow(/block size 256/);
    expect(() => validateEmbedding(t([100, 32], 'q8_0'), [5, 100])).toThrow(/ids\[1\] = 100 is outside/);
    expect(() => validateEmbedding(t([100, 32], 'q8_0'), [1.5])).toThrow(ShapeError);
    expect(() => validateEmbedding(t([32]), [0])).toThrow(/\[n_vocab, n_embd\]/);
  });
});
