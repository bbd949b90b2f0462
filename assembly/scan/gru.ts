// GRU step kernels (semantics: src/ops/gru.ts): the recurrent product
// gh = U·h in each of the four structures, and the gates. Each output is
// computed by one call in an order that depends only on H, so any split of
// the outputs (or gates) gives the same bits. No fused multiply-add.
import { exp_v128 } from '../nn/exp';

// Σ_j w[j]·x[j] for j < n: four lane sums over j = 4q + lane, then
// (l0 + l1) + (l2 + l3), then the tail j ≥ 4⌊n/4⌋ in order.
@inline
function dot(w: usize, x: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = (<usize>j) << 2;
    acc = f32x4.add(acc, f32x4.mul(v128.load(w + o), v128.load(x + o)));
  }
  let s: f32 =
    f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  for (; j < n; j++) s += load<f32>(w + ((<usize>j) << 2)) * load<f32>(x + ((<usize>j) << 2));
  return s;
}

/** y[o] = Σ_j u[o, j]·h[j] for outputs [o0, o1) of 3H (u: [3H, H]). */
export function gru_matvec_dense(u: usize, h: usize, y: usize, H: i32, o0: i32, o1: i32): void {
  const row = (<usize>H) << 2;
  for (let o = o0; o < o1; o++) store<f32>(y + ((<usize>o) << 2), dot(u + <usize>o * row, h, H));
}

/** y[o] = u[o]·h[o mod H] for outputs [o0, o1) of 3H. */
export function gru_matvec_diagonal(u: usize, h: usize, y: usize, H: i32, o0: i32, o1: i32): void {
  for (let o = o0; o < o1; o++) {
    const b = (<usize>o) << 2;
    store<f32>(y + b, load<f32>(u + b) * load<f32>(h + ((<usize>(o % H)) << 2)));
  }
}

/**
 * Monarch, gates [g0, g1): x (scratch [3H]) = Π·B1_g·h, then y_g = B2_g·x
 * (b1, b2: [3, β, β, β]; H = β²).
 */
export function gru_matvec_monarch(b1: usize, b2: usize, h: usize, x: usize, y: usize, H: i32, B: i32, g0: i32, g1: i32): void {
  const blk = (<usize>B) << 2;
  for (let g = g0; g < g1; g++) {
    const gBase = <usize>g * <usize>H * blk; // gate g's β³ floats
    const xg = x + <usize>g * ((<usize>H) << 2);
    const yg = y + <usize>g * ((<usize>H) << 2);
    for (let k = 0; k < B; k++)
      for (let i = 0; i < B; i++)
        store<f32>(xg + ((<usize>(i * B + k)) << 2), dot(b1 + gBase + <usize>(k * B + i) * blk, h + <usize>k * blk, B));
    for (let k = 0; k < B; k++)
      for (let i = 0; i < B; i++)
        store<f32>(yg + ((<usize>(k * B + i)) << 2), dot(b2 + gBase + <usize>(k * B + i) * blk, xg + <usize>k * blk, B));
  }
}

/**
 * Butterfly, gates [g0, g1): y_g = F_{ℓ-1}⋯F_0·h in place in y (w: [3, ℓ, H/2, 4]);
 * y_i = w0·x_i + w1·x_j, y_j = w2·x_i + w3·x_j (j = i + 2^f).
 */
export function gru_matvec_butterfly(w: usize, h: usize, y: usize, H: i32, ell: i32, g0: i32, g1: i32): void {
  const half = H >> 1;
  for (let g = g0; g < g1; g++) {
    const yg = y + <usize>g * ((<usize>H) << 2);
    memory.copy(yg, h, (<usize>H) << 2);
    for (let f = 0; f < ell; f++) {
      const s = 1 << f;
      const wf = w + (<usize>(g * ell + f) * <usize>half) * 16;
      for (let p = 0; p < half; p++) {
        const i = ((p >> f) << (f + 1)) | (p & (s - 1));
        const pi = yg + ((<usize>i) << 2);
        const pj = yg + ((<usize>(i + s)) << 2);
        const wp = wf + (<usize>p) * 16;
        const xi = load<f32>(pi);
        const xj = load<f32>(pj);
        store<f32>(pi, load<f32>(wp) * xi + load<f32>(wp, 4) * xj);
        store<f32>(pj, load<f32>(wp, 8) * xi + load<f32>(wp, 12) * xj);
      }
    }
  }
}

// σ(x) = 1 / (1 + e^{-x}); tanh(x) = 1 − 2 / (e^{2x} + 1) (exact at ±∞, no
// cancellation in the division); every step a rounded f32 operation.
@inline
function sigmoid4(x: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, exp_v128(f32x4.neg(x))));
}

@inline
function tanh4(x: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.sub(one, f32x4.div(f32x4.splat(2), f32x4.add(exp_v128(f32x4.add(x, x)), one)));
}

// h' for four lanes: r = σ((gx_r + gh_r) + b_r), z likewise,
// n = tanh(gx_n + r·(gh_n + b_n)), h' = (1 − z)·n + z·h. With gates ≠ 0 the
// lanes' r, z, n are also stored at gates + o, + G, + 2G (one lane when
// scalar): the same values h' is computed from, for traces.
@inline
export function gate4(
  xr: v128, xz: v128, xn: v128, hr: v128, hz: v128, hn: v128, br: v128, bz: v128, bn: v128, h: v128,
  gates: usize, o: usize, G: usize, scalar: bool,
): v128 {
  const r = sigmoid4(f32x4.add(f32x4.add(xr, hr), br));
  const z = sigmoid4(f32x4.add(f32x4.add(xz, hz), bz));
  const n = tanh4(f32x4.add(xn, f32x4.mul(r, f32x4.add(hn, bn))));
  if (gates) {
    if (scalar) {
      store<f32>(gates + o, f32x4.extract_lane(r, 0));
      store<f32>(gates + G + o, f32x4.extract_lane(z, 0));
      store<f32>(gates + 2 * G + o, f32x4.extract_lane(n, 0));
    } else {
      v128.store(gates + o, r);
      v128.store(gates + G + o, z);
      v128.store(gates + 2 * G + o, n);
    }
  }
  return f32x4.add(f32x4.mul(f32x4.sub(f32x4.splat(1), z), n), f32x4.mul(z, h));
}

@inline
function ld(p: usize, scalar: bool): v128 {
  return scalar ? f32x4.splat(load<f32>(p)) : v128.load(p);
}

/**
 * Gates for elements [i0, i1) of H: gx [3H] (this step's input projections),
 * gh = U·h [3H], bh [3H] (0: none), h [H] the previous state, out [H];
 * gates [3H] (0: none) receives r, z, n. Scalar tails run lane 0 of the same
 * vector code: the same bits.
 */
export function gru_gates(gx: usize, gh: usize, bh: usize, h: usize, out: usize, gates: usize, H: i32, i0: i32, i1: i32): void {
  const G = (<usize>H) << 2;
  const zero = f32x4.splat(0);
  let i = i0;
  while (i < i1) {
    const scalar = i + 4 > i1;
    const o = (<usize>i) << 2;
    const br = bh ? ld(bh + o, scalar) : zero;
    const bz = bh ? ld(bh + G + o, scalar) : zero;
    const bn = bh ? ld(bh + 2 * G + o, scalar) : zero;
    const v = gate4(
      ld(gx + o, scalar),
      ld(gx + G + o, scalar),
      ld(gx + 2 * G + o, scalar),
      ld(gh + o, scalar),
      ld(gh + G + o, scalar),
      ld(gh + 2 * G + o, scalar),
      br,
      bz,
      bn,
      ld(h + o, scalar),
      gates,
      o,
      G,
      scalar,
    );
    if (scalar) {
      store<f32>(out + o, f32x4.extract_lane(v, 0));
      i++;
    } else {
      v128.store(out + o, v);
      i += 4;
    }
  }
}
