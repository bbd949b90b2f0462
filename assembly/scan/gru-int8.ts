// Quantized GRU step kernels (semantics: src/ops/gru.ts, "Quantized GRU"):
// int8 weights with one f32 scale per output channel, the state as int8
// codes q_h with a frozen f32 scale s_h (h = q_h·s_h).
//   product: dense/diagonal: gh[o] = (s_w[o]·s_h)·f32(Σ_j q_w[o, j]·q_h[j]),
//            the integer sum exact in i32 (|Σ| ≤ 127²·H), so any order gives
//            the same bits; Monarch and butterfly: the first factor likewise
//            (butterfly: h = f32(q_h)·s_h), later factors on f32 intermediates
//            with int8 weights, each row scaled after its sum;
//   gates:   the f32 gates of ./gru.ts on h = f32(q_h)·s_h, then the new code
//            q = clamp(nearest(h'/s_h), −127, 127) (nearest: ties to even);
//            a NaN gets −128, never a valid code, which the host refuses
//            (src/backends/wasm/gru.ts) as the reference's quantizer does.
import { gate4 } from './gru';

// Σ_j a[j]·b[j] over n int8 pairs, exact in i32 (|Σ| ≤ 127²·n): any order gives the same value.
@inline
function dotI8(a: usize, b: usize, n: i32): i32 {
  let acc = i32x4.splat(0);
  let j = 0;
  for (; j + 16 <= n; j += 16) {
    const w = v128.load(a + <usize>j);
    const x = v128.load(b + <usize>j);
    acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(i16x8.extmul_low_i8x16_s(w, x)));
    acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(i16x8.extmul_high_i8x16_s(w, x)));
  }
  let s =
    i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
  for (; j < n; j++) s += <i32>load<i8>(a + <usize>j) * <i32>load<i8>(b + <usize>j);
  return s;
}

// Σ_j f32(q[j])·x[j] over n int8 weights and f32 x, in the order of ./gru.ts's dot:
// four lane sums over j = 4p + lane, then (l0 + l1) + (l2 + l3), then the tail in order.
@inline
function dotI8F32(q: usize, x: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const w = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(q + <usize>j))));
    acc = f32x4.add(acc, f32x4.mul(w, v128.load(x + ((<usize>j) << 2))));
  }
  let s: f32 =
    f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  for (; j < n; j++) s += <f32>load<i8>(q + <usize>j) * load<f32>(x + ((<usize>j) << 2));
  return s;
}

/** gh[o] for outputs [o0, o1) of 3H: dense int8 U [3H, H], scales su [3H]. */
export function gru_matvec_dense_i8(qu: usize, su: usize, qh: usize, sh: f32, y: usize, H: i32, o0: i32, o1: i32): void {
  for (let o = o0; o < o1; o++) {
    const s = dotI8(qu + <usize>o * <usize>H, qh, H);
    store<f32>(y + ((<usize>o) << 2), (load<f32>(su + ((<usize>o) << 2)) * sh) * <f32>s);
  }
}

/**
 * Monarch, gates [g0, g1): int8 b1, b2 [3, β, β, β] with one scale per row
 * (s1, s2 [3H], row (g·β + k)·β + i). x (scratch [3H] f32) = Π·B1_g·h with
 * x1 = (s1·s_h)·f32(Σ q_b1·q_h) (an exact integer dot), then
 * y = s2·(Σ_j f32(q_b2[j])·x[j]) in f32 (x is no longer on the int8 grid).
 */
export function gru_matvec_monarch_i8(
  q1: usize, s1: usize, q2: usize, s2: usize, qh: usize, sh: f32, x: usize, y: usize, H: i32, B: i32, g0: i32, g1: i32,
): void {
  const blk = <usize>B;
  for (let g = g0; g < g1; g++) {
    const gBase = <usize>g * <usize>H * blk; // gate g's β³ codes
    const gRow = <usize>g * <usize>H; // gate g's first row (scale index)
    const xg = x + (gRow << 2);
    const yg = y + (gRow << 2);
    for (let k = 0; k < B; k++)
      for (let i = 0; i < B; i++) {
        const row = <usize>(k * B + i);
        const s = dotI8(q1 + gBase + row * blk, qh + <usize>k * blk, B);
        store<f32>(xg + ((<usize>(i * B + k)) << 2), (load<f32>(s1 + ((gRow + row) << 2)) * sh) * <f32>s);
      }
    for (let k = 0; k < B; k++)
      for (let i = 0; i < B; i++) {
        const row = <usize>(k * B + i);
        const d = dotI8F32(q2 + gBase + row * blk, xg + ((<usize>k * blk) << 2), B);
        store<f32>(yg + (row << 2), load<f32>(s2 + ((gRow + row) << 2)) * d);
      }
  }
}

/**
 * Butterfly, gates [g0, g1): int8 w [3, ℓ, H/2, 4] with one scale per row
 * (sw [3, ℓ, H/2, 2]: rows (w0, w1) and (w2, w3) of each pair). y_g starts as
 * f32(q_h)·s_h, then each factor: y_i = s_a·(q0·x_i + q1·x_j), y_j = s_b·(q2·x_i + q3·x_j).
 */
export function gru_matvec_butterfly_i8(qw: usize, sw: usize, qh: usize, sh: f32, y: usize, H: i32, ell: i32, g0: i32, g1: i32): void {
  const half = H >> 1;
  for (let g = g0; g < g1; g++) {
    const yg = y + <usize>g * ((<usize>H) << 2);
    for (let i = 0; i < H; i++) store<f32>(yg + ((<usize>i) << 2), <f32>load<i8>(qh + <usize>i) * sh);
    for (let f = 0; f < ell; f++) {
      const s = 1 << f;
      const pf = <usize>(g * ell + f) * <usize>half;
      for (let p = 0; p < half; p++) {
        const i = ((p >> f) << (f + 1)) | (p & (s - 1));
        const pi = yg + ((<usize>i) << 2);
        const pj = yg + ((<usize>(i + s)) << 2);
        const wp = qw + (pf + <usize>p) * 4;
        const sp = sw + (pf + <usize>p) * 8;
        const xi = load<f32>(pi);
        const xj = load<f32>(pj);
        store<f32>(pi, load<f32>(sp) * (<f32>load<i8>(wp) * xi + <f32>load<i8>(wp, 1) * xj));
        store<f32>(pj, load<f32>(sp, 4) * (<f32>load<i8>(wp, 2) * xi + <f32>load<i8>(wp, 3) * xj));
      }
    }
  }
}

/** gh[o] = (su[o]·s_h)·f32(qu[o]·q_h[o mod H]) for outputs [o0, o1) of 3H. */
export function gru_matvec_diagonal_i8(qu: usize, su: usize, qh: usize, sh: f32, y: usize, H: i32, o0: i32, o1: i32): void {
  for (let o = o0; o < o1; o++) {
    const p = <i32>load<i8>(qu + <usize>o) * <i32>load<i8>(qh + <usize>(o % H));
    store<f32>(y + ((<usize>o) << 2), (load<f32>(su + ((<usize>o) << 2)) * sh) * <f32>p);
  }
}

@inline
function ld(p: usize, scalar: bool): v128 {
  return scalar ? f32x4.splat(load<f32>(p)) : v128.load(p);
}

@inline
function ldq(p: usize, scalar: bool): v128 {
  if (scalar) return f32x4.splat(<f32>load<i8>(p));
  return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(p))));
}

/** The state code for a NaN h'/s_h: −128, which the narrow range (±127) never produces. */
const NAN_CODE: i32 = -128;

/**
 * New state codes for elements [i0, i1) of H: gx, gh, bh [3H] f32 (bh 0:
 * none), qh [H] int8 codes of the previous state, qout [H] int8; gates [3H]
 * f32 (0: none) receives r, z, n.
 */
export function gru_gates_i8(gx: usize, gh: usize, bh: usize, qh: usize, sh: f32, qout: usize, gates: usize, H: i32, i0: i32, i1: i32): void {
  const G = (<usize>H) << 2;
  const zero = f32x4.splat(0);
  const vs = f32x4.splat(sh);
  let i = i0;
  while (i < i1) {
    const scalar = i + 4 > i1;
    const o = (<usize>i) << 2;
    const h = f32x4.mul(ldq(qh + <usize>i, scalar), vs);
    const v = gate4(
      ld(gx + o, scalar),
      ld(gx + G + o, scalar),
      ld(gx + 2 * G + o, scalar),
      ld(gh + o, scalar),
      ld(gh + G + o, scalar),
      ld(gh + 2 * G + o, scalar),
      bh ? ld(bh + o, scalar) : zero,
      bh ? ld(bh + G + o, scalar) : zero,
      bh ? ld(bh + 2 * G + o, scalar) : zero,
      h,
      gates,
      o,
      G,
      scalar,
    );
    const d = f32x4.div(v, vs);
    const q = f32x4.min(f32x4.max(f32x4.nearest(d), f32x4.splat(-127)), f32x4.splat(127));
    // NaN has no code: it gets NAN_CODE (outside the narrow range) for the host to find and refuse.
    const qi = v128.bitselect(i32x4.splat(NAN_CODE), i32x4.trunc_sat_f32x4_s(q), f32x4.ne(d, d));
    if (scalar) {
      store<i8>(qout + <usize>i, <i8>i32x4.extract_lane(qi, 0));
      i++;
    } else {
      const n16 = i16x8.narrow_i32x4_s(qi, qi);
      v128.store32_lane(qout + <usize>i, i8x16.narrow_i16x8_s(n16, n16), 0);
      i += 4;
    }
  }
}
