// Activation quantizers of ggml's CPU matmul: q8_0, q8_1 and q8_K, byte-identical
// to ggml's reference quantize_row_q8_0_ref / _q8_1_ref / _q8_K_ref (ggml-facts.md;
// src/quant/{legacy,q8k}.ts are the scalar TypeScript definitions).
//
// q8_0 / q8_1 (32 values): d = amax/127, id = d ? 1/d : 0, q = (int8)roundf(x·id),
// halves away from zero; q8_1 adds s = f16((float)Σq · d). q8_K (256 values):
// iscale = −127/max (max = the signed value of largest |x|, the first on ties),
// q = (int8)MIN(127, nearest_int(iscale·x)), d = 1/iscale (f32), bsums = Σ of 16.
// Every int8 store keeps the low byte of the int, as C's conversion does on x86.

import { f16_to_f32 } from '../dequant/common';
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

// ---------------------------------------------------------------- activation rows for the matmul
// quantize_act_<q8 type>(x, out, M, K) writes M rows; each row is
//   [ggml blocks][padding to 16 bytes][K codes widened to i16][per-block scalars]
// where the scalars (32-element types only) are, per block, f32 d, f32 s (q8_1; 0 for q8_0) and
// i32 Σq. The ggml blocks are byte-identical to the quantizers above; the rest is what the
// plain-SIMD dot kernels (assembly/matmul/quant-ggml.ts) read instead of re-deriving it for
// every weight row: codes ready for i32x4.dot_i16x8_s, d and s as f32, Σq for zero points.
// act_row_bytes(kind, K) is the row stride (kind 0 q8_0, 1 q8_1, 2 q8_K).

export const ACT_Q8_0: i32 = 0;
export const ACT_Q8_1: i32 = 1;
export const ACT_Q8_K: i32 = 2;

@inline
export function act_block_bytes(kind: i32): usize {
  return kind == ACT_Q8_K ? 292 : kind == ACT_Q8_1 ? 36 : 34;
}

@inline
export function act_block_elems(kind: i32): i32 {
  return kind == ACT_Q8_K ? 256 : 32;
}

/** Offset of the widened codes in a row: the ggml blocks rounded up to 16 bytes. */
@inline
export function act_wide_offset(kind: i32, K: i32): usize {
  return ((<usize>(K / act_block_elems(kind)) * act_block_bytes(kind)) + 15) & ~(<usize>15);
}

/** Offset of the per-block scalars (12 bytes per 32-element block; none for q8_K). */
@inline
export function act_scalars_offset(kind: i32, K: i32): usize {
  return act_wide_offset(kind, K) + (<usize>K << 1);
}

export function act_row_bytes(kind: i32, K: i32): usize {
  return act_scalars_offset(kind, K) + (kind == ACT_Q8_K ? 0 : <usize>(K >> 5) * 12);
}

/** Sign-extends n codes at src to i16 at dst (n a multiple of 16). */
@inline
function widen(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i += 16) {
    const v = v128.load(src + <usize>i);
    v128.store(dst + (<usize>i << 1), i16x8.extend_low_i8x16_s(v));
    v128.store(dst + (<usize>i << 1), i16x8.extend_high_i8x16_s(v), 16);
  }
}

@inline
function quantize_act(x: usize, out: usize, M: i32, K: i32, kind: i32): void {
  const nb = K / act_block_elems(kind);
  const blockBytes = act_block_bytes(kind);
  const stride = act_row_bytes(kind, K);
  const wide = act_wide_offset(kind, K);
  const scalars = act_scalars_offset(kind, K);
  for (let m = 0; m < M; m++, x += <usize>K << 2, out += stride) {
    memory.fill(out + <usize>nb * blockBytes, 0, wide - <usize>nb * blockBytes);
    for (let b = 0; b < nb; b++) {
      const blk = out + <usize>b * blockBytes;
      const src = x + (<usize>b * <usize>act_block_elems(kind) << 2);
      if (kind == ACT_Q8_K) {
        q8_K_block(src, blk);
        widen(blk + 4, out + wide + (<usize>b << 9), 256);
      } else {
        const withSum = kind == ACT_Q8_1;
        q8_32(src, blk, withSum);
        const qs = blk + (withSum ? 4 : 2);
        widen(qs, out + wide + (<usize>b << 6), 32);
        const sc = out + scalars + <usize>b * 12;
        store<f32>(sc, f16_to_f32(<u32>load<u16>(blk)));
        store<f32>(sc, withSum ? f16_to_f32(<u32>load<u16>(blk, 2)) : 0, 4);
        store<i32>(sc, sum_i8x16(v128.load(qs)) + sum_i8x16(v128.load(qs, 16)), 8);
      }
    }
  }
}

/** M rows of K f32 at x → M activation rows (q8_0 blocks + extension) at out. */
export function quantize_act_q8_0(x: usize, out: usize, M: i32, K: i32): void {
  quantize_act(x, out, M, K, ACT_Q8_0);
}

/** M rows of K f32 at x → M activation rows (q8_1 blocks + extension) at out. */
export function quantize_act_q8_1(x: usize, out: usize, M: i32, K: i32): void {
  quantize_act(x, out, M, K, ACT_Q8_1);
}

/** M rows of K f32 at x → M activation rows (q8_K blocks + widened codes) at out. */
export function quantize_act_q8_K(x: usize, out: usize, M: i32, K: i32): void {
  quantize_act(x, out, M, K, ACT_Q8_K);
}
