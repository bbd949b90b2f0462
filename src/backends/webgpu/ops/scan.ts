/**
 * Linear recurrence scans on the GPU (src/ops/scan.ts; kernels: ../wgsl/scan.ts).
 * 'sequential': one invocation per channel over all T steps. 'chunked':
 * chunks of L = scanChunkLength(T) steps (the CPU's), one invocation per
 * (chunk, channel) for the local scans and the fix-up, one per channel for
 * the carries. 'auto' takes the chunked scan when the channels alone give
 * the GPU little to do.
 *
 * Tier: every step rounds a product and a sum separately (the kernels keep
 * the compiler from fusing them), so each term of h_t carries at most
 * 2t + 3 roundings (src/ops/scan.ts) of up to 1 ULP each (WGSL fixes no
 * rounding mode): |ĥ_t − h_t| ≤ γ(2t + 3, 2^-23)·m_t + (2t + 3)·2^-126
 * (flushed subnormals): linearScanBound(t, m, WGSL_F32). On a device that rounds to nearest even and keeps
 * subnormals the sequential and chunked results are the wasm kernels' bits.
 */
import type { Tensor } from '../../../engine/tensor.js';
import { scanChunkLength, validateScan } from '../../../ops/scan.js';
import type { GpuHost } from '../host.js';
import type { GpuTensor } from '../tensor.js';
import { SCAN_WG, scanApplyWgsl, scanCarryWgsl, scanReduceWgsl, scanSequentialWgsl } from '../wgsl/scan.js';

export type ScanMethod = 'auto' | 'sequential' | 'chunked';

/** Channels that keep a GPU busy on their own; below that, auto splits time too. */
const AUTO_SEQUENTIAL_CHANNELS = 8192;

/** Which method runs for [T, D]. */
export function gpuScanMethod(T: number, D: number, method: ScanMethod = 'auto'): 'sequential' | 'chunked' {
  if (method !== 'auto') return method;
  return D < AUTO_SEQUENTIAL_CHANNELS && scanChunkLength(T) > 1 ? 'chunked' : 'sequential';
}

/** Runs the scan of GPU tensors into a new [T, D] tensor. */
export function scanOnGpu(
  host: GpuHost,
  a: GpuTensor,
  b: GpuTensor,
  h0: GpuTensor | null,
  T: number,
  D: number,
  method: 'sequential' | 'chunked',
): GpuTensor {
  const { ctx } = host;
  const h = host.output([T, D], 'scan output');
  const temps: GPUBuffer[] = [];
  try {
    const init = h0?.binding ?? ctx.buffer(4, 'scan h0 (none)');
    if (!h0) temps.push(init as GPUBuffer);
    const has = h0 ? 1 : 0;
    if (method === 'sequential') {
      ctx.run(
        scanSequentialWgsl(),
        [0, T, D, has],
        [a.binding, b.binding, init, h.binding],
        Math.ceil(D / SCAN_WG),
      );
    } else {
      const L = scanChunkLength(T);
      const C = Math.ceil(T / L);
      const P = ctx.buffer(C * D * 4, 'scan chunk products');
      const E = ctx.buffer(C * D * 4, 'scan chunk carries');
      temps.push(P, E);
      const per = Math.ceil((C * D) / SCAN_WG);
      ctx.run(scanReduceWgsl(), [0, T, D, L, C], [a.binding, b.binding, P, E], per);
      ctx.run(scanCarryWgsl(), [0, C, D, has], [P, E, init], Math.ceil(D / SCAN_WG));
      ctx.run(scanApplyWgsl(), [0, T, D, L, C, has], [a.binding, b.binding, init, E, h.binding], per);
    }
    return h;
  } catch (e) {
    h.dispose();
    throw e;
  } finally {
    for (const t of temps) t.destroy();
  }
}

export async function gpuScan(
  host: GpuHost,
  a: Tensor,
  b: Tensor,
  h0: Tensor | null | undefined,
  opts: { method?: ScanMethod } = {},
): Promise<Tensor> {
  const { T, D } = validateScan(a, b, h0 ?? undefined);
  const h = scanOnGpu(
    host,
    host.gpu(a, 'scan a'),
    host.gpu(b, 'scan b'),
    h0 ? host.gpu(h0, 'scan h0') : null,
    T,
    D,
    gpuScanMethod(T, D, opts.method),
  );
  host.ran('scan', 'webgpu');
  return h;
}
