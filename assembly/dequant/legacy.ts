// The 32-element block formats: q4_0, q4_1, q5_0, q5_1, q8_0, q8_1, iq4_nl
// (ggml dequantize_row_*). Element j of a block takes the low nibble of qs[j]
// for j < 16 and the high nibble of qs[j-16] otherwise.
import { Affine, hi_nibbles, lo_nibbles, load_f16, store_i8x16 } from './common';

/** iq4_nl's 16-entry non-linear codebook (kvalues_iq4nl). */
export const IQ4NL_VALUES: v128 = i8x16(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

/** The 16 bytes (0x10 or 0) that qh's bits [16·half, 16·half+16) contribute as each element's 5th bit. */
@inline
function fifth_bits(qh: u32, half: i32): v128 {
  const bytes = i8x16.swizzle(
    i32x4.splat(qh),
    half == 0 ? i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1) : i8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3),
  );
  const bit = i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  return v128.and(i8x16.eq(v128.and(bytes, bit), bit), i8x16.splat(0x10));
}

const ZERO: v128 = i32x4.splat(0);

export function dequant_q4_0(src: usize, dst: usize, nblocks: i32): void {
  const eight = i8x16.splat(8);
  for (let b = 0; b < nblocks; b++, src += 18, dst += 128) {
    const d = f32x4.splat(load_f16(src));
    const qs = v128.load(src, 2);
    store_i8x16(dst, i8x16.sub(lo_nibbles(qs), eight), d, ZERO, Affine.Scale);
    store_i8x16(dst + 64, i8x16.sub(hi_nibbles(qs), eight), d, ZERO, Affine.Scale);
  }
}

export function dequant_q4_1(src: usize, dst: usize, nblocks: i32): void {
  for (let b = 0; b < nblocks; b++, src += 20, dst += 128) {
    const d = f32x4.splat(load_f16(src));
    const m = f32x4.splat(load_f16(src + 2));
    const qs = v128.load(src, 4);
    store_i8x16(dst, lo_nibbles(qs), d, m, Affine.ScaleAdd);
    store_i8x16(dst + 64, hi_nibbles(qs), d, m, Affine.ScaleAdd);
  }
}

export function dequant_q5_0(src: usize, dst: usize, nblocks: i32): void {
  const sixteen = i8x16.splat(16);
  for (let b = 0; b < nblocks; b++, src += 22, dst += 128) {
    const d = f32x4.splat(load_f16(src));
    const qh = load<u32>(src, 2);
    const qs = v128.load(src, 6);
    store_i8x16(dst, i8x16.sub(v128.or(lo_nibbles(qs), fifth_bits(qh, 0)), sixteen), d, ZERO, Affine.Scale);
    store_i8x16(dst + 64, i8x16.sub(v128.or(hi_nibbles(qs), fifth_bits(qh, 1)), sixteen), d, ZERO, Affine.Scale);
  }
}

export function dequant_q5_1(src: usize, dst: usize, nblocks: i32): void {
  for (let b = 0; b < nblocks; b++, src += 24, dst += 128) {
    const d = f32x4.splat(load_f16(src));
    const m = f32x4.splat(load_f16(src + 2));
    const qh = load<u32>(src, 4);
    const qs = v128.load(src, 8);
    store_i8x16(dst, v128.or(lo_nibbles(qs), fifth_bits(qh, 0)), d, m, Affine.ScaleAdd);
    store_i8x16(dst + 64, v128.or(hi_nibbles(qs), fifth_bits(qh, 1)), d, m, Affine.ScaleAdd);
  }
}

/** q8_0 and q8_1 differ only in where the int8 values start (q8_1 also stores s = d·Σq, unused here). */
@inline
function dequant_q8_32(src: usize, dst: usize, nblocks: i32, blockBytes: usize, qsOffset: usize): void {
  for (let b = 0; b < nblocks; b++, src += blockBytes, dst += 128) {
    const d = f32x4.splat(load_f16(src));
    store_i8x16(dst, v128.load(src + qsOffset), d, ZERO, Affine.Scale);
    store_i8x16(dst + 64, v128.load(src + qsOffset + 16), d, ZERO, Affine.Scale);
  }
}

export function dequant_q8_0(src: usize, dst: usize, nblocks: i32): void {
  dequant_q8_32(src, dst, nblocks, 34, 2);
}

/** ggml has no to_float for q8_1 (an activation type); this is y = d·q, matching the conformance corpus. */
export function dequant_q8_1(src: usize, dst: usize, nblocks: i32): void {
  dequant_q8_32(src, dst, nblocks, 36, 4);
}

export function dequant_iq4_nl(src: usize, dst: usize, nblocks: i32): void {
  for (let b = 0; b < nblocks; b++, src += 18, dst += 128) {
    const d = f32x4.splat(load_f16(src));
    const qs = v128.load(src, 2);
    store_i8x16(dst, i8x16.swizzle(IQ4NL_VALUES, lo_nibbles(qs)), d, ZERO, Affine.Scale);
    store_i8x16(dst + 64, i8x16.swizzle(IQ4NL_VALUES, hi_nibbles(qs)), d, ZERO, Affine.Scale);
  }
}
