/**
 * Error metrics of a candidate against a reference, in one float64 pass
 * (design.md, "Parity: metrics and tiers"). Every statistic carries its count.
 *
 * Non-finite values are censused, not averaged: a pair where both sides are
 * NaN, or both are the same infinity, agrees; a NaN against a number, an
 * infinity against a finite value, or +inf against −inf is a mismatch. The
 * numeric metrics (abs/rel error, RMSE, NMSE, cosine, stats, ULP) run over the
 * pairs where both sides are finite, and say how many that is.
 */
import { CountMismatchError } from './errors.js';
import { StatsAccumulator, type StdRatio, stdRatio, type TensorStats } from './stats.js';
import { UlpHistogram } from './ulp.js';

export interface NonFiniteCensus {
  nan: number;
  posInf: number;
  negInf: number;
}

export interface MismatchCensus {
  /** NaN on one side, a number (finite or inf) on the other. */
  nan: number;
  /** ±inf on one side, a finite value on the other. */
  inf: number;
  /** +inf against −inf. */
  infSign: number;
  /** Index of the first mismatch of any kind, or −1. */
  first: number;
}

/** A located extreme: the value and the element where it occurs (−1 when count is 0). */
export interface Located {
  value: number;
  index: number;
}

export interface ErrorMetrics {
  /** Elements in each tensor. */
  count: number;
  /** Pairs where both sides are finite: the count of every numeric metric below. */
  finiteCount: number;
  census: { candidate: NonFiniteCensus; reference: NonFiniteCensus; mismatches: MismatchCensus };
  maxAbs: Located;
  /**
   * max |a − r| / |r| over the pairs with |r| ≥ relFloor (count says how
   * many). Below the smallest normal f32 a value has no relative precision
   * left (subnormal spacing is a fixed 2^-149), so those elements are judged
   * by their absolute error alone.
   */
  maxRel: Located & { count: number; floor: number };
  rmse: number;
  /** Σ(a−r)² / Σr², in float64 (0 when both sums are 0, inf when only Σr² is). */
  nmse: number;
  /** Σar / √(Σa²·Σr²); 1 when both are all zeros, 0 when only one is. */
  cosine: number;
  /** f32 ULP distance (reference rounded to f32, ±0 equal) over finite pairs. */
  ulp: { max: Located; p99: number; count: number };
  std: { candidate: TensorStats; reference: TensorStats } & StdRatio;
}

/** Smallest normal f32: the default floor of the relative-error denominator. */
export const REL_FLOOR = 2 ** -126;

const f32buf = new Float32Array(2);
const i32buf = new Int32Array(f32buf.buffer);

function census(): NonFiniteCensus {
  return { nan: 0, posInf: 0, negInf: 0 };
}

function tally(c: NonFiniteCensus, x: number): void {
  if (Number.isNaN(x)) c.nan++;
  else if (x === Number.POSITIVE_INFINITY) c.posInf++;
  else if (x === Number.NEGATIVE_INFINITY) c.negInf++;
}

export function errorMetrics(
  candidate: ArrayLike<number>,
  reference: ArrayLike<number>,
  relFloor = REL_FLOOR,
): ErrorMetrics {
  if (candidate.length !== reference.length)
    throw new CountMismatchError('errorMetrics', candidate.length, reference.length);
  const n = reference.length;
  const cc = census();
  const rc = census();
  const mm: MismatchCensus = { nan: 0, inf: 0, infSign: 0, first: -1 };
  const sa = new StatsAccumulator();
  const sr = new StatsAccumulator();
  const ulps = new UlpHistogram();
  let nf = 0;
  let se = 0;
  let rr = 0;
  let aa = 0;
  let ar = 0;
  const maxAbs: Located = { value: 0, index: -1 };
  const maxRel = { value: 0, index: -1, count: 0, floor: relFloor };
  const maxUlp: Located = { value: 0, index: -1 };
  for (let i = 0; i < n; i++) {
    const a = +candidate[i];
    const r = +reference[i];
    if (!Number.isFinite(a) || !Number.isFinite(r)) {
      tally(cc, a);
      tally(rc, r);
      const an = Number.isNaN(a);
      const rn = Number.isNaN(r);
      let bad = false;
      if (an !== rn) {
        mm.nan++;
        bad = true;
      } else if (!an) {
        if (Number.isFinite(a) || Number.isFinite(r)) {
          mm.inf++;
          bad = true;
        } else if (a !== r) {
          mm.infSign++;
          bad = true;
        }
      }
      if (bad && mm.first < 0) mm.first = i;
      continue;
    }
    const e = a - r;
    const ae = Math.abs(e);
    if (ae > maxAbs.value || maxAbs.index < 0) {
      maxAbs.value = ae;
      maxAbs.index = i;
    }
    const ra = Math.abs(r);
    if (ra >= relFloor) {
      maxRel.count++;
      const rel = ae / ra;
      if (rel > maxRel.value || maxRel.index < 0) {
        maxRel.value = rel;
        maxRel.index = i;
      }
    }
    se += e * e;
    rr += r * r;
    aa += a * a;
    ar += a * r;
    sa.add(a);
    sr.add(r);
    // ULP distance of the f32 roundings (ordered keys: −x ↦ −key(x), ±0 ↦ 0).
    f32buf[0] = a;
    f32buf[1] = r;
    const ba = i32buf[0];
    const br = i32buf[1];
    const d = Math.abs((ba < 0 ? -(ba & 0x7fffffff) : ba) - (br < 0 ? -(br & 0x7fffffff) : br));
    ulps.add(d);
    nf++;
    if (d > maxUlp.value || maxUlp.index < 0) {
      maxUlp.value = d;
      maxUlp.index = i;
    }
  }
  const candidateStats = sa.result();
  const referenceStats = sr.result();
  return {
    count: n,
    finiteCount: nf,
    census: { candidate: cc, reference: rc, mismatches: mm },
    maxAbs,
    maxRel,
    rmse: nf ? Math.sqrt(se / nf) : 0,
    nmse: rr ? se / rr : se ? Number.POSITIVE_INFINITY : 0,
    cosine: aa && rr ? ar / (Math.sqrt(aa) * Math.sqrt(rr)) : aa === rr ? 1 : 0,
    ulp: { max: maxUlp, p99: ulps.percentile(0.99), count: nf },
    std: {
      candidate: candidateStats,
      reference: referenceStats,
      ...stdRatio(candidateStats, referenceStats),
    },
  };
}
