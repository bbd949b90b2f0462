/**
 * The documented sum order of the `exact` quantized matmul (assembly/matmul/quant-exact.ts),
 * pinned bit for bit on the SIMD128 build: lane l (0..3) sums fl(x[k]·w[k]) for k ≡ l (mod 4)
 * in increasing k from +0, one rounded add per step; y = (l0 + l1) + (l2 + l3), with w =
 * dequantize(W). Emulated here in scalar f32 (Math.fround after each operation) and compared
 * for M = 1..8 (the M = 1 path and the tiled one), ragged N around the M = 1 path's 8- and
 * 4-row passes, and K of one and several chunks. (The relaxed build may fuse the product into
 * the add, so it is held to this order only through determinism across M and splits.)
 */
import { describe, expect, it } from 'vitest';
import type { QuantExactType } from '../../../src/backends/wasm/matmul-quant.js';
import { compileKernels, WasmRuntime } from '../../../src/backends/wasm/module.js';
import { dequantize } from '../../../src/ops/dequantize.js';
import { normals } from '../../helpers/ggml-inputs.js';
import { exactWeights, runExact } from '../../helpers/quant-exact-checks.js';

const rt = await WasmRuntime.create(await compileKernels(['wasm-simd']));
const f = Math.fround;

/** y[m, n] in the documented order, every operation rounded to f32. */
function emulate(x: Float32Array, w: Float32Array, M: number, N: number, K: number): Float32Array {
  const y = new Float32Array(M * N);
  const lanes = [0, 0, 0, 0];
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      lanes.fill(0);
      for (let k = 0; k < K; k++) lanes[k & 3] = f(lanes[k & 3] + f(x[m * K + k] * w[n * K + k]));
      y[m * N + n] = f(f(lanes[0] + lanes[1]) + f(lanes[2] + lanes[3]));
    }
  }
  return y;
}

/** Indices where the bits differ (every NaN counted as the same). */
function bitDifferences(a: Float32Array, b: Float32Array): number[] {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  const out: number[] = [];
  for (let i = 0; i < a.length; i++)
    if (ua[i] !== ub[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) out.push(i);
  return out;
}

const CASES: { type: QuantExactType; Ks: number[] }[] = [
  { type: 'q4_K', Ks: [256, 768] },
  { type: 'q6_K', Ks: [256, 512] },
  { type: 'q8_0', Ks: [96, 512] },
  { type: 'q4_0', Ks: [32, 288] },
];

describe.each(CASES)(
  'matmulQuantExact $type: the documented sum order, bit for bit (SIMD128 build)',
  ({ type, Ks }) => {
    it('M = 1..8, N ragged around the 8- and 4-row passes, quantized and raw weights', () => {
      let seed = 500;
      const failures: string[] = [];
      for (const K of Ks) {
        for (const N of [1, 4, 7, 8, 13, 19]) {
          for (const raw of [false, true]) {
            const w = exactWeights(type, N, K, seed++, raw);
            const wf = dequantize(type, w, N * K);
            for (const M of [1, 2, 5, 8]) {
              const x = normals(M * K, seed++);
              const diff = bitDifferences(runExact(rt, type, x, w, M, N, K), emulate(x, wf, M, N, K));
              if (diff.length > 0)
                failures.push(
                  `K=${K} N=${N} M=${M} raw=${raw}: ${diff.length} elements differ, first ${diff[0]}`,
                );
            }
          }
        }
      }
      expect(failures).toEqual([]);
    });
  },
);
