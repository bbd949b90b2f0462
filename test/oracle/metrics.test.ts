import { describe, expect, it } from 'vitest';
import { CountMismatchError } from '../../src/oracle/errors.js';
import { errorMetrics, REL_FLOOR } from '../../src/oracle/metrics.js';
import { stdRatio, tensorStats } from '../../src/oracle/stats.js';
import { topKAgreement, topKIndices } from '../../src/oracle/topk.js';
import { f32Key, percentile, UlpHistogram, ulpDistance } from '../../src/oracle/ulp.js';
import { bitsToF32 } from '../../src/types/half.js';

const FLT_MAX = bitsToF32(0x7f7fffff);
const MIN_SUB = 2 ** -149;

describe('f32 ULP distance', () => {
  it('counts representable f32 values between two numbers', () => {
    expect(ulpDistance(1, 1 + 2 ** -23)).toBe(1);
    expect(ulpDistance(1, 1 - 2 ** -24)).toBe(1); // across the exponent boundary: the spacing halves below 1
    expect(ulpDistance(1 + 2 ** -23, 1 - 2 ** -24)).toBe(2);
    expect(ulpDistance(2, 1)).toBe(2 ** 23);
    expect(ulpDistance(FLT_MAX, Number.POSITIVE_INFINITY)).toBe(1);
    expect(ulpDistance(2 ** -126, 2 ** -126 - MIN_SUB)).toBe(1); // normal ↔ largest subnormal
  });

  it('±0 are equal; distances across zero add both sides', () => {
    expect(ulpDistance(0, -0)).toBe(0);
    expect(ulpDistance(MIN_SUB, -MIN_SUB)).toBe(2);
    expect(ulpDistance(MIN_SUB, -0)).toBe(1);
    expect(ulpDistance(1, -1)).toBe(2 * 0x3f800000);
    expect(f32Key(-0)).toBe(0);
    expect(f32Key(-MIN_SUB)).toBe(-1);
  });

  it('rounds a float64 to f32 first and has no distance for NaN', () => {
    expect(ulpDistance(0.1, Math.fround(0.1))).toBe(0);
    expect(ulpDistance(Number.NaN, 1)).toBeNaN();
    expect(ulpDistance(1, Number.NaN)).toBeNaN();
  });

  it('percentile by nearest rank', () => {
    const v = Float64Array.from({ length: 100 }, (_, i) => 99 - i);
    expect(percentile(v, 0.99)).toBe(98);
    expect(percentile(Float64Array.of(5), 0.99)).toBe(5);
    expect(percentile(Float64Array.of(3, 1, 2, 2), 0.5)).toBe(2);
  });
});

describe('errorMetrics on hand-made arrays', () => {
  const r = [2, -4, 0, 1e-39];
  const a = [2.5, -3, 1e-3, 2e-39];

  it('max abs, max rel with its near-zero floor, RMSE, NMSE, cosine', () => {
    const m = errorMetrics(a, r);
    expect(m.count).toBe(4);
    expect(m.finiteCount).toBe(4);
    expect(m.maxAbs).toEqual({ value: 1, index: 1 });
    // |r| below 2^-126 (0 and 1e-39) is left out of the relative error; the first 0.25 wins the tie.
    expect(m.maxRel).toEqual({ value: 0.25, index: 0, count: 2, floor: REL_FLOOR });
    const se = 0.25 + 1 + 1e-6 + 1e-78;
    expect(m.rmse).toBeCloseTo(Math.sqrt(se / 4), 15);
    expect(m.nmse).toBeCloseTo(se / 20, 15);
    expect(m.cosine).toBeCloseTo((5 + 12 + 2e-78) / Math.sqrt((6.25 + 9 + 1e-6 + 4e-78) * 20), 15);
  });

  it('NMSE and cosine of zero vectors', () => {
    expect(errorMetrics([0, 0], [0, 0])).toMatchObject({ nmse: 0, cosine: 1, rmse: 0 });
    expect(errorMetrics([1, 0], [0, 0])).toMatchObject({ nmse: Number.POSITIVE_INFINITY, cosine: 0 });
  });

  it('ULP max and p99 over finite pairs', () => {
    const ref = Float32Array.from({ length: 100 }, (_, i) => 1 + i);
    const cand = Float32Array.from(ref);
    const view = new Int32Array(cand.buffer);
    for (let i = 0; i < 100; i++) view[i] += i; // element i is i ULPs away
    const m = errorMetrics(cand, ref);
    expect(m.ulp.max).toEqual({ value: 99, index: 99 });
    expect(m.ulp.p99).toBe(98);
    expect(m.ulp.count).toBe(100);
  });

  it('NaN/inf census and mismatches', () => {
    const inf = Number.POSITIVE_INFINITY;
    const cand = [Number.NaN, 1, inf, -inf, Number.NaN, 5, inf, 0];
    const ref = [Number.NaN, Number.NaN, inf, inf, 2, 5, 3, -0];
    const m = errorMetrics(cand, ref);
    expect(m.census.candidate).toEqual({ nan: 2, posInf: 2, negInf: 1 });
    expect(m.census.reference).toEqual({ nan: 2, posInf: 2, negInf: 0 });
    // NaN/NaN and inf/inf agree; 1 vs NaN and NaN vs 2 are NaN mismatches, −inf vs inf a sign mismatch, inf vs 3 one-sided.
    expect(m.census.mismatches).toEqual({ nan: 2, inf: 1, infSign: 1, first: 1 });
    expect(m.finiteCount).toBe(2);
    expect(m.maxAbs).toEqual({ value: 0, index: 5 });
    expect(m.ulp.max.value).toBe(0); // +0 against −0
  });

  it('std ratio carries its count; different counts are an error', () => {
    const m = errorMetrics([1, 3], [0, 4]);
    expect(m.std.candidate).toEqual({ count: 2, mean: 2, std: 1, min: 1, max: 3 });
    expect(m.std.reference.std).toBe(2);
    expect(m.std.ratio).toBe(0.5);
    expect(m.std.count).toBe(2);
    expect(() => stdRatio(tensorStats([1, 2, 3]), tensorStats([1, 2]))).toThrow(CountMismatchError);
    expect(stdRatio(tensorStats([1, 1]), tensorStats([2, 2])).ratio).toBe(1);
    expect(tensorStats([1, Number.NaN, 3]).count).toBe(2);
  });

  it('different counts are an error, not a ratio', () => {
    expect(() => errorMetrics([1, 2, 3], [1, 2])).toThrow(CountMismatchError);
  });
});

describe('top-k agreement', () => {
  it('top-k indices: largest first, lower index on ties, NaN last', () => {
    expect(topKIndices([1, 5, 3, 5, Number.NaN, 4], 3)).toEqual([1, 3, 5]);
    expect(topKIndices([Number.NaN, 2], 2)).toEqual([1, 0]);
    expect(topKIndices([3, 1], 5)).toEqual([0, 1]);
  });

  it('overlap and argmax per row', () => {
    // Row 0: same top-2 in another order (argmax differs); row 1: identical; row 2: one of two shared.
    const ref = [9, 8, 1, 0, /**/ 0, 1, 2, 3, /**/ 5, 4, 3, 2];
    const cand = [8, 9, 1, 0, /**/ 0, 1, 2, 3, /**/ 5, 3, 4, 2];
    const t = topKAgreement(cand, ref, 4, 2);
    expect(t).toEqual({
      k: 2,
      rows: 3,
      meanOverlap: (1 + 1 + 0.5) / 3,
      minOverlap: 0.5,
      minOverlapRow: 2,
      argmaxAgree: 2,
      firstArgmaxMismatch: 0,
    });
  });
});

describe('ULP histogram percentiles', () => {
  it('agree with sorting, small and large distances mixed', () => {
    const h = new UlpHistogram();
    const all: number[] = [];
    let s = 3;
    for (let i = 0; i < 5000; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const d = s % 7 === 0 ? 65536 + (s >>> 8) : s % 300;
      h.add(d);
      all.push(d);
    }
    all.sort((x, y) => x - y);
    for (const p of [0.01, 0.5, 0.8, 0.857, 0.9, 0.99, 1])
      expect(h.percentile(p), `p = ${p}`).toBe(all[Math.ceil(p * all.length) - 1]);
    expect(new UlpHistogram().percentile(0.99)).toBe(0);
  });
});
