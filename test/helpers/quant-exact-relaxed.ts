/**
 * Child-process check for test/backends/wasm/matmul-quant-exact.test.ts (run with
 * `node --experimental-wasm-relaxed-simd --import tsx`): the relaxed-SIMD build decodes every
 * weight type to the same bits as the SIMD128 build (its fused decode is exact: see
 * assembly/dequant/table.ts), and its exact matmul passes the bound, determinism and NaN checks.
 * Prints JSON { build, types, failures }.
 */
import { wasmDequantize } from '../../src/backends/wasm/dequant.js';
import { QUANT_EXACT_TYPES } from '../../src/backends/wasm/matmul-quant.js';
import { compileKernels, WasmRuntime } from '../../src/backends/wasm/module.js';
import { GGML_TYPES } from '../../src/types/ggml-types.js';
import { normals } from './ggml-inputs.js';
import {
  boundFailures,
  determinismFailures,
  exactWeights,
  nanFailures,
  runExact,
  testKs,
} from './quant-exact-checks.js';

const simd = await WasmRuntime.create(await compileKernels(['wasm-simd']));
const relaxed = await WasmRuntime.create(await compileKernels(['wasm-relaxed-simd']));

/** Bits of a float array with every NaN made the same, so NaN payloads do not count. */
function canonicalBits(a: Float32Array): Uint32Array {
  const u = new Uint32Array(a.length);
  const v = new Uint32Array(a.buffer, a.byteOffset, a.length);
  for (let i = 0; i < a.length; i++) u[i] = Number.isNaN(a[i]) ? 0x7fc00000 : v[i];
  return u;
}

const failures: string[] = [];
let seed = 1;
for (const type of QUANT_EXACT_TYPES) {
  const info = GGML_TYPES[type];
  for (const K of testKs(type)) {
    for (const raw of [false, true]) {
      const N = 9;
      const w = exactWeights(type, N, K, seed++, raw);
      const a = canonicalBits(wasmDequantize(simd, info, w, N * K));
      const b = canonicalBits(wasmDequantize(relaxed, info, w, N * K));
      const i = a.findIndex((v, j) => v !== b[j]);
      if (i >= 0) failures.push(`${type} K=${K} raw=${raw}: relaxed dequant differs at ${i}`);
    }
    for (const M of [1, 3, 16]) {
      const N = 17;
      const x = normals(M * K, seed++);
      const w = exactWeights(type, N, K, seed++, true);
      failures.push(...boundFailures(type, x, w, runExact(relaxed, type, x, w, M, N, K), M, N, K));
    }
  }
  const K = testKs(type)[1];
  failures.push(...determinismFailures(relaxed, type, 1, 33, K, seed++));
  failures.push(...determinismFailures(relaxed, type, 6, 17, K, seed++));
  failures.push(...nanFailures(relaxed, type, 7, K, seed++));
}
console.log(JSON.stringify({ build: relaxed.build, types: QUANT_EXACT_TYPES.length, failures }));
