// ggml-numerics attention: what ggml's CPU flash attention computes in its
// per-row path (ggml_compute_forward_flash_attn_ext_f16_one_chunk, ggml
// d99724f2; also the path of ggml's reference mode), compiled for wasm SIMD
// (no fused multiply-add), with K and V both f16 or both f32 and no ALiBi,
// softcap or sinks:
//
//   Q row → K's vec_dot type: f16 K: rounded to f16; f32 K: as is.
//   for each visible kv position j in increasing order:
//     s = dot(K_j, Q) in ggml's order (dot.ts), s = s·scale
//     if s > M: ms = exp(M − s), M = s, A = A·ms (f16 V: rounded to f16 each), vs = 1
//     else:     ms = 1, vs = exp(s − M)
//     A = A + V_j·vs  (a rounded product, a rounded sum; f16 V: then rounded to f16)
//     S = S·ms + vs
//   out = A · (S == 0 ? 0 : 1/S)
// from M = −inf, S = 0, A = 0. The only difference from llama.cpp's wasm
// build on this path is exp: this uses exp_v128 (assembly/nn/exp.ts,
// ≤ 1.75 u relative) where ggml calls the C library's expf. Native x86/ARM
// builds also fuse the multiply-adds (one rounding less per step).
// Not reproduced: the paths ggml d99724f2 takes instead of this one outside
// its reference mode: n_q ≥ 64 (GGML_FA_TILE_Q) → a tiled f32 GEMM path (Q
// not rounded, V accumulated in f32); n_q = 1 with n_kv ≥ 512 → kv split in
// ceil(n_kv / threads) chunks combined in f32 (the bits depend on the thread
// count). Before ggml commit 10e7b315 (2026-01-25) this was the only path.
//
//   attn_ggml(params, scratch, u0, u1)
//       units u = i·n_head_kv + hk: query i with the heads that read kv head hk.
import { exp_f32_scalar } from '../nn/exp';
import { dot_ggml } from './dot';
import { f16_row_to_f32, round_f16_fast_v128, round_f16_v128, round_row_f16 } from './half';
import {
  hd_pad,
  kv_head_off,
  kv_stride,
  P_HD,
  P_K,
  P_KV_F16,
  P_NHEAD,
  P_NHEADKV,
  P_OUT,
  P_Q,
  P_SCALE,
  P_V,
  pf,
  pi,
  pp,
  q_off,
  query_pos,
  vis_hi,
  vis_lo,
} from './params';

const NEG_INF: f32 = -Infinity;

// Scratch for up to R = n_head rows: Qc [R × hdp], A [R × hdp], M [R], S [R], Kc [hdp], Vc [hdp].
export function ggml_scratch_bytes(R: i32, hd: i32): usize {
  const hdp = <usize>hd_pad(hd);
  const r = <usize>R;
  return (2 * r * hdp + 2 * ((r + 3) & ~3) + 2 * hdp) << 2;
}

/** a = round?(a·x), elementwise (ggml_vec_scale_f16 / _f32). */
@inline
function scale_row(a: usize, hd: i32, x: f32, f16: bool): void {
  const xv = f32x4.splat(x);
  let d = 0;
  for (; d + 4 <= hd; d += 4) {
    const o = a + ((<usize>d) << 2);
    const y = f32x4.mul(v128.load(o), xv);
    v128.store(o, f16 ? round_f16_fast_v128(y) : y);
  }
  for (; d < hd; d++) {
    const o = a + ((<usize>d) << 2);
    const y = f32x4.mul(f32x4.splat(load<f32>(o)), xv);
    store<f32>(o, f32x4.extract_lane(f16 ? round_f16_v128(y) : y, 0));
  }
}

/** a = round?(a + v·x), elementwise (ggml_vec_mad_f16 / _f32 without FMA). */
@inline
function mad_row(a: usize, v: usize, hd: i32, x: f32, f16: bool): void {
  const xv = f32x4.splat(x);
  let d = 0;
  for (; d + 4 <= hd; d += 4) {
    const o = (<usize>d) << 2;
    const y = f32x4.add(v128.load(a + o), f32x4.mul(v128.load(v + o), xv));
    v128.store(a + o, f16 ? round_f16_fast_v128(y) : y);
  }
  for (; d < hd; d++) {
    const o = (<usize>d) << 2;
    const y = f32x4.add(f32x4.splat(load<f32>(a + o)), f32x4.mul(f32x4.splat(load<f32>(v + o)), xv));
    store<f32>(a + o, f32x4.extract_lane(f16 ? round_f16_v128(y) : y, 0));
  }
}

export function attn_ggml(params: usize, scr: usize, u0: i32, u1: i32): void {
  const nhkv = pi(params, P_NHEADKV);
  const rep = pi(params, P_NHEAD) / nhkv;
  // Consecutive units of one query (its kv heads hk0 .. hk1 − 1) share one sweep over
  // the kv positions, reading whole stretches of each K/V row; heads stay independent.
  let u = u0;
  while (u < u1) {
    const i = u / nhkv;
    const hk0 = u % nhkv;
    const hk1 = min(nhkv, hk0 + (u1 - u));
    ggml_heads(params, scr, i, hk0, hk1, rep);
    u += hk1 - hk0;
  }
}

/** Query i with the heads of kv heads [hk0, hk1): rows t = (hk − hk0)·rep + r. */
function ggml_heads(params: usize, scr: usize, i: i32, hk0: i32, hk1: i32, rep: i32): void {
  const R = (hk1 - hk0) * rep;
  const hd = pi(params, P_HD);
  const hdp = <usize>hd_pad(hd);
  const f16 = pi(params, P_KV_F16) != 0;
  const scale = pf(params, P_SCALE);
  const stride = kv_stride(params);
  const row = hdp << 2;
  const rmax = <usize>pi(params, P_NHEAD);
  const qc = scr;
  const acc = qc + rmax * row;
  const mp = acc + rmax * row;
  const sp = mp + (((rmax + 3) & ~3) << 2);
  const kc = sp + (((rmax + 3) & ~3) << 2);
  const vc = kc + row;
  const q = pp(params, P_Q);
  const out = pp(params, P_OUT);
  const p = query_pos(params, i);
  const lo = vis_lo(params, p);
  const hi = vis_hi(params, p);
  const h0 = hk0 * rep;
  for (let t = 0; t < R; t++) {
    const src = q + q_off(params, i, h0 + t);
    const dst = qc + (<usize>t) * row;
    if (f16) round_row_f16(src, dst, hd);
    else memory.copy(dst, src, (<usize>hd) << 2);
    store<f32>(mp + ((<usize>t) << 2), NEG_INF);
    store<f32>(sp + ((<usize>t) << 2), 0);
  }
  memory.fill(acc, 0, (<usize>R) * row);
  for (let j = lo; j < hi; j++) {
    for (let hk = hk0; hk < hk1; hk++) {
      let kj = pp(params, P_K) + kv_head_off(params, hk) + (<usize>j) * stride;
      let vj = pp(params, P_V) + kv_head_off(params, hk) + (<usize>j) * stride;
      if (f16) {
        f16_row_to_f32(kj, kc, hd);
        f16_row_to_f32(vj, vc, hd);
        kj = kc;
        vj = vc;
      }
      for (let t = (hk - hk0) * rep; t < (hk - hk0 + 1) * rep; t++) {
        const s = dot_ggml(qc + (<usize>t) * row, kj, hd, f16) * scale;
        const a = acc + (<usize>t) * row;
        const mt = mp + ((<usize>t) << 2);
        const m = load<f32>(mt);
        let ms: f32 = 1;
        let vs: f32 = 1;
        if (s > m) {
          ms = exp_f32_scalar(m - s);
          store<f32>(mt, s);
          scale_row(a, hd, ms, f16);
        } else {
          vs = exp_f32_scalar(s - m);
        }
        mad_row(a, vj, hd, vs, f16);
        const st = sp + ((<usize>t) << 2);
        store<f32>(st, load<f32>(st) * ms + vs);
      }
    }
  }
  for (let t = 0; t < R; t++) {
    const S = load<f32>(sp + ((<usize>t) << 2));
    const inv: f32 = S == 0 ? 0 : 1 / S;
    const a = acc + (<usize>t) * row;
    const dst = out + q_off(params, i, h0 + t);
    const iv = f32x4.splat(inv);
    let d = 0;
    for (; d + 4 <= hd; d += 4) {
      const o = (<usize>d) << 2;
      v128.store(dst + o, f32x4.mul(v128.load(a + o), iv));
    }
    for (; d < hd; d++) {
      const o = (<usize>d) << 2;
      store<f32>(dst + o, load<f32>(a + o) * inv);
    }
  }
}
