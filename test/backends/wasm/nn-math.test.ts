import { describe, expect, it } from 'vitest';
import { NN_ERROR_SWEEP, NN_MAX_ULP, NN_SUBNORMAL_ABS } from '../../../src/backends/wasm/nn.js';
import { alloc, free, put, read, rt } from './nn-helpers.js';
import { SWEEP, type SweptKernel, sweep } from './nn-sweep.js';

// Every 2^11-th f32 of each documented range (~10^6 inputs per kernel); the
// figures themselves come from scripts/nn-error-sweep.ts over far denser sweeps.
const STRIDE = 2 ** 11;

describe('SiLU and GELU kernels stay within their documented error (NN_MAX_ULP)', () => {
  for (const k of Object.keys(NN_ERROR_SWEEP) as SweptKernel[]) {
    it(`${k}: ≤ ${NN_MAX_ULP[k]} ulp over ${JSON.stringify(NN_ERROR_SWEEP[k].range)}, subnormals ≤ ${NN_SUBNORMAL_ABS}·2^-149`, () => {
      const [lo, hi] = NN_ERROR_SWEEP[k].range;
      const r = sweep(rt, k, lo, hi, STRIDE);
      expect(r.points).toBeGreaterThan(400_000);
      expect(r.specialMismatches).toBe(0);
      expect(r.maxUlp).toBeLessThanOrEqual(NN_MAX_ULP[k]);
      expect(r.maxSubnormal).toBeLessThanOrEqual(NN_SUBNORMAL_ABS);
    });
  }

  it('special values: ±0, ±inf, NaN, huge and tiny arguments give the limits', () => {
    const x = Float32Array.of(
      0,
      -0,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.NaN,
      3e38,
      -3e38,
      1e-45,
      -1e-45,
    );
    const run = (k: SweptKernel) => {
      const xp = put(x);
      const yp = alloc(x.length);
      SWEEP[k].run(rt, xp, yp, x.length);
      const y = [...read(yp, x.length)];
      free(xp, yp);
      return y;
    };
    const [s, g, ge] = (['silu', 'gelu', 'geluErf'] as const).map(run);
    for (const y of [s, g, ge]) {
      expect(Object.is(y[0], 0) && Object.is(y[1], -0)).toBe(true);
      expect(y[2]).toBe(Number.POSITIVE_INFINITY);
      expect(Object.is(y[3], -0)).toBe(true); // the limit x·σ(x) → 0 as x → −inf
      expect(Number.isNaN(y[4])).toBe(true);
      expect(y[5]).toBe(Math.fround(3e38));
      expect(Object.is(y[6], -0)).toBe(true);
    }
    // Tiny x: silu(x) ≈ x/2, gelu(x) ≈ x/2 → the subnormal 1e-45 halves to 0 or the smallest subnormal.
    expect(Math.abs(s[7])).toBeLessThanOrEqual(2 ** -149);
  });
});
