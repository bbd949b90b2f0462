// SiLU and GELU on four f32 lanes (wasm has no exp, tanh or erf), built on
// the shared exp (./exp.ts). Plain SIMD128 only, no relaxed (fused)
// instructions, so both builds compute the same bits. erfc coefficients:
// scripts/fit-nn-math.ts. Measured errors: src/backends/wasm/nn.ts, NN_MAX_ULP.
import { exp_v128_scaled } from './exp';

const TWO_POW_M64: f32 = 5.421010862427522e-20;
const NEG_INF: f32 = -Infinity;

// Lanes 0-1 / 2-3 of an f32x4 widened exactly to f64x2, and back (rounding once).
@inline
function f64_lo(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}
@inline
function f64_hi(v: v128): v128 {
  return f64x2.promote_low_f32x4(f32x4.shuffle(v, v, 2, 3, 2, 3));
}
@inline
function f32_of(lo: v128, hi: v128): v128 {
  return f32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/**
 * x·σ(v) = x/(1 + e^(−v)) with v = vh + vl (vl a small correction, 0 when v
 * is an f32) of the sign of x (SiLU: v = x; GELU: v = 2z). With
 * e = e^(−|v|) ≤ 1: q = x/(1 + e) for v ≥ 0 and q·e for v < 0, so nothing
 * overflows and small results keep their relative accuracy (e is carried as
 * e·2^64 and q·e scaled down last). x = −inf gives −0 (the limit).
 */
@inline
export function x_sigmoid(x: v128, vh: v128, vl: v128): v128 {
  const negative = f32x4.lt(vh, f32x4.splat(0));
  const es = exp_v128_scaled(f32x4.neg(f32x4.abs(vh)), v128.bitselect(vl, f32x4.neg(vl), negative), 64);
  const q = f32x4.div(x, f32x4.add(f32x4.splat(1), f32x4.mul(es, f32x4.splat(TWO_POW_M64))));
  const y = v128.bitselect(f32x4.mul(f32x4.mul(q, es), f32x4.splat(TWO_POW_M64)), q, negative);
  return v128.bitselect(i32x4.splat(0x80000000), y, f32x4.eq(x, f32x4.splat(NEG_INF)));
}

/** SiLU: x·σ(x). */
@inline
export function silu4(x: v128): v128 {
  return x_sigmoid(x, x, f32x4.splat(0));
}

/** 2·√(2/π) and 2·√(2/π)·0.044715: GELU's tanh argument, doubled. */
const GELU_K1: f64 = 1.5957691216057308;
const GELU_K2: f64 = 0.07135481627260025;

/** v = 2z = x·(K1 + K2·x²) in f64 (x exact), so e^(−|v|) sees v to ~2^-50 relative. */
@inline
function gelu_arg(x: v128): v128 {
  return f64x2.mul(x, f64x2.add(f64x2.splat(GELU_K1), f64x2.mul(f64x2.splat(GELU_K2), f64x2.mul(x, x))));
}

/**
 * GELU, tanh approximation: 0.5·x·(1 + tanh(z)), z = √(2/π)·(x + 0.044715·x³),
 * computed as x·σ(2z) (the same function: 1 + tanh z = 2σ(2z)), which keeps
 * its relative accuracy where 1 + tanh z would cancel. 2z is formed in f64
 * and handed to exp as an f32 pair: an f32 z would cost |2z|·u relative.
 */
@inline
export function gelu_tanh4(x: v128): v128 {
  const lo = gelu_arg(f64_lo(x));
  const hi = gelu_arg(f64_hi(x));
  const vh = f32_of(lo, hi);
  const vl = f32_of(f64x2.sub(lo, f64_lo(vh)), f64x2.sub(hi, f64_hi(vh)));
  return x_sigmoid(x, vh, vl);
}

// erfc(t) = s·R(z)·e^(−t²) for t = |x|/√2 in [0, 10.5], s = 1/(1 + t/2) = 1/(1 + |x|·ERF_K),
// z = (2s − S0 − 1)/(1 − S0) = s·ERF_ZA + ERF_ZB in [−1, 1], S0 = 1/(1 + 10.5/2) = 0.16;
// R of degree 10, fit error 0.06 u; s, z and R in f64.
const ERF_K: f64 = 0.3535533905932738; // 0.5/√2
const ERF_ZA: f64 = 2.380952380952381; // 2/(1 − S0)
const ERF_ZB: f64 = -1.380952380952381; // −(1 + S0)/(1 − S0)
const R0: f64 = 0.5694087215570819;
const R1: f64 = 0.3271879098800344;
const R2: f64 = 0.10352103759363751;
const R3: f64 = 0.006308380721168262;
const R4: f64 = -0.0063276866029153694;
const R5: f64 = -0.0006747111021814182;
const R6: f64 = 0.0006261015895463408;
const R7: f64 = 0.000009589079373976715;
const R8: f64 = -0.00007218889378374059;
const R9: f64 = 0.000006647135756619098;
const R10: f64 = 0.000006202666593656517;
/** |x| above which GELU(x) is x (x > 0) or rounds to −0 (x < 0): 14.75 = 10.43·√2. */
const ERF_LIMIT: f32 = 14.75;

/** s·R(z) = erfc(t)·e^(t²) on two f64 lanes of a = |x|. */
@inline
function erfcx_f64(a: v128): v128 {
  const s = f64x2.div(f64x2.splat(1), f64x2.add(f64x2.splat(1), f64x2.mul(a, f64x2.splat(ERF_K))));
  const z = f64x2.add(f64x2.mul(s, f64x2.splat(ERF_ZA)), f64x2.splat(ERF_ZB));
  let R = f64x2.add(f64x2.mul(f64x2.splat(R10), z), f64x2.splat(R9));
  R = f64x2.add(f64x2.mul(R, z), f64x2.splat(R8));
  R = f64x2.add(f64x2.mul(R, z), f64x2.splat(R7));
  R = f64x2.add(f64x2.mul(R, z), f64x2.splat(R6));
  R = f64x2.add(f64x2.mul(R, z), f64x2.splat(R5));
  R = f64x2.add(f64x2.mul(R, z), f64x2.splat(R4));
  R = f64x2.add(f64x2.mul(R, z), f64x2.splat(R3));
  R = f64x2.add(f64x2.mul(R, z), f64x2.splat(R2));
  R = f64x2.add(f64x2.mul(R, z), f64x2.splat(R1));
  R = f64x2.add(f64x2.mul(R, z), f64x2.splat(R0));
  return f64x2.mul(s, R);
}

/**
 * GELU, erf form: 0.5·x·(1 + erf(x/√2)) = 0.5·x·Φ with Φ = erfc(t) for
 * x < 0 and 2 − erfc(t) for x ≥ 0 (t = |x|/√2), so negative x never cancels.
 * erfc(t) = erfcx(t)·e^(−x²/2): erfcx (and 0.5·x·erfcx) in f64, the
 * exponential from the exact input: x = xh + xl with xh of 12
 * significant bits, x² = xh² (exact) + xl·(x + xh), the small part passed to
 * exp as its correction.
 */
@inline
export function gelu_erf4(x: v128): v128 {
  const a = f32x4.abs(x);
  const ac = f32x4.min(a, f32x4.splat(ERF_LIMIT));
  const qlo = erfcx_f64(f64_lo(ac));
  const qhi = erfcx_f64(f64_hi(ac));
  const half = f64x2.splat(0.5);
  const gneg = f32_of(f64x2.mul(f64x2.mul(f64_lo(x), half), qlo), f64x2.mul(f64x2.mul(f64_hi(x), half), qhi));
  const xh = v128.and(ac, i32x4.splat(0xfffff000));
  const xl = f32x4.sub(ac, xh);
  const hi = f32x4.mul(f32x4.mul(xh, xh), f32x4.splat(-0.5));
  const lo = f32x4.mul(f32x4.mul(xl, f32x4.add(ac, xh)), f32x4.splat(-0.5));
  const es = exp_v128_scaled(hi, lo, 64); // e^(−x²/2)·2^64
  const neg = f32x4.mul(f32x4.mul(gneg, es), f32x4.splat(TWO_POW_M64));
  const erfcT = f32x4.mul(f32x4.mul(f32_of(qlo, qhi), es), f32x4.splat(TWO_POW_M64));
  const pos = f32x4.mul(f32x4.mul(x, f32x4.splat(0.5)), f32x4.sub(f32x4.splat(2), erfcT));
  const y = v128.bitselect(neg, pos, f32x4.lt(x, f32x4.splat(0)));
  // Beyond the limit: x itself (x > 0, +inf included) or −0 (x < 0, −inf included).
  const big = f32x4.gt(a, f32x4.splat(ERF_LIMIT));
  const tail = v128.and(x, f32x4.gt(x, f32x4.splat(0)));
  return v128.bitselect(v128.or(tail, v128.and(x, i32x4.splat(0x80000000))), y, big);
}
