/**
 * The baseline a user without a library writes: a plain-JS f32 matmul, i-k-j
 * loop order over Float32Array so the innermost loop walks both B and C rows
 * contiguously. No tricks: V8 multiplies in doubles (the product of two f32s
 * is exact there) and the store into the Float32Array rounds the sum once, so
 * each step is a fused multiply-add rounded to f32.
 */
import { type MatmulPeer, transposeNK } from './common.js';

/** C[M,N] = A[M,K] · B[K,N], all row-major; C is overwritten. */
export function matmulF32PlainJs(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  M: number,
  N: number,
  K: number,
): void {
  c.fill(0, 0, M * N);
  for (let i = 0; i < M; i++) {
    const cRow = i * N;
    for (let k = 0; k < K; k++) {
      const aik = a[i * K + k];
      const bRow = k * N;
      for (let j = 0; j < N; j++) c[cRow + j] += aik * b[bRow + j];
    }
  }
}

/**
 * A plain-JS peer for y = x · wᵀ with x [M,K] and w [N,K] (the project's
 * linear-layer convention). The transpose of w to [K,N] is done once here,
 * as setup: it is what the i-k-j loop needs.
 */
export function createPlainJsMatmul(
  M: number,
  N: number,
  K: number,
  x: Float32Array,
  w: Float32Array,
): MatmulPeer {
  const b = transposeNK(w, N, K);
  const y = new Float32Array(M * N);
  return {
    name: 'plain JS (i-k-j)',
    threads: 1,
    run: () => matmulF32PlainJs(x, b, y, M, N, K),
    read: () => y.slice(),
    dispose: () => {},
  };
}
