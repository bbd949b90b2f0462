// Activation quantizers of ggml's CPU matmul: q8_0, q8_1 and q8_K, byte-identical
// to ggml's reference quantize_row_q8_0_ref / _q8_1_ref / _q8_K_ref (ggml-facts.md;
// src/quant/{legacy,q8k}.ts are the scalar TypeScript definitions).
//
// q8_0 / q8_1 (32 values): d = amax/127, id = d ? 1/d : 0, q = (int8)roundf(x·id),
// halves away from zero; q8_1 adds s = f16((float)Σq · d). q8_K (256 values):
// iscale = −127/max (max = the signed value of largest |x|, the first on ties),
// q = (int8)MIN(127, nearest_int(iscale·x)), d = 1/iscale (f32), bsums = Σ of 16.
// Every int8 store keeps the low byte of the int, as C's conversion does on x86.

import { f32_to_f16 } from './half';

const F32_BIG: f32 = 2147483648.0; // 2^31: x86 cvttss2si gives 0x80000000 (low byte 0) from here on

/** C `roundf` of 4 lanes, as ints (halves away from zero). Exact for |v| < 2^23; NaN → 0. */
@inline
function roundf_i32x4(v: v128): v128 {
  const t = i32x4.trunc_sat_f32x4_s(v);
  const frac = f32x4.sub(v, f32x4.convert_i32x4_s(t)); // exact: t is v without its fraction
  // A mask lane is -1: subtracting the ≥ 0.5 mask adds one, adding the ≤ −0.5 mask subtracts one.
  return i32x4.add(i32x4.sub(t, f32x4.ge(frac, f32x4.splat(0.5))), f32x4.le(frac, f32x4.splat(-0.5)));
}

/** C's `(int8_t)roundf(v)` for any f32, as x86 evaluates it (out of int range or NaN → 0). */
@inline
function roundf_i8(v: f32): i8 {
  let t = trunc<f32>(v);
  if (abs<f32>(v - t) >= 0.5) t += copysign<f32>(1, v);
  return abs<f32>(t) < F32_BIG ? <i8>(<i32>t) : 0;
}

/** The low byte of each i32 lane of a, b, c, d → 16 bytes (C's int → int8_t). */
@inline
function low_bytes(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i8x16.shuffle(a, b, 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
  const cd = i8x16.shuffle(c, d, 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
  return i8x16.shuffle(ab, cd, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
}

/** Σ of the 16 signed bytes of v. */
@inline
function sum_i8x16(v: v128): i32 {
  const s = i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v));
  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1) + i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3);
}

/**
 * One 32-value block of q8_0 (withSum false: d at 0, qs at 2) or q8_1 (d at 0, s at 2, qs at 4).
 * Returns nothing; writes the block at dst.
 */
@inline
function q8_32(src: usize, dst: usize, withSum: bool): void {
  const qs = dst + (withSum ? 4 : 2);
  const v0 = v128.load(src);
  const v1 = v128.load(src, 16);
  const v2 = v128.load(src, 32);
  const v3 = v128.load(src, 48);
  const v4 = v128.load(src, 64);
  const v5 = v128.load(src, 80);
  const v6 = v128.load(src, 96);
  const v7 = v128.load(src, 112);
  // f32x4.max propagates NaN, so a block holding a NaN reaches the scalar path below.
  const m = f32x4.max(
    f32x4.max(f32x4.max(f32x4.abs(v0), f32x4.abs(v1)), f32x4.max(f32x4.abs(v2), f32x4.abs(v3))),
    f32x4.max(f32x4.max(f32x4.abs(v4), f32x4.abs(v5)), f32x4.max(f32x4.abs(v6), f32x4.abs(v7))),
  );
  const amax = max<f32>(max<f32>(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max<f32>(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
  const d = amax / 127;
  const id: f32 = d != 0 ? 1 / d : 0;
  // Every |x·id| ≤ amax·id ≈ 127 (rounding is monotonic), so the lane rounding is exact. A NaN,
  // an infinite amax, or a subnormal d whose inverse overflows fail the test: the scalar path
  // then repeats C's sequential MAX scan and its out-of-range conversions exactly.
  if (amax * id <= 128) {
    store<u16>(dst, f32_to_f16(d));
    const idv = f32x4.splat(id);
    const lo = low_bytes(
      roundf_i32x4(f32x4.mul(v0, idv)),
      roundf_i32x4(f32x4.mul(v1, idv)),
      roundf_i32x4(f32x4.mul(v2, idv)),
      roundf_i32x4(f32x4.mul(v3, idv)),
    );
    const hi = low_bytes(
      roundf_i32x4(f32x4.mul(v4, idv)),
      roundf_i32x4(f32x4.mul(v5, idv)),
      roundf_i32x4(f32x4.mul(v6, idv)),
      roundf_i32x4(f32x4.mul(v7, idv)),
    );
    v128.store(qs, lo);
    v128.store(qs, hi, 16);
    if (withSum) store<u16>(dst, f32_to_f16(<f32>(sum_i8x16(lo) + sum_i8x16(hi)) * d), 2);
    return;
  }
  q8_32_scalar(src, dst, withSum);
}

/** The same block in C's order: amax = MAX(amax, |x|) (a NaN survives only until the next value). */
function q8_32_scalar(src: usize, dst: usize, withSum: bool): void {
  const qs = dst + (withSum ? 4 : 2);
  let amax: f32 = 0;
  for (let j: usize = 0; j < 32; j++) {
    const a = abs<f32>(load<f32>(src + (j << 2)));
    amax = amax > a ? amax : a;
  }
  const d = amax / 127;
  const id: f32 = d != 0 ? 1 / d : 0; // a NaN d is != 0, so id is NaN, as in C
  store<u16>(dst, f32_to_f16(d));
  let sum = 0;
  for (let j: usize = 0; j < 32; j++) {
    const q = roundf_i8(load<f32>(src + (j << 2)) * id);
    store<i8>(qs + j, q);
    sum += q;
  }
  if (withSum) store<u16>(dst, f32_to_f16(<f32>sum * d), 2);
}

/** nblocks·32 f32 at x → nblocks q8_0 blocks (34 bytes) at out. */
export function quantize_q8_0(x: usize, out: usize, nblocks: i32): void {
  for (let b = 0; b < nblocks; b++, x += 128, out += 34) q8_32(x, out, false);
}

/** nblocks·32 f32 at x → nblocks q8_1 blocks (36 bytes) at out. */
export function quantize_q8_1(x: usize, out: usize, nblocks: i32): void {
  for (let b = 0; b < nblocks; b++, x += 128, out += 36) q8_32(x, out, true);
}

/**
 * ggml's nearest_int of 4 lanes, bit for bit: add 1.5·2^23 and read the mantissa (round half
 * to even within ±2^22; C asserts beyond, and this returns what its release build computes).
 * A NaN lane gives 0, as it does for the canonical NaN in C.
 */
@inline
function nearest_int_x4(v: v128): v128 {
  const t = f32x4.add(v, f32x4.splat(12582912));
  const q = i32x4.sub(v128.and(t, i32x4.splat(0x007fffff)), i32x4.splat(0x00400000));
  return v128.andnot(q, f32x4.ne(v, v));
}

/** One 256-value q8_K block: d:f32, qs[256], bsums:i16[16]. */
@inline
function q8_K_block(src: usize, dst: usize): void {
  // amax ignores NaN (C: `if (ax > amax)`): pmax(acc, v) keeps acc unless acc < v.
  let m = f32x4.splat(0);
  for (let k: usize = 0; k < 1024; k += 16) m = f32x4.pmax(m, f32x4.abs(v128.load(src + k)));
  const amax = max<f32>(max<f32>(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max<f32>(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
  if (amax == 0) {
    memory.fill(dst, 0, 292);
    return;
  }
  // max: the first value whose |x| is amax.
  const target = f32x4.splat(amax);
  let first: usize = 0;
  for (let k: usize = 0; k < 1024; k += 16) {
    const hit = i32x4.bitmask(f32x4.eq(f32x4.abs(v128.load(src + k)), target));
    if (hit != 0) {
      first = k + (<usize>ctz<i32>(hit) << 2);
      break;
    }
  }
  const iscale: f32 = -127 / load<f32>(src + first);
  const sv = f32x4.splat(iscale);
  const cap = i32x4.splat(127);
  for (let g: usize = 0; g < 16; g++) {
    const s = src + (g << 6);
    const q = low_bytes(
      i32x4.min_s(nearest_int_x4(f32x4.mul(sv, v128.load(s))), cap),
      i32x4.min_s(nearest_int_x4(f32x4.mul(sv, v128.load(s, 16))), cap),
      i32x4.min_s(nearest_int_x4(f32x4.mul(sv, v128.load(s, 32))), cap),
      i32x4.min_s(nearest_int_x4(f32x4.mul(sv, v128.load(s, 48))), cap),
    );
    v128.store(dst + 4 + (g << 4), q);
    store<i16>(dst + 260 + (g << 1), <i16>sum_i8x16(q));
  }
  store<f32>(dst, 1 / iscale);
}

/** nblocks·256 f32 at x → nblocks q8_K blocks (292 bytes) at out. */
export function quantize_q8_K(x: usize, out: usize, nblocks: i32): void {
  for (let b = 0; b < nblocks; b++, x += 1024, out += 292) q8_K_block(x, out);
}
