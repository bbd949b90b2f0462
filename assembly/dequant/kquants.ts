// The 256-element super-block formats: q2_K, q3_K, q4_K, q5_K, q6_K, q8_K,
// iq4_xs (ggml dequantize_row_*). Sub-block scales are decoded in scalar code
// exactly as ggml does (d·sc and dmin·m are f32 products), then each group of
// 16 elements is one store_i8x16.
import { Affine, hi_nibbles, lo_nibbles, load_f16, store_i8x16 } from './common';
import { IQ4NL_VALUES } from './legacy';

const ZERO: v128 = i32x4.splat(0);

/** ggml's get_scale_min_k4: the j-th 6-bit (scale, min) pair packed in 12 bytes; returns scale | min << 8. */
@inline
function scale_min_k4(j: i32, q: usize): u32 {
  if (j < 4) {
    return (<u32>load<u8>(q + j) & 63) | ((<u32>load<u8>(q + j + 4) & 63) << 8);
  }
  const a = <u32>load<u8>(q + j + 4);
  const sc = (a & 0xf) | ((<u32>load<u8>(q + j - 4) >> 6) << 4);
  const m = (a >> 4) | ((<u32>load<u8>(q + j) >> 6) << 4);
  return sc | (m << 8);
}

export function dequant_q2_K(src: usize, dst: usize, nblocks: i32): void {
  const three = i8x16.splat(3);
  for (let b = 0; b < nblocks; b++, src += 84, dst += 1024) {
    const d = load_f16(src + 80);
    const dmin = load_f16(src + 82);
    let y = dst;
    let is = 0;
    for (let half = 0; half < 2; half++) {
      const q = src + 16 + (<usize>half << 5);
      const q0 = v128.load(q);
      const q1 = v128.load(q, 16);
      for (let j: u32 = 0; j < 4; j++) {
        const shift = j << 1;
        const sc0 = <u32>load<u8>(src + is++);
        store_i8x16(y, v128.and(i8x16.shr_u(q0, shift), three), f32x4.splat(d * <f32>(sc0 & 0xf)), f32x4.splat(dmin * <f32>(sc0 >> 4)), Affine.ScaleSub);
        const sc1 = <u32>load<u8>(src + is++);
        store_i8x16(y + 64, v128.and(i8x16.shr_u(q1, shift), three), f32x4.splat(d * <f32>(sc1 & 0xf)), f32x4.splat(dmin * <f32>(sc1 >> 4)), Affine.ScaleSub);
        y += 128;
      }
    }
  }
}

export function dequant_q3_K(src: usize, dst: usize, nblocks: i32): void {
  const three = i8x16.splat(3);
  const four = i8x16.splat(4);
  for (let b = 0; b < nblocks; b++, src += 110, dst += 1024) {
    const dAll = load_f16(src + 108);
    const scales = unpack_q3_scales(src + 96);
    const hm0 = v128.load(src);
    const hm1 = v128.load(src, 16);
    let y = dst;
    let is = 0;
    let m: u32 = 1;
    for (let half = 0; half < 2; half++) {
      const q = src + 32 + (<usize>half << 5);
      const q0 = v128.load(q);
      const q1 = v128.load(q, 16);
      for (let j: u32 = 0; j < 4; j++, m <<= 1) {
        const shift = j << 1;
        const mv = i8x16.splat(<i8>m);
        // (q >> shift) & 3, minus 4 where the hmask bit is clear.
        const lo0 = i8x16.sub(v128.and(i8x16.shr_u(q0, shift), three), v128.andnot(four, i8x16.eq(v128.and(hm0, mv), mv)));
        const lo1 = i8x16.sub(v128.and(i8x16.shr_u(q1, shift), three), v128.andnot(four, i8x16.eq(v128.and(hm1, mv), mv)));
        store_i8x16(y, lo0, f32x4.splat(dAll * <f32>(<i32>scale_byte(scales, is++) - 32)), ZERO, Affine.Scale);
        store_i8x16(y + 64, lo1, f32x4.splat(dAll * <f32>(<i32>scale_byte(scales, is++) - 32)), ZERO, Affine.Scale);
        y += 128;
      }
    }
  }
}

/** q3_K's 16 six-bit scales (biased by 32), unpacked from 12 bytes as ggml does (kmask1/kmask2), one per byte. */
@inline
function unpack_q3_scales(s: usize): v128 {
  const a0 = load<u32>(s);
  const a1 = load<u32>(s, 4);
  const tmp = load<u32>(s, 8);
  const k1: u32 = 0x03030303;
  const k2: u32 = 0x0f0f0f0f;
  return i32x4(
    (a0 & k2) | (((tmp >> 0) & k1) << 4),
    (a1 & k2) | (((tmp >> 2) & k1) << 4),
    ((a0 >> 4) & k2) | (((tmp >> 4) & k1) << 4),
    ((a1 >> 4) & k2) | (((tmp >> 6) & k1) << 4),
  );
}

@inline
function scale_byte(scales: v128, i: i32): u32 {
  return <u32>i8x16.extract_lane_u(i8x16.swizzle(scales, i8x16.splat(<i8>i)), 0);
}

export function dequant_q4_K(src: usize, dst: usize, nblocks: i32): void {
  for (let b = 0; b < nblocks; b++, src += 144, dst += 1024) {
    const d = load_f16(src);
    const dmin = load_f16(src + 2);
    const scales = src + 4;
    for (let j = 0; j < 4; j++) {
      const sm1 = scale_min_k4(2 * j, scales);
      const sm2 = scale_min_k4(2 * j + 1, scales);
      const d1 = f32x4.splat(d * <f32>(sm1 & 0xff));
      const m1 = f32x4.splat(dmin * <f32>(sm1 >> 8));
      const d2 = f32x4.splat(d * <f32>(sm2 & 0xff));
      const m2 = f32x4.splat(dmin * <f32>(sm2 >> 8));
      const q = src + 16 + (<usize>j << 5);
      const q0 = v128.load(q);
      const q1 = v128.load(q, 16);
      const y = dst + (<usize>j << 8);
      store_i8x16(y, lo_nibbles(q0), d1, m1, Affine.ScaleSub);
      store_i8x16(y + 64, lo_nibbles(q1), d1, m1, Affine.ScaleSub);
      store_i8x16(y + 128, hi_nibbles(q0), d2, m2, Affine.ScaleSub);
      store_i8x16(y + 192, hi_nibbles(q1), d2, m2, Affine.ScaleSub);
    }
  }
}

export function dequant_q5_K(src: usize, dst: usize, nblocks: i32): void {
  const one = i8x16.splat(1);
  for (let b = 0; b < nblocks; b++, src += 176, dst += 1024) {
    const d = load_f16(src);
    const dmin = load_f16(src + 2);
    const scales = src + 4;
    const qh0 = v128.load(src, 16);
    const qh1 = v128.load(src, 32);
    for (let j = 0; j < 4; j++) {
      const sm1 = scale_min_k4(2 * j, scales);
      const sm2 = scale_min_k4(2 * j + 1, scales);
      const d1 = f32x4.splat(d * <f32>(sm1 & 0xff));
      const m1 = f32x4.splat(dmin * <f32>(sm1 >> 8));
      const d2 = f32x4.splat(d * <f32>(sm2 & 0xff));
      const m2 = f32x4.splat(dmin * <f32>(sm2 >> 8));
      const q = src + 48 + (<usize>j << 5);
      const q0 = v128.load(q);
      const q1 = v128.load(q, 16);
      // Bit 2j of qh[l] is the 5th bit of the low-nibble element, bit 2j+1 of the high-nibble one.
      const s1 = <u32>(2 * j);
      const s2 = s1 + 1;
      const y = dst + (<usize>j << 8);
      store_i8x16(y, v128.or(lo_nibbles(q0), i8x16.shl(v128.and(i8x16.shr_u(qh0, s1), one), 4)), d1, m1, Affine.ScaleSub);
      store_i8x16(y + 64, v128.or(lo_nibbles(q1), i8x16.shl(v128.and(i8x16.shr_u(qh1, s1), one), 4)), d1, m1, Affine.ScaleSub);
      store_i8x16(y + 128, v128.or(hi_nibbles(q0), i8x16.shl(v128.and(i8x16.shr_u(qh0, s2), one), 4)), d2, m2, Affine.ScaleSub);
      store_i8x16(y + 192, v128.or(hi_nibbles(q1), i8x16.shl(v128.and(i8x16.shr_u(qh1, s2), one), 4)), d2, m2, Affine.ScaleSub);
    }
  }
}

export function dequant_q6_K(src: usize, dst: usize, nblocks: i32): void {
  const three = i8x16.splat(3);
  const bias = i8x16.splat(32);
  for (let b = 0; b < nblocks; b++, src += 210, dst += 1024) {
    const d = load_f16(src + 208);
    for (let half = 0; half < 2; half++) {
      const ql = src + (<usize>half << 6);
      const qh = src + 128 + (<usize>half << 5);
      const sc = src + 192 + (<usize>half << 3);
      const y = dst + (<usize>half << 9);
      for (let g = 0; g < 2; g++) {
        const off = <usize>g << 4;
        const la = v128.load(ql + off);
        const lb = v128.load(ql + 32 + off);
        const h = v128.load(qh + off);
        const q1 = i8x16.sub(v128.or(lo_nibbles(la), i8x16.shl(v128.and(h, three), 4)), bias);
        const q2 = i8x16.sub(v128.or(lo_nibbles(lb), i8x16.shl(v128.and(i8x16.shr_u(h, 2), three), 4)), bias);
        const q3 = i8x16.sub(v128.or(hi_nibbles(la), i8x16.shl(v128.and(i8x16.shr_u(h, 4), three), 4)), bias);
        const q4 = i8x16.sub(v128.or(hi_nibbles(lb), i8x16.shl(i8x16.shr_u(h, 6), 4)), bias);
        // ggml: y = d * sc[is] * q, i.e. (d·sc)·q.
        const yo = y + (off << 2);
        store_i8x16(yo, q1, f32x4.splat(d * <f32>load<i8>(sc + g)), ZERO, Affine.Scale);
        store_i8x16(yo + 128, q2, f32x4.splat(d * <f32>load<i8>(sc + g + 2)), ZERO, Affine.Scale);
        store_i8x16(yo + 256, q3, f32x4.splat(d * <f32>load<i8>(sc + g + 4)), ZERO, Affine.Scale);
        store_i8x16(yo + 384, q4, f32x4.splat(d * <f32>load<i8>(sc + g + 6)), ZERO, Affine.Scale);
      }
    }
  }
}

export function dequant_q8_K(src: usize, dst: usize, nblocks: i32): void {
  for (let b = 0; b < nblocks; b++, src += 292, dst += 1024) {
    const d = f32x4.splat(load<f32>(src));
    for (let k: usize = 0; k < 16; k++) {
      store_i8x16(dst + (k << 6), v128.load(src + 4 + (k << 4)), d, ZERO, Affine.Scale);
    }
  }
}

export function dequant_iq4_xs(src: usize, dst: usize, nblocks: i32): void {
  for (let b = 0; b < nblocks; b++, src += 136, dst += 1024) {
    const d = load_f16(src);
    const scalesH = <u32>load<u16>(src, 2);
    for (let ib = 0; ib < 8; ib++) {
      const lsLow = (<u32>load<u8>(src + 4 + (ib >> 1)) >> ((<u32>ib & 1) << 2)) & 0xf;
      const ls = lsLow | (((scalesH >> (<u32>ib << 1)) & 3) << 4);
      const dl = f32x4.splat(d * <f32>(<i32>ls - 32));
      const qs = v128.load(src + 8 + (<usize>ib << 4));
      const y = dst + (<usize>ib << 7);
      store_i8x16(y, i8x16.swizzle(IQ4NL_VALUES, lo_nibbles(qs)), dl, ZERO, Affine.Scale);
      store_i8x16(y + 64, i8x16.swizzle(IQ4NL_VALUES, hi_nibbles(qs)), dl, ZERO, Affine.Scale);
    }
  }
}
