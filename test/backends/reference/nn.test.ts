import { describe, expect, it } from 'vitest';
import {
  erf,
  erfc,
  erfcContinuedFraction,
  erfcx,
  erfSeriesSum,
} from '../../../src/backends/reference/erf.js';
import {
  referenceGelu,
  referenceLayerNorm,
  referenceRmsNorm,
  referenceRope,
  referenceSilu,
  referenceSoftmax,
} from '../../../src/backends/reference/nn.js';
import { validateRope } from '../../../src/ops/rope.js';
import { GGML_TYPES } from '../../../src/types/ggml-types.js';

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
const values = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.37) * 3);

describe('reference erf / erfc', () => {
  it('the series and the continued fraction agree where both converge', () => {
    const SQRT_PI = Math.sqrt(Math.PI);
    for (let t = 2; t <= 2.6; t += 0.05) {
      const viaSeries = Math.exp(t * t) - (2 / SQRT_PI) * erfSeriesSum(t);
      expect(rel(erfcContinuedFraction(t) / SQRT_PI, viaSeries)).toBeLessThan(3e-12);
    }
  });

  it('tabulated values (Abramowitz & Stegun table 7.1 and their asymptotic series)', () => {
    expect(rel(erf(0.5), 0.5204998778130465)).toBeLessThan(1e-15);
    expect(rel(erf(1), 0.8427007929497149)).toBeLessThan(1e-15);
    expect(rel(erf(2), 0.9953222650189527)).toBeLessThan(1e-15);
    expect(rel(erfc(3), 2.209049699858544e-5)).toBeLessThan(1e-13);
    expect(rel(erfc(5), 1.5374597944280349e-12)).toBeLessThan(1e-13);
    expect(rel(erfc(10), 2.088487583762545e-45)).toBeLessThan(1e-13);
  });

  it('identities: erf odd, erf + erfc = 1, erfc(−x) = 2 − erfc(x), erfcx = e^(x²)·erfc', () => {
    for (const x of [0.1, 0.7, 1.9, 2.5, 3.3, 6]) {
      expect(erf(-x)).toBe(-erf(x));
      expect(Math.abs(erf(x) + erfc(x) - 1)).toBeLessThan(1e-15);
      expect(erfc(-x)).toBe(2 - erfc(x));
      expect(rel(erfcx(x) * Math.exp(-x * x), erfc(x))).toBeLessThan(1e-12); // erf.ts's stated accuracy
    }
    expect(erfc(30)).toBe(0);
    expect(Number.isNaN(erf(Number.NaN))).toBe(true);
  });
});

describe('reference nn ops satisfy their defining properties', () => {
  it('RMSNorm: unit root-mean-square (eps 0, no weight), weight scales per feature', () => {
    const dim = 7;
    const x = values(2 * dim, 1);
    const y = referenceRmsNorm(x, null, 2, dim, 0);
    for (let r = 0; r < 2; r++) {
      const ms = y.subarray(r * dim, (r + 1) * dim).reduce((s, v) => s + v * v, 0) / dim;
      expect(Math.abs(ms - 1)).toBeLessThan(1e-14);
    }
    const w = values(dim, 2);
    const yw = referenceRmsNorm(x, w, 2, dim, 0);
    expect(Math.abs(yw[3] - y[3] * w[3])).toBeLessThan(1e-15);
  });

  it('LayerNorm: zero mean and unit variance (eps 0), then weight and bias', () => {
    const dim = 9;
    const x = values(dim, 3).map((v) => v + 10);
    const y = referenceLayerNorm(x, null, null, 1, dim, 0);
    const mean = y.reduce((s, v) => s + v, 0) / dim;
    const variance = y.reduce((s, v) => s + (v - mean) ** 2, 0) / dim;
    expect(Math.abs(mean)).toBeLessThan(1e-14);
    expect(Math.abs(variance - 1)).toBeLessThan(1e-14);
  });

  it('RoPE: normal mode is complex multiplication by e^(iθ); NeoX is the same on the half-split pairs', () => {
    const headDim = 8;
    const p = [3];
    const q = validateRope({ shape: [1, 1, headDim], type: GGML_TYPES.f32 }, p, {
      mode: 'normal',
      freqBase: 100,
    });
    const x = values(headDim, 4);
    const y = referenceRope(x, p, q);
    for (let i = 0; i < headDim / 2; i++) {
      const theta = 3 * 100 ** ((-2 * i) / headDim);
      const re = x[2 * i] * Math.cos(theta) - x[2 * i + 1] * Math.sin(theta);
      const im = x[2 * i] * Math.sin(theta) + x[2 * i + 1] * Math.cos(theta);
      expect(Math.abs(y[2 * i] - re) + Math.abs(y[2 * i + 1] - im)).toBeLessThan(1e-15);
    }
    const qn = validateRope({ shape: [1, 1, headDim], type: GGML_TYPES.f32 }, p, {
      mode: 'neox',
      freqBase: 100,
    });
    const perm = [0, 4, 1, 5, 2, 6, 3, 7]; // NeoX position of normal-mode element j
    const xn = new Array<number>(headDim);
    perm.forEach((to, from) => {
      xn[to] = x[from];
    });
    const yn = referenceRope(xn, p, qn);
    perm.forEach((to, from) => {
      expect(yn[to]).toBe(y[from]);
    });
  });

  it('RoPE: attention scores depend only on the position difference', () => {
    const headDim = 16;
    const dot = (pq: number, pk: number) => {
      const mk = (pos: number) =>
        validateRope({ shape: [1, 1, headDim], type: GGML_TYPES.f32 }, [pos], { mode: 'neox', nDims: 12 });
      const a = referenceRope(values(headDim, 5), [pq], mk(pq));
      const b = referenceRope(values(headDim, 6), [pk], mk(pk));
      return a.reduce((s, v, i) => s + v * b[i], 0);
    };
    expect(Math.abs(dot(10, 3) - dot(1007, 1000))).toBeLessThan(1e-12);
  });

  it('softmax: rows sum to 1, shift invariance, −inf mask entries give 0', () => {
    const n = 6;
    const x = values(n, 7);
    const mask = [0, Number.NEGATIVE_INFINITY, 0, 0, Number.NEGATIVE_INFINITY, 0];
    const y = referenceSoftmax(x, mask, 1, n, 1, 0.5);
    expect(Math.abs(y.reduce((s, v) => s + v, 0) - 1)).toBeLessThan(1e-15);
    expect(y[1]).toBe(0);
    const shifted = referenceSoftmax(
      x.map((v) => v + 8),
      mask,
      1,
      n,
      1,
      0.5,
    );
    shifted.forEach((v, i) => {
      expect(Math.abs(v - y[i])).toBeLessThan(1e-15);
    });
  });

  it('SiLU and both GELUs match their textbook formulas where those do not cancel', () => {
    const x = values(50, 8);
    const silu = referenceSilu(x);
    const gt = referenceGelu(x, 'tanh');
    const ge = referenceGelu(x, 'erf');
    x.forEach((v, i) => {
      expect(rel(silu[i], v / (1 + Math.exp(-v)))).toBeLessThan(1e-15);
      if (v > -1) {
        const z = Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3);
        expect(rel(gt[i], 0.5 * v * (1 + Math.tanh(z)))).toBeLessThan(1e-13);
        expect(rel(ge[i], 0.5 * v * (1 + erf(v / Math.SQRT2)))).toBeLessThan(1e-13);
      }
    });
  });
});
