/**
 * `exact` numerics quantized matmul (assembly/matmul/quant-exact.ts): f32 activations times
 * weights decoded bit-identically to dequantize(w), summed in f32 in an order fixed by K.
 * Every element is checked against the float64 reference within γ(K, 2^-24)·Σ|x||w| (see
 * test/helpers/quant-exact-checks.ts for why that bound holds), on quantize()d and raw-code
 * weights, ragged shapes, both kernel paths (M = 1 and M ≥ 2); results are bit-identical for
 * any column split and any M. The relaxed-SIMD build runs the same checks in a child process.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  matmulQuantExact,
  matmulQuantExactScratchBytes,
  QUANT_EXACT_TYPES,
} from '../../../src/backends/wasm/matmul-quant.js';
import { WasmRuntime } from '../../../src/backends/wasm/module.js';
import { ShapeError, UnsupportedTypeError } from '../../../src/errors.js';
import { normals } from '../../helpers/ggml-inputs.js';
import {
  boundFailures,
  determinismFailures,
  exactWeights,
  nanFailures,
  runExact,
  testKs,
} from '../../helpers/quant-exact-checks.js';

const rt = await WasmRuntime.create();
const NS = [1, 3, 7, 17, 33];

describe.each(QUANT_EXACT_TYPES)('matmulQuantExact %s', (type) => {
  const Ks = testKs(type);

  it('every element within the f32 bound, every K and N, M = 1 and 3, quantized and raw weights', () => {
    let seed = 100;
    const failures: string[] = [];
    for (const K of Ks) {
      for (const N of NS) {
        for (const M of [1, 3]) {
          for (const raw of [false, true]) {
            const x = normals(M * K, seed++);
            const w = exactWeights(type, N, K, seed++, raw);
            failures.push(...boundFailures(type, x, w, runExact(rt, type, x, w, M, N, K), M, N, K));
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('M = 1..5, 16, 64 (both paths), zero, tiny and huge activations', () => {
    const K = Ks[Ks.length - 1];
    const N = 17;
    const failures: string[] = [];
    for (const M of [1, 2, 3, 4, 5, 16, 64]) {
      const x = normals(M * K, M);
      const w = exactWeights(type, N, K, M + 1, true);
      failures.push(...boundFailures(type, x, w, runExact(rt, type, x, w, M, N, K), M, N, K));
    }
    const w = exactWeights(type, N, K, 7, false);
    const zero = runExact(rt, type, new Float32Array(2 * K), w, 2, N, K);
    expect([...zero].every((v) => v === 0)).toBe(true);
    for (const scale of [2 ** -60, 2 ** 60]) {
      const x = normals(2 * K, 9, scale);
      failures.push(...boundFailures(type, x, w, runExact(rt, type, x, w, 2, N, K), 2, N, K));
    }
    expect(failures).toEqual([]);
  });

  it('bit-identical across column splits and across M', () => {
    const K = Ks[Math.min(2, Ks.length - 1)];
    const failures = [
      ...determinismFailures(rt, type, 1, 33, K, 21),
      ...determinismFailures(rt, type, 7, 33, K, 22),
    ];
    if (type === 'q4_K' || type === 'q8_0' || type === 'q6_K')
      failures.push(...determinismFailures(rt, type, 64, 9, K, 23));
    expect(failures).toEqual([]);
  });

  it('NaN in a row of x makes exactly that row NaN', () => {
    expect([...nanFailures(rt, type, 7, Ks[1], 31)]).toEqual([]);
  });
});

describe('matmulQuantExact arguments', () => {
  it('rejects non-quantized types, ragged K and bad ranges with typed errors', () => {
    expect(() => matmulQuantExact(rt, 'f16', 0, 0, 0, 1, 1, 32)).toThrow(UnsupportedTypeError);
    expect(() => matmulQuantExact(rt, 'q4_2', 0, 0, 0, 1, 1, 32)).toThrow(UnsupportedTypeError);
    expect(() => matmulQuantExact(rt, 'q4_K', 0, 0, 0, 1, 1, 128)).toThrow(
      /K = 128 is not a multiple of the block size 256/,
    );
    expect(() => matmulQuantExact(rt, 'q8_0', 0, 0, 0, 1, 4, 32, 3, 2)).toThrow(ShapeError);
    expect(() => matmulQuantExact(rt, 'q8_0', 0, 0, 0, 1, 4, 32, 0, 5)).toThrow(ShapeError);
    expect(() => matmulQuantExact(rt, 'q8_0', 0, 0, 0, -1, 4, 32)).toThrow(ShapeError);
    expect(() => matmulQuantExact(rt, 'q8_0', 0, 0, 0, 1, 4, 32, 0, 4, 8)).toThrow(/16-byte aligned/);
  });

  it('takes caller scratch of matmulQuantExactScratchBytes(M) bytes', () => {
    const M = 5;
    const N = 7;
    const K = 512;
    const x = normals(M * K, 3);
    const w = exactWeights('q5_K', N, K, 4, false);
    const want = runExact(rt, 'q5_K', x, w, M, N, K);
    for (const m of [1, M]) {
      const xp = rt.arena.alloc(m * K * 4);
      const wp = rt.arena.alloc(w.length);
      const yp = rt.arena.alloc(m * N * 4);
      const sp = rt.arena.alloc(matmulQuantExactScratchBytes(rt, m));
      rt.f32(xp, m * K).set(x.subarray(0, m * K));
      rt.u8.set(w, wp);
      matmulQuantExact(rt, 'q5_K', xp, wp, yp, m, N, K, 0, N, sp);
      expect(rt.f32(yp, m * N)).toEqual(want.subarray(0, m * N));
      for (const p of [sp, yp, wp, xp]) rt.arena.release(p);
    }
  });
});

describe('relaxed-SIMD build (child process with --experimental-wasm-relaxed-simd)', () => {
  it('decodes weights bit-identically to the SIMD build and passes the same checks', () => {
    const out = execFileSync(
      process.execPath,
      ['--experimental-wasm-relaxed-simd', '--import', 'tsx', 'test/helpers/quant-exact-relaxed.ts'],
      { encoding: 'utf8' },
    );
    const report = JSON.parse(out) as { build: string; types: number; failures: string[] };
    expect(report.build).toBe('wasm-relaxed-simd');
    expect(report.types).toBe(QUANT_EXACT_TYPES.length);
    expect(report.failures).toEqual([]);
  }, 120_000);
});
