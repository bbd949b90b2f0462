/** MoE routing on the GPU (src/ops/moe-route.ts). */
import type { MoeRouteTensors } from '../../../engine/engine.js';
import type { Tensor } from '../../../engine/tensor.js';
import { type MoeRouteOptions, validateMoeRoute } from '../../../ops/moe-route.js';
import type { GpuHost } from '../host.js';

export async function gpuMoeRoute(
  host: GpuHost,
  logits: Tensor,
  opts: MoeRouteOptions,
): Promise<MoeRouteTensors> {
  validateMoeRoute(logits, opts);
  const r = await host.onCpu('moeRoute', 'no WebGPU kernel yet', [logits], (cpu, [l]) =>
    cpu.moeRoute(l!, opts),
  );
  return {
    ...r,
    weights: await host.fromCpu(r.weights, 'moeRoute weights'),
    experts: await host.fromCpu(r.experts, 'moeRoute experts'),
  };
}
