// The 32-element block formats: q4_0, q4_1, q5_0, q5_1, q8_0, q8_1, iq4_nl
// (ggml dequantize_row_*): w = d·(code − zero) or d·code + m, d and m f16.
// Each format is a trait (table.ts) over its codes (codes.ts); the dequant
// kernels and the exact matmul both decode through it.
import { f16x4_to_f32x4 } from './common';
import {
  iq4_nl_values,
  Q4_0_ZERO,
  Q5_0_ZERO,
  q4_0_codes,
  q4_1_codes,
  q5_0_codes,
  q5_1_codes,
  q8_0_codes,
  q8_1_codes,
} from './codes';
import { dequant_chunks, pair_lanes, put_unit, TWO_POW_M24, UNIT_BYTES } from './table';

const ZERO: v128 = i32x4.splat(0);

/**
 * Table of nb blocks at src (up to 8): unit u holds blocks 2u and 2u+1 (groups:
 * low and high half of each). A whole chunk converts its eight f16 scales (and
 * mins) in two SIMD conversions. With nb < 8 (a row's last chunk), each unit
 * converts its own pair; with nb odd, the last unit repeats its block in slots
 * 2 and 3, which no one reads, rather than read past the row.
 */
@inline
function prep_legacy<T>(src: usize, nb: i32, t: usize): void {
  const fmt = changetype<T>(0);
  const bytes = <usize>fmt.bytes;
  if (nb == 8) {
    const d = halves8(src, bytes, 0);
    const dlo = f32x4.mul(f16x4_to_f32x4(i32x4.extend_low_i16x8_u(d)), f32x4.splat(TWO_POW_M24));
    const dhi = f32x4.mul(f16x4_to_f32x4(i32x4.extend_high_i16x8_u(d)), f32x4.splat(TWO_POW_M24));
    let mlo = ZERO;
    let mhi = ZERO;
    if (fmt.affine) {
      const m = halves8(src, bytes, 2);
      mlo = f16x4_to_f32x4(i32x4.extend_low_i16x8_u(m));
      mhi = f16x4_to_f32x4(i32x4.extend_high_i16x8_u(m));
    }
    legacy_unit<T>(t, v128.shuffle<f32>(dlo, dlo, 0, 0, 1, 1), v128.shuffle<f32>(mlo, mlo, 0, 0, 1, 1), src, src + bytes);
    legacy_unit<T>(t + UNIT_BYTES, v128.shuffle<f32>(dlo, dlo, 2, 2, 3, 3), v128.shuffle<f32>(mlo, mlo, 2, 2, 3, 3), src + 2 * bytes, src + 3 * bytes);
    legacy_unit<T>(t + 2 * UNIT_BYTES, v128.shuffle<f32>(dhi, dhi, 0, 0, 1, 1), v128.shuffle<f32>(mhi, mhi, 0, 0, 1, 1), src + 4 * bytes, src + 5 * bytes);
    legacy_unit<T>(t + 3 * UNIT_BYTES, v128.shuffle<f32>(dhi, dhi, 2, 2, 3, 3), v128.shuffle<f32>(mhi, mhi, 2, 2, 3, 3), src + 6 * bytes, src + 7 * bytes);
    return;
  }
  for (let b = 0; b < nb; b += 2, src += bytes << 1, t += UNIT_BYTES) {
    const b1 = b + 1 < nb ? src + bytes : src;
    const dq = f32x4.mul(f16x4_to_f32x4(pair_lanes(load<u16>(src), load<u16>(b1))), f32x4.splat(TWO_POW_M24));
    const m = fmt.affine ? f16x4_to_f32x4(pair_lanes(load<u16>(src, 2), load<u16>(b1, 2))) : ZERO;
    legacy_unit<T>(t, dq, m, src, b1);
  }
}

/** The f16 at offset `off` of eight consecutive blocks, as eight u16 lanes. */
@inline
function halves8(src: usize, bytes: usize, off: usize): v128 {
  let h = v128.load16_lane(src + off, ZERO, 0);
  h = v128.load16_lane(src + off + bytes, h, 1);
  h = v128.load16_lane(src + off + 2 * bytes, h, 2);
  h = v128.load16_lane(src + off + 3 * bytes, h, 3);
  h = v128.load16_lane(src + off + 4 * bytes, h, 4);
  h = v128.load16_lane(src + off + 5 * bytes, h, 5);
  h = v128.load16_lane(src + off + 6 * bytes, h, 6);
  return v128.load16_lane(src + off + 7 * bytes, h, 7);
}

@inline
function legacy_unit<T>(t: usize, dq: v128, m: v128, b0: usize, b1: usize): void {
  const fmt = changetype<T>(0);
  put_unit(t, dq, m, fmt.values(b0, 0), fmt.values(b0, 1), fmt.values(b1, 0), fmt.values(b1, 1));
}

// Traits: geometry, whether there is a min term, and the signed values of half h of block b.

@final export class Q4_0 {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): i32 { return 18; }
  @inline get affine(): bool { return false; }
  @inline get prescaled(): bool { return true; }
  @inline values(b: usize, h: i32): v128 { return i8x16.sub(q4_0_codes(b, h), i8x16.splat(<i8>Q4_0_ZERO)); }
  @inline prep(src: usize, nb: i32, t: usize): void { prep_legacy<Q4_0>(src, nb, t); }
}

@final export class Q4_1 {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): i32 { return 20; }
  @inline get affine(): bool { return true; }
  @inline get prescaled(): bool { return true; }
  @inline values(b: usize, h: i32): v128 { return q4_1_codes(b, h); }
  @inline prep(src: usize, nb: i32, t: usize): void { prep_legacy<Q4_1>(src, nb, t); }
}

@final export class Q5_0 {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): i32 { return 22; }
  @inline get affine(): bool { return false; }
  @inline get prescaled(): bool { return true; }
  @inline values(b: usize, h: i32): v128 { return i8x16.sub(q5_0_codes(b, h), i8x16.splat(<i8>Q5_0_ZERO)); }
  @inline prep(src: usize, nb: i32, t: usize): void { prep_legacy<Q5_0>(src, nb, t); }
}

@final export class Q5_1 {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): i32 { return 24; }
  @inline get affine(): bool { return true; }
  @inline get prescaled(): bool { return true; }
  @inline values(b: usize, h: i32): v128 { return q5_1_codes(b, h); }
  @inline prep(src: usize, nb: i32, t: usize): void { prep_legacy<Q5_1>(src, nb, t); }
}

@final export class Q8_0 {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): i32 { return 34; }
  @inline get affine(): bool { return false; }
  @inline get prescaled(): bool { return true; }
  @inline values(b: usize, h: i32): v128 { return q8_0_codes(b, h); }
  @inline prep(src: usize, nb: i32, t: usize): void { prep_legacy<Q8_0>(src, nb, t); }
}

/** ggml has no to_float for q8_1 (an activation type); this is w = d·q (s = d·Σq unused), matching the conformance corpus. */
@final export class Q8_1 {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): i32 { return 36; }
  @inline get affine(): bool { return false; }
  @inline get prescaled(): bool { return true; }
  @inline values(b: usize, h: i32): v128 { return q8_1_codes(b, h); }
  @inline prep(src: usize, nb: i32, t: usize): void { prep_legacy<Q8_1>(src, nb, t); }
}

@final export class IQ4_NL {
  @inline get elems(): i32 { return 32; }
  @inline get bytes(): i32 { return 18; }
  @inline get affine(): bool { return false; }
  @inline get prescaled(): bool { return true; }
  @inline values(b: usize, h: i32): v128 { return iq4_nl_values(b, h); }
  @inline prep(src: usize, nb: i32, t: usize): void { prep_legacy<IQ4_NL>(src, nb, t); }
}

export function dequant_q4_0(src: usize, dst: usize, nblocks: i32): void {
  dequant_chunks<Q4_0>(src, dst, nblocks);
}

export function dequant_q4_1(src: usize, dst: usize, nblocks: i32): void {
  dequant_chunks<Q4_1>(src, dst, nblocks);
}

export function dequant_q5_0(src: usize, dst: usize, nblocks: i32): void {
  dequant_chunks<Q5_0>(src, dst, nblocks);
}

export function dequant_q5_1(src: usize, dst: usize, nblocks: i32): void {
  dequant_chunks<Q5_1>(src, dst, nblocks);
}

export function dequant_q8_0(src: usize, dst: usize, nblocks: i32): void {
  dequant_chunks<Q8_0>(src, dst, nblocks);
}

export function dequant_q8_1(src: usize, dst: usize, nblocks: i32): void {
  dequant_chunks<Q8_1>(src, dst, nblocks);
}

export function dequant_iq4_nl(src: usize, dst: usize, nblocks: i32): void {
  dequant_chunks<IQ4_NL>(src, dst, nblocks);
}
