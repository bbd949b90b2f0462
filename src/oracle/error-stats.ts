/**
 * Error statistics of a candidate against a reference, accumulated in
 * float64. The parity oracle's full compare() builds on these; here they
 * serve the quantization round-trip report. Every statistic carries its count.
 */
export interface ErrorStats {
  count: number;
  maxAbs: number;
  rmse: number;
  /** Σ(a−r)² / Σr² (ggml test-backend-ops' NMSE). */
  nmse: number;
  cosine: number;
}

export function errorStats(candidate: ArrayLike<number>, reference: ArrayLike<number>): ErrorStats {
  if (candidate.length !== reference.length) {
    throw new RangeError(
      `errorStats: ${candidate.length} candidate values vs ${reference.length} reference values`,
    );
  }
  let maxAbs = 0;
  let se = 0;
  let rr = 0;
  let aa = 0;
  let ar = 0;
  for (let i = 0; i < reference.length; i++) {
    const a = candidate[i];
    const r = reference[i];
    const e = a - r;
    maxAbs = Math.max(maxAbs, Math.abs(e));
    se += e * e;
    rr += r * r;
    aa += a * a;
    ar += a * r;
  }
  const n = reference.length;
  return {
    count: n,
    maxAbs,
    rmse: n ? Math.sqrt(se / n) : 0,
    nmse: rr ? se / rr : se ? Number.POSITIVE_INFINITY : 0,
    cosine: aa && rr ? ar / Math.sqrt(aa * rr) : aa === rr ? 1 : 0,
  };
}
