// Quantized matmul, `ggml` numerics: what llama.cpp's CPU backend computes.
// Activations are first quantized to the weight type's vec_dot type
// (assembly/quantize: q8_0, q8_1, q8_K, f16, bf16); then every block's dot
// product is an exact integer sum, scaled in f32.
//
// Interface (one export per weight type T):
//   matmul_ggml_<T>(xq, w, y, M, N, K, n0, n1)
//   xq  M rows of quantized activations, row m at m · (K / blockElems) · actBlockBytes
//       (q8_0: 34, q8_1: 36, q8_K: 292 bytes per block; f16/bf16: 2 bytes per value)
//   w   ggml rows [N, K] in their GGUF block layout
//   y   f32 [M, N]; the call writes y[m, n] for every m and every n in [n0, n1)
//   K is a multiple of the type's block size. Activation codes are what the q8
//   quantizers write (any int8; the sums below cannot overflow for any bytes).
//
// Numerics of one y[m, n] (a function of K and the bytes only; the same for any
// M, any [n0, n1) split, any tile lane and either build):
//   per block b, in increasing b, from acc = +0:
//     I = Σ_i scale_s(i)·code_w(i)·q_x(i)       exact in i32 (|I| < 2^31 for every byte pattern)
//     legacy, q3_K, q6_K, iq4_xs:  t = (d_w·d_x)·f32(I)
//     q4_1, q5_1:                  t = (d_w·d_x)·f32(I) + m_w·s_x      (s_x: q8_1's f16 d·Σq)
//     q2_K, q4_K, q5_K:            t = (d_w·d_x)·f32(I) − (dmin_w·d_x)·f32(J),  J = Σ_s min_s·Σ_{i∈s} q_x(i)
//     acc = acc + t
//   every operation a rounded f32 operation (never fused). Zero points (q4_0's 8,
//   q6_K's 32, ...) are inside I, so I is the integer dot of the signed values.
//   f16 / bf16 weights: products of two halves are exact in f32; lane l of two
//   f32x4 sums takes k ≡ l and k ≡ 4 + l (mod 8) over whole groups of 8, then
//   s = a + b, y = (s0 + s1) + (s2 + s3), then the K mod 8 tail in order.
//
// Layout of the work: tiles of 4 weight rows (one f32 lane each; a partial tile
// repeats its last row) × one activation row; the activation block is loaded
// once per tile, each row's integer partial sums are reduced across lanes
// (exactly), and the per-block f32 scaling runs on the 4 rows at once.
// The relaxed-SIMD build uses i16x8.relaxed_dot_i8x16_i7x16_s only with
// unsigned weight codes (≤ 63) as its second operand, where every engine agrees.
import { f16_to_f32, f16x4_to_f32x4, load_f16 } from '../dequant/common';
import {
  IQ4_XS_SCALE_ZERO,
  iq4_nl_values,
  iq4_xs_scale,
  iq4_xs_values,
  k4_scales_mins,
  Q2_K_D,
  Q2_K_DMIN,
  Q3_K_D,
  Q3_K_SCALE_ZERO,
  Q3_K_ZERO,
  Q4_0_ZERO,
  Q4_K_SCALES,
  Q5_0_ZERO,
  Q5_K_SCALES,
  Q6_K_D,
  Q6_K_SCALES,
  Q6_K_ZERO,
  Q8_K_BSUMS,
  q2_K_codes,
  q2_K_scales,
  q3_K_codes,
  q3_K_scales,
  q4_0_codes,
  q4_1_codes,
  q4_K_codes,
  q5_0_codes,
  q5_1_codes,
  q5_K_codes,
  q6_K_codes,
  q8_0_codes,
} from '../dequant/codes';

// ---------------------------------------------------------------- integer helpers

/** Σ w·x over 16 int8 pairs into 8 i16 lanes (two products each, |w·x| ≤ 2^14 + ...: see callers). */
@inline
function mul16(w: v128, x: v128): v128 {
  return i16x8.add(i16x8.extmul_low_i8x16_s(w, x), i16x8.extmul_high_i8x16_s(w, x));
}

/**
 * The same for unsigned codes c ≤ 127 (the pairs differ, the lane total does not). The relaxed
 * build's dot is engine-independent here: its second operand never has the top bit set.
 */
@inline
function mul16u(c: v128, x: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i16x8.relaxed_dot_i8x16_i7x16_s(x, c);
  return mul16(c, x);
}

/** i16 lane i (0..7) of v in every lane. */
@inline
function lane16(v: v128, i: i32): v128 {
  return i8x16.swizzle(v, i16x8.splat(<i16>(((2 * i + 1) << 8) | (2 * i))));
}

/** Four rows' i32x4 partial sums → their four totals, one per lane (exact). */
@inline
function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7));
  const cd = i32x4.add(i32x4.shuffle(c, d, 0, 4, 1, 5), i32x4.shuffle(c, d, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

/** The f16 at offset off of four blocks → f32x4. */
@inline
function f16_lanes(p0: usize, p1: usize, p2: usize, p3: usize, off: usize): v128 {
  let v = i32x4.splat(0);
  v = v128.load16_lane(p0 + off, v, 0);
  v = v128.load16_lane(p1 + off, v, 2);
  v = v128.load16_lane(p2 + off, v, 4);
  v = v128.load16_lane(p3 + off, v, 6);
  return f16x4_to_f32x4(v);
}

/** Σ of each group of 4 consecutive activation codes of a 32-block, as i16x8 (for zero points). */
@inline
function q8_sums16(x: usize, qs: usize): v128 {
  const ones = i8x16.splat(1);
  return i16x8.add(mul16u(ones, v128.load(x + qs)), mul16u(ones, v128.load(x + qs + 16)));
}

// ---------------------------------------------------------------- formats
// Each format is a set of compile-time traits read through changetype<T>(0); the
// methods never touch `this` and are inlined into the one generic kernel below.

/** How a block's integer sums become its f32 term. */
const PLAIN: i32 = 0; // (d_w·d_x)·I
const WITH_S: i32 = 1; // (d_w·d_x)·I + m_w·s_x
const WITH_MINS: i32 = 2; // (d_w·d_x)·I − (dmin_w·d_x)·J

/** Activation type: q8_0 / q8_1 (f16 d at 0, codes at 2 / 4) or q8_K (f32 d at 0, codes at 4, bsums at 260). */
const ACT_Q8_0: i32 = 0;
const ACT_Q8_1: i32 = 1;
const ACT_Q8_K: i32 = 2;

@final
class Q4_0 {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): usize { return 18; }
  @inline get act(): i32 { return ACT_Q8_0; }
  @inline get kind(): i32 { return PLAIN; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 0; }
  /** Zero-point correction shared by the tile's rows: 8·(sums of 4 codes). */
  @inline prep(x: usize): v128 {
    if (ASC_FEATURE_RELAXED_SIMD) return i16x8.shl(q8_sums16(x, 2), 3);
    return i32x4.splat(0);
  }
  @inline isum(w: usize, x: usize, prep: v128): v128 {
    const x0 = v128.load(x, 2);
    const x1 = v128.load(x, 18);
    if (ASC_FEATURE_RELAXED_SIMD) {
      const p = i16x8.add(mul16u(q4_0_codes(w, 0), x0), mul16u(q4_0_codes(w, 1), x1));
      return i32x4.extadd_pairwise_i16x8_s(i16x8.sub(p, prep));
    }
    const z = i8x16.splat(<i8>Q4_0_ZERO);
    // |Σ| ≤ 4·8·128 per lane.
    const p = i16x8.add(mul16(i8x16.sub(q4_0_codes(w, 0), z), x0), mul16(i8x16.sub(q4_0_codes(w, 1), z), x1));
    return i32x4.extadd_pairwise_i16x8_s(p);
  }
  @inline msum(w: usize, x: usize, prep: v128): v128 { return i32x4.splat(0); }
}

@final
class Q5_0 {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): usize { return 22; }
  @inline get act(): i32 { return ACT_Q8_0; }
  @inline get kind(): i32 { return PLAIN; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 0; }
  @inline prep(x: usize): v128 {
    if (ASC_FEATURE_RELAXED_SIMD) return i16x8.shl(q8_sums16(x, 2), 4);
    return i32x4.splat(0);
  }
  @inline isum(w: usize, x: usize, prep: v128): v128 {
    const x0 = v128.load(x, 2);
    const x1 = v128.load(x, 18);
    if (ASC_FEATURE_RELAXED_SIMD) {
      // ≤ 4·31·128 before the correction, ≤ 4·16·128 after.
      const p = i16x8.add(mul16u(q5_0_codes(w, 0), x0), mul16u(q5_0_codes(w, 1), x1));
      return i32x4.extadd_pairwise_i16x8_s(i16x8.sub(p, prep));
    }
    const z = i8x16.splat(<i8>Q5_0_ZERO);
    const p = i16x8.add(mul16(i8x16.sub(q5_0_codes(w, 0), z), x0), mul16(i8x16.sub(q5_0_codes(w, 1), z), x1));
    return i32x4.extadd_pairwise_i16x8_s(p);
  }
  @inline msum(w: usize, x: usize, prep: v128): v128 { return i32x4.splat(0); }
}

@final
class Q4_1 {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): usize { return 20; }
  @inline get act(): i32 { return ACT_Q8_1; }
  @inline get kind(): i32 { return WITH_S; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 2; }
  @inline prep(x: usize): v128 { return i32x4.splat(0); }
  @inline isum(w: usize, x: usize, prep: v128): v128 {
    // ≤ 4·15·128 per lane.
    const p = i16x8.add(mul16u(q4_1_codes(w, 0), v128.load(x, 4)), mul16u(q4_1_codes(w, 1), v128.load(x, 20)));
    return i32x4.extadd_pairwise_i16x8_s(p);
  }
  @inline msum(w: usize, x: usize, prep: v128): v128 { return i32x4.splat(0); }
}

@final
class Q5_1 {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): usize { return 24; }
  @inline get act(): i32 { return ACT_Q8_1; }
  @inline get kind(): i32 { return WITH_S; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 2; }
  @inline prep(x: usize): v128 { return i32x4.splat(0); }
  @inline isum(w: usize, x: usize, prep: v128): v128 {
    // ≤ 4·31·128 per lane.
    const p = i16x8.add(mul16u(q5_1_codes(w, 0), v128.load(x, 4)), mul16u(q5_1_codes(w, 1), v128.load(x, 20)));
    return i32x4.extadd_pairwise_i16x8_s(p);
  }
  @inline msum(w: usize, x: usize, prep: v128): v128 { return i32x4.splat(0); }
}

@final
class Q8_0 {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): usize { return 34; }
  @inline get act(): i32 { return ACT_Q8_0; }
  @inline get kind(): i32 { return PLAIN; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 0; }
  @inline prep(x: usize): v128 { return i32x4.splat(0); }
  @inline isum(w: usize, x: usize, prep: v128): v128 {
    // One product per i16 lane: (−128)·(−128) fits, two might not.
    const w0 = q8_0_codes(w, 0);
    const w1 = q8_0_codes(w, 1);
    const x0 = v128.load(x, 2);
    const x1 = v128.load(x, 18);
    return i32x4.add(
      i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.extmul_low_i8x16_s(w0, x0)), i32x4.extadd_pairwise_i16x8_s(i16x8.extmul_high_i8x16_s(w0, x0))),
      i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.extmul_low_i8x16_s(w1, x1)), i32x4.extadd_pairwise_i16x8_s(i16x8.extmul_high_i8x16_s(w1, x1))),
    );
  }
  @inline msum(w: usize, x: usize, prep: v128): v128 { return i32x4.splat(0); }
}

@final
class IQ4_NL {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): usize { return 18; }
  @inline get act(): i32 { return ACT_Q8_0; }
  @inline get kind(): i32 { return PLAIN; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 0; }
  @inline prep(x: usize): v128 { return i32x4.splat(0); }
  @inline isum(w: usize, x: usize, prep: v128): v128 {
    // |codebook| ≤ 127: two products per lane ≤ 2·127·128.
    return i32x4.add(
      i32x4.extadd_pairwise_i16x8_s(mul16(iq4_nl_values(w, 0), v128.load(x, 2))),
      i32x4.extadd_pairwise_i16x8_s(mul16(iq4_nl_values(w, 1), v128.load(x, 18))),
    );
  }
  @inline msum(w: usize, x: usize, prep: v128): v128 { return i32x4.splat(0); }
}

/** q8_K activation codes of group g (16 values). */
@inline
function xg(x: usize, g: i32): v128 {
  return v128.load(x + 4 + (<usize>g << 4));
}

/** Σ_g sc_g·bsum_g for 16 signed i16 scales (lo: groups 0..7, hi: 8..15). */
@inline
function bsum_dot(x: usize, lo: v128, hi: v128): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(v128.load(x, Q8_K_BSUMS), lo), i32x4.dot_i16x8_s(v128.load(x, Q8_K_BSUMS + 16), hi));
}

@final
class Q2_K {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): usize { return 84; }
  @inline get act(): i32 { return ACT_Q8_K; }
  @inline get kind(): i32 { return WITH_MINS; }
  @inline get dOff(): usize { return Q2_K_D; }
  @inline get mOff(): usize { return Q2_K_DMIN; }
  @inline prep(x: usize): v128 { return i32x4.splat(0); }
  @inline isum(w: usize, x: usize, prep: v128): v128 {
    const s = q2_K_scales(w);
    const lo = i16x8.extend_low_i8x16_u(v128.and(s, i8x16.splat(0x0f)));
    const hi = i16x8.extend_high_i8x16_u(v128.and(s, i8x16.splat(0x0f)));
    let acc = i32x4.splat(0);
    for (let g = 0; g < 8; g++) {
      // ≤ 2·3·128 per lane before the scale.
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(mul16u(q2_K_codes(w, g), xg(x, g)), lane16(lo, g)));
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(mul16u(q2_K_codes(w, g + 8), xg(x, g + 8)), lane16(hi, g)));
    }
    return acc;
  }
  @inline msum(w: usize, x: usize, prep: v128): v128 {
    const m = i8x16.shr_u(q2_K_scales(w), 4);
    return bsum_dot(x, i16x8.extend_low_i8x16_u(m), i16x8.extend_high_i8x16_u(m));
  }
}

@final
class Q3_K {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): usize { return 110; }
  @inline get act(): i32 { return ACT_Q8_K; }
  @inline get kind(): i32 { return PLAIN; }
  @inline get dOff(): usize { return Q3_K_D; }
  @inline get mOff(): usize { return 0; }
  @inline prep(x: usize): v128 { return i32x4.splat(0); }
  @inline isum(w: usize, x: usize, prep: v128): v128 {
    const s = i8x16.sub(q3_K_scales(w), i8x16.splat(<i8>Q3_K_SCALE_ZERO));
    const lo = i16x8.extend_low_i8x16_s(s);
    const hi = i16x8.extend_high_i8x16_s(s);
    let acc = i32x4.splat(0);
    if (ASC_FEATURE_RELAXED_SIMD) {
      for (let g = 0; g < 8; g++) {
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(mul16u(q3_K_codes(w, g), xg(x, g)), lane16(lo, g)));
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(mul16u(q3_K_codes(w, g + 8), xg(x, g + 8)), lane16(hi, g)));
      }
      // Σ_g sc_g·Σ(code − 4)·q = Σ_g sc_g·Σ code·q − 4·Σ_g sc_g·bsum_g.
      return i32x4.sub(acc, i32x4.shl(bsum_dot(x, lo, hi), 2));
    }
    const z = i8x16.splat(<i8>Q3_K_ZERO);
    for (let g = 0; g < 8; g++) {
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(mul16(i8x16.sub(q3_K_codes(w, g), z), xg(x, g)), lane16(lo, g)));
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(mul16(i8x16.sub(q3_K_codes(w, g + 8), z), xg(x, g + 8)), lane16(hi, g)));
    }
    return acc;
  }
  @inline msum(w: usize, x: usize, prep: v128): v128 { return i32x4.splat(0); }
}

/** q4_K / q5_K: per 32-element sub-block s, scale·Σ code·q, codes from `codes`. */
@inline
function k4_isum(w: usize, x: usize, q5: bool): v128 {
  const sc = i16x8.extend_low_i8x16_u(k4_scales_mins(w + Q4_K_SCALES));
  let acc = i32x4.splat(0);
  for (let s = 0; s < 8; s++) {
    const g = 2 * s;
    const c0 = q5 ? q5_K_codes(w, g) : q4_K_codes(w, g);
    const c1 = q5 ? q5_K_codes(w, g + 1) : q4_K_codes(w, g + 1);
    // ≤ 4·31·128 per lane before the scale.
    const p = i16x8.add(mul16u(c0, xg(x, g)), mul16u(c1, xg(x, g + 1)));
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(p, lane16(sc, s)));
  }
  return acc;
}

/** q4_K / q5_K: Σ_s min_s·(bsum_2s + bsum_2s+1); prep holds the 8 pair sums (i16, ≤ 32·128). */
@inline
function k4_msum(w: usize, prep: v128): v128 {
  return i32x4.dot_i16x8_s(prep, i16x8.extend_high_i8x16_u(k4_scales_mins(w + Q4_K_SCALES)));
}

@inline
function bsum_pairs(x: usize): v128 {
  return i16x8.narrow_i32x4_s(
    i32x4.extadd_pairwise_i16x8_s(v128.load(x, Q8_K_BSUMS)),
    i32x4.extadd_pairwise_i16x8_s(v128.load(x, Q8_K_BSUMS + 16)),
  );
}

@final
class Q4_K {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): usize { return 144; }
  @inline get act(): i32 { return ACT_Q8_K; }
  @inline get kind(): i32 { return WITH_MINS; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 2; }
  @inline prep(x: usize): v128 { return bsum_pairs(x); }
  @inline isum(w: usize, x: usize, prep: v128): v128 { return k4_isum(w, x, false); }
  @inline msum(w: usize, x: usize, prep: v128): v128 { return k4_msum(w, prep); }
}

@final
class Q5_K {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): usize { return 176; }
  @inline get act(): i32 { return ACT_Q8_K; }
  @inline get kind(): i32 { return WITH_MINS; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 2; }
  @inline prep(x: usize): v128 { return bsum_pairs(x); }
  @inline isum(w: usize, x: usize, prep: v128): v128 { return k4_isum(w, x, true); }
  @inline msum(w: usize, x: usize, prep: v128): v128 { return k4_msum(w, prep); }
}

@final
class Q6_K {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): usize { return 210; }
  @inline get act(): i32 { return ACT_Q8_K; }
  @inline get kind(): i32 { return PLAIN; }
  @inline get dOff(): usize { return Q6_K_D; }
  @inline get mOff(): usize { return 0; }
  @inline prep(x: usize): v128 { return i32x4.splat(0); }
  @inline isum(w: usize, x: usize, prep: v128): v128 {
    const s = v128.load(w, Q6_K_SCALES);
    const lo = i16x8.extend_low_i8x16_s(s);
    const hi = i16x8.extend_high_i8x16_s(s);
    let acc = i32x4.splat(0);
    if (ASC_FEATURE_RELAXED_SIMD) {
      // ≤ 2·63·128 per lane before the scale.
      for (let g = 0; g < 8; g++) {
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(mul16u(q6_K_codes(w, g), xg(x, g)), lane16(lo, g)));
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(mul16u(q6_K_codes(w, g + 8), xg(x, g + 8)), lane16(hi, g)));
      }
      return i32x4.sub(acc, i32x4.shl(bsum_dot(x, lo, hi), 5));
    }
    const z = i8x16.splat(<i8>Q6_K_ZERO);
    for (let g = 0; g < 8; g++) {
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(mul16(i8x16.sub(q6_K_codes(w, g), z), xg(x, g)), lane16(lo, g)));
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(mul16(i8x16.sub(q6_K_codes(w, g + 8), z), xg(x, g + 8)), lane16(hi, g)));
    }
    return acc;
  }
  @inline msum(w: usize, x: usize, prep: v128): v128 { return i32x4.splat(0); }
}

@final
class IQ4_XS {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): usize { return 136; }
  @inline get act(): i32 { return ACT_Q8_K; }
  @inline get kind(): i32 { return PLAIN; }
  @inline get dOff(): usize { return 0; }
  @inline get mOff(): usize { return 0; }
  @inline prep(x: usize): v128 { return i32x4.splat(0); }
  @inline isum(w: usize, x: usize, prep: v128): v128 {
    let acc = i32x4.splat(0);
    for (let s = 0; s < 8; s++) {
      const sc = i16x8.splat(<i16>(iq4_xs_scale(w, s) - IQ4_XS_SCALE_ZERO));
      // |codebook| ≤ 127: two products per lane, so each half is scaled on its own.
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(mul16(iq4_xs_values(w, 2 * s), xg(x, 2 * s)), sc));
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(mul16(iq4_xs_values(w, 2 * s + 1), xg(x, 2 * s + 1)), sc));
    }
    return acc;
  }
  @inline msum(w: usize, x: usize, prep: v128): v128 { return i32x4.splat(0); }
}

// ---------------------------------------------------------------- the kernel

/** Stores the first `rows` lanes of v at p, p + 4, ... */
@inline
function store_lanes(p: usize, v: v128, rows: i32): void {
  if (rows == 4) {
    v128.store(p, v);
    return;
  }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (rows > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (rows > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

@inline
function matmul<T>(xq: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  const f = changetype<T>(0);
  const nb = K / f.elems;
  const actBytes: usize = f.act == ACT_Q8_K ? 292 : f.act == ACT_Q8_1 ? 36 : 34;
  const wRow = <usize>nb * f.bytes;
  const xRow = <usize>nb * actBytes;
  for (let n = n0; n < n1; n += 4) {
    const rows = min(4, n1 - n);
    // A partial tile repeats its last row in the unused lanes (computed, never stored).
    const r0 = w + <usize>n * wRow;
    const r1 = r0 + <usize>min(1, rows - 1) * wRow;
    const r2 = r0 + <usize>min(2, rows - 1) * wRow;
    const r3 = r0 + <usize>min(3, rows - 1) * wRow;
    for (let m = 0; m < M; m++) {
      let x = xq + <usize>m * xRow;
      let acc = f32x4.splat(0);
      for (let o: usize = 0, end = wRow; o < end; o += f.bytes, x += actBytes) {
        const prep = f.prep(x);
        const isum = f32x4.convert_i32x4_s(hsum4(f.isum(r0 + o, x, prep), f.isum(r1 + o, x, prep), f.isum(r2 + o, x, prep), f.isum(r3 + o, x, prep)));
        const dx = f32x4.splat(f.act == ACT_Q8_K ? load<f32>(x) : load_f16(x));
        let t = f32x4.mul(f32x4.mul(f16_lanes(r0 + o, r1 + o, r2 + o, r3 + o, f.dOff), dx), isum);
        if (f.kind == WITH_S) {
          t = f32x4.add(t, f32x4.mul(f16_lanes(r0 + o, r1 + o, r2 + o, r3 + o, f.mOff), f32x4.splat(load_f16(x + 2))));
        } else if (f.kind == WITH_MINS) {
          const msum = f32x4.convert_i32x4_s(hsum4(f.msum(r0 + o, x, prep), f.msum(r1 + o, x, prep), f.msum(r2 + o, x, prep), f.msum(r3 + o, x, prep)));
          t = f32x4.sub(t, f32x4.mul(f32x4.mul(f16_lanes(r0 + o, r1 + o, r2 + o, r3 + o, f.mOff), dx), msum));
        }
        acc = f32x4.add(acc, t);
      }
      store_lanes(y + ((<usize>m * <usize>N + <usize>n) << 2), acc, rows);
    }
  }
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
  for (let n = n0; n < n1; n += 4) {
    const rows = min(4, n1 - n);
    const r0 = w + <usize>n * wRow;
    const r1 = r0 + <usize>min(1, rows - 1) * wRow;
    const r2 = r0 + <usize>min(2, rows - 1) * wRow;
    const r3 = r0 + <usize>min(3, rows - 1) * wRow;
    for (let m = 0; m < M; m++) {
      const x = xq + <usize>m * wRow;
      let a0 = f32x4.splat(0), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
      for (let o: usize = 0, end = <usize>K8 << 1; o < end; o += 16) {
        const xh = v128.load(x + o);
        const xl = halves_lo(xh, bf16);
        const xu = halves_hi(xh, bf16);
        // Products of two halves are exact in f32, so only the sums round.
        let h = v128.load(r0 + o);
        a0 = f32x4.add(a0, f32x4.mul(halves_lo(h, bf16), xl));
        b0 = f32x4.add(b0, f32x4.mul(halves_hi(h, bf16), xu));
        h = v128.load(r1 + o);
        a1 = f32x4.add(a1, f32x4.mul(halves_lo(h, bf16), xl));
        b1 = f32x4.add(b1, f32x4.mul(halves_hi(h, bf16), xu));
        h = v128.load(r2 + o);
        a2 = f32x4.add(a2, f32x4.mul(halves_lo(h, bf16), xl));
        b2 = f32x4.add(b2, f32x4.mul(halves_hi(h, bf16), xu));
        h = v128.load(r3 + o);
        a3 = f32x4.add(a3, f32x4.mul(halves_lo(h, bf16), xl));
        b3 = f32x4.add(b3, f32x4.mul(halves_hi(h, bf16), xu));
      }
      const out = y + ((<usize>m * <usize>N + <usize>n) << 2);
      store<f32>(out, finish_half(a0, b0, r0, x, K8, K, bf16));
      if (rows > 1) store<f32>(out, finish_half(a1, b1, r1, x, K8, K, bf16), 4);
      if (rows > 2) store<f32>(out, finish_half(a2, b2, r2, x, K8, K, bf16), 8);
      if (rows > 3) store<f32>(out, finish_half(a3, b3, r3, x, K8, K, bf16), 12);
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
