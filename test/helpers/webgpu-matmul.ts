/**
 * Checks shared by the WebGPU matmul suites (test/backends/webgpu/matmul*.test.ts).
 *
 * The exact-numerics bound is src/oracle/webgpu-matmul-bound.ts (γ(K, 2^-23)·Σ|x||w| + 2K·2^-126:
 * WGSL rounds either way and may flush subnormal results). Inputs flushed to zero lose |x|·|w|
 * instead; the only subnormal inputs in the suites are bf16 weights against |x| < 1, below that.
 */
import { referenceMatmul } from '../../src/backends/reference/matmul.js';
import type { WebGpuEngine } from '../../src/backends/webgpu/engine.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { matmulGpuBound } from '../../src/oracle/webgpu-matmul-bound.js';

/** Elements of y outside the bound around the float64 reference (NaN and ±inf must match exactly). */
export function boundFailures(
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
    const bound = matmulGpuBound(K, ref.magnitude[i]);
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

/** Whether two f32 arrays hold the same bits. */
export function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

/**
 * Runs fn with an optional device feature on (where the device has it) and then off — the kernels'
 * paths with and without it (subgroups: the reductions; f16: how f16 operands are stored).
 */
export async function withAndWithout(
  e: WebGpuEngine,
  feature: 'f16' | 'subgroups',
  fn: (on: boolean) => Promise<void>,
): Promise<void> {
  const features = e.host.ctx.features;
  const had = features[feature];
  try {
    for (const on of had ? [true, false] : [false]) {
      features[feature] = on;
      await fn(on);
    }
  } finally {
    features[feature] = had;
  }
}

/** y = x · Wᵀ on a WebGPU engine, every tensor disposed afterwards. */
export async function gpuMatmulValues(
  e: WebGpuEngine,
  x: Float32Array,
  w: Float32Array | Uint8Array,
  [M, N, K]: readonly [number, number, number],
  type = 'f32',
  numerics: 'exact' | 'ggml' = 'exact',
): Promise<Float32Array> {
  const xt = e.tensor(x, [M, K]);
  const wt = e.tensor(w, [N, K], type);
  let yt: Tensor | undefined;
  try {
    yt = await e.matmul(xt, wt, { numerics });
    return await yt.read();
  } finally {
    yt?.dispose();
    xt.dispose();
    wt.dispose();
  }
}
