/**
 * The mixture-of-experts FFN of a block (llama.cpp's build_moe_ffn), on any
 * engine with moeFfn:
 *
 *   logits = f·ffn_gate_inpᵀ                         moe_router_logits [n, E]
 *   weights, experts = moeRoute(logits, scheme, k)   moe_weights [n, k]
 *   y_j = expert_{e_j}(f)                            moe_experts [n, k·n_embd] (traced only)
 *   out = Σ_j w_j·y_j (+ sigmoid(f·shexp_gate)·shared(f))   moe_out [n, n_embd]
 *
 * The scheme is the architecture's (Mixtral and Qwen3-MoE renormalize the
 * top-k softmax weights, Qwen2-MoE does not and adds its shared expert).
 */
import type { Tensor } from '../engine/tensor.js';
import type { BlockContext, Scope } from './block.js';
import { ModelError } from './errors.js';
import type { MoeLayerWeights } from './weights.js';

/** Runs layer l's MoE FFN on the normed stream f; returns moe_out (owned by s). */
export async function runMoeFfn(
  ctx: BlockContext,
  l: number,
  w: MoeLayerWeights,
  f: Tensor,
  s: Scope,
): Promise<Tensor> {
  const { engine: e, capture: cap, numerics } = ctx;
  const moe = ctx.h.moe;
  if (!moe) throw new ModelError(`layer ${l} has expert weights but the hyperparameters have no experts`);
  if (!e.moeFfn)
    throw new ModelError(`the ${e.backend} backend has no moeFfn: it cannot run mixture-of-experts layers`);
  const logits = s.keep(await e.matmul(f, w.router, { numerics }));
  await cap?.put('moe_router_logits', l, logits);
  const route = await e.moeRoute(logits, { scheme: moe.scheme, k: moe.nExpertUsed });
  s.keep(route.weights);
  s.keep(route.experts);
  await cap?.put('moe_weights', l, route.weights);
  const r = await e.moeFfn(f, route, w.experts, { numerics, slotOutputs: cap?.wants('moe_experts', l) });
  s.keep(r.out);
  if (r.slots) await cap?.put('moe_experts', l, s.keep(r.slots));
  await cap?.put('moe_out', l, r.out);
  return r.out;
}
