/**
 * Reference attention in float64: softmax(Q·Kᵀ·scale + mask)·V with plain
 * loops (src/ops/attention.ts has the semantics). q, k, v are the f32 values
 * the kernels see (f16 K/V widened exactly). Alongside the output it returns
 * the magnitudes that scale the error of any finite-precision computation of
 * the same attention (oracle/attention-bound.ts), as referenceMatmul does.
 */
import { ShapeError } from '../../errors.js';
import { type AttentionDims, kvHeadOf, visibleRange } from '../../ops/attention.js';

export interface AttentionStats {
  /** [n_q, n_head·head_dim]: Σ_j w_j·|v_jd| (w: the softmax weights). */
  magnitude: Float64Array;
  /** [n_q, n_head·head_dim]: Σ_j w_j·|v_jd|·(m − s_j), m the row's largest score. */
  spread: Float64Array;
  /** [n_q, n_head·head_dim]: Σ_j w_j·|v_jd|·(number of visible positions ≥ j). */
  tail: Float64Array;
  /** [n_q, n_head·head_dim]: Σ_j |v_jd| over the visible positions (scales exp's underflow). */
  absSum: Float64Array;
  /** Per row, index i·n_head + h: visible positions [lo, hi). */
  lo: Int32Array;
  hi: Int32Array;
  /** Per row: max over visible j of scale·Σ_d |q_d·k_jd|. */
  scoreMagnitude: Float64Array;
  /** Per row: max over visible j of scale·Σ_d |k_jd|. */
  keyMagnitude: Float64Array;
  /** [n_head, n_q, n_kv] when scores or softmax were asked for: scale·Σ_d |q_d·k_jd| for every j. */
  scoreElementMagnitude: Float64Array | undefined;
}

export interface ReferenceAttention {
  /** [n_q, n_head·head_dim]. */
  out: Float64Array;
  /** [n_head, n_q, n_kv] when dims.scores. */
  scores: Float64Array | undefined;
  /** [n_head, n_q, n_kv] when dims.softmax. */
  softmax: Float64Array | undefined;
  stats: AttentionStats;
}

export function referenceAttention(
  q: Float32Array | Float64Array,
  k: Float32Array | Float64Array,
  v: Float32Array | Float64Array,
  dims: AttentionDims,
): ReferenceAttention {
  const { nQ, nKv, nHead, nHeadKv, headDim: hd, scale } = dims;
  if (q.length !== nQ * nHead * hd)
    throw new ShapeError(`q has ${q.length} values, expected ${nQ * nHead * hd}`);
  for (const [name, t] of [
    ['k', k],
    ['v', v],
  ] as const) {
    if (t.length !== nKv * nHeadKv * hd)
      throw new ShapeError(`${name} has ${t.length} values, expected ${nKv * nHeadKv * hd}`);
  }
  const width = nHead * hd;
  const out = new Float64Array(nQ * width);
  const magnitude = new Float64Array(nQ * width);
  const spread = new Float64Array(nQ * width);
  const tail = new Float64Array(nQ * width);
  const absSum = new Float64Array(nQ * width);
  const rows = nQ * nHead;
  const lo = new Int32Array(rows);
  const hi = new Int32Array(rows);
  const scoreMagnitude = new Float64Array(rows);
  const keyMagnitude = new Float64Array(rows);
  const full = dims.scores || dims.softmax;
  const scores = dims.scores ? new Float64Array(nHead * nQ * nKv) : undefined;
  const softmax = dims.softmax ? new Float64Array(nHead * nQ * nKv) : undefined;
  const scoreElementMagnitude = full ? new Float64Array(nHead * nQ * nKv) : undefined;
  const s = new Float64Array(nKv);
  const w = new Float64Array(nKv);

  for (let i = 0; i < nQ; i++) {
    const [a, b] = visibleRange(dims, dims.positions[i]);
    for (let h = 0; h < nHead; h++) {
      const hk = kvHeadOf(dims, h);
      const row = i * nHead + h;
      lo[row] = a;
      hi[row] = b;
      const qo = row * hd;
      // Scores for the visible span; for every kv position when the trace wants them (before the mask).
      for (let j = full ? 0 : a; j < (full ? nKv : b); j++) {
        const ko = (j * nHeadKv + hk) * hd;
        let dot = 0;
        let mag = 0;
        let kmag = 0;
        for (let d = 0; d < hd; d++) {
          dot += q[qo + d] * k[ko + d];
          mag += Math.abs(q[qo + d] * k[ko + d]);
          kmag += Math.abs(k[ko + d]);
        }
        s[j] = dot * scale;
        if (j >= a && j < b) {
          scoreMagnitude[row] = Math.max(scoreMagnitude[row], mag * scale);
          keyMagnitude[row] = Math.max(keyMagnitude[row], kmag * scale);
        }
        const e = (h * nQ + i) * nKv + j;
        if (scores) scores[e] = s[j];
        if (scoreElementMagnitude) scoreElementMagnitude[e] = mag * scale;
      }
      // Softmax over the visible span; a row that sees nothing keeps zeros.
      let m = Number.NEGATIVE_INFINITY;
      for (let j = a; j < b; j++) m = Math.max(m, s[j]);
      let l = 0;
      for (let j = a; j < b; j++) {
        w[j] = Math.exp(s[j] - m);
        l += w[j];
      }
      for (let j = a; j < b; j++) {
        w[j] /= l;
        if (softmax) softmax[(h * nQ + i) * nKv + j] = w[j];
      }
      const oo = i * width + h * hd;
      for (let d = 0; d < hd; d++) {
        let acc = 0;
        let mg = 0;
        let sp = 0;
        let tl = 0;
        let ab = 0;
        for (let j = a; j < b; j++) {
          const x = v[(j * nHeadKv + hk) * hd + d];
          acc += w[j] * x;
          const wx = w[j] * Math.abs(x);
          mg += wx;
          sp += wx * (m - s[j]);
          tl += wx * (b - j);
          ab += Math.abs(x);
        }
        out[oo + d] = acc;
        magnitude[oo + d] = mg;
        spread[oo + d] = sp;
        tail[oo + d] = tl;
        absSum[oo + d] = ab;
      }
    }
  }
  return {
    out,
    scores,
    softmax,
    stats: { magnitude, spread, tail, absSum, lo, hi, scoreMagnitude, keyMagnitude, scoreElementMagnitude },
  };
}
