// Exact-numerics decode (n_q = 1): the order flash.ts documents, computed for
// the n_head / n_head_kv query heads of a kv head together.
//
//   attn_decode(params, scratch, u0, u1): units u = c·n_head_kv + hk as in
//   flash.ts; writes each head's partial (m, l, O) for chunk c, bit for bit
//   what flash.ts's general path (attn_decode_general) writes.
//
// Per block of TK positions the heads go in tiles of four rows (a last group
// of three padded with a zero row; one or two left over go one row at a
// time). A tile's scores are four heads × two keys per step, summed across
// lanes four at a time (lane r = head r), so its online-softmax step runs on
// f32x4 (lane r = head r: the same operations per head as flash.ts's scalar
// ones); its V update is four heads × eight lanes per pair of V loads. Every
// loop keeps its accumulators in registers (eight at most).
//
// f16 K/V are widened in registers as they are loaded, exactly and without a
// multiply: four halves sign-extended to i32 lanes (one load), shifted left
// by 13 and masked to sign | (h & 0x7fff) << 13: the f32 k·2^-112 for every
// finite half (subnormal halves included). The query (scores) and the weights
// p_j (V update) are multiplied by 2^112 instead (exact: |q| < 2^16, p ≤ 1),
// so each product q'·k' and p'·v' is the same real number as q·k and p·v and
// rounds to the same f32, fused or not. A unit whose query has |q| ≥ 2^16 (or
// inf, NaN), or whose K or V rows hold an inf or NaN half (a running max over
// each block's halves, checked once per unit), is computed again by the
// general path.
import { exp_f32_scalar, exp_v128 } from '../nn/exp';
import { fmadd } from './dot';
import { attn_decode_general } from './flash';
import {
  CH,
  kv_head_off,
  kv_stride,
  n_chunks,
  P_HD,
  P_K,
  P_KV_F16,
  P_NHEAD,
  P_NHEADKV,
  P_NKV,
  P_PARTIALS,
  P_Q,
  P_SCALE,
  P_V,
  pf,
  pi,
  pp,
  q_off,
  query_pos,
  rec_floats,
  TK,
  vis_hi,
  vis_lo,
} from './params';

const NEG_INF: f32 = -Infinity;
const TWO_112: f32 = 5.192296858534828e33;
/** Bits of 2^16: the smallest |q| whose ·2^112 would overflow. */
const Q_LIMIT: i32 = 0x47800000;
/** A half shifted left by one (sign dropped) at or above this has an all-ones exponent: inf or NaN. */
const HALF_SPECIAL: i32 = 0xf800;
/** Score slots per row (TK, and room for the spare columns of a block's last pair or quad). */
const SLOTS: i32 = 32;

// ---------------------------------------------------------------- scratch
// R = rep rounded up to 4 rows (tile τ = rows 4τ .. 4τ + 3), G = hd4 / 4 lane
// groups.
//   m, l, α [R] (a tile's four at 16·τ: one f32x4)
//   S: per tile [SLOTS][4 rows]; then one single row's [SLOTS]
//   Q' packed: group g of row 4τ + s at ((τ·G + g)·4 + s)·16; tail lane t at
//      tails + τ·64 + t·16 + s·4
//   O packed likewise; tail lane t of row r at tails + r·16 + t·4

@inline
function rows4(rep: i32): i32 {
  return (rep + 3) & ~3;
}

@inline
function off_l(R: i32): usize {
  return (<usize>R) << 2;
}

@inline
function off_a(R: i32): usize {
  return (<usize>R) << 3;
}

@inline
function off_s(R: i32): usize {
  return (<usize>R) * 12;
}

@inline
function off_row_s(R: i32): usize {
  return off_s(R) + (<usize>(R >> 2)) * (<usize>SLOTS) * 16;
}

@inline
function off_q(R: i32): usize {
  return off_row_s(R) + ((<usize>SLOTS) << 2);
}

/** Bytes of one packed [R × hd4] array and its tails. */
@inline
function packed_bytes(R: i32, hd: i32): usize {
  return ((<usize>R) * (<usize>(hd & ~3)) + ((<usize>R) << 2)) << 2;
}

@inline
function off_o(R: i32, hd: i32): usize {
  return off_q(R) + packed_bytes(R, hd);
}

export function decode_scratch_bytes(rep: i32, hd: i32): usize {
  return off_o(rows4(rep), hd) + packed_bytes(rows4(rep), hd);
}

/** The tails of a packed array at `packed`: after its R × hd4 lanes (hd4 = hd & ~3). */
@inline
function tails_of(packed: usize, R: i32, hd4: i32): usize {
  return packed + (((<usize>R) * (<usize>hd4)) << 2);
}

/** Byte offset of row r's tail lane 0 in Q's tails (tile-major: rows of a tile 4 bytes apart). */
@inline
function q_tail_row(r: i32): usize {
  return ((<usize>(r >> 2)) << 6) + ((<usize>(r & 3)) << 2);
}

/** Byte offset of row r's group 0 in a packed array (G groups per row; its groups are 64 bytes apart). */
@inline
function packed_row(r: i32, G: i32): usize {
  return ((((<usize>(r >> 2)) * (<usize>G)) << 2) + (<usize>(r & 3))) << 4;
}

// ---------------------------------------------------------------- K/V lanes

/** Four K/V values at p as the kernels multiply them: f16 as k·2^-112 (see above), f32 as stored. */
@inline
function kv4<T>(p: usize): v128 {
  if (sizeof<T>() == 2) return v128.and(i32x4.shl(v128.load16x4_s(p), 13), i32x4.splat(0x8fffffff));
  return v128.load(p);
}

/** kv4 of the next four values (p + 4 elements). */
@inline
function kv4_next<T>(p: usize): v128 {
  if (sizeof<T>() == 2) return v128.and(i32x4.shl(v128.load16x4_s(p, 8), 13), i32x4.splat(0x8fffffff));
  return v128.load(p, 16);
}

/** One K/V value at p, as kv4. */
@inline
function kv1<T>(p: usize): f32 {
  if (sizeof<T>() == 2) {
    const h = <u32>load<u16>(p);
    return reinterpret<f32>(((h & 0x8000) << 16) | ((h & 0x7fff) << 13));
  }
  return load<f32>(p);
}

/**
 * Running max of the halves of n f16 K rows and V rows, shifted left by one
 * (sign dropped): ≥ HALF_SPECIAL iff some half was inf or NaN.
 */
function watch_rows(k: usize, v: usize, stride: usize, n: i32, hd: i32, sp: v128): v128 {
  const bytes = (<usize>(hd & ~7)) << 1;
  for (let i = 0; i < n; i++) {
    let x = k + (<usize>i) * stride;
    let y = v + (<usize>i) * stride;
    const xe = x + bytes;
    while (x < xe) {
      sp = i16x8.max_u(sp, i16x8.max_u(i16x8.shl(v128.load(x), 1), i16x8.shl(v128.load(y), 1)));
      x += 16;
      y += 16;
    }
    for (let t = 0; t < (hd & 7); t++) {
      const o = (<usize>t) << 1;
      sp = i16x8.max_u(sp, i16x8.shl(v128.load16_splat(x + o), 1));
      sp = i16x8.max_u(sp, i16x8.shl(v128.load16_splat(y + o), 1));
    }
  }
  return sp;
}

// ---------------------------------------------------------------- scores

/** [hsum(a0), hsum(a1), hsum(a2), hsum(a3)] with hsum(a) = (a.0 + a.1) + (a.2 + a.3), dot.ts's pair order. */
@inline
function hsum4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const t0 = v128.shuffle<f32>(a0, a1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(a0, a1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(a2, a3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(a2, a3, 2, 6, 3, 7);
  const c0 = v128.shuffle<f32>(t0, t2, 0, 1, 4, 5);
  const c1 = v128.shuffle<f32>(t0, t2, 2, 3, 6, 7);
  const c2 = v128.shuffle<f32>(t1, t3, 0, 1, 4, 5);
  const c3 = v128.shuffle<f32>(t1, t3, 2, 3, 6, 7);
  return f32x4.add(f32x4.add(c0, c1), f32x4.add(c2, c3));
}

/**
 * Scores of a tile's four rows (Q' packed at qp, tails at qt) against the K
 * rows ka and kb → f32x4 (lane r = row r) at out_a and out_b.
 */
@inline
function scores_tile<T>(qp: usize, qt: usize, ka: usize, kb: usize, hd: i32, scale: f32, out_a: usize, out_b: usize): void {
  const hd4 = hd & ~3;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0);
  let b1 = f32x4.splat(0);
  let b2 = f32x4.splat(0);
  let b3 = f32x4.splat(0);
  let q = qp;
  const qe = qp + ((<usize>hd4) << 4);
  let x = ka;
  let y = kb;
  while (q < qe) {
    const xk = kv4<T>(x);
    const yk = kv4<T>(y);
    let w = v128.load(q);
    a0 = fmadd(a0, w, xk);
    b0 = fmadd(b0, w, yk);
    w = v128.load(q, 16);
    a1 = fmadd(a1, w, xk);
    b1 = fmadd(b1, w, yk);
    w = v128.load(q, 32);
    a2 = fmadd(a2, w, xk);
    b2 = fmadd(b2, w, yk);
    w = v128.load(q, 48);
    a3 = fmadd(a3, w, xk);
    b3 = fmadd(b3, w, yk);
    q += 64;
    x += 4 * sizeof<T>();
    y += 4 * sizeof<T>();
  }
  let va = hsum4(a0, a1, a2, a3);
  let vb = hsum4(b0, b1, b2, b3);
  // Tail lanes: s = s + q[d]·k[d] per row, a rounded product then a rounded sum.
  for (let t = 0; t < hd - hd4; t++) {
    const w = v128.load(qt + ((<usize>t) << 4));
    va = f32x4.add(va, f32x4.mul(w, f32x4.splat(kv1<T>(x + <usize>(t * sizeof<T>())))));
    vb = f32x4.add(vb, f32x4.mul(w, f32x4.splat(kv1<T>(y + <usize>(t * sizeof<T>())))));
  }
  const sv = f32x4.splat(scale);
  v128.store(out_a, f32x4.mul(va, sv));
  v128.store(out_b, f32x4.mul(vb, sv));
}

/**
 * Scores of one row (groups of Q' 64 bytes apart from qp, tail lanes 16
 * bytes apart from qt) against the K rows k0..k3 → out[0..3].
 */
@inline
function scores_row<T>(
  qp: usize,
  qt: usize,
  k0: usize,
  k1: usize,
  k2: usize,
  k3: usize,
  hd: i32,
  scale: f32,
  out: usize,
): void {
  const hd4 = hd & ~3;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let q = qp;
  const qe = qp + ((<usize>(hd & ~7)) << 4);
  let off: usize = 0;
  while (q < qe) {
    const wl = v128.load(q);
    const wh = v128.load(q, 64);
    a0 = fmadd(fmadd(a0, wl, kv4<T>(k0 + off)), wh, kv4_next<T>(k0 + off));
    a1 = fmadd(fmadd(a1, wl, kv4<T>(k1 + off)), wh, kv4_next<T>(k1 + off));
    a2 = fmadd(fmadd(a2, wl, kv4<T>(k2 + off)), wh, kv4_next<T>(k2 + off));
    a3 = fmadd(fmadd(a3, wl, kv4<T>(k3 + off)), wh, kv4_next<T>(k3 + off));
    q += 128;
    off += 8 * sizeof<T>();
  }
  if (hd4 & 4) {
    const w = v128.load(q);
    a0 = fmadd(a0, w, kv4<T>(k0 + off));
    a1 = fmadd(a1, w, kv4<T>(k1 + off));
    a2 = fmadd(a2, w, kv4<T>(k2 + off));
    a3 = fmadd(a3, w, kv4<T>(k3 + off));
    off += 4 * sizeof<T>();
  }
  let v = hsum4(a0, a1, a2, a3);
  const tl = hd - hd4;
  if (tl > 0) {
    let s0 = f32x4.extract_lane(v, 0);
    let s1 = f32x4.extract_lane(v, 1);
    let s2 = f32x4.extract_lane(v, 2);
    let s3 = f32x4.extract_lane(v, 3);
    for (let t = 0; t < tl; t++) {
      const w = load<f32>(qt + ((<usize>t) << 4));
      const e = off + <usize>(t * sizeof<T>());
      s0 = s0 + w * kv1<T>(k0 + e);
      s1 = s1 + w * kv1<T>(k1 + e);
      s2 = s2 + w * kv1<T>(k2 + e);
      s3 = s3 + w * kv1<T>(k3 + e);
    }
    v = f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(s0), 1, s1), 2, s2), 3, s3);
  }
  v128.store(out, f32x4.mul(v, f32x4.splat(scale)));
}

// ---------------------------------------------------------------- softmax

/**
 * A tile's online-softmax step over slots [s0, s0 + n) of its scores (f32x4
 * per slot, lane r = row r): flash.ts's per-row steps, lane-wise. p_j (·2^112
 * for f16) replaces the scores. Returns whether some row's α ≠ 1.
 */
@inline
function softmax_tile(mp: usize, lp: usize, ap: usize, sp: usize, n: i32, f16: bool): bool {
  const se = sp + ((<usize>n) << 4);
  let mb = f32x4.splat(NEG_INF);
  for (let s = sp; s < se; s += 16) mb = f32x4.max(mb, v128.load(s));
  const m = v128.load(mp);
  const mn = f32x4.max(m, mb);
  const alpha = exp_v128(f32x4.sub(m, mn));
  let ps = f32x4.splat(0);
  for (let s = sp; s < se; s += 16) {
    const p = exp_v128(f32x4.sub(v128.load(s), mn));
    ps = f32x4.add(ps, p);
    v128.store(s, f16 ? f32x4.mul(p, f32x4.splat(TWO_112)) : p);
  }
  v128.store(lp, f32x4.add(f32x4.mul(v128.load(lp), alpha), ps));
  v128.store(mp, mn);
  v128.store(ap, alpha);
  return v128.any_true(f32x4.ne(alpha, f32x4.splat(1)));
}

/** One row's online-softmax step over its scores s[0 .. n) (as flash.ts's flash_block). Returns α. */
@inline
function softmax_row(mp: usize, lp: usize, s: usize, n: i32, f16: bool): f32 {
  let mb = NEG_INF;
  for (let j = 0; j < n; j++) mb = max(mb, load<f32>(s + ((<usize>j) << 2)));
  const m = load<f32>(mp);
  const mn = max(m, mb);
  const alpha = exp_f32_scalar(m - mn);
  const mv = f32x4.splat(mn);
  for (let c = 0; c < n; c += 4) {
    const a = s + ((<usize>c) << 2);
    v128.store(a, exp_v128(f32x4.sub(v128.load(a), mv)));
  }
  let ps: f32 = 0;
  for (let j = 0; j < n; j++) ps = ps + load<f32>(s + ((<usize>j) << 2));
  store<f32>(lp, load<f32>(lp) * alpha + ps);
  store<f32>(mp, mn);
  if (f16) {
    for (let c = 0; c < n; c += 4) {
      const a = s + ((<usize>c) << 2);
      v128.store(a, f32x4.mul(v128.load(a), f32x4.splat(TWO_112)));
    }
  }
  return alpha;
}

// ---------------------------------------------------------------- V update

/**
 * A tile: O = O·α (when some row's α ≠ 1; α = 1 leaves a row's bits as they
 * are), then O = O + p_j·v_j for the n V rows from v0 (stride vs), p_j of
 * row r at pj + 16·i + 4·r. O packed at op, tails at ot (row r at ot + 16·r).
 */
@inline
function update_tile<T>(op: usize, ot: usize, ap: usize, scaled: bool, hd: i32, v0: usize, vs: usize, pj: usize, n: i32): void {
  const hd4 = hd & ~3;
  const pe = pj + ((<usize>n) << 4);
  let o = op;
  const oe = op + ((<usize>(hd & ~7)) << 4);
  let vd = v0;
  while (o < oe) {
    let l0 = v128.load(o);
    let l1 = v128.load(o, 16);
    let l2 = v128.load(o, 32);
    let l3 = v128.load(o, 48);
    let h0 = v128.load(o, 64);
    let h1 = v128.load(o, 80);
    let h2 = v128.load(o, 96);
    let h3 = v128.load(o, 112);
    if (scaled) {
      let a = v128.load32_splat(ap);
      l0 = f32x4.mul(l0, a);
      h0 = f32x4.mul(h0, a);
      a = v128.load32_splat(ap, 4);
      l1 = f32x4.mul(l1, a);
      h1 = f32x4.mul(h1, a);
      a = v128.load32_splat(ap, 8);
      l2 = f32x4.mul(l2, a);
      h2 = f32x4.mul(h2, a);
      a = v128.load32_splat(ap, 12);
      l3 = f32x4.mul(l3, a);
      h3 = f32x4.mul(h3, a);
    }
    let v = vd;
    for (let p = pj; p < pe; p += 16) {
      const xl = kv4<T>(v);
      const xh = kv4_next<T>(v);
      let w = v128.load32_splat(p);
      l0 = fmadd(l0, w, xl);
      h0 = fmadd(h0, w, xh);
      w = v128.load32_splat(p, 4);
      l1 = fmadd(l1, w, xl);
      h1 = fmadd(h1, w, xh);
      w = v128.load32_splat(p, 8);
      l2 = fmadd(l2, w, xl);
      h2 = fmadd(h2, w, xh);
      w = v128.load32_splat(p, 12);
      l3 = fmadd(l3, w, xl);
      h3 = fmadd(h3, w, xh);
      v += vs;
    }
    v128.store(o, l0);
    v128.store(o, l1, 16);
    v128.store(o, l2, 32);
    v128.store(o, l3, 48);
    v128.store(o, h0, 64);
    v128.store(o, h1, 80);
    v128.store(o, h2, 96);
    v128.store(o, h3, 112);
    o += 128;
    vd += 8 * sizeof<T>();
  }
  if (hd4 & 4) {
    let l0 = v128.load(o);
    let l1 = v128.load(o, 16);
    let l2 = v128.load(o, 32);
    let l3 = v128.load(o, 48);
    if (scaled) {
      l0 = f32x4.mul(l0, v128.load32_splat(ap));
      l1 = f32x4.mul(l1, v128.load32_splat(ap, 4));
      l2 = f32x4.mul(l2, v128.load32_splat(ap, 8));
      l3 = f32x4.mul(l3, v128.load32_splat(ap, 12));
    }
    let v = vd;
    for (let p = pj; p < pe; p += 16) {
      const x = kv4<T>(v);
      l0 = fmadd(l0, v128.load32_splat(p), x);
      l1 = fmadd(l1, v128.load32_splat(p, 4), x);
      l2 = fmadd(l2, v128.load32_splat(p, 8), x);
      l3 = fmadd(l3, v128.load32_splat(p, 12), x);
      v += vs;
    }
    v128.store(o, l0);
    v128.store(o, l1, 16);
    v128.store(o, l2, 32);
    v128.store(o, l3, 48);
    vd += 4 * sizeof<T>();
  }
  for (let r = 0; r < 4; r++) {
    const a = load<f32>(ap + ((<usize>r) << 2));
    update_tail<T>(ot + ((<usize>r) << 4), scaled ? a : 1, hd - hd4, vd, vs, pj + ((<usize>r) << 2), 16, n);
  }
}

/** Tail lanes of one row: x = x·α (α ≠ 1), then x = x + p_i·v_i, a rounded product then a rounded sum. */
@inline
function update_tail<T>(ot: usize, alpha: f32, tl: i32, vd: usize, vs: usize, p: usize, ps: usize, n: i32): void {
  for (let t = 0; t < tl; t++) {
    const od = ot + ((<usize>t) << 2);
    let x = load<f32>(od);
    if (alpha != 1) x = x * alpha;
    let v = vd + <usize>(t * sizeof<T>());
    for (let i = 0; i < n; i++) {
      x = x + load<f32>(p + (<usize>i) * ps) * kv1<T>(v);
      v += vs;
    }
    store<f32>(od, x);
  }
}

/** update_tile for one row: groups 64 bytes apart from op, tail at ot, p_i at pj + 4·i. */
@inline
function update_row<T>(op: usize, ot: usize, alpha: f32, hd: i32, v0: usize, vs: usize, pj: usize, n: i32): void {
  const hd4 = hd & ~3;
  const pe = pj + ((<usize>n) << 2);
  const scaled = alpha != 1;
  const a = f32x4.splat(alpha);
  let o = op;
  const oe = op + ((<usize>(hd & ~15)) << 4);
  let vd = v0;
  while (o < oe) {
    let x0 = v128.load(o);
    let x1 = v128.load(o, 64);
    let x2 = v128.load(o, 128);
    let x3 = v128.load(o, 192);
    if (scaled) {
      x0 = f32x4.mul(x0, a);
      x1 = f32x4.mul(x1, a);
      x2 = f32x4.mul(x2, a);
      x3 = f32x4.mul(x3, a);
    }
    let v = vd;
    for (let p = pj; p < pe; p += 4) {
      const w = v128.load32_splat(p);
      x0 = fmadd(x0, w, kv4<T>(v));
      x1 = fmadd(x1, w, kv4_next<T>(v));
      x2 = fmadd(x2, w, kv4<T>(v + 8 * sizeof<T>()));
      x3 = fmadd(x3, w, kv4_next<T>(v + 8 * sizeof<T>()));
      v += vs;
    }
    v128.store(o, x0);
    v128.store(o, x1, 64);
    v128.store(o, x2, 128);
    v128.store(o, x3, 192);
    o += 256;
    vd += 16 * sizeof<T>();
  }
  const ge = op + ((<usize>hd4) << 4);
  while (o < ge) {
    let x = v128.load(o);
    if (scaled) x = f32x4.mul(x, a);
    let v = vd;
    for (let p = pj; p < pe; p += 4) {
      x = fmadd(x, v128.load32_splat(p), kv4<T>(v));
      v += vs;
    }
    v128.store(o, x);
    o += 64;
    vd += 4 * sizeof<T>();
  }
  update_tail<T>(ot, alpha, hd - hd4, vd, vs, pj, 4, n);
}

// ---------------------------------------------------------------- one unit

/**
 * Q' (the unit's query rows, ·2^112 for f16) packed, padding rows zero; O = 0,
 * m = −inf, l = 0. False when K/V are f16 and some |q| ≥ 2^16 (or inf, NaN).
 */
function init_unit(params: usize, scr: usize, hk: i32, rep: i32, hd: i32, f16: bool): bool {
  const R = rows4(rep);
  const hd4 = hd & ~3;
  const G = hd4 >> 2;
  const qp = scr + off_q(R);
  const qt = tails_of(qp, R, hd4);
  const q = pp(params, P_Q);
  const scale = f32x4.splat(f16 ? TWO_112 : 1);
  let big = i32x4.splat(0);
  memory.fill(qt, 0, (<usize>R) << 4);
  for (let r = 0; r < R; r++) {
    const dst = qp + packed_row(r, G);
    if (r >= rep) {
      for (let g = 0; g < G; g++) v128.store(dst + ((<usize>g) << 6), i32x4.splat(0));
      continue;
    }
    const src = q + q_off(params, 0, hk * rep + r);
    for (let g = 0; g < G; g++) {
      const x = v128.load(src + ((<usize>g) << 4));
      big = i32x4.max_u(big, v128.and(x, i32x4.splat(0x7fffffff)));
      v128.store(dst + ((<usize>g) << 6), f32x4.mul(x, scale));
    }
    const tail = qt + q_tail_row(r);
    for (let d = hd4; d < hd; d++) {
      const x = load<f32>(src + ((<usize>d) << 2));
      big = i32x4.max_u(big, i32x4.splat(reinterpret<i32>(x) & 0x7fffffff));
      store<f32>(tail + ((<usize>(d - hd4)) << 4), x * f32x4.extract_lane(scale, 0));
    }
  }
  for (let r = 0; r < R; r++) {
    store<f32>(scr + ((<usize>r) << 2), NEG_INF);
    store<f32>(scr + off_l(R) + ((<usize>r) << 2), 0);
  }
  memory.fill(scr + off_o(R, hd), 0, packed_bytes(R, hd));
  return !f16 || !v128.any_true(i32x4.ge_u(big, i32x4.splat(Q_LIMIT)));
}

/** Blocks of [lo, hi) for every tile and single row; false when a K or V half is inf or NaN. */
function run_unit<T>(params: usize, scr: usize, hk: i32, rep: i32, hd: i32, lo: i32, hi: i32): bool {
  const f16 = sizeof<T>() == 2;
  const R = rows4(rep);
  const hd4 = hd & ~3;
  const G = hd4 >> 2;
  const scale = pf(params, P_SCALE);
  const stride = kv_stride(params);
  const kh = pp(params, P_K) + kv_head_off(params, hk);
  const vh = pp(params, P_V) + kv_head_off(params, hk);
  const full = (rep & 3) == 3 ? R >> 2 : rep >> 2;
  const qp = scr + off_q(R);
  const qt = tails_of(qp, R, hd4);
  const op = scr + off_o(R, hd);
  const ot = tails_of(op, R, hd4);
  const rs = scr + off_row_s(R);
  let sp = i32x4.splat(0);
  for (let b0 = lo - (lo % TK); b0 < hi; b0 += TK) {
    const j0 = max(lo, b0);
    const n = min(hi, b0 + TK) - j0;
    const kb = kh + (<usize>j0) * stride;
    const vb = vh + (<usize>j0) * stride;
    if (f16) sp = watch_rows(kb, vb, stride, n, hd, sp);
    for (let tile = 0; tile < full; tile++) {
      const t4 = (<usize>tile) << 4;
      const st = scr + off_s(R) + (<usize>tile) * (<usize>SLOTS) * 16;
      const qpt = qp + packed_row(tile << 2, G);
      const qtt = qt + ((<usize>tile) << 6);
      for (let i = 0; i < n; i += 2) {
        const ka = kb + (<usize>i) * stride;
        const out = st + ((<usize>i) << 4);
        scores_tile<T>(qpt, qtt, ka, i + 1 < n ? ka + stride : ka, hd, scale, out, out + 16);
      }
      const ap = scr + off_a(R) + t4;
      const scaled = softmax_tile(scr + t4, scr + off_l(R) + t4, ap, st, n, f16);
      update_tile<T>(op + packed_row(tile << 2, G), ot + (t4 << 2), ap, scaled, hd, vb, stride, st, n);
    }
    for (let r = full << 2; r < rep; r++) {
      const qpr = qp + packed_row(r, G);
      const qtr = qt + q_tail_row(r);
      for (let i = 0; i < n; i += 4) {
        const k0 = kb + (<usize>i) * stride;
        const k1 = i + 1 < n ? k0 + stride : k0;
        const k2 = i + 2 < n ? k0 + 2 * stride : k0;
        const k3 = i + 3 < n ? k0 + 3 * stride : k0;
        scores_row<T>(qpr, qtr, k0, k1, k2, k3, hd, scale, rs + ((<usize>i) << 2));
      }
      const mp = scr + ((<usize>r) << 2);
      const alpha = softmax_row(mp, mp + off_l(R), rs, n, f16);
      update_row<T>(op + packed_row(r, G), ot + ((<usize>r) << 4), alpha, hd, vb, stride, rs, n);
    }
  }
  return !(f16 && v128.any_true(i16x8.ge_u(sp, i16x8.splat(<i16>HALF_SPECIAL))));
}

/** Row r's partial record: m, l, then O unpacked (lanes hd .. hdp − 1 zero). */
function write_partial(scr: usize, R: i32, r: i32, hd: i32, dst: usize): void {
  const hd4 = hd & ~3;
  const G = hd4 >> 2;
  store<f32>(dst, load<f32>(scr + ((<usize>r) << 2)));
  store<f32>(dst, load<f32>(scr + off_l(R) + ((<usize>r) << 2)), 4);
  store<f32>(dst, 0, 8);
  store<f32>(dst, 0, 12);
  const op = scr + off_o(R, hd);
  const src = op + packed_row(r, G);
  for (let g = 0; g < G; g++) v128.store(dst + 16 + ((<usize>g) << 4), v128.load(src + ((<usize>g) << 6)));
  if (hd > hd4) {
    const tail = tails_of(op, R, hd4) + ((<usize>r) << 4);
    v128.store(dst + 16 + ((<usize>hd4) << 2), v128.load(tail));
  }
}

export function attn_decode(params: usize, scr: usize, u0: i32, u1: i32): void {
  const rep = pi(params, P_NHEAD) / pi(params, P_NHEADKV);
  const hd = pi(params, P_HD);
  const nkv = pi(params, P_NKV);
  const nch = n_chunks(params);
  const nhkv = pi(params, P_NHEADKV);
  const f16 = pi(params, P_KV_F16) != 0;
  const rec = (<usize>rec_floats(hd)) << 2;
  const p = query_pos(params, 0);
  const parts = pp(params, P_PARTIALS);
  const R = rows4(rep);
  for (let u = u0; u < u1; u++) {
    const c = u / nhkv;
    const hk = u % nhkv;
    const k0 = c * CH;
    const lo = max(vis_lo(params, p), k0);
    const hi = min(vis_hi(params, p), min(k0 + CH, nkv));
    let ok = init_unit(params, scr, hk, rep, hd, f16);
    if (ok && lo < hi) ok = f16 ? run_unit<u16>(params, scr, hk, rep, hd, lo, hi) : run_unit<f32>(params, scr, hk, rep, hd, lo, hi);
    if (!ok) {
      attn_decode_general(params, scr, u, u + 1);
      continue;
    }
    for (let r = 0; r < rep; r++) {
      write_partial(scr, R, r, hd, parts + ((<usize>(hk * rep + r)) * (<usize>nch) + (<usize>c)) * rec);
    }
  }
}
