/**
 * engine.matmul on WebGPU, exact numerics, against the float64 reference within
 * γ(K, 2^-23)·Σ|x||w| + 2K·2^-126 (src/oracle/webgpu-matmul-bound.ts): f32, f16, bf16
 * and every block type decoded in place; the matvec (M ≤ 8) with both reductions and the
 * tiled GEMM; NaN propagation; determinism. ggml numerics: matmul-ggml.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { QUANT_EXACT_TYPES } from '../../../src/backends/wasm/matmul-quant.js';
import { dequantize } from '../../../src/ops/dequantize.js';
import { GGML_TYPES } from '../../../src/types/ggml-types.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../../src/types/half.js';
import { normals } from '../../helpers/ggml-inputs.js';
import { exactWeights } from '../../helpers/quant-exact-checks.js';
import { webgpuEngine } from '../../helpers/webgpu.js';
import { bitsEqual, boundFailures, gpuMatmulValues, withAndWithout } from '../../helpers/webgpu-matmul.js';
import { values } from '../wasm/matmul-f32-checks.js';

const gpu = await webgpuEngine();
const FUSED = ['q4_0', 'q8_0', 'q4_K', 'q5_K', 'q6_K'] as const;

afterAll(() => gpu?.dispose());

describe.skipIf(!gpu)('WebGPU matmul, exact numerics', () => {
  const e = gpu!;

  const run = (
    x: Float32Array,
    w: Float32Array | Uint8Array,
    M: number,
    N: number,
    K: number,
    type = 'f32',
  ): Promise<Float32Array> => gpuMatmulValues(e, x, w, [M, N, K], type);

  /** Runs fn once with the device's subgroups and once with the workgroup-memory reduction. */
  const bothReductions = (fn: (label: string) => Promise<void>) =>
    withAndWithout(e, 'subgroups', (sg) => fn(sg ? 'subgroups' : 'shared'));

  it('f32: ragged shapes, matvec (M ≤ 8) and tiled (M > 8), within the f32 bound', async () => {
    const failures: string[] = [];
    await bothReductions(async (how) => {
      for (const [M, N, K] of [
        [1, 1, 1],
        [1, 7, 33],
        [3, 33, 100],
        [8, 65, 17],
        [9, 1, 7],
        [17, 33, 257],
        [70, 65, 40],
        [65, 130, 16],
      ]) {
        for (const wide of [false, true]) {
          const x = values(M * K, M * 31 + K, wide);
          const w = values(N * K, N * 17 + K + 1, wide);
          const y = await run(x, w, M, N, K);
          failures.push(...boundFailures(`${how} ${M}x${N}x${K}`, y, x, w, M, N, K));
        }
      }
    });
    expect(failures).toEqual([]);
    expect(e.opReport().matmul.cpu).toBe(0);
  });

  it('f16 and bf16 weights (subnormal, largest, signed-zero halves) within the bound of their exact values', async () => {
    const failures: string[] = [];
    for (const type of ['f16', 'bf16'] as const) {
      const toBits = type === 'f16' ? f32ToF16 : f32ToBf16;
      const toF32 = type === 'f16' ? f16ToF32 : bf16ToF32;
      for (const [M, N, K] of [
        [1, 33, 100],
        [3, 7, 33],
        [17, 33, 65],
      ]) {
        const x = values(M * K, M + N + K);
        const bits = Uint16Array.from(values(N * K, N * K + 3, true), toBits);
        const specials = type === 'f16' ? [0x0001, 0x83ff, 0x7bff, 0x8000] : [0x0001, 0x807f, 0x4000, 0x8000];
        specials.forEach((h, i) => {
          bits[(i * 7919) % bits.length] = h;
        });
        const w = Float32Array.from(bits, toF32);
        const y = await run(x, new Uint8Array(bits.buffer), M, N, K, type);
        failures.push(...boundFailures(`${type} ${M}x${N}x${K}`, y, x, w, M, N, K));
      }
    }
    expect(failures).toEqual([]);
  });

  // The fused types (and the float ones above) take both kernels, both reductions; the others the
  // matvec kernel (the same w4 decoder; the tiled kernel's staging does not depend on the type,
  // and each tiled pipeline costs SwiftShader about a second to build).
  it.each(QUANT_EXACT_TYPES)('%s weights, decoded in place, within the f32 bound', async (type) => {
    const bs = GGML_TYPES[type].blockSize;
    const fused = (FUSED as readonly string[]).includes(type);
    const failures: string[] = [];
    let seed = 1;
    const Ks = bs === 32 ? [32, 96, 256] : [256, 512];
    const shapes: [number, number, number][] = [
      [1, 7, Ks[0]],
      [3, 33, Ks[1]],
    ];
    if (fused) shapes.push([17, 7, Ks[Ks.length - 1]]);
    const check = async (how: string) => {
      for (const [M, N, K] of shapes) {
        for (const raw of [false, true]) {
          const x = normals(M * K, seed++);
          const wq = exactWeights(type, N, K, seed++, raw);
          const y = await run(x, wq, M, N, K, type);
          const w = dequantize(type, wq, N * K);
          failures.push(
            ...boundFailures(`${how} ${type} ${raw ? 'raw ' : ''}${M}x${N}x${K}`, y, x, w, M, N, K),
          );
        }
      }
    };
    if (fused) await bothReductions(check);
    else await check('device reduction');
    expect(failures).toEqual([]);
    expect(e.opReport().matmul.cpu).toBe(0);
  });

  it('NaN in x row m makes row m NaN, NaN in W row n column n; K = 0 gives zeros; M = 0 an empty y', async () => {
    for (const [M, N, K] of [
      [3, 9, 40],
      [12, 9, 40],
    ]) {
      const x = values(M * K, 41);
      const w = values(N * K, 42);
      x[1 * K + 7] = Number.NaN;
      w[4 * K + K - 1] = Number.NaN;
      const y = await run(x, w, M, N, K);
      for (let m = 0; m < M; m++)
        for (let n = 0; n < N; n++) expect(Number.isNaN(y[m * N + n])).toBe(m === 1 || n === 4);
      expect(await run(new Float32Array(0), new Float32Array(0), M, N, 0)).toEqual(new Float32Array(M * N));
    }
    expect(await run(new Float32Array(0), values(3 * 8, 1), 0, 3, 8)).toEqual(new Float32Array(0));
  });

  it('deterministic: the same bits on a second run (matvec and tiled)', async () => {
    for (const [M, N, K, type] of [
      [1, 33, 512, 'q4_K'],
      [3, 17, 256, 'q8_0'],
      [20, 9, 100, 'f32'],
    ] as const) {
      const x = normals(M * K, 5);
      const w = type === 'f32' ? values(N * K, 6) : exactWeights(type, N, K, 6, true);
      const a = await run(x, w, M, N, K, type);
      const b = await run(x, w, M, N, K, type);
      expect(bitsEqual(a, b)).toBe(true);
    }
  });
});
