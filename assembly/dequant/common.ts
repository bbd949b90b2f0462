// Shared pieces of the dequant kernels: f16 → f32, scalar and 4 lanes, exact
// (the block formats' f32 decoding lives in table.ts).

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

/** Reads an unaligned little-endian f16 at p as f32. */
@inline
export function load_f16(p: usize): f32 {
  return f16_to_f32(<u32>load<u16>(p));
}
