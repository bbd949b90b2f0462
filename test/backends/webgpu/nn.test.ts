/**
 * The WebGPU nn kernels against the float64 reference, each within the bound
 * derived from WGSL's accuracy (src/oracle/webgpu-nn-bounds.ts, the norms' in nn-bounds.ts; the worst
 * error/bound ratio ≤ 1 means the difference is explained by the precision).
 * Mirrors test/backends/wasm/nn-*.test.ts at shapes SwiftShader runs fast.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { erfc } from '../../../src/backends/reference/erf.js';
import {
  referenceAdd,
  referenceGelu,
  referenceLayerNorm,
  referenceRmsNorm,
  referenceRope,
  referenceSilu,
  referenceSoftmax,
  referenceSwiglu,
} from '../../../src/backends/reference/nn.js';
import { ERFC_COEFFS, ERFC_FIT_ERROR } from '../../../src/backends/webgpu/wgsl/nn-elementwise.js';
import {
  COS_COEFFS,
  SIN_COEFFS,
  SINCOS_APPROX_ERROR,
  SINCOS_R_MAX,
} from '../../../src/backends/webgpu/wgsl/nn-rope.js';
import { type RopeOptions, validateRope } from '../../../src/ops/rope.js';
import { layerNormGpuBound, rmsNormGpuBound } from '../../../src/oracle/nn-bounds.js';
import {
  geluErfGpuBound,
  geluTanhGpuBound,
  ropeGpuBound,
  siluGpuBound,
  softmaxGpuBound,
  swigluGpuBound,
} from '../../../src/oracle/webgpu-nn-bounds.js';
import { GGML_TYPES } from '../../../src/types/ggml-types.js';
import { webgpuEngine } from '../../helpers/webgpu.js';
import { addCases, rng, sameBits, uniform, wide, within } from '../wasm/nn-helpers.js';

const gpu = await webgpuEngine();
const fr = Math.fround;
/** Row lengths around the workgroup (256) and a model size. */
const DIMS = [1, 3, 17, 64, 255, 256, 257, 1000, 4097];

describe.skipIf(!gpu)('WebGPU nn kernels against the float64 reference', () => {
  const e = gpu!;
  afterAll(() => {
    const r = e.opReport();
    for (const op of ['rmsNorm', 'layerNorm', 'rope', 'softmax', 'silu', 'gelu', 'swiglu', 'add'])
      expect(r[op]?.cpu ?? 0, op).toBe(0);
    return e.dispose();
  });

  async function out(p: Promise<{ read(): Promise<Float32Array>; dispose(): void }>) {
    const t = await p;
    const y = await t.read();
    t.dispose();
    return y;
  }
  const tensor = (x: Float32Array, shape: number[]) => e.tensor(x, shape);

  async function rms(x: Float32Array, w: Float32Array | null, rows: number, dim: number, eps: number) {
    return out(e.rmsNorm(tensor(x, [rows, dim]), w && tensor(w, [dim]), { eps }));
  }

  describe('RMSNorm and LayerNorm', () => {
    it('ragged dims, with and without weight, within the derived bound', async () => {
      let worst = 0;
      for (const dim of DIMS) {
        const rows = 3;
        const x = uniform(rows * dim, dim * 7 + rows, 3);
        const w = uniform(dim, dim + 1, 2);
        for (const [weight, eps] of [
          [w, 1e-5],
          [null, 1e-6],
        ] as const) {
          const y = await rms(x, weight, rows, dim, fr(eps));
          const ref = referenceRmsNorm(x, weight, rows, dim, fr(eps));
          const v = within(`rms ${dim}`, y, ref, rmsNormGpuBound(x, weight, rows, dim, fr(eps), ref));
          expect(v.failures).toEqual([]);
          worst = Math.max(worst, v.worstRatio);
        }
      }
      console.log(`rmsNorm worst error/bound ${worst.toExponential(2)}`);
      expect(worst).toBeGreaterThan(0);
    });

    it('values across 2^-60..2^56 and squares in the subnormal range', async () => {
      for (const dim of [3, 65, 1000]) {
        for (const [lo, hi] of [
          [-60, 56],
          [-70, -60],
          [20, 56],
        ]) {
          const x = wide(2 * dim, dim + lo, lo, hi);
          const w = uniform(dim, 5);
          const y = await rms(x, w, 2, dim, fr(1e-6));
          const ref = referenceRmsNorm(x, w, 2, dim, fr(1e-6));
          expect(within('rms wide', y, ref, rmsNormGpuBound(x, w, 2, dim, fr(1e-6), ref)).failures).toEqual(
            [],
          );
        }
      }
    });

    it('Σx² is an f32 sum: a row whose squares sum past 2^128 overflows and becomes 0', async () => {
      const x = Float32Array.of(1.5 * 2 ** 63, 1.5 * 2 ** 63, 1.5 * 2 ** 63, 1); // each square finite, the sum not
      const y = await rms(x, null, 1, 4, fr(1e-6));
      expect([...y]).toEqual([0, 0, 0, 0]);
    });

    it('NaN poisons its row; an all-zero row with eps > 0 gives zeros', async () => {
      const dim = 37;
      const x = uniform(3 * dim, 9);
      x[5] = Number.NaN;
      x.fill(0, 2 * dim);
      const y = await rms(x, null, 3, dim, fr(1e-5));
      expect(y.subarray(0, dim).every(Number.isNaN)).toBe(true);
      expect(y.subarray(dim, 2 * dim).every(Number.isFinite)).toBe(true);
      expect([...y.subarray(2 * dim)].every((v) => v === 0)).toBe(true);
    });

    it('LayerNorm: weight and bias optional, a large mean against a small spread', async () => {
      for (const dim of DIMS) {
        const rows = 2;
        const x = uniform(rows * dim, dim * 3 + 1, 4);
        if (dim === 1000) for (let i = 0; i < x.length; i++) x[i] = fr(1000 + x[i] / 4);
        const w = uniform(dim, dim + 2, 2);
        const b = uniform(dim, dim + 3, 1);
        for (const [weight, bias] of [
          [w, b],
          [null, null],
          [w, null],
        ] as const) {
          const y = await out(
            e.layerNorm(
              tensor(x, [rows, dim]),
              weight && tensor(weight, [dim]),
              bias && tensor(bias, [dim]),
              {
                eps: fr(1e-5),
              },
            ),
          );
          const ref = referenceLayerNorm(x, weight, bias, rows, dim, fr(1e-5));
          const bound = layerNormGpuBound(x, weight, bias, rows, dim, fr(1e-5), ref);
          expect(within(`ln ${dim}`, y, ref, bound).failures).toEqual([]);
        }
      }
    });

    it('the same bits on every run (fixed reduction order)', async () => {
      const x = uniform(5 * 1000, 3);
      const a = await rms(x, null, 5, 1000, fr(1e-5));
      const b = await rms(x, null, 5, 1000, fr(1e-5));
      expect(sameBits(a, b)).toBe(true);
    });
  });

  describe('RoPE', () => {
    const positionsOf = (n: number, seed: number, max: number) => {
      const r = rng(seed);
      return Array.from({ length: n }, (_, i) => (i === 0 ? max : Math.floor(r() * (max + 1))));
    };

    it('the sin/cos polynomials fit within SINCOS_APPROX_ERROR on |r| ≤ SINCOS_R_MAX (exact arithmetic)', () => {
      const [s1, s2, s3] = SIN_COEFFS;
      const [c1, c2, c3] = COS_COEFFS;
      let worst = 0;
      for (let r = -SINCOS_R_MAX; r <= SINCOS_R_MAX; r += 1e-5) {
        const r2 = r * r;
        const s = r + r * r2 * (s1 + r2 * (s2 + r2 * s3));
        const c = 1 - 0.5 * r2 + r2 * r2 * (c1 + r2 * (c2 + r2 * c3));
        worst = Math.max(worst, Math.abs(s - Math.sin(r)), Math.abs(c - Math.cos(r)));
      }
      expect(worst).toBeLessThanOrEqual(SINCOS_APPROX_ERROR);
      expect(worst).toBeGreaterThan(SINCOS_APPROX_ERROR / 2); // the constant is not slack
    });

    for (const mode of ['normal', 'neox'] as const) {
      it(`${mode}: full and partial rotary dims, freqBase, freqScale, attnFactor, freqFactors`, async () => {
        const cases: [number, RopeOptions][] = [
          [2, { mode }],
          [10, { mode, nDims: 6 }],
          [64, { mode }],
          [80, { mode, nDims: 32 }],
          [128, { mode, freqBase: 1e6 }],
          [128, { mode, freqBase: 500000, freqScale: 0.25 }],
          [128, { mode, freqScale: 0.5, attnFactor: 1.2 }],
          [128, { mode, nDims: 64, freqFactors: Array.from({ length: 32 }, (_, i) => 1 + (i % 7) * 1.5) }],
        ];
        let worst = 0;
        for (const [headDim, opts] of cases) {
          const nTokens = 7;
          const nHead = 3;
          const positions = positionsOf(nTokens, headDim, 32768);
          const q = validateRope({ shape: [nTokens, nHead, headDim], type: GGML_TYPES.f32 }, positions, opts);
          const x = uniform(nTokens * nHead * headDim, headDim * 31, 2);
          const y = await out(e.rope(tensor(x, [nTokens, nHead, headDim]), positions, opts));
          const ref = referenceRope(x, positions, q);
          const v = within(`${mode} ${JSON.stringify(opts)}`, y, ref, ropeGpuBound(x, positions, q));
          expect(v.failures).toEqual([]);
          worst = Math.max(worst, v.worstRatio);
          for (let r = 0; r < nTokens * nHead; r++) {
            const pass = (a: Float32Array) => a.subarray(r * headDim + q.nDims, (r + 1) * headDim);
            expect(sameBits(pass(y), pass(x))).toBe(true);
          }
        }
        console.log(`rope ${mode} worst error/bound ${worst.toExponential(2)}`);
      });
    }

    it('position 0 is the identity on the rotated dims', async () => {
      const x = uniform(32, 3);
      expect(sameBits(await out(e.rope(tensor(x, [1, 2, 16]), [0], { mode: 'normal' })), x)).toBe(true);
    });
  });

  describe('softmax', () => {
    async function sm(
      x: Float32Array,
      mask: Float32Array | null,
      rows: number,
      n: number,
      maskRows: number,
      s: number,
    ) {
      const y = await out(
        e.softmax(tensor(x, [rows, n]), { scale: s, mask: mask && tensor(mask, [maskRows, n]) }),
      );
      const ref = referenceSoftmax(x, mask, rows, n, maskRows, s);
      return { y, ...within(`softmax ${n}`, y, ref, softmaxGpuBound(x, mask, rows, n, maskRows, s)) };
    }

    it('ragged lengths with scale, a shared causal mask, large logits', async () => {
      let worst = 0;
      for (const n of DIMS) {
        for (const s of [1, 0.125]) {
          const v = await sm(uniform(3 * n, n + 11, 8), null, 3, n, 0, fr(s));
          expect(v.failures).toEqual([]);
          worst = Math.max(worst, v.worstRatio);
        }
      }
      for (const [nq, nkv] of [
        [5, 5],
        [4, 67],
        [3, 300],
      ]) {
        const mask = new Float32Array(nq * nkv);
        for (let q = 0; q < nq; q++)
          for (let k = q + nkv - nq + 1; k < nkv; k++) mask[q * nkv + k] = Number.NEGATIVE_INFINITY;
        const v = await sm(uniform(2 * nq * nkv, nq, 4), mask, 2 * nq, nkv, nq, fr(1 / 8));
        expect(v.failures).toEqual([]);
        for (let r = 0; r < 2 * nq; r++)
          for (let k = (r % nq) + nkv - nq + 1; k < nkv; k++) expect(v.y[r * nkv + k]).toBe(0);
      }
      for (const amp of [1e4, 1e30])
        expect((await sm(uniform(2 * 300, 3, amp), null, 2, 300, 0, 1)).failures).toEqual([]);
      expect((await sm(wide(2 * 257, 4, -30, 8), null, 2, 257, 0, 1)).failures).toEqual([]);
      console.log(`softmax worst error/bound ${worst.toExponential(2)}`);
    });

    it('all −inf rows give zeros; NaN or +inf gives a NaN row; other rows unaffected', async () => {
      const n = 9;
      const x = uniform(4 * n, 1);
      const mask = new Float32Array(4 * n).fill(Number.NEGATIVE_INFINITY);
      mask.fill(0, n);
      x[2 * n + 1] = Number.NaN;
      x[3 * n + 5] = Number.POSITIVE_INFINITY;
      const v = await sm(x, mask, 4, n, 4, 1);
      expect(v.failures).toEqual([]);
      expect([...v.y.subarray(0, n)]).toEqual(new Array(n).fill(0));
      expect(v.y.subarray(n, 2 * n).every(Number.isFinite)).toBe(true);
      expect(v.y.subarray(2 * n).every(Number.isNaN)).toBe(true);
    });
  });

  describe('element-wise', () => {
    it('the erfc fit stays within ERFC_FIT_ERROR (f32 coefficients, exact arithmetic)', () => {
      let worst = 0;
      for (let z = 0; z < 26; z += 1e-3) {
        const t = 1 / (1 + 0.5 * z);
        let p = 0;
        for (let i = ERFC_COEFFS.length - 1; i >= 0; i--) p = ERFC_COEFFS[i] + t * p;
        worst = Math.max(worst, Math.abs(t * Math.exp(-z * z + p) - erfc(z)) / erfc(z));
      }
      expect(worst).toBeLessThanOrEqual(ERFC_FIT_ERROR);
    });

    for (const kind of ['silu', 'gelu', 'geluErf'] as const) {
      it(`${kind}: every magnitude 2^-8..2^7 and ±inf, within the derived bound`, async () => {
        let worst = 0;
        for (const n of [1, 255, 4097]) {
          const x = wide(n, n, -8, 7);
          const t = tensor(x, [n]);
          const y = await out(
            kind === 'silu' ? e.silu(t) : e.gelu(t, { approximate: kind === 'gelu' ? 'tanh' : 'erf' }),
          );
          const ref = kind === 'silu' ? referenceSilu(x) : referenceGelu(x, kind === 'gelu' ? 'tanh' : 'erf');
          const bound =
            kind === 'silu'
              ? siluGpuBound(x, ref)
              : kind === 'gelu'
                ? geluTanhGpuBound(x, ref)
                : geluErfGpuBound(x, ref, erfc);
          const v = within(`${kind} ${n}`, y, ref, bound);
          expect(v.failures).toEqual([]);
          worst = Math.max(worst, v.worstRatio);
        }
        const inf = Float32Array.of(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, -200, 200);
        const t = tensor(inf, [4]);
        const y = await out(
          kind === 'silu' ? e.silu(t) : e.gelu(t, { approximate: kind === 'gelu' ? 'tanh' : 'erf' }),
        );
        expect([...y]).toEqual([-0, Number.POSITIVE_INFINITY, -0, 200]);
        console.log(`${kind} worst error/bound ${worst.toExponential(2)}`);
      });
    }

    it('swiglu within silu’s bound and one rounding; NaN propagates', async () => {
      for (const n of [3, 257, 5632]) {
        const g = wide(n, n + 1, -10, 6);
        const up = uniform(n, n + 2, 3);
        g[1] = Number.NaN;
        const y = await out(e.swiglu(tensor(g, [n]), tensor(up, [n])));
        const ref = referenceSwiglu(g, up);
        expect(within(`swiglu ${n}`, y, ref, swigluGpuBound(g, up, ref)).failures).toEqual([]);
      }
    });

    it('add: the correctly rounded f32 sum (exact tier), residual and bias broadcast', async () => {
      for (const dim of [1, 17, 1000]) {
        for (const { rows, bRows, a, b } of addCases(dim)) {
          const y = await out(e.add(tensor(a, [rows, dim]), tensor(b, [bRows, dim])));
          expect(sameBits(y, Float32Array.from(referenceAdd(a, b, rows, dim, bRows)))).toBe(true);
        }
      }
    });
  });
});
