/**
 * MoE routing on the GPU (src/ops/moe-route.ts; kernels: ../wgsl/moe.ts;
 * bound against the float64 reference: src/oracle/moe-bound.ts). Every scheme runs
 * here: the per-token kernel, deepseek-v3's sigmoid selection values first,
 * switch capacity after it. Softmax schemes select on the logits' bits, so
 * their experts — and switch's drop census — are the CPU's exactly.
 */
import type { MoeRouteTensors } from '../../../engine/engine.js';
import type { Tensor } from '../../../engine/tensor.js';
import { type MoeRouteOptions, type MoeRoutePlan, validateMoeRoute } from '../../../ops/moe-route.js';
import { moeKernelPath } from '../../wasm/moe.js';
import { f32Bits } from '../context.js';
import type { GpuHost } from '../host.js';
import type { GpuTensor } from '../tensor.js';
import {
  MOE_FLAT_WG,
  MOE_GATING,
  moeCapacityWgsl,
  moeRouteWgsl,
  moeRouteWorkgroup,
  moeSigmoidWgsl,
} from '../wgsl/moe.js';

export interface GpuMoeRoute extends MoeRouteTensors {
  weights: GpuTensor;
  experts: GpuTensor;
  /** deepseek-v3 with nGroup > 1: each token's group scores [T, nGroup] (what selection ranked). */
  groupScores: GpuTensor | null;
}

/** Routes logits [T, E] on the GPU by a validated plan (the engine method drops groupScores). */
export async function routeOnGpu(host: GpuHost, logits: GpuTensor, plan: MoeRoutePlan): Promise<GpuMoeRoute> {
  const { ctx } = host;
  const { tokens: T, experts: E, k, nGroup } = plan;
  const weights = host.output([T, k], 'moeRoute weights');
  const experts = host.output([T, k], 'moeRoute experts');
  const groupScores = nGroup > 1 ? host.output([T, nGroup], 'moeRoute group scores') : null;
  const path = moeKernelPath(plan);
  const temps: GPUBuffer[] = [];
  try {
    let sel = logits.binding;
    if (plan.gating === 'sigmoid') {
      const bias = plan.bias
        ? ctx.upload(new Uint8Array(plan.bias.buffer, plan.bias.byteOffset, plan.bias.byteLength), 'moe bias')
        : ctx.buffer(4, 'moe bias');
      const scratch = ctx.buffer(T * E * 4, 'moeRoute selection values');
      temps.push(bias, scratch);
      ctx.run(
        moeSigmoidWgsl(),
        [T * E, E, plan.bias ? 1 : 0],
        [logits.binding, bias, scratch],
        Math.ceil((T * E) / MOE_FLAT_WG),
      );
      sel = { buffer: scratch, size: Math.max(4, T * E * 4) };
    }
    const gs = groupScores?.binding ?? ctx.buffer(4, 'moeRoute group scores (none)');
    if (!groupScores) temps.push(gs as GPUBuffer);
    ctx.run(
      moeRouteWgsl(moeRouteWorkgroup(E)),
      [T, E, k, MOE_GATING[path.gating], path.normalize ? 1 : 0, nGroup, plan.topkGroup, f32Bits(plan.scale)],
      [sel, logits.binding, weights.binding, experts.binding, gs],
      T,
    );
    let dropped: Uint8Array | null = null;
    let droppedCount = 0;
    if (plan.capacity !== null) {
      const flags = ctx.buffer(T * 4, 'moeRoute dropped');
      temps.push(flags);
      ctx.run(
        moeCapacityWgsl(),
        [T, E, plan.capacity],
        [experts.binding, weights.binding, flags],
        Math.ceil(E / MOE_FLAT_WG),
      );
      const words = new Uint32Array((await ctx.read(flags, T * 4)).buffer);
      dropped = Uint8Array.from(words);
      for (const d of dropped) droppedCount += d;
    }
    return { weights, experts, dropped, droppedCount, groupScores };
  } catch (e) {
    weights.dispose();
    experts.dispose();
    groupScores?.dispose();
    throw e;
  } finally {
    // Destroying after submit is safe: submitted work keeps what it uses alive.
    for (const b of temps) b.destroy();
  }
}

export async function gpuMoeRoute(
  host: GpuHost,
  logits: Tensor,
  opts: MoeRouteOptions,
): Promise<MoeRouteTensors> {
  const plan = validateMoeRoute(logits, opts);
  const l = host.gpu(logits, 'moeRoute');
  const { groupScores, ...r } = await routeOnGpu(host, l, plan);
  groupScores?.dispose();
  host.ran('moeRoute', 'webgpu');
  return r;
}
