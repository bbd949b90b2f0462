// Exact-numerics attention (f32 arithmetic; K/V f32, or f16 widened exactly):
// a tiled online softmax that never materializes [n_q, n_kv].
//
//   attn_prefill(params, scratch, u0, u1)
//       units u = hk·n_qb + qb (n_qb = ceil(n_q / QB)): the QB queries of block
//       qb with the n_head / n_head_kv heads that read kv head hk — their rows
//       share every K/V block. Writes those rows of out.
//   attn_decode_general(params, scratch, u0, u1)    (n_q = 1)
//       units u = c·n_head_kv + hk: chunk c = kv [c·CH, (c+1)·CH) for the heads
//       of kv head hk (chunk-major, so a range of units reads whole K/V rows).
//       Writes each head's partial (m, l, O) for chunk c. The exported
//       attn_decode (decode.ts) computes the same partials in the same order,
//       faster, and falls back to this for units it does not take.
//   attn_decode_combine(params, scratch, h0, h1)   (no scratch used)
//       out rows of heads [h0, h1) from the partials, chunks in order 0, 1, 2, …
//
// Numerics of one output row (a function of the sizes and the data only):
//   blocks of TK kv positions aligned to multiples of TK, in increasing order,
//   restricted to the row's visible range (and, in decode, to the chunk);
//   per block with visible positions J:
//     s_j = exact-order score (dot.ts);  m' = max(m, max_J s_j)
//     α = exp(m − m');  p_j = exp(s_j − m')   (m = −inf at first: α = 0)
//     l = l·α + (Σ_J p_j, summed in increasing j from +0)
//     O = O·α (skipped when α = 1), then O = O + p_j·v_j for j in J ascending
//     (the vector part: fmadd, fused in the relaxed-SIMD build where the engine fuses;
//     head_dim mod 4 tail lanes: a rounded product then a rounded sum)
//   prefill: out = O / l (0 for a row that sees nothing)
//   decode chunk: the partial (m, l, O) as above over the chunk's blocks;
//   combine: from M = −inf, S = 0, O = 0, for chunks c = 0, 1, … with l_c ≠ 0:
//     M' = max(M, m_c), a = exp(M − M'), b = exp(m_c − M'),
//     O = O·a + O_c·b, S = S·a + l_c·b, M = M'; then out = O / S (0 if S = 0).
// Chunks depend on n_kv only (CH), so any split of the units among workers
// gives the same bits; with one chunk (n_kv ≤ CH) decode equals prefill.
import { exp_f32_scalar, exp_v128 } from '../nn/exp';
import { dot_1x1, dots_1x4, dots_4x2, fmadd } from './dot';
import { f16_row_to_f32 } from './half';
import {
  CH,
  hd_pad,
  kv_head_off,
  kv_stride,
  n_chunks,
  P_HD,
  P_K,
  P_KV_F16,
  P_NHEAD,
  P_NHEADKV,
  P_NKV,
  P_NQ,
  P_OUT,
  P_PARTIALS,
  P_Q,
  P_SCALE,
  P_V,
  pf,
  pi,
  pp,
  q_off,
  QB,
  query_pos,
  rec_floats,
  TK,
  vis_hi,
  vis_lo,
} from './params';

const NEG_INF: f32 = -Infinity;

// ---------------------------------------------------------------- scratch
// For R rows: row table R × 16 B (q pointer, lo, hi, target pointer), m[R],
// l[R], O [R × hdp], S [R × TK], then Kc and Vc [TK × hdp] (f16 K/V rows of
// the current block, widened once per block).

@inline
function a16(n: usize): usize {
  return (n + 15) & ~(<usize>15);
}

@inline
function off_m(R: i32): usize {
  return (<usize>R) << 4;
}

@inline
function off_l(R: i32): usize {
  return off_m(R) + a16((<usize>R) << 2);
}

@inline
function off_o(R: i32): usize {
  return off_l(R) + a16((<usize>R) << 2);
}

@inline
function off_s(R: i32, hdp: i32): usize {
  return off_o(R) + (((<usize>R) * (<usize>hdp)) << 2);
}

@inline
function off_kc(R: i32, hdp: i32): usize {
  return off_s(R, hdp) + (((<usize>R) * (<usize>TK)) << 2);
}

@inline
function off_vc(R: i32, hdp: i32): usize {
  return off_kc(R, hdp) + (((<usize>TK) * (<usize>hdp)) << 2);
}

export function flash_scratch_bytes(R: i32, hd: i32): usize {
  const hdp = hd_pad(hd);
  return off_vc(R, hdp) + (((<usize>TK) * (<usize>hdp)) << 2);
}

@inline
function row_q(scr: usize, r: i32): usize {
  return <usize>load<u32>(scr + ((<usize>r) << 4));
}

@inline
function row_lo(scr: usize, r: i32): i32 {
  return load<i32>(scr + ((<usize>r) << 4), 4);
}

@inline
function row_hi(scr: usize, r: i32): i32 {
  return load<i32>(scr + ((<usize>r) << 4), 8);
}

@inline
function row_target(scr: usize, r: i32): usize {
  return <usize>load<u32>(scr + ((<usize>r) << 4), 12);
}

@inline
function set_row(scr: usize, r: i32, q: usize, lo: i32, hi: i32, target: usize): void {
  const o = scr + ((<usize>r) << 4);
  store<u32>(o, <u32>q);
  store<i32>(o, lo, 4);
  store<i32>(o, hi, 8);
  store<u32>(o, <u32>target, 12);
}

function init_state(scr: usize, R: i32, hdp: i32): void {
  const m = scr + off_m(R);
  const l = scr + off_l(R);
  for (let r = 0; r < R; r++) {
    store<f32>(m + ((<usize>r) << 2), NEG_INF);
    store<f32>(l + ((<usize>r) << 2), 0);
  }
  memory.fill(scr + off_o(R), 0, ((<usize>R) * (<usize>hdp)) << 2);
}

// ---------------------------------------------------------------- one block

/** K or V rows [j0, j1) of kv head hk: their base (the row of j = b0) and byte stride, widened into `conv` if f16. */
@inline
function block_rows(params: usize, src: usize, hk: i32, b0: i32, j0: i32, j1: i32, conv: usize, hdp: i32): usize {
  const hd = pi(params, P_HD);
  const stride = kv_stride(params);
  const head = src + kv_head_off(params, hk);
  if (pi(params, P_KV_F16) == 0) return head + (<usize>b0) * stride;
  const row = (<usize>hdp) << 2;
  for (let j = j0; j < j1; j++) {
    f16_row_to_f32(head + (<usize>j) * stride, conv + (<usize>(j - b0)) * row, hd);
  }
  return conv;
}

@inline
function block_stride(params: usize, hdp: i32): usize {
  return pi(params, P_KV_F16) ? (<usize>hdp) << 2 : kv_stride(params);
}

/** Scores of every row against kv [u0, u1) → S[r][j − b0]. */
function block_scores(params: usize, scr: usize, R: i32, kb: usize, ks: usize, b0: i32, u0: i32, u1: i32): void {
  const hd = pi(params, P_HD);
  const hdp = hd_pad(hd);
  const scale = pf(params, P_SCALE);
  const S = scr + off_s(R, hdp);
  const srow: usize = (<usize>TK) << 2;
  let r = 0;
  for (; r + 4 <= R; r += 4) {
    const q0 = row_q(scr, r);
    const q1 = row_q(scr, r + 1);
    const q2 = row_q(scr, r + 2);
    const q3 = row_q(scr, r + 3);
    const out = S + (<usize>r) * srow;
    let j = u0;
    for (; j + 2 <= u1; j += 2) {
      dots_4x2(q0, q1, q2, q3, kb + (<usize>(j - b0)) * ks, ks, hd, scale, out + ((<usize>(j - b0)) << 2), srow);
    }
    if (j < u1) {
      const k = kb + (<usize>(j - b0)) * ks;
      const o = out + ((<usize>(j - b0)) << 2);
      store<f32>(o, dot_1x1(q0, k, hd, scale));
      store<f32>(o + srow, dot_1x1(q1, k, hd, scale));
      store<f32>(o + 2 * srow, dot_1x1(q2, k, hd, scale));
      store<f32>(o + 3 * srow, dot_1x1(q3, k, hd, scale));
    }
  }
  for (; r < R; r++) {
    const q = row_q(scr, r);
    const out = S + (<usize>r) * srow;
    let j = u0;
    for (; j + 4 <= u1; j += 4) {
      dots_1x4(q, kb + (<usize>(j - b0)) * ks, ks, hd, scale, out + ((<usize>(j - b0)) << 2));
    }
    for (; j < u1; j++) {
      store<f32>(out + ((<usize>(j - b0)) << 2), dot_1x1(q, kb + (<usize>(j - b0)) * ks, hd, scale));
    }
  }
}

/** O = O·α (α ≠ 1), then O = O + p_j·v_j for j in [j0, j1). */
@inline
function accumulate(o: usize, hd: i32, alpha: f32, p: usize, vb: usize, vs: usize, b0: i32, j0: i32, j1: i32): void {
  const scaled = alpha != 1;
  const av = f32x4.splat(alpha);
  let d = 0;
  for (; d + 16 <= hd; d += 16) {
    const od = o + ((<usize>d) << 2);
    let o0 = v128.load(od);
    let o1 = v128.load(od, 16);
    let o2 = v128.load(od, 32);
    let o3 = v128.load(od, 48);
    if (scaled) {
      o0 = f32x4.mul(o0, av);
      o1 = f32x4.mul(o1, av);
      o2 = f32x4.mul(o2, av);
      o3 = f32x4.mul(o3, av);
    }
    let v = vb + (<usize>(j0 - b0)) * vs + ((<usize>d) << 2);
    for (let j = j0; j < j1; j++) {
      const pj = v128.load32_splat(p + ((<usize>(j - b0)) << 2));
      o0 = fmadd(o0, pj, v128.load(v));
      o1 = fmadd(o1, pj, v128.load(v, 16));
      o2 = fmadd(o2, pj, v128.load(v, 32));
      o3 = fmadd(o3, pj, v128.load(v, 48));
      v += vs;
    }
    v128.store(od, o0);
    v128.store(od, o1, 16);
    v128.store(od, o2, 32);
    v128.store(od, o3, 48);
  }
  for (; d + 4 <= hd; d += 4) {
    const od = o + ((<usize>d) << 2);
    let o0 = v128.load(od);
    if (scaled) o0 = f32x4.mul(o0, av);
    let v = vb + (<usize>(j0 - b0)) * vs + ((<usize>d) << 2);
    for (let j = j0; j < j1; j++) {
      o0 = fmadd(o0, v128.load32_splat(p + ((<usize>(j - b0)) << 2)), v128.load(v));
      v += vs;
    }
    v128.store(od, o0);
  }
  for (; d < hd; d++) {
    const od = o + ((<usize>d) << 2);
    let x = load<f32>(od);
    if (scaled) x = x * alpha;
    let v = vb + (<usize>(j0 - b0)) * vs + ((<usize>d) << 2);
    for (let j = j0; j < j1; j++) {
      x = x + load<f32>(p + ((<usize>(j - b0)) << 2)) * load<f32>(v);
      v += vs;
    }
    store<f32>(od, x);
  }
}

/** One block [b0, b1) of kv head hk for every row (each within its own [lo, hi)). */
function flash_block(params: usize, scr: usize, R: i32, hk: i32, b0: i32, b1: i32): void {
  const hd = pi(params, P_HD);
  const hdp = hd_pad(hd);
  let u0 = b1;
  let u1 = b0;
  for (let r = 0; r < R; r++) {
    const lo = max(row_lo(scr, r), b0);
    const hi = min(row_hi(scr, r), b1);
    if (lo < hi) {
      u0 = min(u0, lo);
      u1 = max(u1, hi);
    }
  }
  if (u0 >= u1) return;
  const ks = block_stride(params, hdp);
  const kb = block_rows(params, pp(params, P_K), hk, b0, u0, u1, scr + off_kc(R, hdp), hdp);
  block_scores(params, scr, R, kb, ks, b0, u0, u1);
  const vb = block_rows(params, pp(params, P_V), hk, b0, u0, u1, scr + off_vc(R, hdp), hdp);
  const S = scr + off_s(R, hdp);
  for (let r = 0; r < R; r++) {
    const lo = max(row_lo(scr, r), b0);
    const hi = min(row_hi(scr, r), b1);
    if (lo >= hi) continue;
    const s = S + (((<usize>r) * (<usize>TK)) << 2);
    let mb = NEG_INF;
    for (let j = lo; j < hi; j++) mb = max(mb, load<f32>(s + ((<usize>(j - b0)) << 2)));
    const mp = scr + off_m(R) + ((<usize>r) << 2);
    const lp = scr + off_l(R) + ((<usize>r) << 2);
    const m = load<f32>(mp);
    const mn = max(m, mb);
    const alpha = exp_f32_scalar(m - mn);
    // p_j = exp(s_j − m') in place, four at a time over whole lanes of the visible span.
    const mv = f32x4.splat(mn);
    const c0 = (lo - b0) & ~3;
    for (let c = c0; c < hi - b0; c += 4) {
      const a = s + ((<usize>c) << 2);
      v128.store(a, exp_v128(f32x4.sub(v128.load(a), mv)));
    }
    let ps: f32 = 0;
    for (let j = lo; j < hi; j++) ps = ps + load<f32>(s + ((<usize>(j - b0)) << 2));
    store<f32>(lp, load<f32>(lp) * alpha + ps);
    store<f32>(mp, mn);
    const o = scr + off_o(R) + (((<usize>r) * (<usize>hdp)) << 2);
    accumulate(o, hd, alpha, s, vb, ks, b0, lo, hi);
  }
}

/** Runs every block of [k0, k1) that some row sees. */
function flash_span(params: usize, scr: usize, R: i32, hk: i32, k0: i32, k1: i32): void {
  let lo = k1;
  let hi = k0;
  for (let r = 0; r < R; r++) {
    const a = max(row_lo(scr, r), k0);
    const b = min(row_hi(scr, r), k1);
    if (a < b) {
      lo = min(lo, a);
      hi = max(hi, b);
    }
  }
  for (let b0 = lo - (lo % TK); b0 < hi; b0 += TK) flash_block(params, scr, R, hk, b0, min(b0 + TK, k1));
}

// ---------------------------------------------------------------- kernels

export function attn_prefill(params: usize, scr: usize, u0: i32, u1: i32): void {
  const nq = pi(params, P_NQ);
  const rep = pi(params, P_NHEAD) / pi(params, P_NHEADKV);
  const hd = pi(params, P_HD);
  const hdp = hd_pad(hd);
  const nqb = (nq + QB - 1) / QB;
  const q = pp(params, P_Q);
  const out = pp(params, P_OUT);
  for (let u = u0; u < u1; u++) {
    const hk = u / nqb;
    const i0 = (u % nqb) * QB;
    const i1 = min(i0 + QB, nq);
    const R = (i1 - i0) * rep;
    let r = 0;
    for (let i = i0; i < i1; i++) {
      const p = query_pos(params, i);
      const lo = vis_lo(params, p);
      const hi = vis_hi(params, p);
      for (let t = 0; t < rep; t++) {
        const off = q_off(params, i, hk * rep + t);
        set_row(scr, r++, q + off, lo, hi, out + off);
      }
    }
    init_state(scr, R, hdp);
    flash_span(params, scr, R, hk, 0, pi(params, P_NKV));
    for (r = 0; r < R; r++) {
      const l = load<f32>(scr + off_l(R) + ((<usize>r) << 2));
      finish_row(scr + off_o(R) + (((<usize>r) * (<usize>hdp)) << 2), row_target(scr, r), hd, l);
    }
  }
}

/** dst = O / l, or zeros when l = 0 (a row that sees no kv position). */
function finish_row(o: usize, dst: usize, hd: i32, l: f32): void {
  if (l == 0) {
    memory.fill(dst, 0, (<usize>hd) << 2);
    return;
  }
  const lv = f32x4.splat(l);
  let d = 0;
  for (; d + 4 <= hd; d += 4) {
    const x = (<usize>d) << 2;
    v128.store(dst + x, f32x4.div(v128.load(o + x), lv));
  }
  for (; d < hd; d++) {
    const x = (<usize>d) << 2;
    store<f32>(dst + x, load<f32>(o + x) / l);
  }
}

/** The decode units [u0, u1) on the general path (decode.ts's attn_decode falls back to it). */
export function attn_decode_general(params: usize, scr: usize, u0: i32, u1: i32): void {
  const rep = pi(params, P_NHEAD) / pi(params, P_NHEADKV);
  const hd = pi(params, P_HD);
  const hdp = hd_pad(hd);
  const nkv = pi(params, P_NKV);
  const nch = n_chunks(params);
  const nhkv = pi(params, P_NHEADKV);
  const rec = (<usize>rec_floats(hd)) << 2;
  const p = query_pos(params, 0);
  const q = pp(params, P_Q);
  const parts = pp(params, P_PARTIALS);
  for (let u = u0; u < u1; u++) {
    const c = u / nhkv;
    const hk = u % nhkv;
    const k0 = c * CH;
    const k1 = min(k0 + CH, nkv);
    const lo = max(vis_lo(params, p), k0);
    const hi = min(vis_hi(params, p), k1);
    for (let t = 0; t < rep; t++) {
      const h = hk * rep + t;
      set_row(scr, t, q + q_off(params, 0, h), lo, hi, parts + ((<usize>h) * (<usize>nch) + (<usize>c)) * rec);
    }
    init_state(scr, rep, hdp);
    flash_span(params, scr, rep, hk, k0, k1);
    for (let t = 0; t < rep; t++) {
      const dst = row_target(scr, t);
      store<f32>(dst, load<f32>(scr + off_m(rep) + ((<usize>t) << 2)));
      store<f32>(dst, load<f32>(scr + off_l(rep) + ((<usize>t) << 2)), 4);
      memory.copy(dst + 16, scr + off_o(rep) + (((<usize>t) * (<usize>hdp)) << 2), (<usize>hdp) << 2);
    }
  }
}

export function attn_decode_combine(params: usize, scr: usize, h0: i32, h1: i32): void {
  const hd = pi(params, P_HD);
  const nch = n_chunks(params);
  const rec = (<usize>rec_floats(hd)) << 2;
  const parts = pp(params, P_PARTIALS);
  const out = pp(params, P_OUT);
  for (let h = h0; h < h1; h++) {
    const dst = out + q_off(params, 0, h);
    memory.fill(dst, 0, (<usize>hd) << 2);
    let M = NEG_INF;
    let S: f32 = 0;
    for (let c = 0; c < nch; c++) {
      const pc = parts + ((<usize>h) * (<usize>nch) + (<usize>c)) * rec;
      const mc = load<f32>(pc);
      const lc = load<f32>(pc, 4);
      if (lc == 0) continue;
      const mn = max(M, mc);
      const a = exp_f32_scalar(M - mn);
      const b = exp_f32_scalar(mc - mn);
      const av = f32x4.splat(a);
      const bv = f32x4.splat(b);
      const oc = pc + 16;
      let d = 0;
      for (; d + 4 <= hd; d += 4) {
        const x = (<usize>d) << 2;
        v128.store(dst + x, f32x4.add(f32x4.mul(v128.load(dst + x), av), f32x4.mul(v128.load(oc + x), bv)));
      }
      for (; d < hd; d++) {
        const x = (<usize>d) << 2;
        store<f32>(dst + x, load<f32>(dst + x) * a + load<f32>(oc + x) * b);
      }
      S = S * a + lc * b;
      M = mn;
    }
    finish_row(dst, dst, hd, S);
  }
}
