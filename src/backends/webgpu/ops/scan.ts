/** Linear recurrence scans on the GPU (src/ops/scan.ts). */
import type { Tensor } from '../../../engine/tensor.js';
import { validateScan } from '../../../ops/scan.js';
import type { GpuHost } from '../host.js';

export async function gpuScan(
  host: GpuHost,
  a: Tensor,
  b: Tensor,
  h0: Tensor | null | undefined,
  opts: { method?: 'auto' | 'sequential' | 'chunked' } = {},
): Promise<Tensor> {
  validateScan(a, b, h0 ?? undefined);
  return host.fallback('scan', 'no WebGPU kernel yet', [a, b, h0], (cpu, [x, y, z]) =>
    cpu.scan(x!, y!, z, opts),
  );
}
