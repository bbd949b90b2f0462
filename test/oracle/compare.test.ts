import { describe, expect, it } from 'vitest';
import { referenceMatmul } from '../../src/backends/reference/matmul.js';
import { ShapeError } from '../../src/errors.js';
import { compare } from '../../src/oracle/compare.js';
import { roundOperands } from '../../src/oracle/emulate.js';
import { emulatedMatmul } from '../../src/oracle/emulated-matmul.js';
import { CountMismatchError, ParityOptionError } from '../../src/oracle/errors.js';
import { GGML_NMSE_LIMITS, ggmlVerdict } from '../../src/oracle/ggml-limits.js';
import { formatComparison } from '../../src/oracle/report.js';
import {
  STATISTICAL_SAFETY,
  TIERS,
  tierBound,
  tierThresholds,
  tierVariance,
} from '../../src/oracle/tiers.js';
import { bitsToF32 } from '../../src/types/half.js';

function uniforms(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

describe('compare: counts and shapes first', () => {
  it('different counts throw CountMismatchError, never a ratio', () => {
    expect(() => compare(new Float32Array(3), new Float64Array(4), { tier: 'f32' })).toThrow(
      CountMismatchError,
    );
    expect(() =>
      compare(new Float32Array(4), new Float64Array(4), { tier: 'f32', magnitude: [1, 2], K: 2 }),
    ).toThrow(CountMismatchError);
  });

  it('shapes that differ with the same count throw ShapeError', () => {
    const d = new Float32Array(6);
    expect(() => compare({ data: d, shape: [2, 3] }, { data: d, shape: [3, 2] }, { tier: 'f32' })).toThrow(
      ShapeError,
    );
    expect(() => compare({ data: d, shape: [2, 2] }, d, { tier: 'f32' })).toThrow(ShapeError);
    expect(compare({ data: d, shape: [2, 3] }, d, { tier: 'f32' }).shape).toEqual([2, 3]);
  });

  it('options that do not fit throw ParityOptionError', () => {
    const d = [1, 2];
    expect(() => compare(d, d, { tier: 'f33' as 'f32' })).toThrow(ParityOptionError);
    expect(() => compare(d, d, { tier: 'f32', magnitude: [1, 1] })).toThrow(/needs K/);
    expect(() => compare(d, d, { tier: 'f32', magnitude: [1, 1], bound: [1, 1], K: 1 })).toThrow(
      ParityOptionError,
    );
  });
});

describe('compare: verdicts', () => {
  it('exact: bit-identical f32 values, ±0 equal, one ULP fails at its index', () => {
    const r = new Float64Array([1, -0, 0.5, Number.NaN]);
    expect(compare(new Float32Array([1, 0, 0.5, Number.NaN]), r, { tier: 'exact' }).verdict.pass).toBe(true);
    const c = compare(new Float32Array([1, 0, bitsToF32(0x3f000001), Number.NaN]), r, { tier: 'exact' });
    expect(c.verdict).toMatchObject({ pass: false, basis: 'exact' });
    expect(c.firstExceeding).toBe(2);
    expect(c.ulp.max).toEqual({ value: 1, index: 2 });
  });

  it('a non-finite mismatch fails every tier and is the first element over it', () => {
    for (const tier of ['f32', 'bf16', 'q8', 'exact', 'ggml'] as const) {
      const c = compare([1, 2, Number.NaN, 4], [1, 2, 3, 4], { tier });
      expect(c.verdict.pass).toBe(false);
      expect(c.firstExceeding === 2 || tier === 'ggml').toBe(true);
    }
    const c = compare([1, Number.NEGATIVE_INFINITY], [1, Number.POSITIVE_INFINITY], { tier: 'bf16' });
    expect(c.verdict.basis).toBe('non-finite');
    expect(c.verdict.reason).toMatch(/1 inf sign/);
    expect(c.worst?.index).toBe(1);
  });

  it('statistics: derived thresholds decide, and the ggml default limit can disagree', () => {
    // bf16 storage of f32 values: NMSE ≈ 2^-16/3·(mantissa spread) — over ggml's 1e-7, within the bf16 tier.
    const x = uniforms(4096, 1);
    const bf = roundOperands(x, 'bf16');
    const c = compare(bf, x, { tier: 'bf16' });
    expect(c.verdict).toMatchObject({ pass: true, basis: 'statistics' });
    expect(c.ggml).toMatchObject({ op: 'default', limit: 1e-7, pass: false });
    expect(c.thresholds?.nmse).toBe(tierThresholds('bf16').nmse);
    // The same values claimed as f32 fail.
    expect(compare(bf, x, { tier: 'f32' }).verdict.pass).toBe(false);
    // An f32-rounded copy of float64 values passes f32 with K = 1.
    const d = Float64Array.from(x, (v, i) => v + (i % 3) * 2 ** -30);
    expect(compare(Float32Array.from(d), d, { tier: 'f32' }).verdict.pass).toBe(true);
  });

  it('statistics: the first element over the tier is one whose error alone exceeds the NMSE budget', () => {
    const x = uniforms(1000, 2);
    const y = Float32Array.from(x);
    y[700] += 0.5;
    const c = compare(y, x, { tier: 'f32' });
    expect(c.verdict.pass).toBe(false);
    expect(c.firstExceeding).toBe(700);
    expect(c.worst).toMatchObject({ index: 700 });
  });

  it('bound: a TF32 matmul passes the tf32 tier, a planted bug with bound ratio 40 fails despite cosine 0.99999', () => {
    const M = 64;
    const N = 512;
    const K = 64;
    const x = uniforms(M * K, 3);
    const w = uniforms(N * K, 4);
    const ref = referenceMatmul(x, w, M, N, K);
    for (const inputs of ['tf32-rna', 'tf32-rne', 'tf32-trunc'] as const) {
      const e = emulatedMatmul(x, w, M, N, K, { inputs, accumulate: 'f32' });
      const ok = compare({ data: e.y, shape: [M, N] }, ref.y, { tier: 'tf32', magnitude: ref.magnitude, K });
      expect(ok.verdict).toMatchObject({ pass: true, basis: 'bound' });
      expect(ok.bound!.worstRatio).toBeLessThanOrEqual(1);
      expect(ok.bound!.worstRatio).toBeGreaterThan(0.01); // the tier is tight, not vacuous
      // The same result is not an f32 result: the f32 tier's bound is 2^13 times tighter.
      expect(compare(e.y, ref.y, { tier: 'f32', magnitude: ref.magnitude, K }).verdict.pass).toBe(false);
    }
    const e = emulatedMatmul(x, w, M, N, K, { inputs: 'tf32-rna', accumulate: 'f32' });
    const planted = Float64Array.from(e.y);
    const i = 12345;
    const bound = tierBound('tf32', K, ref.magnitude[i], ref.y[i]);
    planted[i] = ref.y[i] + 40 * bound;
    const bad = compare({ data: planted, shape: [M, N] }, ref.y, {
      tier: 'tf32',
      magnitude: ref.magnitude,
      K,
    });
    expect(bad.verdict).toMatchObject({ pass: false, basis: 'bound' });
    expect(bad.bound!.worstRatio).toBeCloseTo(40, 6);
    expect(bad.bound!.index).toBe(i);
    expect(bad.bound!.exceeded).toBe(1);
    expect(bad.firstExceeding).toBe(i);
    expect(bad.cosine).toBeGreaterThan(0.99999);
    // ggml's fixed mul_mat limit and the tier's own statistics both miss it.
    expect(bad.ggml).toMatchObject({ op: 'mul_mat', pass: true });
    expect(compare(planted, ref.y, { tier: 'tf32', K }).verdict.pass).toBe(true);
    expect(formatComparison(bad)).toMatch(/disagrees with the tier/);
  });

  it('bound: explicit per-element bounds', () => {
    const c = compare([1, 2.5, 3], [1, 2, 3], { tier: 'f32', bound: [0, 0.1, 0] });
    expect(c.bound).toMatchObject({ source: 'explicit', worstRatio: 5, index: 1, exceeded: 1, count: 3 });
    expect(compare([1, 2, 3.5], [1, 2, 3], { tier: 'f32', bound: [0, 0, 0] }).bound?.worstRatio).toBe(
      Number.POSITIVE_INFINITY,
    );
  });

  it('bound: f16 accumulation needs its own accumulator, the probabilistic model is tighter', () => {
    const M = 8;
    const N = 32;
    const K = 512;
    // Positive terms: the partial sums grow to |y| ≈ m, where f16 spacing is coarse.
    const x = uniforms(M * K, 5).map(Math.abs);
    const w = uniforms(N * K, 6).map(Math.abs);
    const ref = referenceMatmul(x, w, M, N, K);
    const e = emulatedMatmul(x, w, M, N, K, { inputs: 'f16', accumulate: 'f16' });
    const opts = { tier: 'f16' as const, magnitude: ref.magnitude, K };
    expect(compare(e.y, ref.y, opts).verdict.pass).toBe(false);
    const worst = compare(e.y, ref.y, { ...opts, accumulate: 'f16' });
    const prob = compare(e.y, ref.y, { ...opts, accumulate: 'f16', boundModel: 'probabilistic' });
    expect(worst.verdict.pass).toBe(true);
    expect(prob.bound!.worstRatio).toBeGreaterThan(worst.bound!.worstRatio);
  });

  it('bound: int8 activations pass the q8 tier with the quantization magnitude (ggml q8_0 blocks too)', () => {
    const M = 4;
    const N = 64;
    const K = 256;
    const x = uniforms(M * K, 7);
    const w = uniforms(N * K, 8);
    const ref = referenceMatmul(x, w, M, N, K);
    for (const int8 of [{}, { block: 32, ties: 'away' as const }]) {
      const e = emulatedMatmul(x, w, M, N, K, { inputs: 'int8', accumulate: 'f32', int8 });
      const c = compare(e.y, ref.y, { tier: 'q8', magnitude: e.quantMagnitude!, K });
      expect(c.verdict.pass).toBe(true);
      expect(c.bound!.worstRatio).toBeGreaterThan(0.01);
      // Against the exact product an f32 claim fails; against its own emulation the kernel is f32-accurate.
      expect(compare(e.y, ref.y, { tier: 'f32', magnitude: ref.magnitude, K }).verdict.pass).toBe(false);
    }
  });

  it('ggml tier: the fixed limit per op kind', () => {
    const r = uniforms(1000, 9);
    const a = Float32Array.from(r, (v, i) => v * (1 + (i % 2 ? 5e-4 : -5e-4))); // NMSE = 2.5e-7 (ggml's)
    const g = compare(a, r, { tier: 'ggml' });
    expect(g.verdict).toMatchObject({ pass: false, basis: 'ggml' });
    expect(compare(a, r, { tier: 'ggml', ggmlOp: 'soft_max' }).verdict.pass).toBe(true);
    expect(compare(a, r, { tier: 'ggml', ggmlOp: 'mul_mat' }).verdict.pass).toBe(true);
    expect(compare(a, r, { tier: 'ggml', ggmlOp: 'copy' }).verdict.pass).toBe(false);
    expect(compare(r, r, { tier: 'ggml', ggmlOp: 'copy' }).verdict.pass).toBe(true);
  });

  it('top-k agreement on logits rows from the shape', () => {
    const ref = uniforms(3 * 50, 10);
    const cand = Float32Array.from(ref);
    [cand[0], cand[1]] = [10, 9]; // row 0: a new argmax
    const c = compare({ data: cand, shape: [3, 50] }, ref, { tier: 'f32', k: 5 });
    expect(c.topK).toMatchObject({ k: 5, rows: 3, argmaxAgree: 2, firstArgmaxMismatch: 0 });
  });
});

describe('ggml verdict reproduces test-backend-ops', () => {
  const inf = Number.POSITIVE_INFINITY;
  const FLT_MAX = bitsToF32(0x7f7fffff);

  it('NaN anywhere fails, even NaN against NaN', () => {
    expect(ggmlVerdict([Number.NaN], [Number.NaN], 'default')).toMatchObject({ pass: false });
  });

  it('inf and FLT_MAX are the same to ggml; one-sided or opposite infinities fail', () => {
    expect(ggmlVerdict([FLT_MAX, 1], [inf, 1], 'default').pass).toBe(true);
    expect(ggmlVerdict([inf, 1], [inf, 1], 'default').pass).toBe(true); // inf − inf makes NMSE NaN: not > limit
    expect(ggmlVerdict([inf, 1], [3, 1], 'default')).toMatchObject({ pass: false, reason: /inf mismatch/ });
    expect(ggmlVerdict([-inf], [FLT_MAX], 'default')).toMatchObject({ pass: false, reason: /sign/ });
  });

  it('NMSE is Σ(a−b)²/Σa² with a the candidate, and 0/0 passes', () => {
    const v = ggmlVerdict([2, 0], [1, 0], 'mul_mat');
    expect(v.nmse).toBe(1 / 4);
    expect(ggmlVerdict([0, 0], [0, 0], 'copy')).toMatchObject({ pass: true });
    expect(ggmlVerdict([0], [1], 'model').nmse).toBe(Number.POSITIVE_INFINITY);
    expect(GGML_NMSE_LIMITS).toMatchObject({
      default: 1e-7,
      mul_mat: 5e-4,
      soft_max: 1e-6,
      model: 2e-3,
      argmax: 0,
    });
  });
});

describe('tier thresholds are derived from the rounding model', () => {
  it('σ² = operand conversions + summation + output storage; κ² = 16; cosine = 1/√(1 + NMSE)', () => {
    const u = 2 ** -24;
    expect(tierVariance('f32', 1)).toBe(u ** 2 / 3);
    expect(tierVariance('f32', 64)).toBeCloseTo(((u * u) / 3) * (1 + (63 * 66) / 128), 40);
    expect(tierVariance('tf32', 1)).toBe(2 * TIERS.tf32.operandVariance + u ** 2 / 3);
    expect(tierVariance('bf16', 1)).toBe((2 * (2 ** -8) ** 2) / 3 + u ** 2 / 3 + (2 ** -8) ** 2 / 3);
    const t = tierThresholds('f16', 128);
    expect(t.nmse).toBe(STATISTICAL_SAFETY * tierVariance('f16', 128));
    expect(t.cosine).toBe(1 / Math.sqrt(1 + t.nmse));
  });

  it('the model predicts the NMSE of emulated kernels within a factor κ² (not vacuous, not exceeded)', () => {
    const M = 16;
    const N = 64;
    for (const K of [1, 64, 512]) {
      const x = uniforms(M * K, 11 + K);
      const w = uniforms(N * K, 12 + K);
      const ref = referenceMatmul(x, w, M, N, K);
      for (const [inputs, tier] of [
        ['f32', 'f32'],
        ['tf32-trunc', 'tf32'],
        ['tf32-rna', 'tf32'],
        ['bf16', 'bf16'],
        ['f16', 'f16'],
      ] as const) {
        const e = emulatedMatmul(x, w, M, N, K, { inputs, accumulate: 'f32' });
        const c = compare(e.y, ref.y, { tier, K });
        const ratio = c.nmse / tierVariance(tier, K);
        expect(c.verdict.pass, `${inputs} K=${K}`).toBe(true);
        expect(ratio, `${inputs} K=${K}`).toBeGreaterThan(1 / STATISTICAL_SAFETY);
        expect(ratio, `${inputs} K=${K}`).toBeLessThan(1);
      }
    }
  });
});
