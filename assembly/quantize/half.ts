// f32 → f16 and f32 → bf16 rows, bit-identical to ggml_fp32_to_fp16_row and
// ggml_fp32_to_bf16_row (ggml-facts.md): round to nearest even, overflow to
// inf, f16 subnormals kept; a NaN becomes sign|0x7e00 (f16) or
// (bits >> 16) | 0x40 (bf16). These are the activation conversions of ggml's
// f16 and bf16 dot products, and the f16 scale stores of the q8 quantizers.

const TO_INF: f32 = 5.192296858534828e33; // 2^112
const TO_ZERO: f32 = 7.703719777548943e-34; // 2^-110

/**
 * Four f32 lanes → four f16 bit patterns (low 16 bits of each u32 lane). The
 * rounding is done by the FPU: |x| is scaled by 4 (through 2^112·2^-110, so
 * that |x| ≥ 65520 becomes inf) and added to a power of two whose ulp is the
 * f16 ulp of x (at least the subnormal ulp 2^-24, scaled), which rounds it to
 * nearest even; the sum's exponent and low mantissa bits are then the f16 bits.
 */
@inline
export function f32x4_to_f16x4(x: v128): v128 {
  const base = f32x4.mul(f32x4.mul(f32x4.abs(x), f32x4.splat(TO_INF)), f32x4.splat(TO_ZERO));
  const twice = i32x4.add(x, x); // the bits without the sign, shifted left once
  // The exponent of x, raised to the smallest f16 normal's (2^-14 → biased 113, 0x71 << 24).
  const bias = i32x4.max_u(v128.and(twice, i32x4.splat(0xff000000)), i32x4.splat(0x71000000));
  const magic = i32x4.add(i32x4.shr_u(bias, 1), i32x4.splat(0x07800000));
  const r = f32x4.add(magic, base);
  const nonsign = i32x4.add(v128.and(i32x4.shr_u(r, 13), i32x4.splat(0x7c00)), v128.and(r, i32x4.splat(0x0fff)));
  const isNan = i32x4.gt_u(twice, i32x4.splat(0xff000000));
  const sign = i32x4.shr_u(v128.and(x, i32x4.splat(0x80000000)), 16);
  return v128.or(sign, v128.bitselect(i32x4.splat(0x7e00), nonsign, isNan));
}

/** One f32 → f16 bits (the 4-lane conversion on lane 0). */
@inline
export function f32_to_f16(x: f32): u16 {
  return <u16>i32x4.extract_lane(f32x4_to_f16x4(f32x4.splat(x)), 0);
}

/** Four f32 lanes → four bf16 bit patterns (low 16 bits of each u32 lane). */
@inline
export function f32x4_to_bf16x4(x: v128): v128 {
  const rounded = i32x4.shr_u(i32x4.add(i32x4.add(x, i32x4.splat(0x7fff)), v128.and(i32x4.shr_u(x, 16), i32x4.splat(1))), 16);
  const quiet = v128.or(i32x4.shr_u(x, 16), i32x4.splat(0x40));
  const isNan = i32x4.gt_s(v128.and(x, i32x4.splat(0x7fffffff)), i32x4.splat(0x7f800000));
  return v128.bitselect(quiet, rounded, isNan);
}

/** Eight f32 at src → eight halves at dst, through `conv` (f16 or bf16). */
@inline
function convert_row(src: usize, dst: usize, n: i32, bf16: bool): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const s = src + ((<usize>i) << 2);
    const a = v128.load(s);
    const b = v128.load(s, 16);
    const ha = bf16 ? f32x4_to_bf16x4(a) : f32x4_to_f16x4(a);
    const hb = bf16 ? f32x4_to_bf16x4(b) : f32x4_to_f16x4(b);
    // Lanes hold 0..0xffff, which the unsigned saturating narrow keeps as they are.
    v128.store(dst + ((<usize>i) << 1), i16x8.narrow_i32x4_u(ha, hb));
  }
  for (; i < n; i++) {
    const v = f32x4.splat(load<f32>(src + ((<usize>i) << 2)));
    const h = bf16 ? f32x4_to_bf16x4(v) : f32x4_to_f16x4(v);
    store<u16>(dst + ((<usize>i) << 1), <u16>i32x4.extract_lane(h, 0));
  }
}

/** n f32 at src → n f16 at dst (ggml_fp32_to_fp16_row). */
export function quantize_f16(src: usize, dst: usize, n: i32): void {
  convert_row(src, dst, n, false);
}

/** n f32 at src → n bf16 at dst (ggml_fp32_to_bf16_row). */
export function quantize_bf16(src: usize, dst: usize, n: i32): void {
  convert_row(src, dst, n, true);
}
