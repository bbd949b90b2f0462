// MoE routing over a token range (semantics: src/ops/moe-route.ts). Per token:
// selection values (the logits, or sigmoid(logit) + bias), optional group
// limit, top-k by a SIMD scan, then the weights. The scan visits experts in
// increasing index and a value enters the list only when strictly greater
// than the k-th, and is placed after equal ones: ties go to the lower index.
// The running list lives in the token's own output row (ids in experts, values
// in weights, overwritten by the weights at the end), so nothing is allocated
// and every token is computed by one call: any split gives the same bits.
import { exp_v128 } from '../nn/exp';
import { hmax, load_partial, row_sum } from '../nn/vec';

const NEG_INF: f32 = -Infinity;
const NORM_MIN: f64 = 6.103515625e-5;

// flags: bits 0–1 gating, bit 2 normalize.
const GATING_SOFTMAX = 0;
const GATING_SIGMOID = 1;
const GATING_TOPK_SOFTMAX = 2;
const FLAG_NORMALIZE = 4;

/** Σ exp(v − c): the softmax denominator, in row_sum's fixed f64 order. */
@final class ExpShifted {
  @inline get stores(): bool { return false; }
  @inline map(v: v128, c: v128): v128 { return exp_v128(f32x4.sub(v, c)); }
  @inline term(m: v128): v128 { return m; }
}

/** 1 / (1 + e^(−l)): exp then two rounded f32 operations. */
@inline
function sigmoid4(l: v128): v128 {
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), exp_v128(f32x4.neg(l))));
}

/** Selection values of experts i..i+3 (sigmoid: σ(l) + bias). */
@inline
function sel4(l: v128, bias: usize, i: i32, sig: bool): v128 {
  if (!sig) return l;
  const s = sigmoid4(l);
  return bias ? f32x4.add(s, v128.load(bias + ((<usize>i) << 2))) : s;
}

/** The same lane arithmetic for one expert (the same bits as in a vector). */
@inline
function sel1(row: usize, bias: usize, i: i32, sig: bool): f32 {
  const l = f32x4.splat(load<f32>(row + ((<usize>i) << 2)));
  if (!sig) return f32x4.extract_lane(l, 0);
  const s = f32x4.extract_lane(sigmoid4(l), 0);
  return bias ? s + load<f32>(bias + ((<usize>i) << 2)) : s;
}

/** Offers expert i with value v to the list (ids, vals) holding n of k; returns the new n. */
@inline
function offer(ids: usize, vals: usize, k: i32, n: i32, i: i32, v: f32): i32 {
  let p = n < k ? n : k - 1;
  if (n == k && !(v > load<f32>(vals + ((<usize>p) << 2)))) return n;
  while (p > 0) {
    const q = vals + ((<usize>(p - 1)) << 2);
    if (!(load<f32>(q) < v)) break;
    store<f32>(q, load<f32>(q), 4);
    store<i32>(ids + ((<usize>p) << 2), load<i32>(ids + ((<usize>(p - 1)) << 2)));
    p--;
  }
  store<f32>(vals + ((<usize>p) << 2), v);
  store<i32>(ids + ((<usize>p) << 2), i);
  return n < k ? n + 1 : n;
}

/** Offers experts [lo, hi); a chunk of four is skipped when none beats the k-th value. */
@inline
function scan(row: usize, bias: usize, sig: bool, lo: i32, hi: i32, ids: usize, vals: usize, k: i32, n: i32): i32 {
  const last = vals + ((<usize>(k - 1)) << 2);
  let i = lo;
  for (; i + 4 <= hi; i += 4) {
    const v = sel4(v128.load(row + ((<usize>i) << 2)), bias, i, sig);
    // Lanes that beat the k-th value as the chunk starts (offer re-checks as it rises).
    const beats = n == k ? i32x4.bitmask(f32x4.gt(v, f32x4.splat(load<f32>(last)))) : 15;
    if (!beats) continue;
    if (beats & 1) n = offer(ids, vals, k, n, i, f32x4.extract_lane(v, 0));
    if (beats & 2) n = offer(ids, vals, k, n, i + 1, f32x4.extract_lane(v, 1));
    if (beats & 4) n = offer(ids, vals, k, n, i + 2, f32x4.extract_lane(v, 2));
    if (beats & 8) n = offer(ids, vals, k, n, i + 3, f32x4.extract_lane(v, 3));
  }
  for (; i < hi; i++) n = offer(ids, vals, k, n, i, sel1(row, bias, i, sig));
  return n;
}

/** Keeps the two largest of the values seen (a ≥ b). */
@inline
function top2(ab: v128, v: f32): v128 {
  const a = f64x2.extract_lane(ab, 0);
  const b = f64x2.extract_lane(ab, 1);
  const x = <f64>v;
  if (x > a) return f64x2.replace_lane(f64x2.replace_lane(ab, 1, a), 0, x);
  return x > b ? f64x2.replace_lane(ab, 1, x) : ab;
}

/**
 * Sum of the top-2 selection values of experts [lo, hi) (one expert: its
 * value), the sum rounded to f32. Values come four at a time from sel4 (the
 * same bits as sel1); the two largest are kept exactly (f32 in f64 lanes).
 */
@inline
function group_score(row: usize, bias: usize, sig: bool, lo: i32, hi: i32): f32 {
  let ab = f64x2.splat(-Infinity);
  let i = lo;
  for (; i + 4 <= hi; i += 4) {
    const v = sel4(v128.load(row + ((<usize>i) << 2)), bias, i, sig);
    ab = top2(ab, f32x4.extract_lane(v, 0));
    ab = top2(ab, f32x4.extract_lane(v, 1));
    ab = top2(ab, f32x4.extract_lane(v, 2));
    ab = top2(ab, f32x4.extract_lane(v, 3));
  }
  for (; i < hi; i++) ab = top2(ab, sel1(row, bias, i, sig));
  const a = <f32>f64x2.extract_lane(ab, 0);
  return hi - lo > 1 ? a + <f32>f64x2.extract_lane(ab, 1) : a;
}

/** Groups kept: the top `keep` of the n scores at gs (ties: lower group), as a bit mask. */
@inline
function keep_groups(gs: usize, n: i32, keep: i32): u64 {
  let kept: u64 = 0;
  for (let r = 0; r < keep; r++) {
    let best = -1;
    let bv = NEG_INF;
    for (let g = 0; g < n; g++) {
      if (kept & ((<u64>1) << g)) continue;
      const v = load<f32>(gs + ((<usize>g) << 2));
      if (best < 0 || v > bv) {
        best = g;
        bv = v;
      }
    }
    kept |= (<u64>1) << best;
  }
  return kept;
}

@inline
function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp_v128(f32x4.splat(x)), 0);
}

/**
 * Routes tokens [t0, t1) of logits [T, E]: experts [T, k] i32 and weights
 * [T, k] f32. flags: gating (0 softmax, 1 sigmoid, 2 top-k then softmax) |
 * 4 (normalize). groups = nGroup | topkGroup << 8; with nGroup > 1 each
 * token's group scores are written to gscores [T, nGroup] (else gscores may
 * be 0). bias: f32 [E] or 0. scale: applied after normalization (1: none).
 * Softmax: m = max, Σ exp(l − m) in row_sum's f64 order, p = exp(l − m)·f32(1/Σ)
 * (nn_softmax's arithmetic). Normalization: Σp in f64 over the list order,
 * w = f32(p · (scale / max(Σp, 2^-14))), the factor in f64.
 */
export function moe_route(
  logits: usize,
  bias: usize,
  gscores: usize,
  weights: usize,
  experts: usize,
  E: i32,
  k: i32,
  flags: i32,
  groups: i32,
  scale: f32,
  t0: i32,
  t1: i32,
): void {
  const gating = flags & 3;
  const sig = gating == GATING_SIGMOID;
  const nGroup = groups & 255;
  const topkGroup = groups >> 8;
  const size = E / nGroup;
  for (let t = t0; t < t1; t++) {
    const row = logits + (<usize>t) * (<usize>E << 2);
    const vals = weights + (<usize>t) * (<usize>k << 2);
    const ids = experts + (<usize>t) * (<usize>k << 2);
    let n = 0;
    if (nGroup > 1) {
      const gs = gscores + (<usize>t) * (<usize>nGroup << 2);
      for (let g = 0; g < nGroup; g++) store<f32>(gs + ((<usize>g) << 2), group_score(row, bias, sig, g * size, g * size + size));
      const kept = keep_groups(gs, nGroup, topkGroup);
      for (let g = 0; g < nGroup; g++)
        if (kept & ((<u64>1) << g)) n = scan(row, bias, sig, g * size, g * size + size, ids, vals, k, n);
    } else n = scan(row, bias, sig, 0, E, ids, vals, k, n);

    // Probabilities of the selected experts, into vals.
    if (gating == GATING_SOFTMAX) {
      let mx = f32x4.splat(NEG_INF);
      let i = 0;
      for (; i + 4 <= E; i += 4) mx = f32x4.max(mx, v128.load(row + ((<usize>i) << 2)));
      if (i < E) mx = f32x4.max(mx, load_partial(row + ((<usize>i) << 2), E - i, NEG_INF));
      const m = hmax(mx);
      const inv = <f32>(1.0 / row_sum<ExpShifted>(row, 0, E, NEG_INF, f32x4.splat(m)));
      for (let j = 0; j < k; j++) {
        const e = load<i32>(ids + ((<usize>j) << 2));
        store<f32>(vals + ((<usize>j) << 2), exp1(load<f32>(row + ((<usize>e) << 2)) - m) * inv);
      }
    } else if (gating == GATING_TOPK_SOFTMAX) {
      const m = load<f32>(vals);
      let sum: f64 = 0;
      for (let j = 0; j < k; j++) {
        const p = vals + ((<usize>j) << 2);
        const e = exp1(load<f32>(p) - m);
        store<f32>(p, e);
        sum += <f64>e;
      }
      const inv = <f32>(1.0 / sum);
      for (let j = 0; j < k; j++) {
        const p = vals + ((<usize>j) << 2);
        store<f32>(p, load<f32>(p) * inv);
      }
    } else {
      for (let j = 0; j < k; j++) {
        const e = load<i32>(ids + ((<usize>j) << 2));
        store<f32>(vals + ((<usize>j) << 2), sel1(row, 0, e, true));
      }
    }

    if (flags & FLAG_NORMALIZE) {
      let sum: f64 = 0;
      for (let j = 0; j < k; j++) sum += <f64>load<f32>(vals + ((<usize>j) << 2));
      const f = <f64>scale / max(sum, NORM_MIN);
      for (let j = 0; j < k; j++) {
        const p = vals + ((<usize>j) << 2);
        store<f32>(p, <f32>(<f64>load<f32>(p) * f));
      }
    } else if (scale != 1) {
      for (let j = 0; j < k; j++) {
        const p = vals + ((<usize>j) << 2);
        store<f32>(p, <f32>(<f64>load<f32>(p) * <f64>scale));
      }
    }
  }
}
