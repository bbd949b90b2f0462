/** What every matmul peer exposes to the benchmarks and the peer test. */
export interface MatmulPeer {
  /** Library and configuration, e.g. 'XNNPACK (tfjs-backend-wasm 4.22)'. */
  name: string;
  /** Threads the peer computes on. */
  threads: number;
  /** One product on the prepared inputs; the result is computed when this returns (or resolves). */
  run(): void | Promise<void>;
  /** The result of the last run, row-major [M, N] (a copy; not part of what run() measures). */
  read(): Float32Array | Promise<Float32Array>;
  dispose(): void | Promise<void>;
}

/** [N,K] row-major → [K,N] row-major. */
export function transposeNK(w: Float32Array, N: number, K: number): Float32Array {
  const t = new Float32Array(N * K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) t[k * N + n] = w[n * K + k];
  return t;
}

/** Deterministic uniform values in [-1, 1) (xorshift32), so every peer sees the same inputs. */
export function randomF32(n: number, seed = 12345): Float32Array {
  let s = seed | 0 || 1;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    x[i] = ((s >>> 8) / 2 ** 24) * 2 - 1;
  }
  return x;
}

/**
 * Float64 y = x · wᵀ (x [M,K], w [N,K]) and, per element, m = Σ|x||w|, the
 * magnitude the f32 error bound scales with (src/oracle/tiers.ts dotBound).
 */
export function referenceMatmulF64(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
): { y: Float64Array; magnitude: Float64Array } {
  const y = new Float64Array(M * N);
  const magnitude = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      let m = 0;
      for (let k = 0; k < K; k++) {
        const p = x[i * K + k] * w[n * K + k];
        s += p;
        m += Math.abs(p);
      }
      y[i * N + n] = s;
      magnitude[i * N + n] = m;
    }
  }
  return { y, magnitude };
}
