/** matmul on the GPU: y = x · Wᵀ (src/ops/matmul.ts). */
import type { Tensor } from '../../../engine/tensor.js';
import { type MatmulOptions, validateMatmul } from '../../../ops/matmul.js';
import type { GpuHost } from '../host.js';

export async function gpuMatmul(
  host: GpuHost,
  x: Tensor,
  w: Tensor,
  opts: MatmulOptions = {},
): Promise<Tensor> {
  validateMatmul(x, w, opts);
  return host.fallback('matmul', 'no WebGPU kernel yet', [x, w], (cpu, [a, b]) => cpu.matmul(a!, b!, opts));
}
