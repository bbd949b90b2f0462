/**
 * compare(): every parity metric of a candidate against a reference and a
 * verdict that names the precision explaining the difference (design.md,
 * "Parity: metrics and tiers").
 *
 * Verdict, in order:
 * 1. counts (and shapes, when both sides have one) must match — otherwise a
 *    CountMismatchError / ShapeError, never a ratio;
 * 2. any non-finite mismatch (NaN against a number, inf against a finite
 *    value, +inf against −inf) fails;
 * 3. tier `exact`: every finite pair 0 f32 ULPs apart;
 *    tier `ggml`: test-backend-ops' fixed NMSE limit for the op kind;
 *    with a magnitude (Σ|x||w| of a dot of length K, from the reference) or
 *    explicit per-element bounds: every |a − r| ≤ bound (tiers.ts), the report
 *    gives the worst ratio |a − r|/bound and where;
 *    otherwise: NMSE and cosine within the tier's derived thresholds
 *    (tiers.ts, tierThresholds).
 * What ggml's fixed limit would say is always computed beside it.
 */
import { CountMismatchError, ParityOptionError } from './errors.js';
import { formatNumber as fmt, formatCosine } from './format.js';
import { type GgmlOpKind, type GgmlVerdict, ggmlVerdict } from './ggml-limits.js';
import { type ErrorMetrics, errorMetrics } from './metrics.js';
import { checkPair, flatten, type TensorLike } from './tensor-input.js';
import {
  type Accumulation,
  isTierName,
  TIERS,
  type TierName,
  type TierThresholds,
  tierBoundCoefficient,
  tierThresholds,
} from './tiers.js';
import { type TopKAgreement, topKAgreement } from './topk.js';

/** A precision tier, or `ggml` for test-backend-ops' fixed limits. */
export type ParityTier = TierName | 'ggml';

export function isParityTier(s: string): s is ParityTier {
  return s === 'ggml' || isTierName(s);
}

export interface CompareOptions {
  tier: ParityTier;
  /** Per-element Σ_j|x_j|·|w_j| of the reference dot products (bound mode; needs K). */
  magnitude?: ArrayLike<number>;
  /** Dot-product length: the bound's γ(K, u), and the statistical model's depth (default 1). */
  K?: number;
  /** Explicit per-element bounds on |a − r| (e.g. oracle/nn-bounds.ts); bound mode without a magnitude. */
  bound?: ArrayLike<number>;
  /** Bound model for magnitudes: 'worst' (default) or 'probabilistic'. */
  boundModel?: 'worst' | 'probabilistic';
  /** Safety multiplier on the derived bound (default 1). */
  c?: number;
  /** Absolute slack added to each derived bound (default K·2^-149). */
  atol?: number;
  /** The candidate accumulated in this precision instead of f32. */
  accumulate?: Accumulation;
  /** Compute top-k agreement (logits); implied by k. */
  logits?: boolean;
  /** Top-k size (default 10). */
  k?: number;
  /** Row length for top-k; default the last dimension of the shape, else the whole tensor. */
  rowLength?: number;
  /** Op kind for the ggml limit; default 'mul_mat' with a magnitude, else 'default'. */
  ggmlOp?: GgmlOpKind;
  /** Floor of the relative-error denominator (default 2^-126). */
  relFloor?: number;
}

export interface Verdict {
  pass: boolean;
  tier: ParityTier;
  /** What decided: exact ULPs, per-element bounds, NMSE/cosine statistics, ggml's limit, or non-finite values. */
  basis: 'exact' | 'bound' | 'statistics' | 'ggml' | 'non-finite';
  reason: string;
}

export interface BoundCheck {
  source: 'magnitude' | 'explicit';
  model?: 'worst' | 'probabilistic';
  K?: number;
  /** max over finite pairs of |a − r| / bound (inf where a bound of 0 is exceeded). */
  worstRatio: number;
  index: number;
  /** Elements over their bound, and the count checked (finite pairs). */
  exceeded: number;
  count: number;
}

export interface WorstElement {
  index: number;
  candidate: number;
  reference: number;
  error: number;
  /** The element's bound (bound mode). */
  bound?: number;
}

export interface Comparison extends ErrorMetrics {
  tier: ParityTier;
  shape?: readonly number[];
  verdict: Verdict;
  /** First element over the tier, −1 if none (statistics mode: an element whose own error exceeds the whole NMSE budget). */
  firstExceeding: number;
  worst: WorstElement | null;
  bound?: BoundCheck;
  /** Statistics mode: the tier's derived thresholds for dots of length K. */
  thresholds?: TierThresholds & { K: number };
  topK?: TopKAgreement;
  ggml: GgmlVerdict;
}

function checkOptions(opts: CompareOptions, n: number): void {
  if (!isParityTier(opts.tier)) throw new ParityOptionError(`unknown tier ${JSON.stringify(opts.tier)}`);
  if (opts.magnitude && opts.bound)
    throw new ParityOptionError('give either a magnitude or explicit bounds, not both');
  if (opts.magnitude && !(Number.isInteger(opts.K) && (opts.K as number) > 0))
    throw new ParityOptionError('a magnitude needs K, the length of the dot products it sums');
  if (opts.K !== undefined && !(Number.isInteger(opts.K) && opts.K > 0))
    throw new ParityOptionError(`K must be a positive integer, got ${opts.K}`);
  if (opts.magnitude && opts.magnitude.length !== n)
    throw new CountMismatchError('compare: magnitude', opts.magnitude.length, n);
  if (opts.bound && opts.bound.length !== n)
    throw new CountMismatchError('compare: bound', opts.bound.length, n);
}

export function compare(candidate: TensorLike, reference: TensorLike, opts: CompareOptions): Comparison {
  const a = flatten(candidate, 'candidate');
  const r = flatten(reference, 'reference');
  const shape = checkPair(a, r);
  const n = a.data.length;
  checkOptions(opts, n);
  const m = errorMetrics(a.data, r.data, opts.relFloor);
  const ggml = ggmlVerdict(a.data, r.data, opts.ggmlOp ?? (opts.magnitude ? 'mul_mat' : 'default'));
  const result: Comparison = {
    ...m,
    tier: opts.tier,
    shape,
    verdict: { pass: true, tier: opts.tier, basis: 'statistics', reason: '' },
    firstExceeding: -1,
    worst: null,
    ggml,
  };
  if (opts.logits || opts.k !== undefined) {
    const rowLength = opts.rowLength ?? (shape && shape.length > 0 ? shape[shape.length - 1] : n);
    result.topK = topKAgreement(a.data, r.data, rowLength, opts.k ?? 10);
  }
  const at = (i: number, bound?: number): WorstElement => ({
    index: i,
    candidate: +a.data[i],
    reference: +r.data[i],
    error: Math.abs(a.data[i] - r.data[i]),
    ...(bound !== undefined ? { bound } : {}),
  });

  if (opts.tier === 'ggml') {
    result.verdict = { pass: ggml.pass, tier: 'ggml', basis: 'ggml', reason: ggml.reason };
    if (m.maxAbs.index >= 0) result.worst = at(m.maxAbs.index);
    if (m.census.mismatches.first >= 0) result.worst = at(m.census.mismatches.first);
    return result;
  }

  const tier = opts.tier;
  if (tier === 'exact') {
    const first = firstUlpMismatch(a.data, r.data);
    result.firstExceeding = first;
    if (m.ulp.max.index >= 0) result.worst = at(m.ulp.max.index);
    const pass = m.ulp.max.value === 0;
    result.verdict = {
      pass,
      tier,
      basis: 'exact',
      reason: pass
        ? `all ${m.finiteCount} finite values bit-identical in f32`
        : `values differ from index ${first} (max ${fmt(m.ulp.max.value)} ULP at index ${m.ulp.max.index})`,
    };
  } else if (opts.magnitude || opts.bound) {
    const check = boundCheck(a.data, r.data, tier, opts);
    result.bound = check.summary;
    result.firstExceeding = check.first;
    if (check.summary.index >= 0) result.worst = at(check.summary.index, check.worstBound);
    const b = check.summary;
    const where = b.index >= 0 ? ` at index ${b.index}` : '';
    result.verdict = {
      pass: b.worstRatio <= 1,
      tier,
      basis: 'bound',
      reason:
        b.worstRatio <= 1
          ? `every element within the ${tier} bound (worst |a−r|/bound ${fmt(b.worstRatio)}${where})`
          : `${b.exceeded} of ${b.count} elements over the ${tier} bound (worst |a−r|/bound ${fmt(b.worstRatio)}${where})`,
    };
  } else {
    const K = opts.K ?? 1;
    const t = tierThresholds(tier, K, opts.accumulate);
    result.thresholds = { ...t, K };
    let rr = 0;
    for (let i = 0; i < n; i++) {
      const x = r.data[i];
      if (Number.isFinite(x) && Number.isFinite(a.data[i])) rr += x * x;
    }
    result.firstExceeding = firstOverBudget(a.data, r.data, t.nmse * rr);
    if (m.maxAbs.index >= 0) result.worst = at(m.maxAbs.index);
    const okN = m.nmse <= t.nmse;
    const okC = m.cosine >= t.cosine;
    const depth = K > 1 ? `, K = ${K}` : '';
    result.verdict = {
      pass: okN && okC,
      tier,
      basis: 'statistics',
      reason:
        `NMSE ${fmt(m.nmse)} ${okN ? '≤' : '>'} ${fmt(t.nmse)} and cosine ${formatCosine(m.cosine)} ` +
        `${okC ? '≥' : '<'} ${formatCosine(t.cosine)} (${tier} thresholds${depth}, over ${m.finiteCount} values)`,
    };
  }

  const mm = m.census.mismatches;
  const bad = mm.nan + mm.inf + mm.infSign;
  if (bad > 0) {
    const i = mm.first;
    if (result.firstExceeding < 0 || i < result.firstExceeding) result.firstExceeding = i;
    result.worst = at(i);
    result.verdict = {
      pass: false,
      tier,
      basis: 'non-finite',
      reason: `${bad} non-finite mismatches (${mm.nan} NaN, ${mm.inf} inf vs finite, ${mm.infSign} inf sign); first at index ${i}: candidate ${a.data[i]}, reference ${r.data[i]}`,
    };
  }
  return result;
}

function boundCheck(
  a: ArrayLike<number>,
  r: ArrayLike<number>,
  tier: TierName,
  opts: CompareOptions,
): { summary: BoundCheck; first: number; worstBound: number } {
  const n = a.length;
  const K = opts.K ?? 1;
  const model = opts.boundModel ?? 'worst';
  const explicit = opts.bound;
  const mag = opts.magnitude;
  const rho = tierBoundCoefficient(tier, K, { model, accumulate: opts.accumulate });
  const out = TIERS[tier].outputU;
  const c = opts.c ?? 1;
  const atol = opts.atol ?? K * 2 ** -149;
  let worstRatio = 0;
  let index = -1;
  let worstBound = 0;
  let exceeded = 0;
  let count = 0;
  let first = -1;
  for (let i = 0; i < n; i++) {
    const x = +a[i];
    const y = +r[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    count++;
    let bound: number;
    if (explicit) bound = +explicit[i];
    else {
      const mi = +(mag as ArrayLike<number>)[i];
      bound = c * (rho * mi + out * (Math.abs(y) + rho * mi)) + atol;
    }
    const e = Math.abs(x - y);
    const ratio = e === 0 ? 0 : bound > 0 ? e / bound : Number.POSITIVE_INFINITY;
    if (ratio > 1) {
      exceeded++;
      if (first < 0) first = i;
    }
    if (ratio > worstRatio || index < 0) {
      worstRatio = ratio;
      index = i;
      worstBound = bound;
    }
  }
  return {
    summary: {
      source: explicit ? 'explicit' : 'magnitude',
      ...(explicit ? {} : { model, K }),
      worstRatio,
      index,
      exceeded,
      count,
    },
    first,
    worstBound,
  };
}

function firstUlpMismatch(a: ArrayLike<number>, r: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) {
    const x = Math.fround(a[i]);
    const y = Math.fround(r[i]);
    if (Number.isFinite(x) && Number.isFinite(y) && x !== y) return i;
  }
  return -1;
}

/** First finite pair whose squared error alone exceeds the NMSE budget κ²σ²·Σr². */
function firstOverBudget(a: ArrayLike<number>, r: ArrayLike<number>, budget: number): number {
  for (let i = 0; i < a.length; i++) {
    const x = +a[i];
    const y = +r[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const e = x - y;
    if (e * e > budget) return i;
  }
  return -1;
}
