import { describe, expect, it } from 'vitest';
import {
  referenceAdd,
  referenceGelu,
  referenceSilu,
  referenceSwiglu,
} from '../../../src/backends/reference/nn.js';
import { add, gelu, silu, swiglu } from '../../../src/backends/wasm/nn.js';
import { measuredBound, swigluBound } from '../../../src/oracle/nn-bounds.js';
import {
  addCases,
  alloc,
  DIMS,
  free,
  put,
  read,
  rt,
  sameBits,
  splits,
  uniform,
  wide,
  within,
} from './nn-helpers.js';

function unary(kind: 'silu' | 'gelu' | 'geluErf', x: Float32Array, i0 = 0, i1 = x.length): Float32Array {
  const xp = put(x);
  const yp = put(new Float32Array(x.length).fill(Number.NaN));
  if (kind === 'silu') silu(rt, xp, yp, x.length, i0, i1);
  else gelu(rt, xp, yp, x.length, kind === 'gelu' ? 'tanh' : 'erf', i0, i1);
  const y = read(yp, x.length);
  free(xp, yp);
  return y;
}

const refOf = {
  silu: (x: Float32Array) => referenceSilu(x),
  gelu: (x: Float32Array) => referenceGelu(x, 'tanh'),
  geluErf: (x: Float32Array) => referenceGelu(x, 'erf'),
};

describe('SiLU and GELU arrays (nn_silu, nn_gelu, nn_gelu_erf)', () => {
  for (const kind of ['silu', 'gelu', 'geluErf'] as const) {
    it(`${kind}: every length, tails included, within NN_MAX_ULP of the reference`, () => {
      for (const n of DIMS) {
        const x = wide(n, n, -8, 7);
        const ref = refOf[kind](x);
        expect(within(`${kind} n ${n}`, unary(kind, x), ref, measuredBound(kind, ref)).failures).toEqual([]);
      }
    });

    it(`${kind}: a range [i0, i1) writes only its elements; any split gives the same bits`, () => {
      const x = uniform(203, 5, 6);
      const whole = unary(kind, x);
      const part = unary(kind, x, 17, 50);
      expect(part.subarray(0, 17).every(Number.isNaN) && part.subarray(50).every(Number.isNaN)).toBe(true);
      expect(sameBits(part.subarray(17, 50), whole.subarray(17, 50))).toBe(true);
      for (const split of splits(203, 16, 6)) {
        const xp = put(x);
        const yp = alloc(203);
        for (const [a, b] of split) {
          if (kind === 'silu') silu(rt, xp, yp, 203, a, b);
          else gelu(rt, xp, yp, 203, kind === 'gelu' ? 'tanh' : 'erf', a, b);
        }
        expect(sameBits(read(yp, 203), whole)).toBe(true);
        free(xp, yp);
      }
    });
  }

  it('the two GELU forms differ by the tanh approximation’s own error (< 1e-3), not by a bug', () => {
    const x = uniform(4096, 3, 6);
    const t = unary('gelu', x);
    const e = unary('geluErf', x);
    let maxDiff = 0;
    for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(t[i] - e[i]));
    expect(maxDiff).toBeGreaterThan(1e-5);
    expect(maxDiff).toBeLessThan(1e-3);
  });
});

describe('SwiGLU (nn_swiglu) and residual add (nn_add)', () => {
  it('swiglu: every length, within silu’s error plus one rounding; NaN and ±inf propagate', () => {
    for (const n of [...DIMS, 5632]) {
      const g = wide(n, n + 1, -10, 6);
      const up = uniform(n, n + 2, 3);
      if (n > 3) {
        g[1] = Number.NaN;
        up[2] = Number.POSITIVE_INFINITY;
      }
      const [gp, upp, yp] = [put(g), put(up), alloc(n)];
      swiglu(rt, gp, upp, yp, n);
      const ref = referenceSwiglu(g, up);
      expect(within(`swiglu n ${n}`, read(yp, n), ref, swigluBound(up, ref)).failures).toEqual([]);
      free(gp, upp, yp);
    }
  });

  it('swiglu: bit-identical for any split', () => {
    const n = 333;
    const g = uniform(n, 1, 5);
    const up = uniform(n, 2, 5);
    const [gp, upp, yp] = [put(g), put(up), alloc(n)];
    swiglu(rt, gp, upp, yp, n);
    const whole = read(yp, n);
    for (const split of splits(n, 16, 7)) {
      const y2 = alloc(n);
      for (const [a, b] of split) swiglu(rt, gp, upp, y2, n, a, b);
      expect(sameBits(read(y2, n), whole)).toBe(true);
      free(y2);
    }
    free(gp, upp, yp);
  });

  it('add: each element is the correctly rounded f32 sum (exact tier), residual and bias broadcast', () => {
    for (const dim of DIMS) {
      for (const { rows, bRows, a, b } of addCases(dim)) {
        const [ap, bp, yp] = [put(a), put(b), alloc(rows * dim)];
        add(rt, ap, bp, yp, rows, dim, bRows);
        const want = Float32Array.from(referenceAdd(a, b, rows, dim, bRows));
        expect(sameBits(read(yp, rows * dim), want)).toBe(true);
        free(ap, bp, yp);
      }
    }
  });
});
