import { describe, expect, it } from 'vitest';
import {
  denseEquivalent,
  minGruCoefficients,
  recurrenceMatvec,
  referenceGruScan,
  referenceGruStep,
  referenceMinGru,
  referenceQuantizedGruScan,
} from '../../../src/backends/reference/gru.js';
import { referenceLinearScan } from '../../../src/backends/reference/scan.js';
import {
  GRU_STRUCTURES,
  type GruRecurrence,
  type GruStructure,
  quantizeRecurrence,
  recurrenceLayout,
} from '../../../src/ops/gru.js';
import { Int8Quantizer } from '../../../src/ops/int8-quantizer.js';
import { gamma } from '../../../src/oracle/tiers.js';
import { randomRecurrence } from '../../helpers/gru-cases.js';
import { uniform } from '../wasm/nn-helpers.js';

const U64 = 2 ** -53;

function denseMatvec(U: Float64Array, h: ArrayLike<number>, H: number): Float64Array {
  const y = new Float64Array(3 * H);
  for (let o = 0; o < 3 * H; o++) for (let j = 0; j < H; j++) y[o] += U[o * H + j] * h[j];
  return y;
}

const SIZES: Record<GruStructure, number[]> = {
  dense: [1, 5, 16],
  diagonal: [1, 7, 16],
  monarch: [1, 4, 9, 16],
  butterfly: [2, 4, 8, 16],
};

describe('GRU recurrent structures (float64)', () => {
  for (const kind of GRU_STRUCTURES) {
    it(`${kind}: the structured product equals its dense equivalent (explicit factor matrices) to float64 rounding`, () => {
      for (const H of SIZES[kind]) {
        const rec = randomRecurrence(kind, H, H * 11 + 3);
        const h = uniform(H, H + 99, 2);
        const y = recurrenceMatvec(rec, h);
        const U = denseEquivalent(rec);
        const yd = denseMatvec(U, h, H);
        const m = recurrenceMatvec(rec, h, true);
        // Both sides are float64 sums of the same products: a few H roundings each.
        for (let o = 0; o < 3 * H; o++)
          expect(Math.abs(y[o] - yd[o])).toBeLessThanOrEqual(gamma(4 * H, U64) * m[o]);
      }
    });
  }

  it('monarch is not block-diagonal and butterfly mixes every input into every output (the permutation/strides act)', () => {
    const m = denseEquivalent(randomRecurrence('monarch', 9, 1));
    const b = denseEquivalent(randomRecurrence('butterfly', 8, 2));
    for (const U of [m, b]) expect(U.every((v) => v !== 0)).toBe(true);
  });
});

describe('GRU scan (PyTorch convention)', () => {
  it('one step by hand, H = 1: r, z, n with r multiplying U_hn·h + b_hn', () => {
    const rec: GruRecurrence = { kind: 'dense', H: 1, u: [0.5, -0.25, 2] };
    const gx = [0.1, 0.2, 0.3];
    const bh = [0.05, -0.1, 0.4];
    const h = 0.7;
    const sg = (v: number) => 1 / (1 + Math.exp(-v));
    const r = sg(0.1 + 0.5 * h + 0.05);
    const z = sg(0.2 - 0.25 * h - 0.1);
    const n = Math.tanh(0.3 + r * (2 * h + 0.4));
    expect(referenceGruStep(rec, gx, bh, [h])[0]).toBeCloseTo((1 - z) * n + z * h, 15);
  });

  it('every structure gives the scan of its dense equivalent', () => {
    for (const kind of GRU_STRUCTURES) {
      const H = 16;
      const rec = randomRecurrence(kind, H, 40);
      const gx = uniform(5 * 3 * H, 41);
      const bh = uniform(3 * H, 42, 0.1);
      const h0 = uniform(H, 43);
      const a = referenceGruScan(rec, gx, bh, h0);
      const d = referenceGruScan({ kind: 'dense', H, u: denseEquivalent(rec) }, gx, bh, h0);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - d[i])).toBeLessThan(1e-12);
    }
  });

  it('minGRU through the linear scan equals its sequential form', () => {
    const [T, H] = [40, 6];
    const k = uniform(T * H, 50, 4);
    const ht = uniform(T * H, 51, 2);
    const h0 = uniform(H, 52);
    const { a, b } = minGruCoefficients(k, ht);
    const scan = referenceLinearScan(a, b, h0, T, H);
    const seq = referenceMinGru(k, ht, h0, T, H);
    for (let i = 0; i < seq.length; i++)
      expect(Math.abs(scan.h[i] - seq[i])).toBeLessThanOrEqual(gamma(4 * T, U64) * scan.magnitude[i]);
  });
});

describe('quantized GRU (int8 weights per output channel, int8 state, fake-quantized each step)', () => {
  it('weights: codes in [−127, 127], one scale per fan-in row, dequantized within half a step', () => {
    for (const kind of GRU_STRUCTURES) {
      const H = kind === 'monarch' ? 9 : 8;
      const rec = randomRecurrence(kind, H, 60);
      const q = quantizeRecurrence(rec);
      const { sizes, fanIn } = recurrenceLayout(kind, H);
      for (const name of Object.keys(sizes)) {
        const p = (rec as unknown as Record<string, Float32Array>)[name];
        const dq = (q.rec as unknown as Record<string, Float64Array>)[name];
        expect(q.scales[name].length).toBe(sizes[name] / fanIn);
        for (let i = 0; i < p.length; i++) {
          const s = q.scales[name][Math.floor(i / fanIn)];
          expect(Math.abs(q.codes[name][i])).toBeLessThanOrEqual(127);
          expect(Math.abs(dq[i] - p[i])).toBeLessThanOrEqual(s / 2);
        }
      }
    }
  });

  it('a weight exactly at .5 of its step goes to the even code', () => {
    const s = Math.fround(1 / 127); // row max-abs 1 → step 1/127 (f32)
    // 2.5 and 3.5 steps of the f32 scale, exact in float64: even codes 2 and 4.
    const u = [1, 2.5 * s, -3.5 * s, 0.5 * s];
    const q = quantizeRecurrence({
      kind: 'dense',
      H: 4,
      u: [...u, ...new Array(44).fill(0)],
    } as GruRecurrence);
    expect(Array.from(q.codes.u.subarray(0, 4))).toEqual([127, 2, -4, 0]);
  });

  it('the state is fake-quantized each step; states exactly at .5 of the state step round to even', () => {
    const sh = 2 ** -4;
    const state = Int8Quantizer.fromScales({ granularity: 'per-tensor' }, [sh]);
    const H = 4;
    // u_z = u_n = 0, gx_z = gx_n = 0, b_h = 0: z = ½, n = 0, so h_1 = h0 / 2 exactly.
    const rec: GruRecurrence = { kind: 'diagonal', H, u: [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0] };
    const q = quantizeRecurrence(rec);
    const h0 = [5 * sh, 7 * sh, -5 * sh, 3 * sh]; // h_1 = 2.5, 3.5, −2.5, 1.5 steps
    const h = referenceQuantizedGruScan(q, new Array(3 * H).fill(0), null, h0, state);
    expect(Array.from(h)).toEqual([2 * sh, 4 * sh, -2 * sh, 2 * sh]);
  });

  it('a longer quantized scan: every state a multiple of s_h in [−127, 127] steps', () => {
    const H = 16;
    const rec = randomRecurrence('dense', H, 70, 0.25);
    const gx = uniform(20 * 3 * H, 71);
    const sh = Math.fround(1 / 127);
    const state = Int8Quantizer.fromScales({ granularity: 'per-tensor' }, [sh]);
    const hq = referenceQuantizedGruScan(quantizeRecurrence(rec), gx, null, null, state);
    for (let i = 0; i < hq.length; i++) {
      const k = hq[i] / sh;
      expect(Number.isInteger(k) && Math.abs(k) <= 127).toBe(true);
    }
  });
});
