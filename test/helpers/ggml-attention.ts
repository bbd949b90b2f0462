/**
 * A scalar emulation of ggml's CPU flash attention per-row path
 * (ggml_compute_forward_flash_attn_ext_f16_one_chunk at ggml d99724f2, as
 * llama.cpp's wasm build computes it: no fused multiply-add; ggml_vec_dot_f16
 * and _f32 with GGML_F16_STEP = 16, four f32x4 accumulators), written from
 * ggml's source in plain f32 steps (Math.fround after every operation). exp is
 * passed in, so the kernel's own exp can be used: this checks everything
 * around it bit for bit, and exp has its own accuracy test.
 */
import { type AttentionDims, kvHeadOf, visibleRange } from '../../src/ops/attention.js';
import { f16ToF32, f32ToF16 } from '../../src/types/half.js';

const fr = Math.fround;
const toHalf = (x: number) => f16ToF32(f32ToF16(x));

/** ggml_vec_dot_f16 / ggml_vec_dot_f32 (wasm SIMD): k·q of length n. */
export function ggmlDot(
  k: ArrayLike<number>,
  ko: number,
  q: ArrayLike<number>,
  qo: number,
  n: number,
  wideTail: boolean,
) {
  const n16 = n - (n % 16);
  const acc = [0, 1, 2, 3].map(() => [0, 0, 0, 0]);
  for (let d = 0; d < n16; d++) {
    const a = (d % 16) >> 2;
    const l = d % 4;
    acc[a][l] = fr(acc[a][l] + fr(k[ko + d] * q[qo + d]));
  }
  for (let l = 0; l < 4; l++) {
    acc[0][l] = fr(acc[0][l] + acc[2][l]);
    acc[1][l] = fr(acc[1][l] + acc[3][l]);
    acc[0][l] = fr(acc[0][l] + acc[1][l]);
  }
  let s = fr(fr(fr(acc[0][0] + acc[0][1]) + acc[0][2]) + acc[0][3]);
  for (let d = n16; d < n; d++) {
    const p = fr(k[ko + d] * q[qo + d]);
    s = wideTail ? s + p : fr(s + p); // f16: summed in double
  }
  return fr(s);
}

/**
 * out [n_q, n_head·head_dim] as ggml computes it; k and v are the stored
 * values (f16 K/V: the halves widened), q the f32 queries.
 */
export function emulateGgmlAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dims: AttentionDims,
  exp: (x: number) => number,
): Float32Array {
  const { nQ, nHead, nHeadKv, headDim: hd, scale } = dims;
  const f16 = dims.kvType === 'f16';
  const round = f16 ? toHalf : (x: number) => x;
  const out = new Float32Array(nQ * nHead * hd);
  const qc = new Float32Array(hd);
  const A = new Float32Array(hd);
  for (let i = 0; i < nQ; i++) {
    const [lo, hi] = visibleRange(dims, dims.positions[i]);
    for (let h = 0; h < nHead; h++) {
      const hk = kvHeadOf(dims, h);
      const qo = (i * nHead + h) * hd;
      for (let d = 0; d < hd; d++) qc[d] = f16 ? toHalf(q[qo + d]) : q[qo + d];
      A.fill(0);
      let M = Number.NEGATIVE_INFINITY;
      let S = 0;
      for (let j = lo; j < hi; j++) {
        const ko = (j * nHeadKv + hk) * hd;
        const s = fr(ggmlDot(k, ko, qc, 0, hd, f16) * scale);
        let ms = 1;
        let vs = 1;
        if (s > M) {
          ms = exp(fr(M - s));
          M = s;
          for (let d = 0; d < hd; d++) A[d] = round(fr(A[d] * ms));
        } else {
          vs = exp(fr(s - M));
        }
        for (let d = 0; d < hd; d++) A[d] = round(fr(A[d] + fr(v[ko + d] * vs)));
        S = fr(fr(S * ms) + vs);
      }
      const inv = S === 0 ? 0 : fr(1 / S);
      for (let d = 0; d < hd; d++) out[qo + d] = fr(A[d] * inv);
    }
  }
  return out;
}
