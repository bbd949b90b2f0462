/**
 * The tiers explain ggml's CPU numerics: activations quantized by ggml's own
 * reference quantizers (src/ops/quantize.ts, byte-identical) to the weight
 * type's vec_dot type, against the exact product of f32 activations and the
 * dequantized weights — q8 for the q8_0/q8_1/q8_K paths (with the quantization
 * magnitude of the vec_dot block), f16/bf16 for half weights.
 */
import { describe, expect, it } from 'vitest';
import { referenceMatmul } from '../../src/backends/reference/matmul.js';
import { dequantize } from '../../src/ops/dequantize.js';
import { quantize } from '../../src/ops/quantize.js';
import { compare } from '../../src/oracle/compare.js';
import { quantizationMagnitude } from '../../src/oracle/emulate.js';
import type { TierName } from '../../src/oracle/tiers.js';
import { GGML_TYPES, type GgmlTypeName } from '../../src/types/ggml-types.js';

function signal(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return new Float32Array(n).map(() => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

const M = 3;
const N = 48;
const K = 512;

const CASES: [GgmlTypeName, TierName][] = [
  ['q4_0', 'q8'],
  ['q8_0', 'q8'],
  ['q4_1', 'q8'],
  ['q4_K', 'q8'],
  ['q6_K', 'q8'],
  ['f16', 'f16'],
  ['bf16', 'bf16'],
];

describe('ggml-numerics matmul is explained by its tier', () => {
  for (const [type, tier] of CASES) {
    it(`${type} weights, activations as ${GGML_TYPES[type].vecDotType}: ${tier} tier`, () => {
      const w = dequantize(type, quantize(type, signal(N * K, 1)), N * K);
      // Activations with an outlier per row, as real hidden states have.
      const x = signal(M * K, 2).map((v, i) => (i % 97 === 5 ? v * 20 : v));
      const vdt = GGML_TYPES[type].vecDotType as GgmlTypeName;
      const xq = dequantize(vdt, quantize(vdt, x), M * K);
      const ggml = referenceMatmul(xq, w, M, N, K).y;
      const exact = referenceMatmul(x, w, M, N, K);
      const magnitude =
        tier === 'q8' ? quantizationMagnitude(x, w, M, N, K, GGML_TYPES[vdt].blockSize) : exact.magnitude;
      const c = compare(ggml, exact.y, { tier, magnitude, K });
      expect(c.verdict.pass, c.verdict.reason).toBe(true);
      expect(c.bound!.worstRatio).toBeGreaterThan(0.02);
      // One tier finer does not explain it.
      const finer = tier === 'q8' ? 'f16' : 'f32';
      expect(compare(ggml, exact.y, { tier: finer, magnitude: exact.magnitude, K }).verdict.pass).toBe(false);
    });
  }
});
