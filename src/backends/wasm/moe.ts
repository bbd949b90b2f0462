/**
 * The MoE routing kernel (assembly/moe/route.ts) from TypeScript. moeRouteCall
 * describes one routing over token ranges (the NnCall shape of ./nn.ts), so one
 * description serves one thread and the worker pool:
 *
 *   const plan = validateMoeRoute(logits, opts);
 *   const call = moeRouteCall(plan, { logits, bias, groupScores, weights, experts });
 *   // run call.args(t0, t1) for ranges of [0, call.total), then, once all ranges are done:
 *   const result = finishMoeRoute(rt, plan, weights, experts);
 *
 * Pointers are byte offsets into the runtime's memory: logits f32 [T, E],
 * bias f32 [E] (deepseek-v3, or 0), groupScores f32 [T, nGroup] (written when
 * nGroup > 1, else 0), weights f32 [T, k], experts i32 [T, k]. Each token is
 * computed by one call: any split gives the same bits.
 */
import { ShapeError } from '../../errors.js';
import { applyCapacity, type MoeRoutePlan, type MoeRouteResult } from '../../ops/moe-route.js';
import type { WasmRuntime } from './module.js';
import type { NnCall } from './nn.js';

const GATING_ID = { softmax: 0, sigmoid: 1, 'topk-softmax': 2 } as const;
const FLAG_NORMALIZE = 4;

export interface MoeRoutePointers {
  logits: number;
  /** f32 [E], deepseek-v3's selection bias; 0: none. */
  bias: number;
  /** f32 [T, nGroup], required when plan.nGroup > 1; else 0. */
  groupScores: number;
  weights: number;
  experts: number;
}

/** Bytes of the buffers the caller provides for a plan. */
export function moeRouteBytes(plan: MoeRoutePlan): {
  weights: number;
  experts: number;
  groupScores: number;
  bias: number;
} {
  return {
    weights: plan.tokens * plan.k * 4,
    experts: plan.tokens * plan.k * 4,
    groupScores: plan.nGroup > 1 ? plan.tokens * plan.nGroup * 4 : 0,
    bias: plan.bias ? plan.experts * 4 : 0,
  };
}

/**
 * The arithmetic the kernel runs for a plan. Softmax → top-k → renormalize
 * equals, in real arithmetic, a softmax over the k selected logits (the full
 * denominator cancels) whenever the floor 2^-14 is not reached, and it never
 * is when E ≤ 16384·k (the top-k probabilities sum to at least k/E). The
 * kernel then skips the exp over all E logits; its bound follows this path
 * (src/oracle/moe-bound.ts).
 */
export function moeKernelPath(plan: MoeRoutePlan): Pick<MoeRoutePlan, 'gating' | 'normalize'> {
  if (plan.gating === 'softmax' && plan.normalize && plan.experts <= plan.k * 16384)
    return { gating: 'topk-softmax', normalize: false };
  return { gating: plan.gating, normalize: plan.normalize };
}

export function moeRouteCall(plan: MoeRoutePlan, p: MoeRoutePointers): NnCall {
  if (plan.nGroup > 1 && !p.groupScores)
    throw new ShapeError(`moeRoute: ${plan.nGroup} groups need a group-score buffer [T, ${plan.nGroup}]`);
  if (plan.bias && !p.bias)
    throw new ShapeError('moeRoute: the plan has a bias but no bias pointer was given');
  const path = moeKernelPath(plan);
  const flags = GATING_ID[path.gating] | (path.normalize ? FLAG_NORMALIZE : 0);
  const groups = plan.nGroup | (plan.topkGroup << 8);
  return {
    kernel: 'moe_route',
    total: plan.tokens,
    granularity: 1,
    args: (t0, t1) => [
      p.logits,
      p.bias,
      p.groupScores,
      p.weights,
      p.experts,
      plan.experts,
      plan.k,
      flags,
      groups,
      plan.scale,
      t0,
      t1,
    ],
  };
}

/** Reads the routed tokens back and applies switch capacity (which needs every token). */
export function finishMoeRoute(
  rt: WasmRuntime,
  plan: MoeRoutePlan,
  weights: number,
  experts: number,
): MoeRouteResult {
  const n = plan.tokens * plan.k;
  const w = rt.f32(weights, n).slice();
  const e = new Int32Array(rt.memory.buffer, experts, n).slice();
  const r = applyCapacity({ weights: w, experts: e, dropped: null, droppedCount: 0 }, plan);
  // Dropped tokens' zero weights go back to memory too, for a dispatch that reads them there.
  if (r.dropped) rt.f32(weights, n).set(r.weights);
  return r;
}

/**
 * Routes tokens [t0, t1) on the calling thread (the whole plan by default);
 * finishMoeRoute afterwards.
 */
export function moeRoute(
  rt: WasmRuntime,
  plan: MoeRoutePlan,
  p: MoeRoutePointers,
  t0 = 0,
  t1 = plan.tokens,
): void {
  if (!(Number.isSafeInteger(t0) && Number.isSafeInteger(t1) && 0 <= t0 && t0 <= t1 && t1 <= plan.tokens))
    throw new ShapeError(`moe_route: range [${t0}, ${t1}) is outside [0, ${plan.tokens})`);
  const c = moeRouteCall(plan, p);
  if (t0 < t1) rt.kernel(c.kernel)(...c.args(t0, t1));
}

/** Copies the plan's bias into arena memory (0 when it has none); release it after the call. */
export function putMoeBias(rt: WasmRuntime, plan: MoeRoutePlan): number {
  if (!plan.bias) return 0;
  const p = rt.arena.alloc(plan.bias.byteLength);
  rt.f32(p, plan.bias.length).set(plan.bias);
  return p;
}
