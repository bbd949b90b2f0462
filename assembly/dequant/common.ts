// Shared pieces of the dequant kernels: f16 → f32 (scalar and 4 lanes) and
// "widen 16 signed bytes, scale, store 16 floats". Every kernel computes the
// exact f32 operations ggml's dequantize_row_* performs, so results are
// bit-identical (no FMA: relaxed madd is never used here).

const F16_EXP_REBIAS: f32 = 5.192296858534828e33; // 2^112

/** f16 bits → f32, exact; a NaN keeps its payload and gains the quiet bit (as ggml on x86). */
@inline
export function f16_to_f32(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const em = h & 0x7fff;
  if (em >= 0x7c00) {
    const quiet: u32 = em > 0x7c00 ? 0x400000 : 0;
    return reinterpret<f32>(sign | 0x7f800000 | quiet | ((em & 0x3ff) << 13));
  }
  const mag = reinterpret<f32>(em << 13) * F16_EXP_REBIAS;
  return reinterpret<f32>(reinterpret<u32>(mag) | sign);
}

/** Four f16 values held in the low 16 bits of each u32 lane → four f32 lanes (same rules as f16_to_f32). */
@inline
export function f16x4_to_f32x4(h: v128): v128 {
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  const em = v128.and(h, i32x4.splat(0x7fff));
  const shifted = i32x4.shl(em, 13);
  const finite = f32x4.mul(shifted, f32x4.splat(F16_EXP_REBIAS));
  const special = v128.or(
    v128.or(shifted, i32x4.splat(0x7f800000)),
    v128.and(i32x4.gt_s(em, i32x4.splat(0x7c00)), i32x4.splat(0x400000)),
  );
  const isSpecial = i32x4.gt_s(em, i32x4.splat(0x7bff));
  return v128.or(v128.bitselect(special, finite, isSpecial), sign);
}

/** How a block's integers become floats: d·q, d·q + m (q4_1, q5_1) or d·q − m (k-quants). */
export enum Affine {
  Scale = 0,
  ScaleAdd = 1,
  ScaleSub = 2,
}

/**
 * Stores 16 floats from the 16 signed bytes of q: d·q, then ± m in the order
 * ggml writes it (a product, then a sum: two roundings, never fused).
 */
@inline
export function store_i8x16(dst: usize, q: v128, d: v128, m: v128, mode: Affine): void {
  const lo = i16x8.extend_low_i8x16_s(q);
  const hi = i16x8.extend_high_i8x16_s(q);
  store_i32x4(dst, i32x4.extend_low_i16x8_s(lo), d, m, mode);
  store_i32x4(dst + 16, i32x4.extend_high_i16x8_s(lo), d, m, mode);
  store_i32x4(dst + 32, i32x4.extend_low_i16x8_s(hi), d, m, mode);
  store_i32x4(dst + 48, i32x4.extend_high_i16x8_s(hi), d, m, mode);
}

@inline
function store_i32x4(dst: usize, words: v128, d: v128, m: v128, mode: Affine): void {
  let y = f32x4.mul(f32x4.convert_i32x4_s(words), d);
  if (mode == Affine.ScaleAdd) y = f32x4.add(y, m);
  else if (mode == Affine.ScaleSub) y = f32x4.sub(y, m);
  v128.store(dst, y);
}

/** Low nibbles of 16 bytes. */
@inline
export function lo_nibbles(b: v128): v128 {
  return v128.and(b, i8x16.splat(0x0f));
}

/** High nibbles of 16 bytes. */
@inline
export function hi_nibbles(b: v128): v128 {
  return i8x16.shr_u(b, 4);
}

/** Reads an unaligned little-endian f16 at p as f32. */
@inline
export function load_f16(p: usize): f32 {
  return f16_to_f32(<u32>load<u16>(p));
}
