/**
 * engine.matmul on WebGPU against the float64 reference.
 *
 * exact numerics: weights decoded to their exact f32 values (bit-identical to dequantize()),
 * f32 activations, f32 sums of K correctly rounded products in a fixed tree, so every element
 * is within γ(K, 2^-24)·Σ|x||w| of the float64 dot (Higham; any summation tree of K terms),
 * plus K·2^-126 because WGSL may flush subnormal products and sums to zero (an absolute loss
 * below 2^-126 each; the inputs here keep products far above it).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { referenceMatmul } from '../../../src/backends/reference/matmul.js';
import type { Tensor } from '../../../src/engine/tensor.js';
import { dotBound, UNIT_ROUNDOFF } from '../../../src/oracle/tiers.js';
import { webgpuEngine } from '../../helpers/webgpu.js';
import { values } from '../wasm/matmul-f32-checks.js';

const gpu = await webgpuEngine();

function boundFailures(
  label: string,
  y: Float32Array,
  x: Float32Array,
  w: Float32Array,
  M: number,
  N: number,
  K: number,
): string[] {
  const ref = referenceMatmul(x, w, M, N, K);
  const out: string[] = [];
  for (let i = 0; i < M * N; i++) {
    const bound = dotBound(K, UNIT_ROUNDOFF.f32, ref.magnitude[i], 1, K * 2 ** -126);
    const ok = Number.isFinite(ref.y[i]) ? Math.abs(y[i] - ref.y[i]) <= bound : Object.is(y[i], ref.y[i]);
    if (!ok) {
      out.push(
        `${label}: y[${Math.floor(i / N)}, ${i % N}] = ${y[i]}, reference ${ref.y[i]}, bound ${bound}`,
      );
      if (out.length >= 3) break;
    }
  }
  return out;
}

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

describe.skipIf(!gpu)('WebGPU matmul, f32 weights', () => {
  const e = gpu!;
  afterAll(() => e.dispose());

  async function run(
    x: Float32Array,
    w: Float32Array | Uint8Array,
    M: number,
    N: number,
    K: number,
    type = 'f32',
  ) {
    const xt = e.tensor(x, [M, K]);
    const wt = e.tensor(w, [N, K], type);
    let yt: Tensor | undefined;
    try {
      yt = await e.matmul(xt, wt);
      return await yt.read();
    } finally {
      yt?.dispose();
      xt.dispose();
      wt.dispose();
    }
  }

  it('ragged shapes, matvec (M ≤ 8) and tiled (M > 8), within the f32 bound', async () => {
    const failures: string[] = [];
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
        failures.push(...boundFailures(`${M}x${N}x${K}`, await run(x, w, M, N, K), x, w, M, N, K));
      }
    }
    expect(failures).toEqual([]);
    expect(e.opReport().matmul.cpu).toBe(0);
  });
});
