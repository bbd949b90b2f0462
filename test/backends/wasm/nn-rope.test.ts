import { describe, expect, it } from 'vitest';
import { referenceRope } from '../../../src/backends/reference/nn.js';
import { rope, ropeCacheBytes, writeRopeCache } from '../../../src/backends/wasm/nn.js';
import { type RopeOptions, validateRope } from '../../../src/ops/rope.js';
import { ropeBound } from '../../../src/oracle/nn-bounds.js';
import { GGML_TYPES } from '../../../src/types/ggml-types.js';
import { alloc, free, put, read, rng, rt, sameBits, splits, uniform, within } from './nn-helpers.js';

const f32 = GGML_TYPES.f32;

function params(nTokens: number, nHead: number, headDim: number, positions: number[], opts: RopeOptions) {
  return validateRope({ shape: [nTokens, nHead, headDim], type: f32 }, positions, opts);
}

function run(
  x: Float32Array,
  positions: number[],
  q: ReturnType<typeof params>,
  inPlace = false,
  r0?: number,
  r1?: number,
) {
  const xp = put(x);
  const cp = rt.arena.alloc(ropeCacheBytes(q.nTokens, q.nDims));
  writeRopeCache(rt, cp, positions, q);
  const yp = inPlace ? xp : alloc(x.length);
  rope(rt, xp, cp, yp, q, r0, r1);
  const y = read(yp, x.length);
  free(xp, cp, inPlace ? 0 : yp);
  return y;
}

function check(
  label: string,
  nTokens: number,
  nHead: number,
  headDim: number,
  positions: number[],
  opts: RopeOptions,
) {
  const q = params(nTokens, nHead, headDim, positions, opts);
  const x = uniform(nTokens * nHead * headDim, nTokens * 31 + headDim, 2);
  const y = run(x, positions, q);
  const ref = referenceRope(x, positions, q);
  return { x, y, q, ...within(label, y, ref, ropeBound(x, positions, q)) };
}

const positionsOf = (n: number, seed: number, max: number) => {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => (i === 0 ? max : Math.floor(r() * (max + 1))));
};

describe('RoPE (nn_rope) against the float64 reference', () => {
  for (const mode of ['normal', 'neox'] as const) {
    it(`${mode}: head dims 2..256, full and partial rotary dims, within the derived bound`, () => {
      for (const [headDim, nDims] of [
        [2, 2],
        [6, 6],
        [8, 4],
        [10, 6],
        [64, 64],
        [80, 32],
        [128, 128],
        [128, 64],
        [256, 256],
      ]) {
        const v = check(`${mode} ${headDim}/${nDims}`, 5, 3, headDim, positionsOf(5, headDim, 4096), {
          mode,
          nDims,
        });
        expect(v.failures).toEqual([]);
        // dims ≥ nDims pass through bit for bit
        for (let r = 0; r < 15; r++)
          expect(
            sameBits(
              v.y.subarray(r * headDim + nDims, (r + 1) * headDim),
              v.x.subarray(r * headDim + nDims, (r + 1) * headDim),
            ),
          ).toBe(true);
      }
    });

    it(`${mode}: positions up to 32768, freqBase 1e6, freqScale, attnFactor, freqFactors`, () => {
      const cases: RopeOptions[] = [
        { mode, freqBase: 10000 },
        { mode, freqBase: 1e6 },
        { mode, freqBase: 500000, freqScale: 0.25 },
        { mode, freqScale: 0.5, attnFactor: 1.2 },
        { mode, nDims: 64, freqFactors: Array.from({ length: 32 }, (_, i) => 1 + (i % 7) * 1.5) },
      ];
      for (const opts of cases) {
        const v = check(`${mode} ${JSON.stringify(opts)}`, 9, 2, 128, positionsOf(9, 7, 32768), opts);
        expect(v.failures).toEqual([]);
      }
    });
  }

  it('position 0 is the identity on the rotated dims (cos 1, sin 0)', () => {
    const q = params(1, 2, 16, [0], { mode: 'normal' });
    const x = uniform(32, 3);
    expect(sameBits(run(x, [0], q), x)).toBe(true);
  });

  it('NaN in x0 poisons its pair only', () => {
    const q = params(1, 1, 8, [5], { mode: 'neox' });
    const x = uniform(8, 4);
    x[1] = Number.NaN;
    const y = run(x, [5], q);
    expect(Number.isNaN(y[1]) && Number.isNaN(y[5])).toBe(true);
    expect([0, 2, 3, 4, 6, 7].every((i) => Number.isFinite(y[i]))).toBe(true);
  });

  it('bit-identical for any split of the rows, and in place', () => {
    const positions = positionsOf(6, 2, 1000);
    const q = params(6, 4, 72, positions, { mode: 'neox', nDims: 40 });
    const x = uniform(6 * 4 * 72, 8);
    const whole = run(x, positions, q);
    expect(sameBits(run(x, positions, q, true), whole)).toBe(true);
    for (const split of splits(24, 1, 9)) {
      const xp = put(x);
      const cp = rt.arena.alloc(ropeCacheBytes(6, 40));
      writeRopeCache(rt, cp, positions, q);
      const yp = alloc(x.length);
      for (const [r0, r1] of split) rope(rt, xp, cp, yp, q, r0, r1);
      expect(sameBits(read(yp, x.length), whole)).toBe(true);
      free(xp, cp, yp);
    }
  });
});
