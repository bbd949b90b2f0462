import { describe, expect, it } from 'vitest';
import { compare } from '../../src/oracle/compare.js';
import { formatComparison } from '../../src/oracle/report.js';

describe('formatComparison', () => {
  it('statistics mode: verdict, ggml beside it, worst element, thresholds, every metric with its count', () => {
    const r = Float64Array.from({ length: 64 }, (_, i) => Math.sin(i + 1));
    const a = Float32Array.from(r);
    const text = formatComparison(
      compare({ data: a, shape: [2, 32] }, r, { tier: 'f32', k: 3 }),
      'blk.0.ffn_out',
    );
    const lines = text.split('\n');
    expect(lines[0]).toMatch(
      /^PASS {2}blk\.0\.ffn_out: f32 tier \(statistics\): NMSE .* ≤ .* and cosine .* \(f32 thresholds, over 64 values\)$/,
    );
    expect(lines[1]).toMatch(/^ {6}ggml test-backend-ops default \(NMSE limit 1e-7\): PASS — NMSE .* ≤ 1e-7/);
    expect(lines[1]).not.toMatch(/disagrees/);
    expect(lines[2]).toMatch(/^worst element \d+ \[\d, \d+\]: candidate .*, reference .*, \|a−r\| /);
    expect(lines[3]).toBe('first over the tier: none');
    expect(lines[4]).toBe('metrics over 64 finite pairs of 64 (shape [2, 32]):');
    for (const key of [
      'thresholds',
      'max |a−r|',
      'max rel',
      'RMSE',
      'NMSE',
      'cosine',
      'ULP (f32)',
      'std',
      'non-finite',
      'top-3',
    ])
      expect(text).toContain(`\n  ${key}`);
    expect(text).toMatch(/std {9}candidate .* \(n = 64\)/);
    expect(text).toMatch(/top-3 {7}mean overlap 1\.0000, min 1\.0000 at row 0; argmax agrees in 2\/2 rows/);
  });

  it('non-finite mismatches come first, with where', () => {
    const text = formatComparison(compare([1, Number.NaN, 3], [1, 2, 3], { tier: 'bf16' }));
    expect(text.split('\n')[0]).toBe(
      'FAIL  bf16 tier (non-finite values): 1 non-finite mismatches (1 NaN, 0 inf vs finite, 0 inf sign); first at index 1: candidate NaN, reference 2',
    );
    expect(text).toContain('first over the tier: 1');
    expect(text).toContain(
      'non-finite  candidate 1 NaN, 0 +inf, 0 -inf; reference 0 NaN, 0 +inf, 0 -inf; mismatches 1 NaN',
    );
  });

  it('the ggml tier reports its own verdict once', () => {
    const text = formatComparison(compare([1, 2], [1, 2.1], { tier: 'ggml', ggmlOp: 'soft_max' }));
    expect(text.split('\n')[0]).toMatch(
      /^FAIL {2}ggml tier \(ggml\): NMSE .* > 0\.000001 \(test-backend-ops soft_max\)$/,
    );
    expect(text).not.toContain('ggml test-backend-ops soft_max (NMSE limit');
  });
});
