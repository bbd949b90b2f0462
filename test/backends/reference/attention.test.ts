/** The float64 reference attention: hand-checked values, head mapping, masks, side outputs. */
import { describe, expect, it } from 'vitest';
import { referenceAttention } from '../../../src/backends/reference/attention.js';
import { ShapeError } from '../../../src/errors.js';
import { dimsOf } from '../../helpers/attention-cases.js';

describe('referenceAttention', () => {
  it('computes softmax(q·kᵀ·scale)·v by hand on a small case', () => {
    // One head, head_dim 2, three kv positions, one query at position 2 (sees all).
    const dims = dimsOf({ nQ: 1, nKv: 3, nHead: 1, nHeadKv: 1, headDim: 2 }, 'f32', {
      scale: 0.5,
      scores: true,
      softmax: true,
    });
    const q = new Float32Array([1, 2]);
    const k = new Float32Array([1, 0, 0, 1, 2, 2]);
    const v = new Float32Array([1, -1, 3, 0, -2, 4]);
    const s = [0.5 * 1, 0.5 * 2, 0.5 * 6];
    const e = s.map((x) => Math.exp(x - 3));
    const l = e[0] + e[1] + e[2];
    const w = e.map((x) => x / l);
    const r = referenceAttention(q, k, v, dims);
    expect([...(r.scores as Float64Array)]).toEqual(s);
    for (const [j, x] of (r.softmax as Float64Array).entries()) expect(x).toBeCloseTo(w[j], 15);
    expect(r.out[0]).toBeCloseTo(w[0] * 1 + w[1] * 3 + w[2] * -2, 14);
    expect(r.out[1]).toBeCloseTo(w[0] * -1 + w[1] * 0 + w[2] * 4, 14);
    expect(r.stats.magnitude[1]).toBeCloseTo(w[0] * 1 + w[2] * 4, 14);
  });

  it('head h reads kv head h / (n_head / n_head_kv)', () => {
    // V is constant per kv head (hk + 1), so every output of head h is exactly kvHead(h) + 1.
    for (const [nHead, nHeadKv] of [
      [8, 8],
      [8, 4],
      [8, 2],
      [8, 1],
    ]) {
      const hd = 4;
      const nKv = 5;
      const dims = dimsOf({ nQ: 2, nKv, nHead, nHeadKv, headDim: hd }, 'f32');
      const q = Float32Array.from({ length: 2 * nHead * hd }, (_, i) => Math.sin(i));
      const k = Float32Array.from({ length: nKv * nHeadKv * hd }, (_, i) => Math.cos(i));
      const v = Float32Array.from(
        { length: nKv * nHeadKv * hd },
        (_, i) => (Math.floor(i / hd) % nHeadKv) + 1,
      );
      const r = referenceAttention(q, k, v, dims);
      for (let i = 0; i < 2; i++)
        for (let h = 0; h < nHead; h++)
          for (let d = 0; d < hd; d++)
            expect(r.out[(i * nHead + h) * hd + d]).toBeCloseTo(Math.floor(h / (nHead / nHeadKv)) + 1, 12);
    }
  });

  it('masks: causal by position, sliding window, rows that see nothing', () => {
    const dims = dimsOf({ nQ: 3, nKv: 6, nHead: 1, nHeadKv: 1, headDim: 1 }, 'f32', {
      positions: [3, 0, 9],
      window: 2,
      scores: true,
      softmax: true,
    });
    const q = new Float32Array([1, 1, 1]);
    const k = new Float32Array([1, 2, 3, 4, 5, 6]);
    const v = new Float32Array([10, 20, 30, 40, 50, 60]);
    const r = referenceAttention(q, k, v, dims);
    const sm = r.softmax as Float64Array;
    // Position 3 with window 2 sees kv 2 and 3; position 0 sees kv 0; position 9 sees nothing.
    expect([...sm.subarray(0, 6)].map((x) => x > 0)).toEqual([false, false, true, true, false, false]);
    expect(sm[2] + sm[3]).toBeCloseTo(1, 15);
    expect([...sm.subarray(6, 12)]).toEqual([1, 0, 0, 0, 0, 0]);
    expect([...sm.subarray(12, 18)]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(r.out[1]).toBe(10);
    expect(r.out[2]).toBe(0);
    // Scores are before the mask: every position has one.
    expect([...(r.scores as Float64Array).subarray(12, 18)]).toEqual(
      [1, 2, 3, 4, 5, 6].map((x) => x * dims.scale),
    );
    expect([r.stats.lo[0], r.stats.hi[0], r.stats.lo[2], r.stats.hi[2]]).toEqual([2, 4, 8, 6]);
  });

  it('rejects inputs that do not match the dims', () => {
    const dims = dimsOf({ nQ: 1, nKv: 2, nHead: 2, nHeadKv: 1, headDim: 2 }, 'f32');
    expect(() =>
      referenceAttention(new Float32Array(3), new Float32Array(4), new Float32Array(4), dims),
    ).toThrow(ShapeError);
    expect(() =>
      referenceAttention(new Float32Array(4), new Float32Array(4), new Float32Array(5), dims),
    ).toThrow(/v has 5/);
  });
});
