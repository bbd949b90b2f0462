/**
 * Child-process check for test/backends/wasm/matmul-ggml.test.ts (run with
 * `node --experimental-wasm-relaxed-simd --import tsx`): instantiates the SIMD128 and the
 * relaxed-SIMD builds side by side and prints, as JSON, whether every activation quantizer
 * and every ggml-mode matmul kernel gives the same bytes in both (raw random codes, so the
 * relaxed dot sees every weight code and activations down to −128).
 */
import {
  activationBytes,
  GGML_MATMUL_TYPES,
  matmulGgml,
  quantizeActivations,
  type VecDotType,
  vecDotType,
  weightRowBytes,
} from '../../src/backends/wasm/matmul-ggml.js';
import { compileKernels, WasmRuntime } from '../../src/backends/wasm/module.js';
import { GGML_TYPES } from '../../src/types/ggml-types.js';
import { makeWeights, normals, rawActivations } from './ggml-inputs.js';

const builds = [
  await WasmRuntime.create(await compileKernels(['wasm-simd'])),
  await WasmRuntime.create(await compileKernels(['wasm-relaxed-simd'])),
];

function put(rt: WasmRuntime, bytes: Uint8Array): number {
  const p = rt.arena.alloc(bytes.byteLength);
  rt.u8.set(bytes, p);
  return p;
}

const report: { type: string; same: boolean; relaxed: string }[] = [];
const K = 512;
for (const vdt of ['q8_0', 'q8_1', 'q8_K', 'f16', 'bf16'] as VecDotType[]) {
  const M = 3;
  const x = normals(M * K, 7, 3);
  x[5] = Number.NaN;
  x[300] = Number.POSITIVE_INFINITY;
  const outs = builds.map((rt) => {
    const xp = put(rt, new Uint8Array(x.buffer));
    const n = activationBytes(vdt, M, K);
    const op = rt.arena.alloc(n);
    quantizeActivations(rt, vdt, xp, op, M, K);
    return Buffer.from(rt.u8.slice(op, op + n));
  });
  report.push({ type: vdt, same: outs[0].equals(outs[1]), relaxed: builds[1].build });
}
for (const type of GGML_MATMUL_TYPES) {
  const M = 5;
  const N = 9;
  const k = GGML_TYPES[type].blockSize === 256 ? K : GGML_TYPES[type].blockSize === 32 ? 96 : 75;
  const w = makeWeights(type, N, k, 11, true);
  const xq = rawActivations(vecDotType(type), M, k, 12);
  if (w.length !== N * weightRowBytes(type, k)) throw new Error('weight size');
  const outs = builds.map((rt) => {
    const xp = put(rt, xq);
    const wp = put(rt, w);
    const yp = rt.arena.alloc(M * N * 4);
    matmulGgml(rt, type, xp, wp, yp, M, N, k);
    return Buffer.from(rt.u8.slice(yp, yp + M * N * 4));
  });
  report.push({ type, same: outs[0].equals(outs[1]), relaxed: builds[1].build });
}
console.log(JSON.stringify(report));
