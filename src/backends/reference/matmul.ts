/**
 * Reference matmul: y = x · Wᵀ in float64, with x [M, K] and W [N, K] given
 * as f32 values (quantized weights dequantized first). Alongside each y[m, n]
 * it returns the magnitude Σ_k |x[m,k]|·|W[n,k]|, which scales the error
 * bound of any f32 (or lower-precision) computation of the same dot product
 * (oracle/tiers.ts, dotBound). Plain loops: the ground truth for every matmul
 * kernel.
 */
import { ShapeError } from '../../errors.js';

export interface ReferenceMatmul {
  /** [M, N], row-major: the float64 dot products. */
  y: Float64Array;
  /** [M, N]: Σ_k |x[m,k]|·|W[n,k]|. */
  magnitude: Float64Array;
}

export function referenceMatmul(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
): ReferenceMatmul {
  if (x.length !== M * K)
    throw new ShapeError(`x has ${x.length} values, [M, K] = [${M}, ${K}] needs ${M * K}`);
  if (w.length !== N * K)
    throw new ShapeError(`w has ${w.length} values, [N, K] = [${N}, ${K}] needs ${N * K}`);
  const y = new Float64Array(M * N);
  const magnitude = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      let a = 0;
      for (let k = 0; k < K; k++) {
        const p = x[m * K + k] * w[n * K + k];
        s += p;
        a += Math.abs(p);
      }
      y[m * N + n] = s;
      magnitude[m * N + n] = a;
    }
  }
  return { y, magnitude };
}
