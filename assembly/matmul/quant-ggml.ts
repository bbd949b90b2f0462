// Quantized matmul, `ggml` numerics: what llama.cpp's CPU backend computes.
// Activations are first quantized to the weight type's vec_dot type
// (assembly/quantize: q8_0, q8_1, q8_K, f16, bf16); then every block's dot
// product is an exact integer sum, scaled in f32.
//
// Interface (one export per weight type T):
//   matmul_ggml_<T>(xq, w, y, M, N, K, n0, n1)
//   xq  M activation rows as quantize_act_<q8 type> writes them (row stride
//       act_row_bytes: the ggml blocks, then the codes widened to i16 and
//       per-block scalars); f16/bf16: M rows of K halves
//   w   ggml rows [N, K] in their GGUF block layout
//   y   f32 [M, N]; the call writes y[m, n] for every m and every n in [n0, n1)
//   K is a multiple of the type's block size. The integer sums are exact for any
//   bytes in w and any int8 activation codes (every i16/i32 bound is noted), with
//   the extension and q8_K bsums consistent with the codes, as the quantizer writes them.
//
// Numerics of one y[m, n] (a function of K and the bytes only; the same for any
// M, any [n0, n1) split, any tile lane and either build):
//   per block b, in increasing b, from acc = +0:
//     I = Σ_i sc(i)·(code_w(i) − zero)·q_x(i)   exact in i32 (|I| < 2^31 for every byte pattern)
//     q4_0..q8_0, iq4_nl, q3_K, q6_K, iq4_xs:  t = (d_w·d_x)·f32(I)
//     q4_1, q5_1:                t = (d_w·d_x)·f32(I) + m_w·s_x      (s_x: q8_1's f16 s = d·Σq)
//     q2_K, q4_K, q5_K:          t = (d_w·d_x)·f32(I) − (dmin_w·d_x)·f32(J),  J = Σ_s min_s·Σ_{i∈s} q_x(i)
//     acc = acc + t
//   every operation a rounded f32 operation (never fused). Zero points (q4_0's 8,
//   q6_K's 32, ...) are applied in the integers, through Σq or the q8_K bsums.
//   f16 / bf16 weights: products of two halves are exact in f32; lane l of two
//   f32x4 sums takes k ≡ l and k ≡ 4 + l (mod 8) over whole groups of 8, then
//   s = a + b, y = (s0 + s1) + (s2 + s3), then the K mod 8 tail in order.
//
// Layout of the work: one weight row at a time, streamed in order. Activation
// rows go in groups of four (each weight block decoded once for the four, their
// sums in the four f32 lanes), the remaining M mod 4 rows one by one. The per-row
// integer partial sums are reduced across lanes exactly.
import { f16_to_f32, f16x4_to_f32x4, load_f16 } from '../dequant/common';
import {
  IQ4_XS_SCALE_ZERO,
  iq4_nl_values_at,
  iq4_xs_scale,
  iq4_xs_values_at,
  k4_scale,
  k4_scales_mins,
  Q2_K_D,
  Q2_K_DMIN,
  Q3_K_D,
  Q3_K_SCALE_ZERO,
  Q4_0_ZERO,
  Q4_K_SCALES,
  Q5_0_ZERO,
  Q6_K_D,
  Q6_K_SCALES,
  Q8_K_BSUMS,
  q2_K_codes_at,
  q2_K_scales,
  q3_K_codes_at,
  q3_K_scale,
  q3_K_scales,
  q4_0_codes_at,
  q4_1_codes_at,
  q4_K_codes_at,
  q5_0_codes_at,
  q5_1_codes_at,
  q5_K_codes_at,
  q6_K_codes_at,
  q8_0_codes_at,
} from '../dequant/codes';
import { ACT_Q8_0, ACT_Q8_1, ACT_Q8_K, act_block_bytes, act_row_bytes, act_scalars_offset, act_wide_offset } from '../quantize/q8';

// ---------------------------------------------------------------- integer helpers
// Integer dot products of 16 values. Plain SIMD: weight codes decoded as two i16x8 halves
// against the activation row's i16 copy, with i32x4.dot_i16x8_s. Relaxed SIMD, for unsigned
// codes ≤ 63: i16x8.relaxed_dot_i8x16_i7x16_s of the int8 activation codes and the byte codes
// as its second operand, where every engine agrees (top bit clear). A "P sum" is the build's
// partial-sum vector: i16x8 pair sums (relaxed) or i32x4 (plain); padd adds two (relaxed:
// ≤ 4 products of codes ≤ 63 per i16 lane), pscale multiplies by a scale, pwiden gives i32x4.
// All of them are exact integer arithmetic, so every build and form gives the same integers.

/** Σ c·q over 16 values as i32x4 partial sums: codes 0..7 and 8..15 as i16x8, q's i16 copy at xw. */
@inline
function wdot(lo: v128, hi: v128, xw: usize): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(lo, v128.load(xw)), i32x4.dot_i16x8_s(hi, v128.load(xw, 16)));
}

/**
 * A codes function of codes.ts as a compile-time trait: at(b, i, j, k, part) returns the codes of
 * one 16-element group (the meaning of i, j, k is the format's), part as in codes.ts.
 */
@final class C_q4_0 { @inline at(b: usize, i: i32, j: i32, k: i32, part: i32): v128 { return q4_0_codes_at(b, i, part); } }
@final class C_q4_1 { @inline at(b: usize, i: i32, j: i32, k: i32, part: i32): v128 { return q4_1_codes_at(b, i, part); } }
@final class C_q5_0 { @inline at(b: usize, i: i32, j: i32, k: i32, part: i32): v128 { return q5_0_codes_at(b, i, part); } }
@final class C_q5_1 { @inline at(b: usize, i: i32, j: i32, k: i32, part: i32): v128 { return q5_1_codes_at(b, i, part); } }
@final class C_q8_0 { @inline at(b: usize, i: i32, j: i32, k: i32, part: i32): v128 { return q8_0_codes_at(b, i, part); } }
@final class C_iq4_nl { @inline at(b: usize, i: i32, j: i32, k: i32, part: i32): v128 { return iq4_nl_values_at(b, i, part); } }
@final class C_q2_K { @inline at(b: usize, i: i32, j: i32, k: i32, part: i32): v128 { return q2_K_codes_at(b, i, part); } }
@final class C_q3_K { @inline at(b: usize, i: i32, j: i32, k: i32, part: i32): v128 { return q3_K_codes_at(b, i, part); } }
@final class C_q4_K { @inline at(b: usize, i: i32, j: i32, k: i32, part: i32): v128 { return q4_K_codes_at(b, i, j, k, part); } }
@final class C_q5_K { @inline at(b: usize, i: i32, j: i32, k: i32, part: i32): v128 { return q5_K_codes_at(b, i, j, k, part); } }
@final class C_q6_K { @inline at(b: usize, i: i32, j: i32, k: i32, part: i32): v128 { return q6_K_codes_at(b, i, j, k, part); } }
@final class C_iq4_xs { @inline at(b: usize, i: i32, j: i32, k: i32, part: i32): v128 { return iq4_xs_values_at(b, i, part); } }

// Every helper below also has a four-row form (four = true): the same sums for activation rows
// xq, xq + stride, xq + 2·stride, xq + 3·stride with the weight codes decoded once, returned as
// the four rows' totals (one i32 lane each) instead of one row's partial sums.

/** Σ code·q over one group of unsigned codes ≤ 63: a P sum (one row) or four rows' totals. */
@inline
function udot<C>(w: usize, i: i32, j: i32, k: i32, xq: usize, xw: usize, stride: usize, four: bool): v128 {
  const c = changetype<C>(0);
  if (ASC_FEATURE_RELAXED_SIMD) {
    const n = c.at(w, i, j, k, -1);
    if (!four) return i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xq), n);
    return hsum4(
      i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xq), n)),
      i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xq + stride), n)),
      i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xq + 2 * stride), n)),
      i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xq + 3 * stride), n)),
    );
  }
  return sdot<C>(w, i, j, k, xw, stride, four);
}

/** One activation row's P sum for a group whose codes were decoded (n: narrow; lo, hi: wide). */
@inline
function urow(n: v128, lo: v128, hi: v128, xq: usize, xw: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xq), n);
  return wdot(lo, hi, xw);
}

/**
 * Two groups of unsigned codes ≤ 63 (A and B) times scales sa and sb (scaled: false: one shared
 * scale applied later, the sum A + B as a P sum for one row), for one row or four; in the
 * four-row form the rows' sums of both groups are reduced once.
 */
@inline
function udot_pair<CA, CB>(
  w: usize,
  ia: i32, ja: i32, ka: i32, xqa: usize, xwa: usize, sa: i32,
  ib: i32, jb: i32, kb: i32, xqb: usize, xwb: usize, sb: i32,
  stride: usize, four: bool, scaled: bool,
): v128 {
  if (!four) {
    // One row: each group decoded right before its use (fewer live registers).
    const a = udot<CA>(w, ia, ja, ka, xqa, xwa, 0, false);
    const b = udot<CB>(w, ib, jb, kb, xqb, xwb, 0, false);
    return scaled ? i32x4.add(pscale(a, sa, false), pscale(b, sb, false)) : padd(a, b, false);
  }
  const ca = changetype<CA>(0);
  const cb = changetype<CB>(0);
  let na = i32x4.splat(0), loa = na, hia = na, nb = na, lob = na, hib = na;
  if (ASC_FEATURE_RELAXED_SIMD) {
    na = ca.at(w, ia, ja, ka, -1);
    nb = cb.at(w, ib, jb, kb, -1);
  } else {
    loa = ca.at(w, ia, ja, ka, 0);
    hia = ca.at(w, ia, ja, ka, 1);
    lob = cb.at(w, ib, jb, kb, 0);
    hib = cb.at(w, ib, jb, kb, 1);
  }
  let r0: v128, r1: v128, r2: v128, r3: v128;
  if (scaled) {
    r0 = i32x4.add(pscale(urow(na, loa, hia, xqa, xwa), sa, false), pscale(urow(nb, lob, hib, xqb, xwb), sb, false));
    r1 = i32x4.add(pscale(urow(na, loa, hia, xqa + stride, xwa + stride), sa, false), pscale(urow(nb, lob, hib, xqb + stride, xwb + stride), sb, false));
    r2 = i32x4.add(pscale(urow(na, loa, hia, xqa + 2 * stride, xwa + 2 * stride), sa, false), pscale(urow(nb, lob, hib, xqb + 2 * stride, xwb + 2 * stride), sb, false));
    r3 = i32x4.add(pscale(urow(na, loa, hia, xqa + 3 * stride, xwa + 3 * stride), sa, false), pscale(urow(nb, lob, hib, xqb + 3 * stride, xwb + 3 * stride), sb, false));
  } else {
    r0 = pwiden(padd(urow(na, loa, hia, xqa, xwa), urow(nb, lob, hib, xqb, xwb), false), false);
    r1 = pwiden(padd(urow(na, loa, hia, xqa + stride, xwa + stride), urow(nb, lob, hib, xqb + stride, xwb + stride), false), false);
    r2 = pwiden(padd(urow(na, loa, hia, xqa + 2 * stride, xwa + 2 * stride), urow(nb, lob, hib, xqb + 2 * stride, xwb + 2 * stride), false), false);
    r3 = pwiden(padd(urow(na, loa, hia, xqa + 3 * stride, xwa + 3 * stride), urow(nb, lob, hib, xqb + 3 * stride, xwb + 3 * stride), false), false);
  }
  return hsum4(r0, r1, r2, r3);
}

/** Σ code·q over one group of any int8 codes: i32x4 partial sums (one row) or four rows' totals. */
@inline
function sdot<C>(w: usize, i: i32, j: i32, k: i32, xw: usize, stride: usize, four: bool): v128 {
  const c = changetype<C>(0);
  const lo = c.at(w, i, j, k, 0);
  const hi = c.at(w, i, j, k, 1);
  if (!four) return wdot(lo, hi, xw);
  return hsum4(wdot(lo, hi, xw), wdot(lo, hi, xw + stride), wdot(lo, hi, xw + 2 * stride), wdot(lo, hi, xw + 3 * stride));
}

@inline
function padd(a: v128, b: v128, four: bool): v128 {
  if (ASC_FEATURE_RELAXED_SIMD && !four) return i16x8.add(a, b);
  return i32x4.add(a, b);
}

/** A P sum (or four totals) times a scalar scale. */
@inline
function pscale(p: v128, sc: i32, four: bool): v128 {
  if (ASC_FEATURE_RELAXED_SIMD && !four) return i32x4.dot_i16x8_s(p, i16x8.splat(<i16>sc));
  return i32x4.mul(p, i32x4.splat(sc));
}

@inline
function pwiden(p: v128, four: bool): v128 {
  if (ASC_FEATURE_RELAXED_SIMD && !four) return i32x4.extadd_pairwise_i16x8_s(p);
  return p;
}

/** Four rows' i32x4 partial sums → their four totals, one per lane (exact). */
@inline
function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7));
  const cd = i32x4.add(i32x4.shuffle(c, d, 0, 4, 1, 5), i32x4.shuffle(c, d, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

// ---------------------------------------------------------------- formats
// Each format is a set of compile-time traits read through changetype<T>(0); the
// methods never touch `this` and are inlined into the one generic kernel below.
// isum(w, xq, xw): the block's integer dot as i32x4 partial sums, with w the weight block,
// xq the activation block (ggml layout) and xw its codes widened to i16. Zero points of the
// 32-element formats (zp) are applied by the kernel with the activation block's Σq.
// Super-block sums run as short loops: V8 hoists every load of straight-line code to the
// top and spills, which costs more than the loop.

/** How a block's integer sums become its f32 term. */
const PLAIN: i32 = 0; // (d_w·d_x)·I
const WITH_S: i32 = 1; // (d_w·d_x)·I + m_w·s_x
const WITH_MINS: i32 = 2; // (d_w·d_x)·I − (dmin_w·d_x)·J

/** A 32-element block of unsigned codes ≤ 63 (groups h = 0, 1); xq points at the activation codes. */
@inline
function udot32<C>(w: usize, xq: usize, xw: usize, stride: usize, four: bool): v128 {
  return pwiden(udot_pair<C, C>(w, 0, 0, 0, xq, xw, 0, 1, 0, 0, xq + 16, xw + 32, 0, stride, four, false), four);
}

/** A 32-element block of any int8 codes (q8_0, the iq4_nl codebook: |c·q| ≤ 2^14, no i16 sums). */
@inline
function sdot32<C>(w: usize, xw: usize, stride: usize, four: bool): v128 {
  return sdot_pair<C>(w, 0, 1, xw, stride, four);
}

/** Groups ia and ib of any int8 codes (their activations at xw and xw + 32): one row's partial sums, or four rows' totals reduced once. */
@inline
function sdot_pair<C>(w: usize, ia: i32, ib: i32, xw: usize, stride: usize, four: bool): v128 {
  const c = changetype<C>(0);
  if (!four) return i32x4.add(sdot<C>(w, ia, 0, 0, xw, 0, false), sdot<C>(w, ib, 0, 0, xw + 32, 0, false));
  const loa = c.at(w, ia, 0, 0, 0);
  const hia = c.at(w, ia, 0, 0, 1);
  const lob = c.at(w, ib, 0, 0, 0);
  const hib = c.at(w, ib, 0, 0, 1);
  return hsum4(
    i32x4.add(wdot(loa, hia, xw), wdot(lob, hib, xw + 32)),
    i32x4.add(wdot(loa, hia, xw + stride), wdot(lob, hib, xw + 32 + stride)),
    i32x4.add(wdot(loa, hia, xw + 2 * stride), wdot(lob, hib, xw + 32 + 2 * stride)),
    i32x4.add(wdot(loa, hia, xw + 3 * stride), wdot(lob, hib, xw + 32 + 3 * stride)),
  );
}

@final
class Q4_0 {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): usize { return 18; }
  @inline get act(): i32 { return ACT_Q8_0; }
  @inline get kind(): i32 { return PLAIN; }
  @inline get zp(): i32 { return Q4_0_ZERO; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 0; }
  @inline isum(w: usize, xq: usize, xw: usize, stride: usize, four: bool): v128 { return udot32<C_q4_0>(w, xq + 2, xw, stride, four); }
  @inline msum(w: usize, xq: usize, stride: usize, four: bool): v128 { return i32x4.splat(0); }
}

@final
class Q5_0 {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): usize { return 22; }
  @inline get act(): i32 { return ACT_Q8_0; }
  @inline get kind(): i32 { return PLAIN; }
  @inline get zp(): i32 { return Q5_0_ZERO; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 0; }
  @inline isum(w: usize, xq: usize, xw: usize, stride: usize, four: bool): v128 { return udot32<C_q5_0>(w, xq + 2, xw, stride, four); }
  @inline msum(w: usize, xq: usize, stride: usize, four: bool): v128 { return i32x4.splat(0); }
}

@final
class Q4_1 {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): usize { return 20; }
  @inline get act(): i32 { return ACT_Q8_1; }
  @inline get kind(): i32 { return WITH_S; }
  @inline get zp(): i32 { return 0; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 2; }
  @inline isum(w: usize, xq: usize, xw: usize, stride: usize, four: bool): v128 { return udot32<C_q4_1>(w, xq + 4, xw, stride, four); }
  @inline msum(w: usize, xq: usize, stride: usize, four: bool): v128 { return i32x4.splat(0); }
}

@final
class Q5_1 {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): usize { return 24; }
  @inline get act(): i32 { return ACT_Q8_1; }
  @inline get kind(): i32 { return WITH_S; }
  @inline get zp(): i32 { return 0; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 2; }
  @inline isum(w: usize, xq: usize, xw: usize, stride: usize, four: bool): v128 { return udot32<C_q5_1>(w, xq + 4, xw, stride, four); }
  @inline msum(w: usize, xq: usize, stride: usize, four: bool): v128 { return i32x4.splat(0); }
}

@final
class Q8_0 {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): usize { return 34; }
  @inline get act(): i32 { return ACT_Q8_0; }
  @inline get kind(): i32 { return PLAIN; }
  @inline get zp(): i32 { return 0; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 0; }
  @inline isum(w: usize, xq: usize, xw: usize, stride: usize, four: bool): v128 { return sdot32<C_q8_0>(w, xw, stride, four); }
  @inline msum(w: usize, xq: usize, stride: usize, four: bool): v128 { return i32x4.splat(0); }
}

@final
class IQ4_NL {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): usize { return 18; }
  @inline get act(): i32 { return ACT_Q8_0; }
  @inline get kind(): i32 { return PLAIN; }
  @inline get zp(): i32 { return 0; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 0; }
  @inline isum(w: usize, xq: usize, xw: usize, stride: usize, four: bool): v128 { return sdot32<C_iq4_nl>(w, xw, stride, four); }
  @inline msum(w: usize, xq: usize, stride: usize, four: bool): v128 { return i32x4.splat(0); }
}

// q8_K activation block: codes of group g at xq + 4 + 16g, widened at xw + 32g, bsums at xq + 260.

/** Σ_g sc_g·bsum_g for 16 signed i16 scales (lo: groups 0..7, hi: 8..15). */
@inline
function bsum_dot1(xq: usize, lo: v128, hi: v128): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(v128.load(xq, Q8_K_BSUMS), lo), i32x4.dot_i16x8_s(v128.load(xq, Q8_K_BSUMS + 16), hi));
}

@inline
function bsum_dot(xq: usize, lo: v128, hi: v128, stride: usize, four: bool): v128 {
  if (!four) return bsum_dot1(xq, lo, hi);
  return hsum4(bsum_dot1(xq, lo, hi), bsum_dot1(xq + stride, lo, hi), bsum_dot1(xq + 2 * stride, lo, hi), bsum_dot1(xq + 3 * stride, lo, hi));
}

@final
class Q2_K {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): usize { return 84; }
  @inline get act(): i32 { return ACT_Q8_K; }
  @inline get kind(): i32 { return WITH_MINS; }
  @inline get zp(): i32 { return 0; }
  @inline get dOff(): usize { return Q2_K_D; }
  @inline get mOff(): usize { return Q2_K_DMIN; }
  @inline isum(w: usize, xq: usize, xw: usize, stride: usize, four: bool): v128 {
    let acc = i32x4.splat(0);
    for (let g = 0; g < 16; g += 2) {
      // ≤ 2·3·128 per lane before the 4-bit scales.
      const xa = xq + 4 + (<usize>g << 4);
      const wa = xw + (<usize>g << 5);
      const sa = <i32>load<u8>(w + <usize>g) & 0xf;
      const sb = <i32>load<u8>(w + <usize>g + 1) & 0xf;
      acc = i32x4.add(acc, udot_pair<C_q2_K, C_q2_K>(w, g, 0, 0, xa, wa, sa, g + 1, 0, 0, xa + 16, wa + 32, sb, stride, four, true));
    }
    return acc;
  }
  @inline msum(w: usize, xq: usize, stride: usize, four: bool): v128 {
    const m = i8x16.shr_u(q2_K_scales(w), 4);
    return bsum_dot(xq, i16x8.extend_low_i8x16_u(m), i16x8.extend_high_i8x16_u(m), stride, four);
  }
}

@final
class Q3_K {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): usize { return 110; }
  @inline get act(): i32 { return ACT_Q8_K; }
  @inline get kind(): i32 { return PLAIN; }
  @inline get zp(): i32 { return 0; }
  @inline get dOff(): usize { return Q3_K_D; }
  @inline get mOff(): usize { return 0; }
  @inline isum(w: usize, xq: usize, xw: usize, stride: usize, four: bool): v128 {
    let acc = i32x4.splat(0);
    for (let g = 0; g < 16; g += 2) {
      const xa = xq + 4 + (<usize>g << 4);
      const wa = xw + (<usize>g << 5);
      const sa = q3_K_scale(w, g) - Q3_K_SCALE_ZERO;
      const sb = q3_K_scale(w, g + 1) - Q3_K_SCALE_ZERO;
      acc = i32x4.add(acc, udot_pair<C_q3_K, C_q3_K>(w, g, 0, 0, xa, wa, sa, g + 1, 0, 0, xa + 16, wa + 32, sb, stride, four, true));
    }
    // Codes are value + 4: Σ_g sc_g·Σ(code − 4)·q = the sum above − 4·Σ_g sc_g·bsum_g.
    const sc = i8x16.sub(q3_K_scales(w), i8x16.splat(<i8>Q3_K_SCALE_ZERO));
    return i32x4.sub(acc, i32x4.shl(bsum_dot(xq, i16x8.extend_low_i8x16_s(sc), i16x8.extend_high_i8x16_s(sc), stride, four), 2));
  }
  @inline msum(w: usize, xq: usize, stride: usize, four: bool): v128 { return i32x4.splat(0); }
}

/** q4_K / q5_K sub-block 2j + h (groups 4j + 2h + l, l = 0, 1) times its scale. */
@inline
function k4_sub<C>(w: usize, xq: usize, xw: usize, j: i32, h: i32, stride: usize, four: bool): v128 {
  const g = 4 * j + 2 * h;
  // ≤ 4·31·128 per lane before the 6-bit scale.
  const xa = xq + 4 + (<usize>g << 4);
  const wa = xw + (<usize>g << 5);
  const p = udot_pair<C, C>(w, j, h, 0, xa, wa, 0, j, h, 1, xa + 16, wa + 32, 0, stride, four, false);
  return pscale(p, k4_scale(w + Q4_K_SCALES, 2 * j + h, false), four);
}

@inline
function k4_isum<C>(w: usize, xq: usize, xw: usize, stride: usize, four: bool): v128 {
  let acc = i32x4.splat(0);
  for (let j = 0; j < 4; j++) acc = i32x4.add(acc, i32x4.add(k4_sub<C>(w, xq, xw, j, 0, stride, four), k4_sub<C>(w, xq, xw, j, 1, stride, four)));
  return acc;
}

/** q4_K / q5_K: Σ_s min_s·(bsum_2s + bsum_2s+1) (pair sums ≤ 32·128 fit i16). */
@inline
function k4_msum1(mins: v128, xq: usize): v128 {
  const pairs = i16x8.narrow_i32x4_s(
    i32x4.extadd_pairwise_i16x8_s(v128.load(xq, Q8_K_BSUMS)),
    i32x4.extadd_pairwise_i16x8_s(v128.load(xq, Q8_K_BSUMS + 16)),
  );
  return i32x4.dot_i16x8_s(pairs, mins);
}

@inline
function k4_msum(w: usize, xq: usize, stride: usize, four: bool): v128 {
  const mins = i16x8.extend_high_i8x16_u(k4_scales_mins(w + Q4_K_SCALES));
  if (!four) return k4_msum1(mins, xq);
  return hsum4(k4_msum1(mins, xq), k4_msum1(mins, xq + stride), k4_msum1(mins, xq + 2 * stride), k4_msum1(mins, xq + 3 * stride));
}

@final
class Q4_K {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): usize { return 144; }
  @inline get act(): i32 { return ACT_Q8_K; }
  @inline get kind(): i32 { return WITH_MINS; }
  @inline get zp(): i32 { return 0; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 2; }
  @inline isum(w: usize, xq: usize, xw: usize, stride: usize, four: bool): v128 { return k4_isum<C_q4_K>(w, xq, xw, stride, four); }
  @inline msum(w: usize, xq: usize, stride: usize, four: bool): v128 { return k4_msum(w, xq, stride, four); }
}

@final
class Q5_K {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): usize { return 176; }
  @inline get act(): i32 { return ACT_Q8_K; }
  @inline get kind(): i32 { return WITH_MINS; }
  @inline get zp(): i32 { return 0; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 2; }
  @inline isum(w: usize, xq: usize, xw: usize, stride: usize, four: bool): v128 { return k4_isum<C_q5_K>(w, xq, xw, stride, four); }
  @inline msum(w: usize, xq: usize, stride: usize, four: bool): v128 { return k4_msum(w, xq, stride, four); }
}

/** q6_K groups g = 8·half + 2k + t for k and k + 1, each times its signed scale. */
@inline
function q6_K_groups(w: usize, xq: usize, xw: usize, half: i32, k: i32, t: i32, stride: usize, four: bool): v128 {
  const g = 8 * half + 2 * k + t;
  const sa = <i32>load<i8>(w + Q6_K_SCALES + <usize>g);
  const sb = <i32>load<i8>(w + Q6_K_SCALES + <usize>g + 2);
  const xa = xq + 4 + (<usize>g << 4);
  const wa = xw + (<usize>g << 5);
  // ≤ 2·63·128 per lane before the scales.
  return udot_pair<C_q6_K, C_q6_K>(w, half, k, t, xa, wa, sa, half, k + 1, t, xa + 32, wa + 64, sb, stride, four, true);
}

@final
class Q6_K {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): usize { return 210; }
  @inline get act(): i32 { return ACT_Q8_K; }
  @inline get kind(): i32 { return PLAIN; }
  @inline get zp(): i32 { return 0; }
  @inline get dOff(): usize { return Q6_K_D; }
  @inline get mOff(): usize { return 0; }
  @inline isum(w: usize, xq: usize, xw: usize, stride: usize, four: bool): v128 {
    let acc = i32x4.splat(0);
    // One pass per (half, t): its ql and qh bytes serve k = 0..3.
    for (let i = 0; i < 4; i++) {
      const half = i >> 1;
      const t = i & 1;
      acc = i32x4.add(acc, i32x4.add(q6_K_groups(w, xq, xw, half, 0, t, stride, four), q6_K_groups(w, xq, xw, half, 2, t, stride, four)));
    }
    // Codes are value + 32: subtract 32·Σ_g sc_g·bsum_g.
    const sc = v128.load(w, Q6_K_SCALES);
    return i32x4.sub(acc, i32x4.shl(bsum_dot(xq, i16x8.extend_low_i8x16_s(sc), i16x8.extend_high_i8x16_s(sc), stride, four), 5));
  }
  @inline msum(w: usize, xq: usize, stride: usize, four: bool): v128 { return i32x4.splat(0); }
}

@final
class IQ4_XS {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): usize { return 136; }
  @inline get act(): i32 { return ACT_Q8_K; }
  @inline get kind(): i32 { return PLAIN; }
  @inline get zp(): i32 { return 0; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 0; }
  @inline isum(w: usize, xq: usize, xw: usize, stride: usize, four: bool): v128 {
    let acc = i32x4.splat(0);
    for (let s = 0; s < 8; s++) {
      // Signed codebook values (|c·q| ≤ 2^14): i32 partial sums, then the scale ls − 32.
      const g = 2 * s;
      const p = sdot_pair<C_iq4_xs>(w, g, g + 1, xw + (<usize>g << 5), stride, four);
      acc = i32x4.add(acc, i32x4.mul(p, i32x4.splat(iq4_xs_scale(w, s) - IQ4_XS_SCALE_ZERO)));
    }
    return acc;
  }
  @inline msum(w: usize, xq: usize, stride: usize, four: bool): v128 { return i32x4.splat(0); }
}

// ---------------------------------------------------------------- the kernel

/** Weight rows per block of row_groups. */
const ROW_BLOCK: i32 = 16;

/** The f32 at offset off of four activation rows (stride apart) → f32x4. */
@inline
function f32_rows(p: usize, stride: usize): v128 {
  let v = f32x4.splat(0);
  v = v128.load32_lane(p, v, 0);
  v = v128.load32_lane(p + stride, v, 1);
  v = v128.load32_lane(p + 2 * stride, v, 2);
  return v128.load32_lane(p + 3 * stride, v, 3);
}

/** Σ of p's four lanes in every lane. */
@inline
function total(p: v128): v128 {
  const t = i32x4.add(p, i32x4.shuffle(p, p, 2, 3, 0, 1));
  return i32x4.add(t, i32x4.shuffle(t, t, 1, 0, 3, 2));
}

/**
 * Rows m in [m0, m1) against one weight row at a time, so each row's weights stream from
 * memory in order (one stream: tiles of four rows read four interleaved streams and ran up to
 * 1.8× slower here). The block term is computed in every lane; lane 0 is stored.
 */
@inline
function rows_single<T>(xq: usize, w: usize, y: usize, N: i32, K: i32, n0: i32, n1: i32, m0: i32, m1: i32): void {
  const f = changetype<T>(0);
  const nb = K / f.elems;
  const actBytes = act_block_bytes(f.act);
  const wRow = <usize>nb * f.bytes;
  const xRow = act_row_bytes(f.act, K);
  const wideBlock: usize = <usize>f.elems << 1;
  for (let n = n0; n < n1; n++) {
    const wr = w + <usize>n * wRow;
    for (let m = m0; m < m1; m++) {
      const row = xq + <usize>m * xRow;
      let x = row;
      let xw = row + act_wide_offset(f.act, K);
      let xs = row + act_scalars_offset(f.act, K);
      let acc = f32x4.splat(0);
      for (let o: usize = 0; o < wRow; o += f.bytes, x += actBytes, xw += wideBlock, xs += 12) {
        let isum = total(f.isum(wr + o, x, xw, 0, false));
        if (f.zp != 0) isum = i32x4.sub(isum, i32x4.splat(f.zp * load<i32>(xs, 8)));
        const dx = f32x4.splat(f.act == ACT_Q8_K ? load<f32>(x) : load<f32>(xs));
        let t = f32x4.mul(f32x4.mul(f32x4.splat(load_f16(wr + o + f.dOff)), dx), f32x4.convert_i32x4_s(isum));
        if (f.kind == WITH_S) {
          t = f32x4.add(t, f32x4.mul(f32x4.splat(load_f16(wr + o + f.mOff)), f32x4.splat(load<f32>(xs, 4))));
        } else if (f.kind == WITH_MINS) {
          const msum = f32x4.convert_i32x4_s(total(f.msum(wr + o, x, 0, false)));
          t = f32x4.sub(t, f32x4.mul(f32x4.mul(f32x4.splat(load_f16(wr + o + f.mOff)), dx), msum));
        }
        acc = f32x4.add(acc, t);
      }
      store<f32>(y + ((<usize>m * <usize>N + <usize>n) << 2), f32x4.extract_lane(acc, 0));
    }
  }
}

/**
 * Rows [0, 4·groups) in groups of four (lanes = m) against one weight row at a time: each
 * weight block is decoded once for four activation rows. The f32 operations of every element
 * are the ones rows_single performs, so the results are bit-identical.
 */
@inline
function row_groups<T>(xq: usize, w: usize, y: usize, N: i32, K: i32, n0: i32, n1: i32, groups: i32): void {
  const f = changetype<T>(0);
  const nb = K / f.elems;
  const actBytes = act_block_bytes(f.act);
  const wRow = <usize>nb * f.bytes;
  const xRow = act_row_bytes(f.act, K);
  const wideBlock: usize = <usize>f.elems << 1;
  // NB consecutive weight rows (one contiguous run of memory) meet each group of four
  // activation rows while that group is in L1/L2, instead of every group passing once per row.
  for (let nb0 = n0; nb0 < n1; nb0 += ROW_BLOCK) {
    const nb1 = min(nb0 + ROW_BLOCK, n1);
    for (let gi = 0; gi < groups; gi++) {
      const row = xq + <usize>(4 * gi) * xRow;
      for (let n = nb0; n < nb1; n++) {
        const wr = w + <usize>n * wRow;
        let x = row;
        let xw = row + act_wide_offset(f.act, K);
        let xs = row + act_scalars_offset(f.act, K);
        let acc = f32x4.splat(0);
        for (let o: usize = 0; o < wRow; o += f.bytes, x += actBytes, xw += wideBlock, xs += 12) {
          let isum = f.isum(wr + o, x, xw, xRow, true);
          if (f.zp != 0) isum = i32x4.sub(isum, i32x4.mul(i32x4.splat(f.zp), f32_rows(xs + 8, xRow)));
          const dx = f.act == ACT_Q8_K ? f32_rows(x, xRow) : f32_rows(xs, xRow);
          let t = f32x4.mul(f32x4.mul(f32x4.splat(load_f16(wr + o + f.dOff)), dx), f32x4.convert_i32x4_s(isum));
          if (f.kind == WITH_S) {
            t = f32x4.add(t, f32x4.mul(f32x4.splat(load_f16(wr + o + f.mOff)), f32_rows(xs + 4, xRow)));
          } else if (f.kind == WITH_MINS) {
            const msum = f32x4.convert_i32x4_s(f.msum(wr + o, x, xRow, true));
            t = f32x4.sub(t, f32x4.mul(f32x4.mul(f32x4.splat(load_f16(wr + o + f.mOff)), dx), msum));
          }
          acc = f32x4.add(acc, t);
        }
        const out = y + ((<usize>(4 * gi) * <usize>N + <usize>n) << 2);
        const step = <usize>N << 2;
        store<f32>(out, f32x4.extract_lane(acc, 0));
        store<f32>(out + step, f32x4.extract_lane(acc, 1));
        store<f32>(out + 2 * step, f32x4.extract_lane(acc, 2));
        store<f32>(out + 3 * step, f32x4.extract_lane(acc, 3));
      }
    }
  }
}

@inline
function matmul<T>(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  const groups = M >> 2;
  if (groups > 0) row_groups<T>(xq, w, y, N, K, n0, n1, groups);
  rows_single<T>(xq, w, y, N, K, n0, n1, groups << 2, M);
}

export function matmul_ggml_q4_0(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmul<Q4_0>(xq, w, y, M, N, K, n0, n1);
}
export function matmul_ggml_q4_1(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmul<Q4_1>(xq, w, y, M, N, K, n0, n1);
}
export function matmul_ggml_q5_0(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmul<Q5_0>(xq, w, y, M, N, K, n0, n1);
}
export function matmul_ggml_q5_1(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmul<Q5_1>(xq, w, y, M, N, K, n0, n1);
}
export function matmul_ggml_q8_0(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmul<Q8_0>(xq, w, y, M, N, K, n0, n1);
}
export function matmul_ggml_iq4_nl(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmul<IQ4_NL>(xq, w, y, M, N, K, n0, n1);
}
export function matmul_ggml_q2_K(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmul<Q2_K>(xq, w, y, M, N, K, n0, n1);
}
export function matmul_ggml_q3_K(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmul<Q3_K>(xq, w, y, M, N, K, n0, n1);
}
export function matmul_ggml_q4_K(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmul<Q4_K>(xq, w, y, M, N, K, n0, n1);
}
export function matmul_ggml_q5_K(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmul<Q5_K>(xq, w, y, M, N, K, n0, n1);
}
export function matmul_ggml_q6_K(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmul<Q6_K>(xq, w, y, M, N, K, n0, n1);
}
export function matmul_ggml_iq4_xs(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmul<IQ4_XS>(xq, w, y, M, N, K, n0, n1);
}

// ---------------------------------------------------------------- f16 / bf16 weights

/** Eight halves at p → two f32x4 (exact). */
@inline
function halves_lo(h: v128, bf16: bool): v128 {
  const v = i32x4.extend_low_i16x8_u(h);
  return bf16 ? i32x4.shl(v, 16) : f16x4_to_f32x4(v);
}
@inline
function halves_hi(h: v128, bf16: bool): v128 {
  const v = i32x4.extend_high_i16x8_u(h);
  return bf16 ? i32x4.shl(v, 16) : f16x4_to_f32x4(v);
}
@inline
function half_at(p: usize, bf16: bool): f32 {
  const h = <u32>load<u16>(p);
  return bf16 ? reinterpret<f32>(h << 16) : f16_to_f32(h);
}

/** (s0 + s1) + (s2 + s3) of a + b, then the tail k in [K8, K) in order. */
@inline
function finish_half(a: v128, b: v128, w: usize, x: usize, K8: i32, K: i32, bf16: bool): f32 {
  const s = f32x4.add(a, b);
  let t = (f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1)) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3));
  for (let k = K8; k < K; k++) t += half_at(w + (<usize>k << 1), bf16) * half_at(x + (<usize>k << 1), bf16);
  return t;
}

@inline
function matmul_half(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, bf16: bool): void {
  const wRow = <usize>K << 1;
  const K8 = K & ~7;
  // One weight row at a time (one memory stream), against every activation row.
  for (let n = n0; n < n1; n++) {
    const r = w + <usize>n * wRow;
    for (let m = 0; m < M; m++) {
      const x = xq + <usize>m * wRow;
      let a = f32x4.splat(0);
      let b = a;
      for (let o: usize = 0, end = <usize>K8 << 1; o < end; o += 16) {
        const xh = v128.load(x + o);
        const h = v128.load(r + o);
        // Products of two halves are exact in f32, so only the sums round.
        a = f32x4.add(a, f32x4.mul(halves_lo(h, bf16), halves_lo(xh, bf16)));
        b = f32x4.add(b, f32x4.mul(halves_hi(h, bf16), halves_hi(xh, bf16)));
      }
      store<f32>(y + ((<usize>m * <usize>N + <usize>n) << 2), finish_half(a, b, r, x, K8, K, bf16));
    }
  }
}

/** f16 weights × f16 activations (ggml_vec_dot_f16's inputs). */
export function matmul_ggml_f16(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmul_half(xq, w, y, M, N, K, n0, n1, false);
}

/** bf16 weights × bf16 activations (ggml_vec_dot_bf16's inputs). */
export function matmul_ggml_bf16(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmul_half(xq, w, y, M, N, K, n0, n1, true);
}
