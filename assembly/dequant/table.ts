// The f32 side of every block format: a format's `prep` turns a chunk of blocks
// (one 256-element super-block, or up to eight 32-element blocks) into a group
// table, and one generic widening step turns a table entry into floats. The
// dequant kernels store those floats; the exact-numerics matmul
// (assembly/matmul/quant-exact.ts) multiplies them into its sums. Both read a
// format only through its prep, so they decode bit-identically.
//
// Group table: the chunk's elements in groups of 16 (group g = elements
// 16g..16g+15), four groups per 96-byte unit:
//   unit u at 96u:  dq[4] f32 | m[4] f32 | q[4] i8x16     (group 4u + c is lane/slot c)
// q holds the group's signed integer values (code − zero point, or codebook
// value); element i of the group is
//   w = fl(q_i · s) (+ m)      s = the sub-block scale as ggml computes it (f32)
// stored as dq = s · 2^-24 (exact: every f16-derived scale is ≥ 2^-24, so
// dq stays normal) so that the widening can place q_i in the top byte of an i32
// lane (q_i · 2^24, converted exactly) without a sign-extending shift:
// (q_i · 2^24) · dq = q_i · s in the reals, so the f32 product rounds to the same
// fl(q_i · s). q8_K (f32 scale of any size) is not prescaled and shifts instead.
// m is ggml's additive term with its sign (q4_1/q5_1 +m, k-quants −dmin·min),
// so w = fl(q·s) + m is fl(q·s) − dmin·min exactly.
//
// Relaxed build: w = relaxed_madd(q·2^24, dq, m). This equals the two-rounding
// ggml value because q·s is exact in f32 for every format with a min term
// (q4_1, q5_1: 5-bit q × 11-bit f16; q2_K: 2-bit × (11+4)-bit d·sc; q4_K, q5_K:
// 5-bit × (11+6)-bit d·sc: at most 22 significant bits), so the only rounding
// left is that of the sum, fused or not.

export const TWO_POW_M24: f32 = 5.9604644775390625e-8;
export const UNIT_BYTES: usize = 96;
/** Table bytes of one chunk (16 groups). */
export const TABLE_BYTES: usize = 4 * UNIT_BYTES;

/** Places byte 4i + j of a group in the top byte of i32 lane j (other bytes 0): masks for i = 0. */
export const PLACE0: v128 = i32x4(0x00808080, 0x01808080, 0x02808080, 0x03808080);
/** PLACE0 + i · PLACE_STEP selects bytes 4i..4i+3. */
export const PLACE_STEP: v128 = i32x4.splat(0x04000000);

@inline
export function put_unit(t: usize, dq: v128, m: v128, q0: v128, q1: v128, q2: v128, q3: v128): void {
  v128.store(t, dq);
  v128.store(t, m, 16);
  v128.store(t, q0, 32);
  v128.store(t, q1, 48);
  v128.store(t, q2, 64);
  v128.store(t, q3, 80);
}

/** Offsets of group g's scale, min and values in a table. */
@inline
export function group_dq(g: i32): usize {
  return <usize>(g >> 2) * UNIT_BYTES + (<usize>(g & 3) << 2);
}
@inline
export function group_q(g: i32): usize {
  return <usize>(g >> 2) * UNIT_BYTES + 32 + (<usize>(g & 3) << 4);
}

/** [a, a, b, b] */
@inline
export function pair_lanes(a: i32, b: i32): v128 {
  return i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(a), 2, b), 3, b);
}

/**
 * Four floats of a group: the values picked by `mask` (PLACE0 + i·PLACE_STEP for
 * elements 4i..4i+3), scaled by dq (a splat) and, if `affine`, plus m (a splat).
 */
@inline
export function widen(q: v128, mask: v128, dq: v128, m: v128, affine: bool, prescaled: bool): v128 {
  let v: v128;
  // Mask bytes are 0..15 or 0x80 (zero), where relaxed_swizzle is defined the same on every engine.
  if (ASC_FEATURE_RELAXED_SIMD) v = i8x16.relaxed_swizzle(q, mask);
  else v = i8x16.swizzle(q, mask);
  if (!prescaled) v = i32x4.shr_s(v, 24);
  const f = f32x4.convert_i32x4_s(v);
  if (!affine) return f32x4.mul(f, dq);
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(f, dq, m);
  return f32x4.add(f32x4.mul(f, dq), m);
}

/** Stores group g of table t as 16 floats at dst. */
@inline
export function store_group(t: usize, g: i32, dst: usize, affine: bool, prescaled: bool): void {
  const dq = v128.load32_splat(t + group_dq(g));
  const m = affine ? v128.load32_splat(t + group_dq(g) + 16) : dq;
  const q = v128.load(t + group_q(g));
  v128.store(dst, widen(q, PLACE0, dq, m, affine, prescaled));
  v128.store(dst, widen(q, i32x4(0x04808080, 0x05808080, 0x06808080, 0x07808080), dq, m, affine, prescaled), 16);
  v128.store(dst, widen(q, i32x4(0x08808080, 0x09808080, 0x0a808080, 0x0b808080), dq, m, affine, prescaled), 32);
  v128.store(dst, widen(q, i32x4(0x0c808080, 0x0d808080, 0x0e808080, 0x0f808080), dq, m, affine, prescaled), 48);
}

/**
 * A format's chunk size (blocksPerChunk blocks of `elems` elements, `bytes`
 * bytes each: one super-block, or eight 32-blocks) and its prep. Kernels read
 * these through changetype<T>(0): the methods never touch `this`.
 *   prep(src, nb, t): writes the table of nb ≤ blocksPerChunk blocks at src.
 */
@inline
export function chunk_blocks<T>(): i32 {
  return 256 / changetype<T>(0).elems;
}

/**
 * fmt.prep as one function per format (the formats' preps are inlined where they are called:
 * here, once per format for the dequant kernels and the tiled matmul; the M = 1 matmul inlines
 * its own copy into its per-chunk loop over rows).
 */
export function prep_chunk<T>(src: usize, nb: i32, t: usize): void {
  changetype<T>(0).prep(src, nb, t);
}

/**
 * dequant_<type>: nblocks blocks → f32. There is no scratch in this ABI, so
 * each chunk's table is written into the first bytes of the chunk's own
 * output, and groups are expanded last first: group h's table data lies below
 * byte 64·(h+1) (unit u ends its data for group 4u+c at 96u + 48 + 16c ≤
 * 64·(4u+c+1)), so writing group g's 64 bytes [64g, 64g+64) only overwrites
 * data of groups ≥ g, and group g reads its own data before writing.
 */
@inline
export function dequant_chunks<T>(src: usize, dst: usize, nblocks: i32): void {
  const fmt = changetype<T>(0);
  const per = chunk_blocks<T>();
  const chunkBytes = <usize>(per * fmt.bytes);
  const chunkOut = <usize>(per * fmt.elems) << 2;
  for (let b = 0; b < nblocks; b += per, src += chunkBytes, dst += chunkOut) {
    const nb = min(per, nblocks - b);
    prep_chunk<T>(src, nb, dst);
    for (let g = (nb * fmt.elems >> 4) - 1; g >= 0; g--) store_group(dst, g, dst + (<usize>g << 6), fmt.affine, fmt.prescaled);
  }
}
