/**
 * engine.matmul on WebGPU with matmulPrecision 'f16' (wgsl/matmul-f32.ts: x and
 * W rounded to f16 in integer ops, exact products, f32 sums). Two checks per
 * output, both derived in src/oracle/webgpu-matmul-bound.ts:
 * - against the float64 dot of the operands rounded on the host (emulate.ts
 *   roundF16, src/types/half.ts): the plain f32 kernel bound, plus what
 *   flushing f16 subnormal operands can lose where halves are stored as f16;
 * - against the float64 dot of the unrounded operands: matmulF16OperandsBound
 *   (the f16 tier, derived per product).
 * Both storages run where the adapter has shader-f16 (lavapipe in CI): halves
 * stored as f16, and as their f32 values (the path without shader-f16, the
 * only one on SwiftShader).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { WebGpuEngine } from '../../../src/backends/webgpu/engine.js';
import { BackendUnavailableError, createEngine } from '../../../src/engine/engine.js';
import { dequantize } from '../../../src/ops/dequantize.js';
import { quantize } from '../../../src/ops/quantize.js';
import { roundF16, roundOperands } from '../../../src/oracle/emulate.js';
import { emulatedMatmul } from '../../../src/oracle/emulated-matmul.js';
import {
  f16OperandFlushLoss,
  matmulF16OperandsBound,
  matmulGpuBound,
} from '../../../src/oracle/webgpu-matmul-bound.js';
import { type GgmlTypeName, ggmlType } from '../../../src/types/ggml-types.js';
import { f32ToF16 } from '../../../src/types/half.js';
import { rng } from '../../helpers/ggml-inputs.js';
import { webgpuEngine } from '../../helpers/webgpu.js';
import { bitsEqual, gpuMatmulValues, withAndWithout } from '../../helpers/webgpu-matmul.js';

const gpu = await webgpuEngine({ matmulPrecision: 'f16' });
const gpu32 = await webgpuEngine();

afterAll(async () => {
  await gpu?.dispose();
  await gpu32?.dispose();
});

/** Values from 2^-20 (f16 subnormals) to 2^14·2 (below f16 overflow), signed, with exact zeros. */
function mixed(n: number, seed: number): Float32Array {
  const u = rng(seed);
  return Float32Array.from({ length: n }, () => {
    const r = u();
    if (r < 0.02) return 0;
    return (u() < 0.5 ? -1 : 1) * 2 ** Math.floor(u() * 34 - 20) * (1 + u());
  });
}

/** Values in (−1, 1): most products normal in f16, a realistic activation range. */
function uniform(n: number, seed: number): Float32Array {
  const u = rng(seed);
  return Float32Array.from({ length: n }, () => 2 * u() - 1);
}

describe.skipIf(!gpu || !gpu32)('WebGPU matmul, f16 operands', () => {
  const e = gpu!;

  const run = (
    eng: WebGpuEngine,
    x: Float32Array,
    w: Float32Array | Uint8Array,
    M: number,
    N: number,
    K: number,
    type: GgmlTypeName = 'f32',
    numerics: 'exact' | 'ggml' = 'exact',
  ) => gpuMatmulValues(eng, x, w, [M, N, K], type, numerics);

  /** Runs fn with halves stored as f16 (where the device has shader-f16) and as f32 values. */
  const bothStorages = (fn: (halfStorage: boolean) => Promise<void>) => withAndWithout(e, 'f16', fn);

  /** Outputs outside either bound (see the module header); NaN and ±inf must match the rounded dot's. */
  function failures(
    label: string,
    y: Float32Array,
    x: Float32Array,
    w: Float32Array,
    M: number,
    N: number,
    K: number,
    halfStorage: boolean,
  ): string[] {
    const xr = roundOperands(x, 'f16');
    const wr = roundOperands(w, 'f16');
    const rounded = emulatedMatmul(xr, wr, M, N, K, { inputs: 'f32', accumulate: 'f64' });
    const exact = emulatedMatmul(x, w, M, N, K, { inputs: 'f32', accumulate: 'f64' });
    const out: string[] = [];
    for (let m = 0; m < M && out.length < 3; m++) {
      for (let n = 0; n < N && out.length < 3; n++) {
        const i = m * N + n;
        const xs = xr.subarray(m * K, (m + 1) * K);
        const ws = wr.subarray(n * K, (n + 1) * K);
        const flush = halfStorage ? f16OperandFlushLoss(xs, ws) : 0;
        const r = rounded.y[i];
        if (!Number.isFinite(r)) {
          if (!Object.is(y[i], r)) out.push(`${label}: y[${m}, ${n}] = ${y[i]}, rounded dot ${r}`);
          continue;
        }
        const b1 = matmulGpuBound(K, rounded.magnitude[i]) + flush;
        if (!(Math.abs(y[i] - r) <= b1))
          out.push(`${label}: y[${m}, ${n}] = ${y[i]}, rounded dot ${r}, bound ${b1}`);
        let absSum = 0;
        for (let k = 0; k < K; k++) absSum += Math.abs(x[m * K + k]) + Math.abs(w[n * K + k]);
        const b2 = matmulF16OperandsBound(K, exact.magnitude[i], absSum, rounded.magnitude[i], flush);
        if (!(Math.abs(y[i] - exact.y[i]) <= b2))
          out.push(`${label}: y[${m}, ${n}] = ${y[i]}, exact ${exact.y[i]}, f16 bound ${b2}`);
      }
    }
    return out;
  }

  it('reports its precision; the f32 engine is unchanged', () => {
    expect(e.device.matmulPrecision).toBe('f16');
    expect(gpu32!.device.matmulPrecision).toBe('f32');
  });

  it('f32 weights, matvec and tiled, ragged shapes, from f16 subnormals to 2^15: within both bounds', async () => {
    const out: string[] = [];
    await bothStorages(async (half) => {
      for (const [M, N, K] of [
        [1, 7, 33],
        [3, 33, 100],
        [8, 5, 17],
        [9, 33, 37],
        [70, 65, 40],
      ]) {
        const x = mixed(M * K, M * 7 + K);
        const w = mixed(N * K, N * 13 + K);
        const y = await run(e, x, w, M, N, K);
        out.push(...failures(`${half ? 'f16' : 'f32'} storage ${M}x${N}x${K}`, y, x, w, M, N, K, half));
      }
    });
    expect(out).toEqual([]);
    expect(e.opReport().matmul.cpu).toBe(0);
  });

  it.each(['f16', 'bf16', 'q4_0', 'q8_0', 'q4_K', 'q5_K', 'q6_K', 'iq4_nl'] as const)(
    '%s weights decoded in place, then rounded: within both bounds',
    async (type) => {
      const { blockSize } = ggmlType(type);
      const K = blockSize === 256 ? 256 : 96;
      const out: string[] = [];
      await bothStorages(async (half) => {
        for (const [M, N] of [
          [2, 9],
          [12, 17],
        ]) {
          const x = uniform(M * K, M + K);
          const bytes = quantize(type, uniform(N * K, N * K + 1));
          const w = dequantize(type, bytes, N * K);
          const y = await run(e, x, bytes, M, N, K, type);
          out.push(
            ...failures(`${type} ${half ? 'f16' : 'f32'} storage ${M}x${N}x${K}`, y, x, w, M, N, K, half),
          );
        }
      });
      expect(out).toEqual([]);
    },
  );

  it('rounds each operand to the nearest-even half: ties, the largest half, overflow, subnormals, NaN', async () => {
    // y[m] = x̂[m]·1 (K = N = 1): the kernel's rounding of x, seen exactly.
    const x = Float32Array.from([
      1 + 2 ** -11, // tie → 1 (even)
      1 + 3 * 2 ** -11, // tie → 1 + 2^-9 (even)
      65519, // → 65504
      65520, // → inf
      -1e6, // → −inf
      3e-6, // an f16 subnormal
      1e-9, // → 0
      Number.NaN,
      0.1,
    ]);
    await bothStorages(async (half) => {
      for (const M of [x.length, 70]) {
        const xs = Float32Array.from({ length: M }, (_, i) => x[i % x.length]);
        const y = await run(e, xs, Float32Array.of(1), M, 1, 1);
        for (let i = 0; i < M; i++) {
          const want = roundF16(xs[i]);
          // A subnormal half may flush to zero when the device widens a stored half.
          const flushed = half && Math.abs(want) > 0 && Math.abs(want) < 2 ** -14 ? [want, 0] : [want];
          expect(flushed, `x ${xs[i]} (M ${M}, ${half ? 'f16' : 'f32'} storage)`).toContainEqual(y[i]);
        }
      }
    });
    expect(roundF16(65519)).toBe(65504);
    expect(roundF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
  });

  it('operands that are halves already: the f32 engine’s bits; otherwise rounding shows', async () => {
    for (const [M, N, K] of [
      [1, 9, 40],
      [20, 9, 40],
    ]) {
      const halves = (v: Float32Array) => Float32Array.from(v, roundF16);
      const x = halves(uniform(M * K, 5));
      const w = halves(uniform(N * K, 6));
      expect(bitsEqual(await run(e, x, w, M, N, K), await run(gpu32!, x, w, M, N, K))).toBe(true);
      const x2 = uniform(M * K, 7);
      expect(bitsEqual(await run(e, x2, w, M, N, K), await run(gpu32!, x2, w, M, N, K))).toBe(false);
    }
  });

  it('deterministic: the same bits on every run; f16 storage gives the f32-storage bits on lavapipe', async () => {
    const [M, N, K] = [12, 33, 64];
    const x = mixed(M * K, 11);
    const w = mixed(N * K, 12);
    const first = await run(e, x, w, M, N, K);
    expect(bitsEqual(first, await run(e, x, w, M, N, K))).toBe(true);
    if (e.device.f16 && /llvmpipe/i.test(e.device.description)) {
      // lavapipe widens f16 subnormals exactly (an observed property of that device, asserted only there).
      const runs: Float32Array[] = [];
      await bothStorages(async () => {
        runs.push(await run(e, x, w, M, N, K));
        runs.push(await run(e, x.subarray(0, 3 * K), w, 3, N, K));
      });
      expect(bitsEqual(runs[0], runs[2])).toBe(true);
      expect(bitsEqual(runs[1], runs[3])).toBe(true);
    }
  });

  it('ggml numerics: the q8 kernels are unaffected; f16 weights meet halves already', async () => {
    const [M, N, K] = [3, 8, 64];
    const x = uniform(M * K, 21);
    const q = quantize('q8_0', uniform(N * K, 22));
    expect(
      bitsEqual(
        await run(e, x, q, M, N, K, 'q8_0', 'ggml'),
        await run(gpu32!, x, q, M, N, K, 'q8_0', 'ggml'),
      ),
    ).toBe(true);
    const h = new Uint8Array(Uint16Array.from(uniform(N * K, 23), f32ToF16).buffer);
    expect(
      bitsEqual(await run(e, x, h, M, N, K, 'f16', 'ggml'), await run(gpu32!, x, h, M, N, K, 'f16', 'ggml')),
    ).toBe(true);
  });

  it('refused where it cannot apply: a CPU engine, an unknown precision', async () => {
    await expect(createEngine({ backend: 'wasm', matmulPrecision: 'f16' })).rejects.toThrow(
      BackendUnavailableError,
    );
    await expect(createEngine({ backend: 'reference', matmulPrecision: 'f16' })).rejects.toThrow(
      /WebGPU option/,
    );
    await expect(
      createEngine({ backend: 'webgpu', matmulPrecision: 'f8' as unknown as 'f16' }),
    ).rejects.toThrow(/matmulPrecision must be/);
  });
});
