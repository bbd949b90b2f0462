/**
 * matmul on the GPU: y = x · Wᵀ (src/ops/matmul.ts), x [M, K] f32, W [N, K].
 *
 * `exact` numerics, every weight type: the kernels decode W in place to the
 * exact f32 values dequantize() gives (wgsl/matmul-weights.ts over blocks.ts),
 * f32 activations, f32 sums (wgsl/matmul-f32.ts: the split-K matvec for
 * M ≤ MATVEC_MAX_M, the tiled GEMM above). Decoding in place, rather than a
 * dequant pass into an f32 copy, needs no N·K·4-byte temporary (which can
 * exceed the device's binding limit where the quantized weights do not).
 * Tier: f32 with the magnitude bound γ(K, 2^-24)·Σ|x||w| — every kernel sums
 * K correctly rounded products in a fixed tree (WGSL module headers).
 */
import type { Tensor } from '../../../engine/tensor.js';
import { type MatmulOptions, validateMatmul } from '../../../ops/matmul.js';
import type { GpuHost } from '../host.js';
import type { GpuTensor } from '../tensor.js';
import { MATVEC_MAX_M, matvecWgsl, TILE, tiledWgsl, type WeightCode } from '../wgsl/matmul-f32.js';
import { weightCode } from '../wgsl/matmul-weights.js';

export async function gpuMatmul(
  host: GpuHost,
  x: Tensor,
  w: Tensor,
  opts: MatmulOptions = {},
): Promise<Tensor> {
  const { M, N, K, numerics } = validateMatmul(x, w, opts);
  const xg = host.gpu(x, 'matmul x');
  const wg = host.gpu(w, 'matmul w');
  if (numerics === 'ggml' && wg.type.name !== 'f32')
    return host.fallback(
      'matmul',
      `no WebGPU kernel for ggml numerics of ${wg.type.name} yet`,
      [x, w],
      (cpu, [a, b]) => cpu.matmul(a!, b!, opts),
    );
  const y = host.output([M, N], 'matmul output');
  runF32(host, weightCode(wg.type.name), xg, wg, y, M, N, K);
  host.ran('matmul', 'webgpu');
  return y;
}

/** y = x · Wᵀ with W decoded by `code`: the matvec kernel for small M, the tiled one otherwise. */
export function runF32(
  host: GpuHost,
  code: WeightCode,
  x: GpuTensor,
  w: GpuTensor,
  y: GpuTensor,
  M: number,
  N: number,
  K: number,
): void {
  if (M === 0 || N === 0) return;
  const { ctx } = host;
  const buffers = [x.binding, w.binding, y.binding];
  if (M <= MATVEC_MAX_M) {
    ctx.run(matvecWgsl(code, ctx.features.subgroups), [M, N, K], buffers, N);
    return;
  }
  const tilesN = Math.ceil(N / TILE);
  ctx.run(tiledWgsl(code), [M, N, K, tilesN], buffers, tilesN * Math.ceil(M / TILE));
}
