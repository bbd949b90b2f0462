// f32 GEMM / GEMV over pre-packed weights: y[M, N] = x[M, K] · W[N, K]ᵀ.
//
// Kernel interface (pointers are byte offsets into linear memory; x and y need
// 4-byte alignment, packed weights and scratch are best 16-byte aligned; the
// kernels never allocate and keep no state, so workers share them freely):
//
//   packed_w_bytes(N, K) → bytes of the packed form of an [N, K] weight.
//   pack_w_f32 (w, packed, N, K)   W row-major [N, K] f32  → packed
//   pack_w_f16 (w, packed, N, K)   W row-major [N, K] f16  → packed (ggml's exact f16→f32)
//   pack_w_bf16(w, packed, N, K)   W row-major [N, K] bf16 → packed (exact)
//   gemm_f32_scratch_bytes(M, K) → bytes of scratch gemm_f32 needs (0 when M ≤ 4).
//   gemm_f32(x, packed, y, M, N, K, n0, n1, scratch)
//       x row-major [M, K] f32, y row-major [M, N] f32. Writes y[m, n] for every
//       m in [0, M) and n in [n0, n1); n0 and n1 are multiples of NR (8), except
//       n1 = N. Reads nothing of y outside that range, writes nothing else.
//       scratch: gemm_f32_scratch_bytes(M, K) bytes the call owns (one per
//       worker), or 0: then x is read in place (slower, same bits).
//
// Packed layout: ceil(N / 8) column panels of NR = 8 output features, each
// K-major: panel p holds, for k = 0..K-1, the 8 weights W[8p + j, k], j = 0..7,
// contiguously (K·8 floats, K·32 bytes per panel). Features past N are zeros.
// A K-slice of a panel is therefore one contiguous run of 32-byte rows.
//
// Blocking (M > 4): for each K block of KC, for each M block of MC rows, x's
// block is packed into scratch as tiles of MR rows interleaved per k; then
// every panel in [n0, n1) runs 4×8 register tiles over it. GEMV (M ≤ 4): no
// blocking, tiles of several panels per row (see gemv_*).
//
// Determinism: every y[m, n] is one sequential chain acc = acc + x[m,k]·w[n,k]
// for k = 0..K-1 starting from +0 (plain build: a rounded product then a
// rounded sum; relaxed build: f32x4.relaxed_madd, which the engine may fuse).
// Cache blocking over K stores the running sums into y between K blocks and
// reloads them, which is exact, so the chain is the same whatever the block
// sizes, the tile or edge path, M, or the [n0, n1) split: results are
// bit-identical for any partition and GEMV rows equal GEMM rows.

import { f16_to_f32, f16x4_to_f32x4 } from '../dequant/common';

/** Output features per panel (two f32x4 vectors). */
const NR: i32 = 8;
/** Rows per GEMM register tile: 4 rows × 2 vectors = 8 accumulators (see tile). */
const MR: i32 = 4;
/** K block: a 16 KiB panel slice stays in L1 while every row tile of the M block reuses it. */
const KC: i32 = 512;
/** M block (a multiple of MR): the packed x block, MC·KC·4 = 256 KiB, stays in L2 while every panel passes over it. */
const MC: i32 = 128;

/** acc + a·b: fused where relaxed SIMD fuses, else a rounded product then a rounded sum. */
@inline
function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** Bytes of the packed form of an [N, K] weight. */
export function packed_w_bytes(N: i32, K: i32): usize {
  return (<usize>((N + NR - 1) / NR)) * (<usize>K) * (<usize>NR) * 4;
}

// ---------------------------------------------------------------- packing

// Weight types by ggml type id (src/types/ggml-types.ts).
const W_F32: i32 = 0;
const W_F16: i32 = 1;
const W_BF16: i32 = 30;

/** Four consecutive weights of one row as f32 lanes, exactly (type: W_F32, W_F16 or W_BF16); moe/experts.ts's too. */
@inline
export function load4(src: usize, type: i32): v128 {
  if (type == W_F32) return v128.load(src);
  const h = v128.load16x4_u(src);
  if (type == W_F16) return f16x4_to_f32x4(h);
  return i32x4.shl(h, 16);
}

/** One weight as f32, as load4. */
@inline
export function load1(src: usize, type: i32): f32 {
  if (type == W_F32) return load<f32>(src);
  if (type == W_F16) return f16_to_f32(<u32>load<u16>(src));
  return reinterpret<f32>((<u32>load<u16>(src)) << 16);
}

/**
 * Full panels: 4×4 transposes of (4 rows × 4 k) blocks. Ragged K and the last
 * partial panel take the scalar path (zeros past N).
 */
@inline
function pack(w: usize, packed: usize, N: i32, K: i32, type: i32): void {
  const es: usize = type == W_F32 ? 4 : 2;
  const row = (<usize>K) * es;
  const panels = (N + NR - 1) / NR;
  const K4 = K & ~3;
  for (let p = 0; p < panels; p++) {
    const n = p * NR;
    const dst = packed + (<usize>p) * (<usize>K) * (<usize>NR) * 4;
    const src = w + (<usize>n) * row;
    let k = 0;
    if (n + NR <= N) {
      for (; k < K4; k += 4) {
        const s = src + (<usize>k) * es;
        const d = dst + (<usize>k) * 32;
        transpose4(s, row, type, d, 32);
        transpose4(s + 4 * row, row, type, d + 16, 32);
      }
    }
    for (; k < K; k++) {
      const d = dst + (<usize>k) * 32;
      for (let j = 0; j < NR; j++) {
        store<f32>(d + (<usize>j) * 4, n + j < N ? load1(src + (<usize>j) * row + (<usize>k) * es, type) : 0);
      }
    }
  }
}

/** Rows r0..r3 (4 values each from s) → 4 vectors of 4 rows at d, d + ds, d + 2ds, d + 3ds. */
@inline
function transpose4(s: usize, row: usize, type: i32, d: usize, ds: usize): void {
  const r0 = load4(s, type);
  const r1 = load4(s + row, type);
  const r2 = load4(s + 2 * row, type);
  const r3 = load4(s + 3 * row, type);
  const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5); // r0k0 r1k0 r0k1 r1k1
  const t1 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const t2 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(d, i64x2.shuffle(t0, t1, 0, 2));
  v128.store(d + ds, i64x2.shuffle(t0, t1, 1, 3));
  v128.store(d + 2 * ds, i64x2.shuffle(t2, t3, 0, 2));
  v128.store(d + 3 * ds, i64x2.shuffle(t2, t3, 1, 3));
}

export function pack_w_f32(w: usize, packed: usize, N: i32, K: i32): void {
  pack(w, packed, N, K, W_F32);
}

export function pack_w_f16(w: usize, packed: usize, N: i32, K: i32): void {
  pack(w, packed, N, K, W_F16);
}

export function pack_w_bf16(w: usize, packed: usize, N: i32, K: i32): void {
  pack(w, packed, N, K, W_BF16);
}

// ---------------------------------------------------------------- GEMM

/** 4 lanes of y at p; lanes at or past `valid` are not read (zero). */
@inline
function load_y(p: usize, valid: i32): v128 {
  if (valid >= 4) return v128.load(p);
  let v = f32x4.splat(0);
  if (valid > 0) v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (valid > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (valid > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Stores the first `valid` lanes of v at p. */
@inline
function store_y(p: usize, v: v128, valid: i32): void {
  if (valid >= 4) {
    v128.store(p, v);
    return;
  }
  if (valid > 0) store<f32>(p, f32x4.extract_lane(v, 0));
  if (valid > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (valid > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** One of four values by a compile-time index (folds away after inlining). */
@inline
function pick(i: i32, v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  return i == 0 ? v0 : i == 1 ? v1 : i == 2 ? v2 : v3;
}

/**
 * A register tile of R rows × P panels (compile-time constants, R·P ≤ 4: up
 * to 8 accumulators) over kc values of k. Slot s = r·P + p holds y[m + r,
 * panel p] in two accumulators. x: x[m, k0], rows ldx bytes apart, or with
 * XP (packed x, R = MR) the tile's rows interleaved [kc][MR] so that one
 * pointer with immediate offsets reaches them all; w: first panel + k0·NR;
 * pw: bytes between panels; y: y[m, n]; cols: valid columns of the last panel
 * (8 except at N); first: k0 = 0 (start from +0, else continue the chain
 * stored in y).
 *
 * Register budget (x64: 15 usable vector registers, and V8 issues a loop
 * body's loads before its arithmetic): R broadcasts + 2P weight vectors +
 * 2RP accumulators ≤ 15, hence 4×1, 2×2, 1×3 and smaller.
 */
@inline
function tile(
  R: i32, P: i32, XP: bool, x: usize, ldx: usize, w: usize, pw: usize, kc: i32,
  y: usize, ldy: usize, cols: i32, first: bool,
): void {
  const zero = f32x4.splat(0);
  let a00 = zero, a01 = zero, a10 = zero, a11 = zero, a20 = zero, a21 = zero, a30 = zero, a31 = zero;
  const S = R * P;
  if (!first) {
    a00 = load_slot(y, ldy, P, 0, 0, cols); a01 = load_slot(y, ldy, P, 0, 1, cols);
    if (S > 1) { a10 = load_slot(y, ldy, P, 1, 0, cols); a11 = load_slot(y, ldy, P, 1, 1, cols); }
    if (S > 2) { a20 = load_slot(y, ldy, P, 2, 0, cols); a21 = load_slot(y, ldy, P, 2, 1, cols); }
    if (S > 3) { a30 = load_slot(y, ldy, P, 3, 0, cols); a31 = load_slot(y, ldy, P, 3, 1, cols); }
  }
  let x0 = x;
  const x1 = x + ldx, x2 = x + 2 * ldx, x3 = x + 3 * ldx;
  const xstep: usize = XP ? <usize>(MR * 4) : 4;
  const end = x + (<usize>kc) * xstep;
  let o: usize = 0; // x1..x3 + o: one offset bump instead of three
  while (x0 < end) {
    const b0 = v128.load32_splat(x0);
    let b1 = b0, b2 = b0, b3 = b0;
    if (XP) {
      b1 = v128.load32_splat(x0, 4);
      b2 = v128.load32_splat(x0, 8);
      b3 = v128.load32_splat(x0, 12);
    } else {
      if (R > 1) b1 = v128.load32_splat(x1 + o);
      if (R > 2) b2 = v128.load32_splat(x2 + o);
      if (R > 3) b3 = v128.load32_splat(x3 + o);
    }
    const v00 = v128.load(w), v01 = v128.load(w, 16);
    let v10 = v00, v11 = v01, v20 = v00, v21 = v01;
    if (P > 1) { v10 = v128.load(w + pw); v11 = v128.load(w + pw, 16); }
    if (P > 2) { v20 = v128.load(w + 2 * pw); v21 = v128.load(w + 2 * pw, 16); }
    a00 = madd(b0, v00, a00);
    a01 = madd(b0, v01, a01);
    if (S > 1) {
      const b = pick(1 / P, b0, b1, b2, b3);
      a10 = madd(b, pick(1 % P, v00, v10, v20, v20), a10);
      a11 = madd(b, pick(1 % P, v01, v11, v21, v21), a11);
    }
    if (S > 2) {
      const b = pick(2 / P, b0, b1, b2, b3);
      a20 = madd(b, pick(2 % P, v00, v10, v20, v20), a20);
      a21 = madd(b, pick(2 % P, v01, v11, v21, v21), a21);
    }
    if (S > 3) {
      const b = pick(3 / P, b0, b1, b2, b3);
      a30 = madd(b, pick(3 % P, v00, v10, v20, v20), a30);
      a31 = madd(b, pick(3 % P, v01, v11, v21, v21), a31);
    }
    x0 += xstep;
    if (!XP) o += 4;
    w += 32;
  }
  store_slot(y, ldy, P, 0, 0, cols, a00); store_slot(y, ldy, P, 0, 1, cols, a01);
  if (S > 1) { store_slot(y, ldy, P, 1, 0, cols, a10); store_slot(y, ldy, P, 1, 1, cols, a11); }
  if (S > 2) { store_slot(y, ldy, P, 2, 0, cols, a20); store_slot(y, ldy, P, 2, 1, cols, a21); }
  if (S > 3) { store_slot(y, ldy, P, 3, 0, cols, a30); store_slot(y, ldy, P, 3, 1, cols, a31); }
}

/** Where half h (4 columns) of slot s lives in y, and how many of its lanes are valid. */
@inline
function slot_ptr(y: usize, ldy: usize, P: i32, s: i32, h: i32): usize {
  return y + (<usize>(s / P)) * ldy + (<usize>(s % P)) * 32 + (<usize>h) * 16;
}

@inline
function slot_valid(P: i32, s: i32, h: i32, cols: i32): i32 {
  return (s % P == P - 1 ? cols : NR) - 4 * h;
}

@inline
function load_slot(y: usize, ldy: usize, P: i32, s: i32, h: i32, cols: i32): v128 {
  return load_y(slot_ptr(y, ldy, P, s, h), slot_valid(P, s, h, cols));
}

@inline
function store_slot(y: usize, ldy: usize, P: i32, s: i32, h: i32, cols: i32, v: v128): void {
  store_y(slot_ptr(y, ldy, P, s, h), v, slot_valid(P, s, h, cols));
}

/**
 * R rows (R ≤ 4) over panels [p0, p1): groups of P full panels, then the rest
 * one panel at a time (the last may be partial).
 */
@inline
function panels(
  R: i32, P: i32, x: usize, ldx: usize, packed: usize, pb: usize, k0: i32, kc: i32,
  y: usize, ldy: usize, N: i32, p0: i32, p1: i32, first: bool,
): void {
  const wk = (<usize>k0) * (<usize>NR) * 4;
  let p = p0;
  if (P > 1) {
    const full = min(p1, N / NR);
    for (; p + P <= full; p += P) {
      tile(R, P, false, x, ldx, packed + (<usize>p) * pb + wk, pb, kc, y + (<usize>p) * 32, ldy, NR, first);
    }
  }
  for (; p < p1; p++) {
    const cols = min(NR, N - p * NR);
    tile(R, 1, false, x, ldx, packed + (<usize>p) * pb + wk, pb, kc, y + (<usize>p) * 32, ldy, cols, first);
  }
}

/** Bytes of scratch gemm_f32 needs for M rows of K (0 for GEMV, M ≤ 4): one packed x block. */
export function gemm_f32_scratch_bytes(M: i32, K: i32): usize {
  if (M <= 4) return 0;
  return (<usize>(min(M, MC) / MR * MR)) * (<usize>min(K, KC)) * 4;
}

export function gemm_f32(
  x: usize, packed: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, scratch: usize,
): void {
  const ldx = (<usize>K) * 4;
  const ldy = (<usize>N) * 4;
  if (K == 0) {
    for (let m = 0; m < M; m++) memory.fill(y + (<usize>m) * ldy + (<usize>n0) * 4, 0, (<usize>(n1 - n0)) * 4);
    return;
  }
  const pb = (<usize>K) * (<usize>NR) * 4;
  const p0 = n0 / NR;
  const p1 = (n1 + NR - 1) / NR;
  // GEMV (decode): no K blocking, and several panels per row so that enough
  // independent chains hide the add/FMA latency.
  switch (M) {
    case 1: gemv_1(x, packed, y, N, K, p0, p1); return;
    case 2: gemv_2(x, packed, y, N, K, p0, p1); return;
    case 3: gemv_3(x, packed, y, N, K, p0, p1); return;
    case 4: gemv_4(x, packed, y, N, K, p0, p1); return;
    default:
      if (scratch != 0) gemm_packed_x(x, packed, y, M, N, K, p0, p1, scratch);
      else gemm_direct_x(x, packed, y, M, N, K, p0, p1);
  }
}

// One wasm function per GEMV shape and one for the blocked GEMM: V8 allocates
// registers per function, and a hot loop in a small function keeps its
// pointers and accumulators in registers.

function gemv_1(x: usize, packed: usize, y: usize, N: i32, K: i32, p0: i32, p1: i32): void {
  panels(1, 3, x, (<usize>K) * 4, packed, (<usize>K) * (<usize>NR) * 4, 0, K, y, (<usize>N) * 4, N, p0, p1, true);
}

function gemv_2(x: usize, packed: usize, y: usize, N: i32, K: i32, p0: i32, p1: i32): void {
  panels(2, 2, x, (<usize>K) * 4, packed, (<usize>K) * (<usize>NR) * 4, 0, K, y, (<usize>N) * 4, N, p0, p1, true);
}

function gemv_3(x: usize, packed: usize, y: usize, N: i32, K: i32, p0: i32, p1: i32): void {
  panels(3, 1, x, (<usize>K) * 4, packed, (<usize>K) * (<usize>NR) * 4, 0, K, y, (<usize>N) * 4, N, p0, p1, true);
}

function gemv_4(x: usize, packed: usize, y: usize, N: i32, K: i32, p0: i32, p1: i32): void {
  panels(4, 1, x, (<usize>K) * 4, packed, (<usize>K) * (<usize>NR) * 4, 0, K, y, (<usize>N) * 4, N, p0, p1, true);
}

/**
 * x rows [m0, m1) (m1 − m0 a multiple of MR), k in [0, kc) → dst as tiles of MR
 * rows, each [kc][MR]: the layout tile(XP = true) reads.
 */
function pack_x(x: usize, ldx: usize, dst: usize, m0: i32, m1: i32, kc: i32): void {
  const kc4 = kc & ~3;
  const tileBytes = (<usize>kc) * MR * 4;
  for (let m = m0; m < m1; m += MR) {
    const src = x + (<usize>m) * ldx;
    let k = 0;
    for (; k < kc4; k += 4) transpose4(src + (<usize>k) * 4, ldx, W_F32, dst + (<usize>k) * 16, 16);
    for (; k < kc; k++) {
      for (let r = 0; r < MR; r++) store<f32>(dst + (<usize>k) * 16 + (<usize>r) * 4, load<f32>(src + (<usize>r) * ldx + (<usize>k) * 4));
    }
    dst += tileBytes;
  }
}

/**
 * M > 4. With scratch (XP), x blocks are packed so that the 4×8 tile reaches its
 * rows through one pointer; without (scratch = 0) the same tiles read x in
 * place: slower, same bits.
 */
@inline
function blocked(
  XP: bool, x: usize, packed: usize, y: usize, M: i32, N: i32, K: i32, p0: i32, p1: i32, scratch: usize,
): void {
  const ldx = (<usize>K) * 4;
  const ldy = (<usize>N) * 4;
  const pb = (<usize>K) * (<usize>NR) * 4;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const first = k0 == 0;
    const xk = x + (<usize>k0) * 4;
    for (let m0 = 0; m0 < M; m0 += MC) {
      const m1 = min(m0 + MC, M);
      const mt = m0 + (m1 - m0) / MR * MR; // end of the full tiles
      // Packing x costs one pass over the block; every panel then reads it with one pointer.
      if (XP) pack_x(xk, ldx, scratch, m0, mt, kc);
      for (let p = p0; p < p1; p++) {
        const w = packed + (<usize>p) * pb + (<usize>k0) * (<usize>NR) * 4;
        const cols = min(NR, N - p * NR);
        const yp = y + (<usize>p) * 32;
        let xt = scratch;
        for (let m = m0; m < mt; m += MR) {
          if (XP) {
            tile(MR, 1, true, xt, 0, w, pb, kc, yp + (<usize>m) * ldy, ldy, cols, first);
            xt += (<usize>kc) * MR * 4;
          } else {
            tile(MR, 1, false, xk + (<usize>m) * ldx, ldx, w, pb, kc, yp + (<usize>m) * ldy, ldy, cols, first);
          }
        }
        const xm = xk + (<usize>mt) * ldx;
        const ym = yp + (<usize>mt) * ldy;
        switch (m1 - mt) {
          case 1: tile(1, 1, false, xm, ldx, w, pb, kc, ym, ldy, cols, first); break;
          case 2: tile(2, 1, false, xm, ldx, w, pb, kc, ym, ldy, cols, first); break;
          case 3: tile(3, 1, false, xm, ldx, w, pb, kc, ym, ldy, cols, first); break;
          default: break;
        }
      }
    }
  }
}

function gemm_packed_x(x: usize, packed: usize, y: usize, M: i32, N: i32, K: i32, p0: i32, p1: i32, scratch: usize): void {
  blocked(true, x, packed, y, M, N, K, p0, p1, scratch);
}

function gemm_direct_x(x: usize, packed: usize, y: usize, M: i32, N: i32, K: i32, p0: i32, p1: i32): void {
  blocked(false, x, packed, y, M, N, K, p0, p1, 0);
}
