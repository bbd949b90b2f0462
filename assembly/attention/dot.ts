// Q·K dot products of the attention kernels, in two fixed orders.
//
// Exact numerics (every micro-kernel below computes each dot in this order, so
// a score does not depend on which one computed it, or on its tile):
//   hd4 = head_dim rounded down to 4; lane l of one f32x4 accumulator sums
//   q[d]·k[d] for d ≡ l (mod 4), d < hd4, in increasing d (a rounded product,
//   then a rounded sum, from +0; in the relaxed-SIMD build f32x4.relaxed_madd,
//   which the engine may fuse); s = (l0 + l1) + (l2 + l3); then
//   s = s + q[d]·k[d] for d = hd4 .. head_dim − 1; the score is s·scale.
//
// ggml numerics (ggml_vec_dot_f16 / ggml_vec_dot_f32 as llama.cpp's wasm build
// compiles them: GGML_F16_STEP = GGML_F32_STEP = 16, four f32x4 accumulators,
// GGML_F32x4_FMA = a product then a sum):
//   n16 = head_dim rounded down to 16; accumulator a (0..3) lane l sums
//   d ≡ 4a + l (mod 16), d < n16, in increasing d; then a0 += a2, a1 += a3,
//   a0 += a1; r = ((l0 + l1) + l2) + l3; then the leftovers d = n16 ..
//   head_dim − 1 in order: f16 K: in double (r widened, each f32 product widened
//   and added), rounded to f32 at the end; f32 K: in f32.

@inline
function hsum_pairs(a: v128): f32 {
  return (f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1)) + (f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3));
}

@inline
function tail(q: usize, k: usize, hd4: i32, hd: i32, s: f32): f32 {
  for (let d = hd4; d < hd; d++) {
    const o = (<usize>d) << 2;
    s = s + load<f32>(q + o) * load<f32>(k + o);
  }
  return s;
}

/** acc + a·b as ggml's wasm build computes it: a rounded product, then a rounded sum. */
@inline
function madd(acc: v128, a: v128, b: v128): v128 {
  return f32x4.add(acc, f32x4.mul(a, b));
}

/**
 * acc + a·b for the exact numerics: in the relaxed-SIMD build f32x4.relaxed_madd
 * (fused where the engine fuses: one rounding instead of two, within the same
 * bound), else a rounded product then a rounded sum.
 */
@inline
export function fmadd(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** One exact-order score: (q·k)·scale. */
export function dot_1x1(q: usize, k: usize, hd: i32, scale: f32): f32 {
  const hd4 = hd & ~3;
  let a = f32x4.splat(0);
  for (let d = 0; d < hd4; d += 4) {
    const o = (<usize>d) << 2;
    a = fmadd(a, v128.load(q + o), v128.load(k + o));
  }
  return tail(q, k, hd4, hd, hsum_pairs(a)) * scale;
}

/** Four exact-order scores of one q row against k rows k, k + ks, k + 2ks, k + 3ks → out[0..3]. */
export function dots_1x4(q: usize, k: usize, ks: usize, hd: i32, scale: f32, out: usize): void {
  const hd4 = hd & ~3;
  const k1 = k + ks;
  const k2 = k1 + ks;
  const k3 = k2 + ks;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  for (let d = 0; d < hd4; d += 4) {
    const o = (<usize>d) << 2;
    const x = v128.load(q + o);
    a0 = fmadd(a0, x, v128.load(k + o));
    a1 = fmadd(a1, x, v128.load(k1 + o));
    a2 = fmadd(a2, x, v128.load(k2 + o));
    a3 = fmadd(a3, x, v128.load(k3 + o));
  }
  store<f32>(out, tail(q, k, hd4, hd, hsum_pairs(a0)) * scale);
  store<f32>(out, tail(q, k1, hd4, hd, hsum_pairs(a1)) * scale, 4);
  store<f32>(out, tail(q, k2, hd4, hd, hsum_pairs(a2)) * scale, 8);
  store<f32>(out, tail(q, k3, hd4, hd, hsum_pairs(a3)) * scale, 12);
}

/**
 * Eight exact-order scores: q rows q0..q3 against k rows k and k + ks →
 * out[r·os + c] (byte stride os between rows, c = 0, 1).
 */
export function dots_4x2(
  q0: usize,
  q1: usize,
  q2: usize,
  q3: usize,
  k: usize,
  ks: usize,
  hd: i32,
  scale: f32,
  out: usize,
  os: usize,
): void {
  const hd4 = hd & ~3;
  const k1 = k + ks;
  let a00 = f32x4.splat(0);
  let a01 = f32x4.splat(0);
  let a10 = f32x4.splat(0);
  let a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0);
  let a21 = f32x4.splat(0);
  let a30 = f32x4.splat(0);
  let a31 = f32x4.splat(0);
  for (let d = 0; d < hd4; d += 4) {
    const o = (<usize>d) << 2;
    const y0 = v128.load(k + o);
    const y1 = v128.load(k1 + o);
    let x = v128.load(q0 + o);
    a00 = fmadd(a00, x, y0);
    a01 = fmadd(a01, x, y1);
    x = v128.load(q1 + o);
    a10 = fmadd(a10, x, y0);
    a11 = fmadd(a11, x, y1);
    x = v128.load(q2 + o);
    a20 = fmadd(a20, x, y0);
    a21 = fmadd(a21, x, y1);
    x = v128.load(q3 + o);
    a30 = fmadd(a30, x, y0);
    a31 = fmadd(a31, x, y1);
  }
  store<f32>(out, tail(q0, k, hd4, hd, hsum_pairs(a00)) * scale);
  store<f32>(out, tail(q0, k1, hd4, hd, hsum_pairs(a01)) * scale, 4);
  out += os;
  store<f32>(out, tail(q1, k, hd4, hd, hsum_pairs(a10)) * scale);
  store<f32>(out, tail(q1, k1, hd4, hd, hsum_pairs(a11)) * scale, 4);
  out += os;
  store<f32>(out, tail(q2, k, hd4, hd, hsum_pairs(a20)) * scale);
  store<f32>(out, tail(q2, k1, hd4, hd, hsum_pairs(a21)) * scale, 4);
  out += os;
  store<f32>(out, tail(q3, k, hd4, hd, hsum_pairs(a30)) * scale);
  store<f32>(out, tail(q3, k1, hd4, hd, hsum_pairs(a31)) * scale, 4);
}

/** One ggml-order dot (not scaled). `wide_tail`: leftovers summed in double (ggml_vec_dot_f16). */
export function dot_ggml(q: usize, k: usize, hd: i32, wide_tail: bool): f32 {
  const n16 = hd & ~15;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  for (let d = 0; d < n16; d += 16) {
    const o = (<usize>d) << 2;
    a0 = madd(a0, v128.load(k + o), v128.load(q + o));
    a1 = madd(a1, v128.load(k + o, 16), v128.load(q + o, 16));
    a2 = madd(a2, v128.load(k + o, 32), v128.load(q + o, 32));
    a3 = madd(a3, v128.load(k + o, 48), v128.load(q + o, 48));
  }
  a0 = f32x4.add(a0, a2);
  a1 = f32x4.add(a1, a3);
  a0 = f32x4.add(a0, a1);
  const r: f32 =
    ((f32x4.extract_lane(a0, 0) + f32x4.extract_lane(a0, 1)) + f32x4.extract_lane(a0, 2)) + f32x4.extract_lane(a0, 3);
  if (wide_tail) {
    let s: f64 = <f64>r;
    for (let d = n16; d < hd; d++) {
      const o = (<usize>d) << 2;
      s += <f64>(load<f32>(k + o) * load<f32>(q + o));
    }
    return <f32>s;
  }
  let s = r;
  for (let d = n16; d < hd; d++) {
    const o = (<usize>d) << 2;
    s = s + load<f32>(k + o) * load<f32>(q + o);
  }
  return s;
}
