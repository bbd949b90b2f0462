// Fused quantized matmul, `exact` numerics: y = x · Wᵀ with f32 activations and
// weights decoded to f32 inside the product, never as a whole f32 copy.
//
// Interface (one export per weight type T):
//   matmul_exact_<T>(x, w, y, M, N, K, n0, n1, scratch)
//   x        f32 [M, K], row-major
//   w        ggml rows [N, K] in their GGUF block layout: row n starts at
//            n · (K / blockElems) · blockBytes
//   y        f32 [M, N]; the call writes y[m, n] for every m and n in [n0, n1)
//   scratch  matmul_exact_scratch_bytes(M) bytes, 16-byte aligned, owned by
//            the caller (one per worker)
//   K is a multiple of the type's block size.
//
// Numerics. Weights are decoded through the format's group table
// (assembly/dequant/table.ts), the same code dequant_<T> runs, so every weight
// used is bit-identical to dequantize(w). Sum order of every y[m, n], a
// function of K only: lane l (0..3) accumulates x[k]·w[k] for k ≡ l (mod 4) in
// increasing k, starting from +0, each step one madd (relaxed build:
// f32x4.relaxed_madd; SIMD build: a product, then a sum); then
// y = (l0 + l1) + (l2 + l3). Neither path below changes this, so a row's result
// is the same for any M, any [n0, n1) split and any worker count
// (test/backends/wasm/matmul-quant-exact-order.test.ts emulates it bit for bit).
//
// Paths. M = 1 (decode): eight rows of W at a time (then four, then one); each
// 256-element chunk of a row is prepped into a group table in scratch and its
// groups are widened in registers straight into the row's sum, the rows taking
// turns group by group so that eight independent sums are in flight: each
// weight byte is read and decoded once. M ≥ 2: W is walked in tiles of R rows × KC columns, each decoded once
// into an f32 tile in scratch (L1-resident) and used by every row of x (in
// passes of MB rows) through 2 × 4 register microkernels whose partial sums
// stay in scratch between tiles.
import { IQ4_XS, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K } from '../dequant/kquants';
import { IQ4_NL, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1 } from '../dequant/legacy';
import { chunk_blocks, group_dq, group_q, PLACE0, prep_chunk, store_group, TABLE_BYTES, widen } from '../dequant/table';

/** W rows per decoded tile. */
const R: i32 = 16;
/** Columns (of K) per decoded tile and per group table: one k-quant super-block, eight 32-blocks. */
const KC: i32 = 256;
/** Rows of x per pass over W; larger M makes more passes (each decodes W again, amortized over MB rows). */
const MB: i32 = 64;
/** W rows per pass of the M = 1 path (its sums are RV independent chains; gemv_rows holds up to 8). */
const RV: i32 = 8;
const TILE_ROW_BYTES: usize = <usize>KC << 2;
const TILE_BYTES: usize = <usize>R * TILE_ROW_BYTES;
/** Bytes of one x row's partial sums for one R-row tile. */
const ACC_ROW_BYTES: usize = <usize>R << 4;

const ZERO: v128 = f32x4.splat(0);

/** Scratch bytes matmul_exact_* needs for M rows of x. */
export function matmul_exact_scratch_bytes(M: i32): usize {
  if (M <= 1) return <usize>RV * TABLE_BYTES + 80;
  return TILE_BYTES + TABLE_BYTES + <usize>min(M, MB) * ACC_ROW_BYTES;
}

/** acc + x·w, the one accumulation step of every path (see the sum order above); moe/experts.ts's too. */
@inline
export function madd(x: v128, w: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(x, w, acc);
  return f32x4.add(f32x4.mul(x, w), acc);
}

@inline
function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// ---------------------------------------------------------------- M = 1

/** acc after the 16 products of group g of table t with x[0..16); k0..k3 select its quads (see place_masks). */
@inline
function group_dot(acc: v128, t: usize, g: i32, x: usize, k0: v128, k1: v128, k2: v128, k3: v128, affine: bool, prescaled: bool): v128 {
  const dq = v128.load32_splat(t + group_dq(g));
  const m = affine ? v128.load32_splat(t + group_dq(g) + 16) : dq;
  const q = v128.load(t + group_q(g));
  acc = madd(v128.load(x), widen(q, k0, dq, m, affine, prescaled), acc);
  acc = madd(v128.load(x, 16), widen(q, k1, dq, m, affine, prescaled), acc);
  acc = madd(v128.load(x, 32), widen(q, k2, dq, m, affine, prescaled), acc);
  return madd(v128.load(x, 48), widen(q, k3, dq, m, affine, prescaled), acc);
}

/**
 * The placement mask of quad i (PLACE0 + i·PLACE_STEP). V8 rebuilds a v128
 * constant from immediates at every loop iteration that uses it; the relaxed
 * build's swizzle takes any mask, so there the masks go through scratch once
 * per call (an opaque load keeps them in registers). The SIMD build's swizzle
 * is a single pshufb only for a constant mask, so it keeps the constants.
 */
@inline
function place_mask(s: usize, i: i32): v128 {
  const k = i32x4.add(PLACE0, i32x4.splat(i << 26));
  if (!ASC_FEATURE_RELAXED_SIMD) return k;
  v128.store(s + (<usize>i << 4), k);
  return v128.load(s + (<usize>i << 4));
}

/**
 * The tables of rows [0, NR) of one chunk, the format's prep inlined here. One call, not
 * inlined into gemv_rows: a wasm call spills every live v128 (gemv_rows' NR sums and masks), so
 * that happens once per chunk, not once per row.
 */
function prep_rows<T>(NR: i32, w: usize, rowBytes: usize, nb: i32, t: usize): void {
  const fmt = changetype<T>(0);
  for (let r = 0; r < NR; r++) fmt.prep(w + <usize>r * rowBytes, nb, t + <usize>r * TABLE_BYTES);
}

/**
 * Row r's sum (r < NR; NR, r constants) after group g of its table at t + r·TABLE_BYTES, then a
 * store of it to `fence`. The store is for V8: without it, TurboFan hoists every row's table
 * and x loads to the top of the loop body and spills most of them; after a store, later loads
 * cannot move above it (nor reuse x loaded before it), so each row's loads stay next to their use.
 */
@inline
function row_group(NR: i32, r: i32, acc: v128, t: usize, g: i32, x: usize, fence: usize, k0: v128, k1: v128, k2: v128, k3: v128, affine: bool, prescaled: bool): v128 {
  if (r >= NR) return acc;
  acc = group_dot(acc, t + <usize>r * TABLE_BYTES, g, x, k0, k1, k2, k3, affine, prescaled);
  v128.store(fence, acc);
  return acc;
}

/**
 * y[n .. n+NR) for one x row (NR = 1..RV, a constant): NR tables in scratch, one sum each,
 * advanced one group at a time in turn, so that NR independent chains of adds are in flight.
 */
@inline
function gemv_rows<T>(NR: i32, x: usize, w: usize, rowBytes: usize, y: usize, K: i32, t: usize): void {
  const fmt = changetype<T>(0);
  const aff = fmt.affine;
  const pre = fmt.prescaled;
  const mk0 = place_mask(t + <usize>RV * TABLE_BYTES, 0);
  const mk1 = place_mask(t + <usize>RV * TABLE_BYTES, 1);
  const mk2 = place_mask(t + <usize>RV * TABLE_BYTES, 2);
  const mk3 = place_mask(t + <usize>RV * TABLE_BYTES, 3);
  const fence = t + <usize>RV * TABLE_BYTES + 64;
  const per = chunk_blocks<T>();
  const chunkBytes = <usize>(per * fmt.bytes);
  let a0 = ZERO;
  let a1 = ZERO;
  let a2 = ZERO;
  let a3 = ZERO;
  let a4 = ZERO;
  let a5 = ZERO;
  let a6 = ZERO;
  let a7 = ZERO;
  for (let k0 = 0; k0 < K; k0 += KC, w += chunkBytes, x += <usize>KC << 2) {
    const nb = min(per, (K - k0) / fmt.elems);
    prep_rows<T>(NR, w, rowBytes, nb, t);
    const groups = (nb * fmt.elems) >> 4;
    for (let g = 0; g < groups; g++) {
      const xg = x + (<usize>g << 6);
      a0 = row_group(NR, 0, a0, t, g, xg, fence, mk0, mk1, mk2, mk3, aff, pre);
      a1 = row_group(NR, 1, a1, t, g, xg, fence, mk0, mk1, mk2, mk3, aff, pre);
      a2 = row_group(NR, 2, a2, t, g, xg, fence, mk0, mk1, mk2, mk3, aff, pre);
      a3 = row_group(NR, 3, a3, t, g, xg, fence, mk0, mk1, mk2, mk3, aff, pre);
      a4 = row_group(NR, 4, a4, t, g, xg, fence, mk0, mk1, mk2, mk3, aff, pre);
      a5 = row_group(NR, 5, a5, t, g, xg, fence, mk0, mk1, mk2, mk3, aff, pre);
      a6 = row_group(NR, 6, a6, t, g, xg, fence, mk0, mk1, mk2, mk3, aff, pre);
      a7 = row_group(NR, 7, a7, t, g, xg, fence, mk0, mk1, mk2, mk3, aff, pre);
    }
  }
  store<f32>(y, hsum(a0));
  if (NR > 1) store<f32>(y, hsum(a1), 4);
  if (NR > 2) store<f32>(y, hsum(a2), 8);
  if (NR > 3) store<f32>(y, hsum(a3), 12);
  if (NR > 4) store<f32>(y, hsum(a4), 16);
  if (NR > 5) store<f32>(y, hsum(a5), 20);
  if (NR > 6) store<f32>(y, hsum(a6), 24);
  if (NR > 7) store<f32>(y, hsum(a7), 28);
}

// ---------------------------------------------------------------- M ≥ 2

/**
 * MR (1 or 2) rows of x against NR (1 or 4) decoded tile rows over nq quads of
 * k. x: x row 0 at the tile's first column, xs: x row stride in bytes; t: tile
 * row 0; acc: partial sums of (x row 0, tile row 0), x rows ACC_ROW_BYTES apart.
 */
@inline
function micro(MR: i32, NR: i32, x: usize, xs: usize, t: usize, acc: usize, nq: i32): void {
  const a2 = acc + ACC_ROW_BYTES;
  let a00 = v128.load(acc);
  let a01 = NR == 4 ? v128.load(acc, 16) : ZERO;
  let a02 = NR == 4 ? v128.load(acc, 32) : ZERO;
  let a03 = NR == 4 ? v128.load(acc, 48) : ZERO;
  let a10 = MR == 2 ? v128.load(a2) : ZERO;
  let a11 = MR == 2 && NR == 4 ? v128.load(a2, 16) : ZERO;
  let a12 = MR == 2 && NR == 4 ? v128.load(a2, 32) : ZERO;
  let a13 = MR == 2 && NR == 4 ? v128.load(a2, 48) : ZERO;
  const end = t + (<usize>nq << 4);
  for (; t < end; t += 16, x += 16) {
    const x0 = v128.load(x);
    const w0 = v128.load(t);
    a00 = madd(x0, w0, a00);
    if (MR == 2) {
      const x1 = v128.load(x + xs);
      a10 = madd(x1, w0, a10);
      if (NR == 4) {
        const w1 = v128.load(t + TILE_ROW_BYTES);
        a01 = madd(x0, w1, a01);
        a11 = madd(x1, w1, a11);
        const w2 = v128.load(t + 2 * TILE_ROW_BYTES);
        a02 = madd(x0, w2, a02);
        a12 = madd(x1, w2, a12);
        const w3 = v128.load(t + 3 * TILE_ROW_BYTES);
        a03 = madd(x0, w3, a03);
        a13 = madd(x1, w3, a13);
      }
    } else if (NR == 4) {
      a01 = madd(x0, v128.load(t + TILE_ROW_BYTES), a01);
      a02 = madd(x0, v128.load(t + 2 * TILE_ROW_BYTES), a02);
      a03 = madd(x0, v128.load(t + 3 * TILE_ROW_BYTES), a03);
    }
  }
  v128.store(acc, a00);
  if (NR == 4) {
    v128.store(acc, a01, 16);
    v128.store(acc, a02, 32);
    v128.store(acc, a03, 48);
  }
  if (MR == 2) {
    v128.store(a2, a10);
    if (NR == 4) {
      v128.store(a2, a11, 16);
      v128.store(a2, a12, 32);
      v128.store(a2, a13, 48);
    }
  }
}

/** All x rows [0, mb) against tile rows [0, nr) over nq quads. */
@inline
function tile_product(mb: i32, nr: i32, x: usize, xs: usize, tile: usize, acc: usize, nq: i32): void {
  let m = 0;
  for (; m + 2 <= mb; m += 2) {
    const xm = x + <usize>m * xs;
    const am = acc + <usize>m * ACC_ROW_BYTES;
    let r = 0;
    for (; r + 4 <= nr; r += 4) micro(2, 4, xm, xs, tile + <usize>r * TILE_ROW_BYTES, am + (<usize>r << 4), nq);
    for (; r < nr; r++) micro(2, 1, xm, xs, tile + <usize>r * TILE_ROW_BYTES, am + (<usize>r << 4), nq);
  }
  if (m < mb) {
    const xm = x + <usize>m * xs;
    const am = acc + <usize>m * ACC_ROW_BYTES;
    let r = 0;
    for (; r + 4 <= nr; r += 4) micro(1, 4, xm, xs, tile + <usize>r * TILE_ROW_BYTES, am + (<usize>r << 4), nq);
    for (; r < nr; r++) micro(1, 1, xm, xs, tile + <usize>r * TILE_ROW_BYTES, am + (<usize>r << 4), nq);
  }
}

function matmul_exact<T>(x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, scratch: usize): void {
  const fmt = changetype<T>(0);
  const elems = fmt.elems;
  const bytes = <usize>fmt.bytes;
  const rowBytes = <usize>(K / elems) * bytes;
  if (M == 1) {
    let n = n0;
    for (; n + RV <= n1; n += RV) gemv_rows<T>(RV, x, w + <usize>n * rowBytes, rowBytes, y + (<usize>n << 2), K, scratch);
    if (n + 4 <= n1) {
      gemv_rows<T>(4, x, w + <usize>n * rowBytes, rowBytes, y + (<usize>n << 2), K, scratch);
      n += 4;
    }
    for (; n < n1; n++) gemv_rows<T>(1, x, w + <usize>n * rowBytes, rowBytes, y + (<usize>n << 2), K, scratch);
    return;
  }
  const xs = <usize>K << 2;
  const tile = scratch;
  const table = scratch + TILE_BYTES;
  const acc = table + TABLE_BYTES;
  const per = chunk_blocks<T>();
  for (let m0 = 0; m0 < M; m0 += MB) {
    const mb = min(MB, M - m0);
    const xm = x + <usize>m0 * xs;
    for (let nt = n0; nt < n1; nt += R) {
      const nr = min(R, n1 - nt);
      memory.fill(acc, 0, <usize>mb * ACC_ROW_BYTES);
      for (let k0 = 0; k0 < K; k0 += KC) {
        const nb = min(per, (K - k0) / elems);
        const groups = (nb * elems) >> 4;
        const src0 = w + <usize>nt * rowBytes + <usize>(k0 / elems) * bytes;
        for (let r = 0; r < nr; r++) {
          prep_chunk<T>(src0 + <usize>r * rowBytes, nb, table);
          const dst = tile + <usize>r * TILE_ROW_BYTES;
          for (let g = 0; g < groups; g++) store_group(table, g, dst + (<usize>g << 6), fmt.affine, fmt.prescaled);
        }
        tile_product(mb, nr, xm + (<usize>k0 << 2), xs, tile, acc, groups << 2);
      }
      for (let m = 0; m < mb; m++) {
        const ym = y + ((<usize>(m0 + m) * <usize>N + <usize>nt) << 2);
        const am = acc + <usize>m * ACC_ROW_BYTES;
        for (let r = 0; r < nr; r++) store<f32>(ym + (<usize>r << 2), hsum(v128.load(am + (<usize>r << 4))));
      }
    }
  }
}

export function matmul_exact_q4_0(x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, scratch: usize): void {
  matmul_exact<Q4_0>(x, w, y, M, N, K, n0, n1, scratch);
}
export function matmul_exact_q4_1(x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, scratch: usize): void {
  matmul_exact<Q4_1>(x, w, y, M, N, K, n0, n1, scratch);
}
export function matmul_exact_q5_0(x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, scratch: usize): void {
  matmul_exact<Q5_0>(x, w, y, M, N, K, n0, n1, scratch);
}
export function matmul_exact_q5_1(x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, scratch: usize): void {
  matmul_exact<Q5_1>(x, w, y, M, N, K, n0, n1, scratch);
}
export function matmul_exact_q8_0(x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, scratch: usize): void {
  matmul_exact<Q8_0>(x, w, y, M, N, K, n0, n1, scratch);
}
export function matmul_exact_q8_1(x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, scratch: usize): void {
  matmul_exact<Q8_1>(x, w, y, M, N, K, n0, n1, scratch);
}
export function matmul_exact_iq4_nl(x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, scratch: usize): void {
  matmul_exact<IQ4_NL>(x, w, y, M, N, K, n0, n1, scratch);
}
export function matmul_exact_q2_K(x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, scratch: usize): void {
  matmul_exact<Q2_K>(x, w, y, M, N, K, n0, n1, scratch);
}
export function matmul_exact_q3_K(x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, scratch: usize): void {
  matmul_exact<Q3_K>(x, w, y, M, N, K, n0, n1, scratch);
}
export function matmul_exact_q4_K(x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, scratch: usize): void {
  matmul_exact<Q4_K>(x, w, y, M, N, K, n0, n1, scratch);
}
export function matmul_exact_q5_K(x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, scratch: usize): void {
  matmul_exact<Q5_K>(x, w, y, M, N, K, n0, n1, scratch);
}
export function matmul_exact_q6_K(x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, scratch: usize): void {
  matmul_exact<Q6_K>(x, w, y, M, N, K, n0, n1, scratch);
}
export function matmul_exact_q8_K(x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, scratch: usize): void {
  matmul_exact<Q8_K>(x, w, y, M, N, K, n0, n1, scratch);
}
export function matmul_exact_iq4_xs(x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, scratch: usize): void {
  matmul_exact<IQ4_XS>(x, w, y, M, N, K, n0, n1, scratch);
}
