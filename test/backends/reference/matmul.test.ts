/** The float64 reference matmul: y = x · Wᵀ and the magnitudes Σ|x||w| that scale error bounds. */
import { describe, expect, it } from 'vitest';
import { referenceMatmul } from '../../../src/backends/reference/matmul.js';
import { ShapeError } from '../../../src/errors.js';

describe('referenceMatmul', () => {
  it('computes y = x · Wᵀ with W as [N, K] rows, and Σ|x||w| per element', () => {
    // x [2, 3], W [2, 3]
    const x = Float32Array.of(1, 2, 3, -1, 0.5, 4);
    const w = Float32Array.of(1, 0, -1, 2, -2, 0.25);
    const { y, magnitude } = referenceMatmul(x, w, 2, 2, 3);
    expect(Array.from(y)).toEqual([1 - 3, 2 - 4 + 0.75, -1 - 4, -2 - 1 + 1]);
    expect(Array.from(magnitude)).toEqual([1 + 3, 2 + 4 + 0.75, 1 + 4, 2 + 1 + 1]);
  });

  it('is exact where float64 is exact: f32 products, sums of few terms', () => {
    const a = Math.fround(1 + 2 ** -23);
    const { y } = referenceMatmul(Float32Array.of(a, 1), Float32Array.of(a, -1), 1, 1, 2);
    expect(y[0]).toBe(a * a - 1); // 2^-22 + 2^-46: needs more than f32, fits in float64
  });

  it('K = 0 gives zeros; NaN and inf follow IEEE', () => {
    expect(Array.from(referenceMatmul(new Float32Array(0), new Float32Array(0), 2, 3, 0).y)).toEqual([
      0, 0, 0, 0, 0, 0,
    ]);
    const r = referenceMatmul(
      Float32Array.of(Number.NaN, 1, Number.POSITIVE_INFINITY, 1),
      Float32Array.of(1, 1),
      2,
      1,
      2,
    );
    expect(r.y[0]).toBeNaN();
    expect(r.y[1]).toBe(Number.POSITIVE_INFINITY);
  });

  it('rejects operands that do not match the shape', () => {
    expect(() => referenceMatmul(new Float32Array(5), new Float32Array(6), 2, 2, 3)).toThrow(ShapeError);
    expect(() => referenceMatmul(new Float32Array(6), new Float32Array(5), 2, 2, 3)).toThrow(ShapeError);
  });
});
