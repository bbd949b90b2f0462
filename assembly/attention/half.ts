// Half-precision helpers of the attention kernels: f16 rows → f32 (exact), and
// f32 → the nearest f16 value kept as an f32 (what a store to an f16 buffer
// and a load back give: ggml's VKQ16 accumulator and Q_q conversion).
import { f16_to_f32, f16x4_to_f32x4 } from '../dequant/common';

/**
 * Rounds four f32 lanes to the nearest f16 value (ties to even), as
 * f16 → f32(f32 → f16(x)) does: |x| ≥ 65520 → ±inf; below 2^-14 the f16
 * subnormal grid (multiples of 2^-24); NaN stays NaN; the sign is kept (±0).
 */
@inline
export function round_f16_v128(x: v128): v128 {
  const a = v128.and(x, i32x4.splat(0x7fffffff));
  // Normal f16 range: drop 13 mantissa bits, round half to even (a carry may bump the exponent).
  const lsb = v128.and(i32x4.shr_u(a, 13), i32x4.splat(1));
  const normal = v128.and(i32x4.add(a, i32x4.add(i32x4.splat(0xfff), lsb)), i32x4.splat(~0x1fff));
  // Subnormal range: 0.75 + |x| lies in [0.5, 1), whose ulp is 2^-24, so the FPU rounds it there.
  const sub = f32x4.sub(f32x4.add(a, f32x4.splat(0.75)), f32x4.splat(0.75));
  let r = v128.bitselect(sub, normal, i32x4.lt_s(a, i32x4.splat(0x38800000)));
  r = v128.bitselect(i32x4.splat(0x7f800000), r, i32x4.gt_s(a, i32x4.splat(0x477fefff)));
  r = v128.bitselect(a, r, i32x4.gt_s(a, i32x4.splat(0x7f800000)));
  return v128.or(r, v128.and(x, i32x4.splat(0x80000000)));
}

/**
 * round_f16_v128 with a fast path: when every lane lies in the f16 normal range
 * [2^-14, 65520) the rounding is an integer add on the f32 bits (round half to
 * even at bit 13); any other lane (zero, subnormal, overflow, inf, NaN) sends
 * the vector through the general conversion. Same bits either way.
 */
@inline
export function round_f16_fast_v128(x: v128): v128 {
  const a = v128.and(x, i32x4.splat(0x7fffffff));
  // a − 2^-14's bits, biased to a signed compare: outside [0, 65520 − 2^-14's] → general path.
  if (v128.any_true(i32x4.gt_s(i32x4.sub(a, i32x4.splat(0xb8800000)), i32x4.splat(0x8effefff)))) {
    return round_f16_v128(x);
  }
  const lsb = v128.and(i32x4.shr_u(x, 13), i32x4.splat(1));
  return v128.and(i32x4.add(x, i32x4.add(lsb, i32x4.splat(0xfff))), i32x4.splat(~0x1fff));
}

@inline
export function round_f16_scalar(x: f32): f32 {
  return f32x4.extract_lane(round_f16_v128(f32x4.splat(x)), 0);
}

const F16_REBIAS: f32 = 5.192296858534828e33; // 2^112

/**
 * Halves 0..3 (lo) or 4..7 of h → f32 for finite halves: each half moved to
 * the top of its 32-bit lane (an interleave with zeros, one instruction), shifted right arithmetically by 3 (sign copied
 * into bits 28..31, exponent and mantissa at bits 13..27), bits 28..30
 * cleared, then × 2^112 rebiases the exponent (exact; subnormal halves too).
 */
@inline
function finite_half_lanes(h: v128, high: bool): v128 {
  const z = i32x4.splat(0);
  const w = high
    ? i8x16.shuffle(z, h, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31)
    : i8x16.shuffle(z, h, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const bits = v128.and(i32x4.shr_s(w, 3), i32x4.splat(0x8fffe000));
  return f32x4.mul(bits, f32x4.splat(F16_REBIAS));
}

/**
 * n halves at src → n f32 at dst (exact, ggml_fp16_to_fp32 bit for bit).
 * Rows are converted on the fast finite path; a row holding an inf or NaN
 * is converted again by the exact general path.
 */
export function f16_row_to_f32(src: usize, dst: usize, n: i32): void {
  let d = 0;
  let special = i32x4.splat(0);
  for (; d + 8 <= n; d += 8) {
    const h = v128.load(src + ((<usize>d) << 1));
    special = v128.or(special, i16x8.eq(v128.and(h, i16x8.splat(0x7c00)), i16x8.splat(0x7c00)));
    const o = dst + ((<usize>d) << 2);
    v128.store(o, finite_half_lanes(h, false));
    v128.store(o, finite_half_lanes(h, true), 16);
  }
  if (v128.any_true(special)) d = 0;
  for (; d + 8 <= n; d += 8) {
    const h = v128.load(src + ((<usize>d) << 1));
    const o = dst + ((<usize>d) << 2);
    v128.store(o, f16x4_to_f32x4(i32x4.extend_low_i16x8_u(h)));
    v128.store(o, f16x4_to_f32x4(i32x4.extend_high_i16x8_u(h)), 16);
  }
  for (; d < n; d++) {
    store<f32>(dst + ((<usize>d) << 2), f16_to_f32(<u32>load<u16>(src + ((<usize>d) << 1))));
  }
}

/** dst[d] = round_f16(src[d]) for n f32 (ggml's Q → f16 for the K·Q dot, kept as f32). */
export function round_row_f16(src: usize, dst: usize, n: i32): void {
  let d = 0;
  for (; d + 4 <= n; d += 4) {
    const o = (<usize>d) << 2;
    v128.store(dst + o, round_f16_v128(v128.load(src + o)));
  }
  for (; d < n; d++) {
    const o = (<usize>d) << 2;
    store<f32>(dst + o, round_f16_scalar(load<f32>(src + o)));
  }
}
