import { describe, expect, it } from 'vitest';
import { referenceLayerNorm, referenceRmsNorm } from '../../../src/backends/reference/nn.js';
import { layerNorm, rmsNorm } from '../../../src/backends/wasm/nn.js';
import { layerNormBound, rmsNormBound } from '../../../src/oracle/nn-bounds.js';
import { alloc, DIMS, free, put, read, rt, sameBits, splits, uniform, wide, within } from './nn-helpers.js';

const fr = Math.fround;

function runRms(
  x: Float32Array,
  w: Float32Array | null,
  rows: number,
  dim: number,
  eps: number,
  r0 = 0,
  r1 = rows,
) {
  const xp = put(x);
  const wp = w ? put(w) : 0;
  const yp = alloc(rows * dim);
  rmsNorm(rt, xp, wp, yp, rows, dim, fr(eps), r0, r1);
  const y = read(yp, rows * dim);
  free(xp, wp, yp);
  return y;
}

function runLn(
  x: Float32Array,
  w: Float32Array | null,
  b: Float32Array | null,
  rows: number,
  dim: number,
  eps: number,
) {
  const xp = put(x);
  const wp = w ? put(w) : 0;
  const bp = b ? put(b) : 0;
  const yp = alloc(rows * dim);
  layerNorm(rt, xp, wp, bp, yp, rows, dim, fr(eps));
  const y = read(yp, rows * dim);
  free(xp, wp, bp, yp);
  return y;
}

function checkRms(
  label: string,
  x: Float32Array,
  w: Float32Array | null,
  rows: number,
  dim: number,
  eps: number,
) {
  const e = fr(eps);
  const y = runRms(x, w, rows, dim, e);
  const ref = referenceRmsNorm(x, w, rows, dim, e);
  return within(label, y, ref, rmsNormBound(x, w, rows, dim, e, ref));
}

function checkLn(
  label: string,
  x: Float32Array,
  w: Float32Array | null,
  b: Float32Array | null,
  rows: number,
  dim: number,
  eps: number,
) {
  const e = fr(eps);
  const y = runLn(x, w, b, rows, dim, e);
  const ref = referenceLayerNorm(x, w, b, rows, dim, e);
  return within(label, y, ref, layerNormBound(x, w, b, rows, dim, e, ref));
}

describe('RMSNorm (nn_rms_norm) against the float64 reference', () => {
  it('every ragged and model dim, with and without weight, within the derived bound', () => {
    let worst = 0;
    for (const dim of DIMS) {
      for (const rows of [1, 3]) {
        const x = uniform(rows * dim, dim * 7 + rows, 3);
        const w = uniform(dim, dim + 1, 2);
        for (const [weight, eps] of [
          [w, 1e-5],
          [null, 1e-6],
          [w, 0],
        ] as const) {
          const v = checkRms(`rms dim ${dim} rows ${rows}`, x, weight, rows, dim, eps);
          expect(v.failures).toEqual([]);
          worst = Math.max(worst, v.worstRatio);
        }
      }
    }
    expect(worst).toBeGreaterThan(0); // the bound is exercised, not vacuous
  });

  it('values across 2^-60..2^60, eps dominating tiny rows, squares underflowing', () => {
    for (const dim of [3, 65, 4097]) {
      for (const [lo, hi] of [
        [-60, 60],
        [-70, -60],
        [20, 62],
      ]) {
        const x = wide(2 * dim, dim + lo, lo, hi);
        const v = checkRms(`rms wide ${lo}..${hi}`, x, uniform(dim, 5), 2, dim, 1e-6);
        expect(v.failures).toEqual([]);
      }
    }
  });

  it('NaN poisons its row only; ±inf rows follow IEEE (inf·0 = NaN, finite·0 = 0) like the reference', () => {
    const dim = 37;
    const x = uniform(3 * dim, 9);
    x[5] = Number.NaN;
    x[dim + 7] = Number.POSITIVE_INFINITY;
    const v = checkRms('rms special', x, null, 3, dim, 1e-5);
    expect(v.failures).toEqual([]);
    const y = runRms(x, null, 3, dim, 1e-5);
    expect(y.subarray(0, dim).every(Number.isNaN)).toBe(true);
    expect(Number.isNaN(y[dim + 7])).toBe(true);
    expect(y.subarray(dim, dim + 7).every((v) => v === 0)).toBe(true);
    expect(y.subarray(2 * dim).every(Number.isFinite)).toBe(true);
  });

  it('as in ggml, squares are f32: a row with |x| ≥ 2^64 overflows Σx² and becomes 0', () => {
    const x = Float32Array.of(2 ** 64, 1, -3);
    expect([...runRms(x, null, 1, 3, 1e-6)]).toEqual([0, 0, -0]);
  });

  it('an all-zero row with eps > 0 gives zeros; with eps = 0, NaN (0·∞), as the reference', () => {
    expect([...runRms(new Float32Array(5), null, 1, 5, 1e-6)]).toEqual([0, 0, 0, 0, 0]);
    expect(runRms(new Float32Array(5), null, 1, 5, 0).every(Number.isNaN)).toBe(true);
    expect(referenceRmsNorm(new Float32Array(5), null, 1, 5, 0).every(Number.isNaN)).toBe(true);
  });

  it('bit-identical for any split of the rows', () => {
    const rows = 13;
    const dim = 65;
    const x = uniform(rows * dim, 77);
    const w = uniform(dim, 78);
    const whole = runRms(x, w, rows, dim, 1e-5);
    for (const split of splits(rows, 1, 3)) {
      const xp = put(x);
      const wp = put(w);
      const yp = alloc(rows * dim);
      for (const [r0, r1] of split) rmsNorm(rt, xp, wp, yp, rows, dim, fr(1e-5), r0, r1);
      expect(sameBits(read(yp, rows * dim), whole)).toBe(true);
      free(xp, wp, yp);
    }
  });
});

describe('LayerNorm (nn_layer_norm) against the float64 reference', () => {
  it('every ragged and model dim, weight and bias optional, within the derived bound', () => {
    for (const dim of DIMS) {
      const rows = 2;
      const x = uniform(rows * dim, dim * 3 + 1, 4);
      const w = uniform(dim, dim + 2, 2);
      const b = uniform(dim, dim + 3, 1);
      for (const [weight, bias] of [
        [w, b],
        [null, null],
        [w, null],
      ] as const) {
        const v = checkLn(`ln dim ${dim}`, x, weight, bias, rows, dim, 1e-5);
        expect(v.failures).toEqual([]);
      }
    }
  });

  it('a large mean against a small spread (cancellation in x − mean) stays within the bound', () => {
    for (const dim of [3, 64, 4097]) {
      const x = uniform(dim, dim, 1).map((v) => 1000 + v);
      const v = checkLn('ln offset', x, uniform(dim, 2), uniform(dim, 3), 1, dim, 1e-5);
      expect(v.failures).toEqual([]);
    }
  });

  it('wide magnitudes, constant rows (var = 0: y = b), NaN rows', () => {
    const dim = 33;
    const x = wide(dim * 2, 4, -40, 40);
    expect(checkLn('ln wide', x, null, null, 2, dim, 1e-6).failures).toEqual([]);
    const b = uniform(dim, 8);
    const c = new Float32Array(dim).fill(fr(0.7));
    const y = runLn(c, uniform(dim, 9), b, 1, dim, 1e-5);
    expect(sameBits(y, b)).toBe(true);
    const n = uniform(dim * 2, 10);
    n[3] = Number.NaN;
    const yn = runLn(n, null, null, 2, dim, 1e-5);
    expect(yn.subarray(0, dim).every(Number.isNaN)).toBe(true);
    expect(yn.subarray(dim).every(Number.isFinite)).toBe(true);
  });

  it('bit-identical for any split of the rows', () => {
    const rows = 9;
    const dim = 100;
    const x = uniform(rows * dim, 5);
    const whole = runLn(x, null, null, rows, dim, 1e-5);
    for (const split of splits(rows, 1, 4)) {
      const xp = put(x);
      const yp = alloc(rows * dim);
      for (const [r0, r1] of split) layerNorm(rt, xp, 0, 0, yp, rows, dim, fr(1e-5), r0, r1);
      expect(sameBits(read(yp, rows * dim), whole)).toBe(true);
      free(xp, yp);
    }
  });
});
