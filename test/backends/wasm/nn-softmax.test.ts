import { describe, expect, it } from 'vitest';
import { referenceSoftmax } from '../../../src/backends/reference/nn.js';
import { softmax } from '../../../src/backends/wasm/nn.js';
import { softmaxBound } from '../../../src/oracle/nn-bounds.js';
import { alloc, DIMS, free, put, read, rt, sameBits, splits, uniform, wide, within } from './nn-helpers.js';

const fr = Math.fround;

function run(
  x: Float32Array,
  mask: Float32Array | null,
  rows: number,
  n: number,
  maskRows: number,
  scale: number,
  r0 = 0,
  r1 = rows,
) {
  const xp = put(x);
  const mp = mask ? put(mask) : 0;
  const yp = alloc(rows * n);
  softmax(rt, xp, mp, yp, rows, n, maskRows, fr(scale), r0, r1);
  const y = read(yp, rows * n);
  free(xp, mp, yp);
  return y;
}

function check(
  label: string,
  x: Float32Array,
  mask: Float32Array | null,
  rows: number,
  n: number,
  maskRows: number,
  scale: number,
) {
  const s = fr(scale);
  const y = run(x, mask, rows, n, maskRows, s);
  const ref = referenceSoftmax(x, mask, rows, n, maskRows, s);
  return { y, ...within(label, y, ref, softmaxBound(x, mask, rows, n, maskRows, s)) };
}

/** A causal mask [nq, nkv]: query q sees keys ≤ q + (nkv − nq). */
function causal(nq: number, nkv: number): Float32Array {
  const m = new Float32Array(nq * nkv);
  for (let q = 0; q < nq; q++)
    for (let k = 0; k < nkv; k++) if (k > q + nkv - nq) m[q * nkv + k] = Number.NEGATIVE_INFINITY;
  return m;
}

describe('softmax (nn_softmax) against the float64 reference', () => {
  it('every ragged and model length, with scale, within the derived bound', () => {
    for (const n of DIMS) {
      const rows = 3;
      const x = uniform(rows * n, n + 11, 8);
      for (const scale of [1, 0.125]) {
        const v = check(`softmax n ${n} scale ${scale}`, x, null, rows, n, 0, scale);
        expect(v.failures).toEqual([]);
      }
    }
  });

  it('an additive causal mask shared by the heads (mask row r % maskRows)', () => {
    const nHead = 3;
    for (const [nq, nkv] of [
      [1, 1],
      [5, 5],
      [4, 67],
      [7, 1000],
    ]) {
      const x = uniform(nHead * nq * nkv, nq * nkv, 4);
      const mask = causal(nq, nkv);
      const v = check(`causal ${nq}x${nkv}`, x, mask, nHead * nq, nkv, nq, 1 / Math.sqrt(64));
      expect(v.failures).toEqual([]);
      for (let r = 0; r < nHead * nq; r++) {
        const q = r % nq;
        for (let k = q + nkv - nq + 1; k < nkv; k++) expect(v.y[r * nkv + k]).toBe(0);
      }
    }
  });

  it('large |x|: logits spread over ±1e4 and ±1e30 (exp under- and overflow avoided by the max shift)', () => {
    for (const n of [3, 17, 4097]) {
      for (const scale of [1e4, 1e30]) {
        const v = check(`softmax large ${scale}`, uniform(2 * n, n, scale), null, 2, n, 0, 1);
        expect(v.failures).toEqual([]);
      }
      const v = check('softmax wide', wide(2 * n, n, -30, 8), null, 2, n, 0, 1);
      expect(v.failures).toEqual([]);
    }
  });

  it('rows whose entries are all −inf give zeros (defined: the fully masked row), unlike ggml soft_max’s NaN', () => {
    const n = 9;
    const x = uniform(2 * n, 1);
    const mask = new Float32Array(2 * n).fill(Number.NEGATIVE_INFINITY);
    mask.fill(0, n, n + 4);
    const v = check('softmax all -inf', x, mask, 2, n, 2, 1);
    expect(v.failures).toEqual([]);
    expect([...v.y.subarray(0, n)]).toEqual(new Array(n).fill(0));
    expect(Math.abs(v.y.subarray(n).reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-6);
  });

  it('NaN anywhere in a row, or +inf, gives a NaN row; other rows are unaffected', () => {
    const n = 6;
    const x = uniform(3 * n, 2);
    x[2] = Number.NaN;
    x[n + 5] = Number.POSITIVE_INFINITY;
    const v = check('softmax NaN', x, null, 3, n, 0, 1);
    expect(v.failures).toEqual([]);
    expect(v.y.subarray(0, 2 * n).every(Number.isNaN)).toBe(true);
    expect(v.y.subarray(2 * n).every(Number.isFinite)).toBe(true);
  });

  it('bit-identical for any split of the rows, in place too', () => {
    const rows = 11;
    const n = 131;
    const x = uniform(rows * n, 12, 5);
    const mask = causal(11, n);
    const whole = run(x, mask, rows, n, 11, 0.3);
    for (const split of splits(rows, 1, 5)) {
      const xp = put(x);
      const mp = put(mask);
      for (const [r0, r1] of split) softmax(rt, xp, mp, xp, rows, n, 11, fr(0.3), r0, r1);
      expect(sameBits(read(xp, rows * n), whole)).toBe(true);
      free(xp, mp);
    }
  });
});
