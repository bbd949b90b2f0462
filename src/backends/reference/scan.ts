/**
 * Float64 reference of the linear recurrence h_t = a_t ⊙ h_{t−1} + b_t
 * (semantics and error bound: src/ops/scan.ts), with the magnitude
 * m_t = |a_t|·m_{t−1} + |b_t| (m_{−1} = |h0|) that the bound scales with.
 */
type Vec = ArrayLike<number>;

export interface ReferenceScan {
  /** Every h_t, [T, D]. */
  h: Float64Array;
  /** m_t, [T, D]. */
  magnitude: Float64Array;
}

export function referenceLinearScan(a: Vec, b: Vec, h0: Vec | null, T: number, D: number): ReferenceScan {
  const h = new Float64Array(T * D);
  const m = new Float64Array(T * D);
  for (let d = 0; d < D; d++) {
    let s = h0 ? h0[d] : 0;
    let ms = Math.abs(s);
    for (let t = 0; t < T; t++) {
      const i = t * D + d;
      s = a[i] * s + b[i];
      ms = Math.abs(a[i]) * ms + Math.abs(b[i]);
      h[i] = s;
      m[i] = ms;
    }
  }
  return { h, magnitude: m };
}
