// The 256-element super-block formats: q2_K, q3_K, q4_K, q5_K, q6_K, q8_K,
// iq4_xs (ggml dequantize_row_*). Sub-block scales are the f32 products ggml
// computes (d·sc, dmin·m), four groups' worth per SIMD multiply. Each format is
// a trait (table.ts) over its codes (codes.ts); the dequant kernels and the
// exact matmul both decode through it.
import { load_f16 } from './common';
import {
  IQ4_XS_SCALE_ZERO,
  iq4_xs_scale,
  iq4_xs_values,
  k4_scales_mins,
  Q2_K_D,
  Q2_K_DMIN,
  Q3_K_D,
  Q3_K_SCALE_ZERO,
  Q3_K_ZERO,
  Q4_K_SCALES,
  Q5_K_SCALES,
  Q6_K_D,
  Q6_K_SCALES,
  Q6_K_ZERO,
  q2_K_codes,
  q2_K_scales,
  q3_K_codes,
  q3_K_scales,
  q4_K_codes,
  q5_K_codes,
  q6_K_codes,
  q8_K_codes,
} from './codes';
import { dequant_chunks, pair_lanes, put_unit, TWO_POW_M24, UNIT_BYTES } from './table';

const ZERO: v128 = i32x4.splat(0);

/** Bytes 4u..4u+3 of v (u a constant) in the four i32 lanes, zero- or sign-extended (extends: no mask constants). */
@inline
function byte_quad(v: v128, u: i32, signed: bool): v128 {
  if (signed) {
    const h = u < 2 ? i16x8.extend_low_i8x16_s(v) : i16x8.extend_high_i8x16_s(v);
    return (u & 1) == 0 ? i32x4.extend_low_i16x8_s(h) : i32x4.extend_high_i16x8_s(h);
  }
  const h = u < 2 ? i16x8.extend_low_i8x16_u(v) : i16x8.extend_high_i8x16_u(v);
  return (u & 1) == 0 ? i32x4.extend_low_i16x8_u(h) : i32x4.extend_high_i16x8_u(h);
}

/** [v0, v0, v1, v1] (u even) or [v2, v2, v3, v3] (u odd) of four f32: per-32 values for the four groups of unit u. */
@inline
function pairs(v: v128, u: i32): v128 {
  return (u & 1) == 0 ? v128.shuffle<f32>(v, v, 0, 0, 1, 1) : v128.shuffle<f32>(v, v, 2, 2, 3, 3);
}

@inline
function scaled(ints: v128, s: f32): v128 {
  return f32x4.mul(f32x4.convert_i32x4_s(ints), f32x4.splat(s));
}

/**
 * A super-block's table: the trait gives the block's scale d (times 2^-24 when
 * prescaled), its min scale dmin, its packed sub-scales, and per unit u the dq,
 * m and value vectors. Unrolled so that every group index is a constant.
 */
@inline
function prep_k<T>(src: usize, t: usize): void {
  const fmt = changetype<T>(0);
  const d = fmt.d(src);
  const dmin = fmt.dmin(src);
  const sc = fmt.scales(src);
  fmt.unit(src, t, 0, d, dmin, sc);
  fmt.unit(src, t + UNIT_BYTES, 1, d, dmin, sc);
  fmt.unit(src, t + 2 * UNIT_BYTES, 2, d, dmin, sc);
  fmt.unit(src, t + 3 * UNIT_BYTES, 3, d, dmin, sc);
}

/** Values of groups 4u..4u+3 from a codes function, minus a zero point. */
@inline
function unit_values(t: usize, dq: v128, m: v128, q0: v128, q1: v128, q2: v128, q3: v128, zero: i32): void {
  const z = i8x16.splat(<i8>zero);
  put_unit(t, dq, m, i8x16.sub(q0, z), i8x16.sub(q1, z), i8x16.sub(q2, z), i8x16.sub(q3, z));
}

/** q2_K: w = (d·(sc & 15))·code − dmin·(sc >> 4), one scale byte per group. */
@final export class Q2_K {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): i32 { return 84; }
  @inline get affine(): bool { return true; }
  @inline get prescaled(): bool { return true; }
  @inline d(b: usize): f32 { return load_f16(b + Q2_K_D) * TWO_POW_M24; }
  @inline dmin(b: usize): f32 { return -load_f16(b + Q2_K_DMIN); }
  @inline scales(b: usize): v128 { return q2_K_scales(b); }
  @inline unit(b: usize, t: usize, u: i32, d: f32, dmin: f32, sc: v128): void {
    const dq = scaled(byte_quad(v128.and(sc, i8x16.splat(15)), u, false), d);
    const m = scaled(byte_quad(i8x16.shr_u(sc, 4), u, false), dmin);
    put_unit(t, dq, m, q2_K_codes(b, 4 * u), q2_K_codes(b, 4 * u + 1), q2_K_codes(b, 4 * u + 2), q2_K_codes(b, 4 * u + 3));
  }
  @inline prep(src: usize, nb: i32, t: usize): void { prep_k<Q2_K>(src, t); }
}

/** q3_K: w = (d·(sc − 32))·(code − 4), one scale per group. */
@final export class Q3_K {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): i32 { return 110; }
  @inline get affine(): bool { return false; }
  @inline get prescaled(): bool { return true; }
  @inline d(b: usize): f32 { return load_f16(b + Q3_K_D) * TWO_POW_M24; }
  @inline dmin(b: usize): f32 { return 0; }
  @inline scales(b: usize): v128 { return q3_K_scales(b); }
  @inline unit(b: usize, t: usize, u: i32, d: f32, dmin: f32, sc: v128): void {
    const dq = scaled(i32x4.sub(byte_quad(sc, u, false), i32x4.splat(Q3_K_SCALE_ZERO)), d);
    unit_values(t, dq, ZERO, q3_K_codes(b, 4 * u), q3_K_codes(b, 4 * u + 1), q3_K_codes(b, 4 * u + 2), q3_K_codes(b, 4 * u + 3), Q3_K_ZERO);
  }
  @inline prep(src: usize, nb: i32, t: usize): void { prep_k<Q3_K>(src, t); }
}

/** q4_K: w = (d·sc)·code − dmin·min, (sc, min) per 32 elements (get_scale_min_k4). */
@final export class Q4_K {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): i32 { return 144; }
  @inline get affine(): bool { return true; }
  @inline get prescaled(): bool { return true; }
  @inline d(b: usize): f32 { return load_f16(b) * TWO_POW_M24; }
  @inline dmin(b: usize): f32 { return -load_f16(b + 2); }
  @inline scales(b: usize): v128 { return k4_scales_mins(b + Q4_K_SCALES); }
  @inline unit(b: usize, t: usize, u: i32, d: f32, dmin: f32, sc: v128): void {
    // Sub-blocks 4(u >> 1)..+3 scales (bytes 0..7 of sc) and mins (bytes 8..15), then the pairs of unit u.
    const dq = pairs(scaled(byte_quad(sc, u >> 1, false), d), u);
    const m = pairs(scaled(byte_quad(sc, 2 + (u >> 1), false), dmin), u);
    put_unit(t, dq, m, q4_K_codes(b, 4 * u), q4_K_codes(b, 4 * u + 1), q4_K_codes(b, 4 * u + 2), q4_K_codes(b, 4 * u + 3));
  }
  @inline prep(src: usize, nb: i32, t: usize): void { prep_k<Q4_K>(src, t); }
}

/** q5_K: q4_K with a fifth code bit. */
@final export class Q5_K {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): i32 { return 176; }
  @inline get affine(): bool { return true; }
  @inline get prescaled(): bool { return true; }
  @inline d(b: usize): f32 { return load_f16(b) * TWO_POW_M24; }
  @inline dmin(b: usize): f32 { return -load_f16(b + 2); }
  @inline scales(b: usize): v128 { return k4_scales_mins(b + Q5_K_SCALES); }
  @inline unit(b: usize, t: usize, u: i32, d: f32, dmin: f32, sc: v128): void {
    // Sub-blocks 4(u >> 1)..+3 scales (bytes 0..7 of sc) and mins (bytes 8..15), then the pairs of unit u.
    const dq = pairs(scaled(byte_quad(sc, u >> 1, false), d), u);
    const m = pairs(scaled(byte_quad(sc, 2 + (u >> 1), false), dmin), u);
    put_unit(t, dq, m, q5_K_codes(b, 4 * u), q5_K_codes(b, 4 * u + 1), q5_K_codes(b, 4 * u + 2), q5_K_codes(b, 4 * u + 3));
  }
  @inline prep(src: usize, nb: i32, t: usize): void { prep_k<Q5_K>(src, t); }
}

/** q6_K: w = (d·sc)·(code − 32), sc a signed byte per group. */
@final export class Q6_K {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): i32 { return 210; }
  @inline get affine(): bool { return false; }
  @inline get prescaled(): bool { return true; }
  @inline d(b: usize): f32 { return load_f16(b + Q6_K_D) * TWO_POW_M24; }
  @inline dmin(b: usize): f32 { return 0; }
  @inline scales(b: usize): v128 { return v128.load(b + Q6_K_SCALES); }
  @inline unit(b: usize, t: usize, u: i32, d: f32, dmin: f32, sc: v128): void {
    const dq = scaled(byte_quad(sc, u, true), d);
    unit_values(t, dq, ZERO, q6_K_codes(b, 4 * u), q6_K_codes(b, 4 * u + 1), q6_K_codes(b, 4 * u + 2), q6_K_codes(b, 4 * u + 3), Q6_K_ZERO);
  }
  @inline prep(src: usize, nb: i32, t: usize): void { prep_k<Q6_K>(src, t); }
}

/** q8_K: w = d·q with d an f32 of any size, so the scale is not prescaled (the widening shifts instead). */
@final export class Q8_K {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): i32 { return 292; }
  @inline get affine(): bool { return false; }
  @inline get prescaled(): bool { return false; }
  @inline d(b: usize): f32 { return load<f32>(b); }
  @inline dmin(b: usize): f32 { return 0; }
  @inline scales(b: usize): v128 { return ZERO; }
  @inline unit(b: usize, t: usize, u: i32, d: f32, dmin: f32, sc: v128): void {
    put_unit(t, f32x4.splat(d), ZERO, q8_K_codes(b, 4 * u), q8_K_codes(b, 4 * u + 1), q8_K_codes(b, 4 * u + 2), q8_K_codes(b, 4 * u + 3));
  }
  @inline prep(src: usize, nb: i32, t: usize): void { prep_k<Q8_K>(src, t); }
}

/** iq4_xs: w = (d·(ls − 32))·kvalues[code], ls per 32 elements. */
@final export class IQ4_XS {
  @inline get elems(): i32 { return 256; }
  @inline get bytes(): i32 { return 136; }
  @inline get affine(): bool { return false; }
  @inline get prescaled(): bool { return true; }
  @inline d(b: usize): f32 { return load_f16(b) * TWO_POW_M24; }
  @inline dmin(b: usize): f32 { return 0; }
  @inline scales(b: usize): v128 { return ZERO; }
  @inline unit(b: usize, t: usize, u: i32, d: f32, dmin: f32, sc: v128): void {
    const ls = pair_lanes(iq4_xs_scale(b, 2 * u) - IQ4_XS_SCALE_ZERO, iq4_xs_scale(b, 2 * u + 1) - IQ4_XS_SCALE_ZERO);
    put_unit(t, scaled(ls, d), ZERO, iq4_xs_values(b, 4 * u), iq4_xs_values(b, 4 * u + 1), iq4_xs_values(b, 4 * u + 2), iq4_xs_values(b, 4 * u + 3));
  }
  @inline prep(src: usize, nb: i32, t: usize): void { prep_k<IQ4_XS>(src, t); }
}

export function dequant_q2_K(src: usize, dst: usize, nblocks: i32): void {
  dequant_chunks<Q2_K>(src, dst, nblocks);
}

export function dequant_q3_K(src: usize, dst: usize, nblocks: i32): void {
  dequant_chunks<Q3_K>(src, dst, nblocks);
}

export function dequant_q4_K(src: usize, dst: usize, nblocks: i32): void {
  dequant_chunks<Q4_K>(src, dst, nblocks);
}

export function dequant_q5_K(src: usize, dst: usize, nblocks: i32): void {
  dequant_chunks<Q5_K>(src, dst, nblocks);
}

export function dequant_q6_K(src: usize, dst: usize, nblocks: i32): void {
  dequant_chunks<Q6_K>(src, dst, nblocks);
}

export function dequant_q8_K(src: usize, dst: usize, nblocks: i32): void {
  dequant_chunks<Q8_K>(src, dst, nblocks);
}

export function dequant_iq4_xs(src: usize, dst: usize, nblocks: i32): void {
  dequant_chunks<IQ4_XS>(src, dst, nblocks);
}
