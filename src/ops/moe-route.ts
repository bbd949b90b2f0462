/**
 * MoE routing: router logits [T, E] → per token k experts and their weights,
 * `{ weights [T, k] f32, experts [T, k] i32 }`, in llama.cpp's order
 * (build_moe_ffn; docs/ggml-facts.md "MoE routing order") and the Hugging
 * Face modeling files of each family:
 *
 *   probs = softmax(logits) | sigmoid(logits)
 *   selection = probs (+ bias, DeepSeek: for selection only)
 *   groups (DeepSeek): group score = sum of its top-2 selection values; keep
 *     the topkGroup best groups, the others' experts are not eligible
 *   experts = top-k of selection; weights = probs at those experts
 *   topk-softmax: weights = softmax over the k selected logits instead
 *   normalize: w /= max(Σw, 6.103515625e-5); then w *= scale
 *
 * Schemes:
 * - 'mixtral': softmax, top-k, normalize.
 * - 'qwen2-moe': softmax, top-k, no normalization (normTopk, default false);
 *   its shared expert, gated by sigmoid(gate_inp_shexp·x), belongs to dispatch.
 * - 'qwen3-moe': softmax, top-k, normalize (normTopk, default true: llama.cpp
 *   normalizes whatever the GGUF's norm_topk_prob says).
 * - 'deepseek-v3': sigmoid scores, `bias` [E] added for selection only,
 *   group-limited top-k (`nGroup`, `topkGroup`), normalize (normTopk, default
 *   true), routed scaling factor `scale`.
 * - 'topk-softmax': top-k of the logits, softmax over the k selected.
 * - 'switch': top-1 softmax probability (Switch Transformer), at most
 *   `capacity` tokens per expert, taken in token order; a token past its
 *   expert's capacity is dropped: weight 0, `dropped[t] = 1`, counted in
 *   `droppedCount` (the caller passes such tokens through the residual).
 *   capacity = ceil(capacityFactor·T/E) unless given.
 *
 * Selection is exact math: softmax is strictly increasing, so the top-k of
 * the probabilities is the top-k of the logits and both backends select on
 * the logits (llama.cpp selects on f32 probabilities, where two close logits
 * can round to one probability). Ties: the lower expert index wins, always
 * (and the lower group index between groups with equal scores); experts are
 * listed by decreasing selection value. A NaN logit gives an unspecified
 * selection and NaN weights.
 */
import { ShapeError } from '../errors.js';
import { f32Attribute, f32Rows, type OpOperand } from './operand.js';

export type MoeScheme = 'mixtral' | 'qwen2-moe' | 'qwen3-moe' | 'deepseek-v3' | 'topk-softmax' | 'switch';

export const MOE_SCHEMES: readonly MoeScheme[] = [
  'mixtral',
  'qwen2-moe',
  'qwen3-moe',
  'deepseek-v3',
  'topk-softmax',
  'switch',
];

export interface MoeRouteOptions {
  scheme: MoeScheme;
  /** Experts per token (switch: 1). */
  k: number;
  /** Renormalize the k weights (qwen2-moe default false; qwen3-moe, deepseek-v3 default true). */
  normTopk?: boolean;
  /** deepseek-v3: per-expert correction bias [E], for selection only (default 0). */
  bias?: ArrayLike<number> | null;
  /** deepseek-v3: expert groups (E must be a multiple; default 1). */
  nGroup?: number;
  /** deepseek-v3: groups kept per token (default nGroup). */
  topkGroup?: number;
  /** deepseek-v3: routed scaling factor applied after normalization (default 1). */
  scale?: number;
  /** switch: capacity factor (default 1). */
  capacityFactor?: number;
  /** switch: tokens per expert; overrides the capacity factor. */
  capacity?: number;
}

export type MoeGating = 'softmax' | 'sigmoid' | 'topk-softmax';

/** Everything a backend needs, resolved from a scheme and its options. */
export interface MoeRoutePlan {
  tokens: number;
  experts: number;
  k: number;
  gating: MoeGating;
  normalize: boolean;
  /** f32; 1 = none. */
  scale: number;
  nGroup: number;
  topkGroup: number;
  /** f32 [E] or null. */
  bias: Float32Array | null;
  /** Tokens per expert (switch) or null: no capacity limit. */
  capacity: number | null;
}

export interface MoeRouteResult {
  /** [T, k] f32. */
  weights: Float32Array;
  /** [T, k] expert ids, decreasing selection value. */
  experts: Int32Array;
  /** switch: 1 for each token dropped past capacity; null for the other schemes. */
  dropped: Uint8Array | null;
  droppedCount: number;
}

/** llama.cpp's floor for the sum of the k weights when renormalizing. */
export const MOE_NORM_MIN = 6.103515625e-5;

/** Largest nGroup (the kernel keeps the kept groups in a 64-bit mask). */
export const MOE_MAX_GROUPS = 64;

function count(name: string, v: unknown, min: number, max: number): number {
  if (!(typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max))
    throw new ShapeError(`moeRoute: ${name} must be an integer in [${min}, ${max}], got ${v}`);
  return v;
}

export function validateMoeRoute(logits: OpOperand, opts: MoeRouteOptions): MoeRoutePlan {
  const { rows: tokens, dim: experts } = f32Rows('moeRoute', 'router logits', logits);
  return moeRoutePlan(tokens, experts, opts);
}

export function moeRoutePlan(tokens: number, experts: number, opts: MoeRouteOptions): MoeRoutePlan {
  const scheme = opts.scheme;
  if (!MOE_SCHEMES.includes(scheme))
    throw new ShapeError(
      `moeRoute: unknown scheme ${JSON.stringify(scheme)} (one of ${MOE_SCHEMES.join(', ')})`,
    );
  const k = count('k', opts.k, 1, experts);
  const plan: MoeRoutePlan = {
    tokens,
    experts,
    k,
    gating: 'softmax',
    normalize: false,
    scale: 1,
    nGroup: 1,
    topkGroup: 1,
    bias: null,
    capacity: null,
  };
  switch (scheme) {
    case 'mixtral':
      plan.normalize = true;
      break;
    case 'qwen2-moe':
      plan.normalize = opts.normTopk ?? false;
      break;
    case 'qwen3-moe':
      plan.normalize = opts.normTopk ?? true;
      break;
    case 'topk-softmax':
      plan.gating = 'topk-softmax';
      break;
    case 'switch': {
      if (k !== 1) throw new ShapeError(`moeRoute: switch routes to 1 expert, got k = ${k}`);
      plan.capacity =
        opts.capacity !== undefined
          ? count('capacity', opts.capacity, 0, tokens)
          : Math.min(
              tokens,
              Math.ceil(
                (f32Attribute('moeRoute', 'capacityFactor', opts.capacityFactor ?? 1, 'positive') * tokens) /
                  experts,
              ),
            );
      break;
    }
    case 'deepseek-v3': {
      plan.gating = 'sigmoid';
      plan.normalize = opts.normTopk ?? true;
      plan.scale = f32Attribute('moeRoute', 'scale', opts.scale ?? 1, 'positive');
      plan.nGroup = count('nGroup', opts.nGroup ?? 1, 1, Math.min(MOE_MAX_GROUPS, experts));
      if (experts % plan.nGroup !== 0)
        throw new ShapeError(`moeRoute: ${experts} experts do not split into ${plan.nGroup} groups`);
      plan.topkGroup = count('topkGroup', opts.topkGroup ?? plan.nGroup, 1, plan.nGroup);
      const eligible = plan.topkGroup * (experts / plan.nGroup);
      if (k > eligible)
        throw new ShapeError(
          `moeRoute: k = ${k} exceeds the ${eligible} experts of the ${plan.topkGroup} kept groups`,
        );
      if (opts.bias) {
        if (opts.bias.length !== experts)
          throw new ShapeError(`moeRoute: bias has ${opts.bias.length} entries, expected ${experts}`);
        plan.bias = Float32Array.from(opts.bias);
        if (!plan.bias.every(Number.isFinite)) throw new ShapeError('moeRoute: bias must be finite');
      }
      break;
    }
  }
  return plan;
}

/**
 * Switch capacity: tokens in order claim a slot of their expert; past
 * `capacity` a token is dropped (weight 0). Integer bookkeeping shared by
 * every backend (it needs all tokens, so it runs after the per-token kernel).
 */
export function applyCapacity(r: MoeRouteResult, plan: MoeRoutePlan): MoeRouteResult {
  if (plan.capacity === null) return r;
  const used = new Int32Array(plan.experts);
  const dropped = new Uint8Array(plan.tokens);
  let droppedCount = 0;
  for (let t = 0; t < plan.tokens; t++) {
    const e = r.experts[t];
    if (used[e] < plan.capacity) used[e]++;
    else {
      dropped[t] = 1;
      r.weights[t] = 0;
      droppedCount++;
    }
  }
  return { ...r, dropped, droppedCount };
}
