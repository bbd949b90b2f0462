/**
 * assembly/nn/exp.ts against float64 exp. EXP_REL_ERROR (oracle/attention-bound.ts)
 * is the bound the attention tiers use: every f32 input was checked once
 * (PLUMBLINE_EXHAUSTIVE=1 repeats that, about a minute); each run checks a
 * dense sample, the special values and the underflow/overflow edges.
 */
import { describe, expect, it } from 'vitest';
import { EXP_REL_ERROR } from '../../src/oracle/arithmetic.js';
import { attentionRuntime } from '../helpers/attention-runtime.js';

const { rt } = await attentionRuntime();
const N = 1 << 20;
const src = rt.arena.alloc(N * 8);
const dst = src + N * 4;
const exp = rt.kernel('exp_f32');
const MIN_NORMAL = 2 ** -126;

/**
 * Worst relative error over n inputs whose bits are set by fill; results below 2^-126
 * are judged absolutely: |y − r| − ε_e·r (the gradual-underflow rounding on top of ε_e).
 */
function sweep(n: number, fill: (bits: Uint32Array) => void): { rel: number; abs: number } {
  fill(new Uint32Array(rt.memory.buffer, src, n));
  exp(src, dst, n);
  const x = rt.f32(src, n);
  const y = rt.f32(dst, n);
  let rel = 0;
  let abs = 0;
  for (let i = 0; i < n; i++) {
    const r = Math.exp(x[i]);
    if (r > 3.4028234663852886e38) {
      if (y[i] !== Number.POSITIVE_INFINITY && Math.abs(y[i] - r) / r > EXP_REL_ERROR)
        rel = Number.POSITIVE_INFINITY;
    } else if (r < MIN_NORMAL) abs = Math.max(abs, Math.abs(y[i] - r) - EXP_REL_ERROR * r);
    else rel = Math.max(rel, Math.abs(y[i] - r) / r);
  }
  return { rel, abs };
}

describe('exp_f32', () => {
  it('special values and edges', () => {
    const x = [
      0,
      -0,
      Number.NEGATIVE_INFINITY,
      Number.POSITIVE_INFINITY,
      Number.NaN,
      88.72283,
      88.7229,
      -104,
      -200,
      1,
    ];
    rt.f32(src, x.length).set(x);
    exp(src, dst, x.length);
    const y = [...rt.f32(dst, x.length)];
    expect(y.slice(0, 4)).toEqual([1, 1, 0, Number.POSITIVE_INFINITY]);
    expect(Number.isNaN(y[4])).toBe(true);
    expect(y[5]).toBeLessThan(Number.POSITIVE_INFINITY);
    expect(y[6]).toBe(Number.POSITIVE_INFINITY);
    expect(y.slice(7, 9)).toEqual([0, 0]);
    expect(Math.abs(y[9] - Math.E) / Math.E).toBeLessThanOrEqual(EXP_REL_ERROR);
  });

  it(`relative error ≤ ${EXP_REL_ERROR / 2 ** -24} u on a dense sample; results below 2^-126 within ε_e·r + 2^-150`, () => {
    let seed = 7;
    const random = (b: Uint32Array) => {
      for (let i = 0; i < b.length; i++) {
        seed = (seed * 1664525 + 1013904223) >>> 0;
        // Inputs in [-104, 89]: negative halves and positive halves of the exponent range.
        b[i] = i & 1 ? seed % 0x42b20000 : 0x80000000 | (seed % 0x42d00000);
      }
    };
    const r = sweep(N, random);
    // Every f32 in [-1, 1] around 0 and the subnormal-result range [-104, -87.3].
    const fromBits = (start: number) => (b: Uint32Array) => {
      for (let i = 0; i < b.length; i++) b[i] = start + i;
    };
    const near0 = sweep(N, fromBits(0xbf800000 - N));
    const under = sweep(N, fromBits(0xc2d00000 - N));
    expect(Math.max(r.rel, near0.rel, under.rel)).toBeLessThanOrEqual(EXP_REL_ERROR);
    expect(Math.max(r.abs, near0.abs, under.abs)).toBeLessThanOrEqual(2 ** -150);
  });

  it.runIf(process.env.PLUMBLINE_EXHAUSTIVE === '1')('every f32 input', { timeout: 600_000 }, () => {
    let rel = 0;
    let abs = 0;
    for (const [a, b] of [
      [0x00000000, 0x42b20000],
      [0x80000000, 0xc2d00000],
    ]) {
      for (let base = a; base < b; base += N) {
        const n = Math.min(N, b - base);
        const r = sweep(n, (bits) => {
          for (let i = 0; i < bits.length; i++) bits[i] = base + i;
        });
        rel = Math.max(rel, r.rel);
        abs = Math.max(abs, r.abs);
      }
    }
    expect(rel).toBeLessThanOrEqual(EXP_REL_ERROR);
    expect(abs).toBeLessThanOrEqual(2 ** -150);
  });
});
