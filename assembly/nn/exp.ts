// exp for f32 lanes, accurate to a few units in the last place (tested against
// float64 exp in test/assembly/exp.test.ts; the bound the attention tiers use
// is stated there). Shared by the softmax-style kernels (attention, nn).
//
// x = k·ln2 + r with k = nearest(x·log2 e) and |r| ≤ ln2/2 + tiny (Cody–Waite:
// ln2 = LN2_HI + LN2_LO, LN2_HI with 9 significant bits so k·LN2_HI and
// x − k·LN2_HI are exact for the clamped range); e^r by its degree-7 Taylor
// polynomial (truncation < 6e-9 relative) in Horner form; then ·2^k as two
// exact power-of-two factors, so results that fall below 2^-126 are rounded
// once, as gradual underflow. Inputs are clamped to [-104, 89]: exp(-104) and
// below round to +0, exp(89) and above overflow to +inf; NaN stays NaN
// (f32x4.min/max propagate it). Every operation is a rounded f32 operation
// (no fused multiply-add), so results are the same in every build.

const LOG2E: f32 = 1.4426950408889634;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.1219444005469057e-4;
const X_MIN: f32 = -104.0;
const X_MAX: f32 = 89.0;

const C2: f32 = 0.5;
const C3: f32 = 0.16666666666666666;
const C4: f32 = 0.041666666666666664;
const C5: f32 = 0.008333333333333333;
const C6: f32 = 0.001388888888888889;
const C7: f32 = 1.984126984126984e-4;

/** e^x for four f32 lanes. */
@inline
export function exp_v128(x0: v128): v128 {
  return exp_v128_scaled(x0, f32x4.splat(0), 0);
}

/**
 * e^(hi + lo)·2^s for four f32 lanes, s ≥ 0 a constant and lo a small
 * correction to hi (|lo| ≪ 1): the reduction of hi is exact, then lo joins r,
 * so an argument known to more than f32 precision keeps it. With s > 0 a
 * caller that scales the result down again (×2^-s) rounds once into the
 * subnormals instead of twice. Lanes with hi < −104 − s·ln 2 give +0.
 * exp_v128(x) is exp_v128_scaled(x, 0, 0), bit for bit.
 */
@inline
export function exp_v128_scaled(hi: v128, lo: v128, s: i32): v128 {
  const floor = X_MIN - <f32>s * <f32>0.6931471805599453;
  const x = f32x4.min(f32x4.max(hi, f32x4.splat(floor)), f32x4.splat(X_MAX));
  const kf = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  const r = f32x4.add(
    f32x4.sub(f32x4.sub(x, f32x4.mul(kf, f32x4.splat(LN2_HI))), f32x4.mul(kf, f32x4.splat(LN2_LO))),
    lo,
  );
  let p = f32x4.add(f32x4.mul(f32x4.splat(C7), r), f32x4.splat(C6));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(C5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(C4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(C3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(C2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1));
  // k + s ∈ [-150, 129 + s] (NaN lanes convert to 0): 2^(k+s) = 2^k1 · 2^k2, both normal.
  const k = i32x4.add(i32x4.trunc_sat_f32x4_s(kf), i32x4.splat(s));
  const k1 = i32x4.shr_s(k, 1);
  const k2 = i32x4.sub(k, k1);
  const s1 = i32x4.shl(i32x4.add(k1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(k2, i32x4.splat(127)), 23);
  return v128.andnot(f32x4.mul(f32x4.mul(p, s1), s2), f32x4.lt(hi, f32x4.splat(floor)));
}

/** e^x for one f32 (lane 0 of exp_v128: the same bits as the vector form). */
@inline
export function exp_f32_scalar(x: f32): f32 {
  return f32x4.extract_lane(exp_v128(f32x4.splat(x)), 0);
}

/** dst[i] = e^src[i] for n f32 (for tests and one-off use). */
export function exp_f32(src: usize, dst: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(dst + o, exp_v128(v128.load(src + o)));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(dst + o, exp_f32_scalar(load<f32>(src + o)));
  }
}
