// Row helpers shared by the nn kernels: partial vectors for row tails (so a
// tail element goes through exactly the lane arithmetic of a full vector) and
// the fixed-order f64 accumulation that the norms and softmax use.

/** Lanes 0..n-1 of the f32s at p (n in 1..3), the other lanes `fill`. */
@inline
export function load_partial(p: usize, n: i32, fill: f32): v128 {
  let v = f32x4.splat(fill);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Stores lanes 0..n-1 of v at p (n in 1..3). */
@inline
export function store_partial(p: usize, v: v128, n: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** All-ones in lanes 0..n-1 (n in 0..4), zero elsewhere. */
@inline
export function lane_mask(n: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(n));
}

/** Adds lanes 0-1 (acc_lo) or 2-3 (acc_hi) of four f32 terms, widened exactly, to an f64x2 accumulator. */
@inline
export function acc_lo(acc: v128, terms: v128): v128 {
  return f64x2.add(acc, f64x2.promote_low_f32x4(terms));
}

@inline
export function acc_hi(acc: v128, terms: v128): v128 {
  return f64x2.add(acc, f64x2.promote_low_f32x4(f32x4.shuffle(terms, terms, 2, 3, 2, 3)));
}

/** (lo.0 + lo.1) + (hi.0 + hi.1) */
@inline
export function acc_total(lo: v128, hi: v128): f64 {
  return (f64x2.extract_lane(lo, 0) + f64x2.extract_lane(lo, 1)) +
    (f64x2.extract_lane(hi, 0) + f64x2.extract_lane(hi, 1));
}

/** max over the four lanes; NaN if any lane is NaN (f32x4.max propagates NaN). */
@inline
export function hmax(v: v128): f32 {
  const m = f32x4.max(v, f32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(f32x4.max(m, f32x4.shuffle(m, m, 1, 0, 3, 2)), 0);
}

/**
 * Σ op.term(op.map(v)) over the n f32s at src, in f64, in a fixed order that
 * depends only on n: lane j (0..7) sums, in element order, the terms at
 * positions ≡ j (mod 8), each widened exactly from f32; the total is
 * ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). If op.stores, op.map(v)
 * is written to dst as it goes. A tail is read with `fill` in the missing
 * lanes, which op must map to a +0 term (adding +0 changes no sum). Op is a
 * class whose methods never touch `this`.
 */
@inline
export function row_sum<Op>(src: usize, dst: usize, n: i32, fill: f32, c: v128): f64 {
  const op = changetype<Op>(0);
  let a0 = f64x2.splat(0);
  let a1 = f64x2.splat(0);
  let a2 = f64x2.splat(0);
  let a3 = f64x2.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const off = (<usize>i) << 2;
    const m0 = op.map(v128.load(src + off), c);
    const m1 = op.map(v128.load(src + off, 16), c);
    if (op.stores) {
      v128.store(dst + off, m0);
      v128.store(dst + off, m1, 16);
    }
    const t0 = op.term(m0);
    const t1 = op.term(m1);
    a0 = acc_lo(a0, t0);
    a1 = acc_hi(a1, t0);
    a2 = acc_lo(a2, t1);
    a3 = acc_hi(a3, t1);
  }
  if (i < n) {
    const k = min(n - i, 4);
    const off = (<usize>i) << 2;
    const m = op.map(k == 4 ? v128.load(src + off) : load_partial(src + off, k, fill), c);
    if (op.stores) {
      if (k == 4) v128.store(dst + off, m);
      else store_partial(dst + off, m, k);
    }
    const t = op.term(m);
    a0 = acc_lo(a0, t);
    a1 = acc_hi(a1, t);
    i += 4;
  }
  if (i < n) {
    const off = (<usize>i) << 2;
    const k = n - i;
    const m = op.map(load_partial(src + off, k, fill), c);
    if (op.stores) store_partial(dst + off, m, k);
    const t = op.term(m);
    a2 = acc_lo(a2, t);
    a3 = acc_hi(a3, t);
  }
  return acc_total(a0, a1) + acc_total(a2, a3);
}

/**
 * y[i] = op.apply(x[i]) for i in [i0, i1): four lanes at a time, a tail
 * through the same lane arithmetic. x and y may be the same buffer.
 */
@inline
export function map_range<Op>(x: usize, y: usize, i0: i32, i1: i32): void {
  const op = changetype<Op>(0);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const off = (<usize>i) << 2;
    v128.store(y + off, op.apply(v128.load(x + off)));
  }
  if (i < i1) {
    const off = (<usize>i) << 2;
    store_partial(y + off, op.apply(load_partial(x + off, i1 - i, 0)), i1 - i);
  }
}

/** y[i] = op.apply2(a[i], b[i]) for i in [i0, i1), as map_range. */
@inline
export function map2_range<Op>(a: usize, b: usize, y: usize, i0: i32, i1: i32): void {
  const op = changetype<Op>(0);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const off = (<usize>i) << 2;
    v128.store(y + off, op.apply2(v128.load(a + off), v128.load(b + off)));
  }
  if (i < i1) {
    const off = (<usize>i) << 2;
    const k = i1 - i;
    store_partial(y + off, op.apply2(load_partial(a + off, k, 0), load_partial(b + off, k, 0)), k);
  }
}
