// The trace side outputs of attention, materialized only when asked for:
//   scores  [n_head, n_q, n_kv]: Q·Kᵀ·scale for every kv position (before the mask)
//   softmax [n_head, n_q, n_kv]: softmax(scores + mask), 0 where masked; a row
//           that sees nothing is all zeros
//
//   attn_scores(params, scratch, u0, u1)
//       units u = h·n_q + i (the row order of both outputs).
//
// Scores use the dot order of the numerics in force (exact: dot_1x1, the order
// of the flash kernels, so these are the very scores they use; ggml: Q rounded
// to f16 when K is f16, ggml's order). softmax over the visible span [lo, hi):
// m = max s_j, e_j = exp(s_j − m), l = Σ e_j in increasing j from +0, e_j / l.
import { exp_v128 } from '../nn/exp';
import { dot_1x1, dot_ggml } from './dot';
import { f16_row_to_f32, round_row_f16 } from './half';
import {
  hd_pad,
  kv_head_off,
  kv_stride,
  P_HD,
  P_K,
  P_KV_F16,
  P_NHEAD,
  P_NHEADKV,
  P_NKV,
  P_NQ,
  P_NUMERICS,
  P_Q,
  P_SCALE,
  P_SCORES,
  P_SOFTMAX,
  pf,
  pi,
  pp,
  q_off,
  query_pos,
  vis_hi,
  vis_lo,
} from './params';

const NEG_INF: f32 = -Infinity;

/** Scratch: the converted q row and one converted K row. */
export function scores_scratch_bytes(hd: i32): usize {
  return (<usize>hd_pad(hd)) << 3;
}

export function attn_scores(params: usize, scr: usize, u0: i32, u1: i32): void {
  const nq = pi(params, P_NQ);
  const nkv = pi(params, P_NKV);
  const hd = pi(params, P_HD);
  const rep = pi(params, P_NHEAD) / pi(params, P_NHEADKV);
  const f16 = pi(params, P_KV_F16) != 0;
  const ggml = pi(params, P_NUMERICS) != 0;
  const scale = pf(params, P_SCALE);
  const stride = kv_stride(params);
  const scoresOut = pp(params, P_SCORES);
  const softOut = pp(params, P_SOFTMAX);
  const qc = scr;
  const kc = scr + ((<usize>hd_pad(hd)) << 2);
  for (let u = u0; u < u1; u++) {
    const h = u / nq;
    const i = u % nq;
    const row = (<usize>u) * (<usize>nkv) << 2;
    // Scores go to the scores row, or straight into the softmax row when only that is wanted.
    const s = scoresOut ? scoresOut + row : softOut + row;
    let q = pp(params, P_Q) + q_off(params, i, h);
    if (ggml && f16) {
      round_row_f16(q, qc, hd);
      q = qc;
    }
    const kh = pp(params, P_K) + kv_head_off(params, h / rep);
    for (let j = 0; j < nkv; j++) {
      let k = kh + (<usize>j) * stride;
      if (f16) {
        f16_row_to_f32(k, kc, hd);
        k = kc;
      }
      store<f32>(s + ((<usize>j) << 2), ggml ? dot_ggml(q, k, hd, f16) * scale : dot_1x1(q, k, hd, scale));
    }
    if (softOut) softmax_row(s, softOut + row, nkv, vis_lo(params, query_pos(params, i)), vis_hi(params, query_pos(params, i)));
  }
}

/** dst = softmax of src over [lo, hi), zeros elsewhere (src and dst may be the same row). */
function softmax_row(src: usize, dst: usize, n: i32, lo: i32, hi: i32): void {
  let m = NEG_INF;
  for (let j = lo; j < hi; j++) m = max(m, load<f32>(src + ((<usize>j) << 2)));
  let l: f32 = 0;
  const mv = f32x4.splat(m);
  let j = lo;
  for (; j + 4 <= hi; j += 4) {
    const o = (<usize>j) << 2;
    const e = exp_v128(f32x4.sub(v128.load(src + o), mv));
    v128.store(dst + o, e);
    l = (((l + f32x4.extract_lane(e, 0)) + f32x4.extract_lane(e, 1)) + f32x4.extract_lane(e, 2)) + f32x4.extract_lane(e, 3);
  }
  for (; j < hi; j++) {
    const o = (<usize>j) << 2;
    const e = f32x4.extract_lane(exp_v128(f32x4.splat(load<f32>(src + o) - m)), 0);
    store<f32>(dst + o, e);
    l = l + e;
  }
  const lv = f32x4.splat(l);
  j = lo;
  for (; j + 4 <= hi; j += 4) {
    const o = (<usize>j) << 2;
    v128.store(dst + o, f32x4.div(v128.load(dst + o), lv));
  }
  for (; j < hi; j++) {
    const o = (<usize>j) << 2;
    store<f32>(dst + o, load<f32>(dst + o) / l);
  }
  if (lo > 0) memory.fill(dst, 0, (<usize>min(lo, n)) << 2);
  if (hi < n) memory.fill(dst + ((<usize>max(hi, 0)) << 2), 0, (<usize>(n - max(hi, 0))) << 2);
}
