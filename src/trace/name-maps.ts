/**
 * Name maps: how traces from other producers name the stages, translated to
 * canonical names (design.md, "Trace stages"). A map is a list of rules, each
 * a pattern over the producer's tensor name whose first capture group (if
 * any) is the layer index, the canonical stage it captures, and — where the
 * producer lays the values out differently — a transform to plumbline's
 * layout. Canonical names always pass through unchanged; any other name that
 * no rule matches stays in the trace as an unmapped name, listed by every
 * report, never dropped.
 *
 * Adding a map: write its rules (one per stage the producer captures under a
 * name of its own; leave out names that are ambiguous or hold something other
 * than the canonical stage, and say why in a comment), add it to NAME_MAPS
 * below, and add a case to test/trace/name-maps.test.ts that maps a trace
 * named the producer's way and diffs it against a canonical one.
 */
import { TraceMapError } from './errors.js';
import { isLayerStage, type Stage, stageName } from './stages.js';

/**
 * Layout transforms a map can ask for:
 * - `rope-halves-to-pairs`: Llama's GGUF converter permutes the Q and K
 *   projection rows within each head so that ggml's normal (adjacent-pair)
 *   RoPE matches Hugging Face's rotate-half RoPE; Hugging Face's q_proj and
 *   k_proj outputs therefore hold element j·D/2 + i of each head where GGUF
 *   weights put element 2i + j. Undone per head of D = head_dim values.
 */
export type TensorTransform = 'rope-halves-to-pairs';

export interface NameRule {
  /** Matches the producer's name; capture group 1 is the layer index for per-layer stages. */
  match: RegExp;
  stage: Stage;
  transform?: TensorTransform;
}

export interface NameMap {
  name: string;
  description: string;
  rules: readonly NameRule[];
}

/** A producer's name resolved to a canonical one. */
export interface MappedName {
  name: string;
  transform?: TensorTransform;
}

const L = '(0|[1-9][0-9]*)';

function hfRules(opts: { qkNorm: boolean; ropePermuted: boolean }): NameRule[] {
  const layer = (s: string) => new RegExp(`^model\\.layers\\.${L}\\.${s.replaceAll('.', '\\.')}$`);
  const qk = opts.ropePermuted ? { transform: 'rope-halves-to-pairs' as const } : {};
  const rules: NameRule[] = [
    { match: /^model\.embed_tokens$/, stage: 'embedding' },
    { match: layer('input_layernorm'), stage: 'attn_norm' },
    { match: layer('self_attn.q_proj'), stage: 'q_proj', ...qk },
    { match: layer('self_attn.k_proj'), stage: 'k_proj', ...qk },
    { match: layer('self_attn.v_proj'), stage: 'v_proj' },
  ];
  if (opts.qkNorm)
    rules.push(
      { match: layer('self_attn.q_norm'), stage: 'q_norm' },
      { match: layer('self_attn.k_norm'), stage: 'k_norm' },
    );
  rules.push(
    // RoPE, scores, softmax and softmax·V are functions, not modules: hooks see none of them.
    { match: layer('self_attn.o_proj'), stage: 'attn_out' },
    { match: layer('post_attention_layernorm'), stage: 'ffn_norm' },
    { match: layer('mlp.gate_proj'), stage: 'ffn_gate' },
    { match: layer('mlp.up_proj'), stage: 'ffn_up' },
    { match: layer('mlp.act_fn'), stage: 'ffn_act' },
    { match: layer('mlp.down_proj'), stage: 'ffn_out' },
    // The decoder layer's output is the residual stream after the FFN.
    { match: new RegExp(`^model\\.layers\\.${L}$`), stage: 'layer_output' },
    { match: /^model\.norm$/, stage: 'output_norm' },
    { match: /^lm_head$/, stage: 'logits' },
  );
  return rules;
}

/**
 * llama.cpp names graph tensors `<name>-<layer>` (its graph callback formats
 * "%s-%d"). Several tensors can share a name: build_qkv names the Q
 * projection "Qcur", and the model names the RoPE output "Qcur" again; a dump
 * keyed by name keeps the last one computed, the post-RoPE tensor, which is
 * what "Qcur"/"Kcur" map to. Not mapped: "kq" (Q·Kᵀ before the scale, which
 * ggml folds into the softmax), "kqv" (per-head layout before the permute),
 * "norm-L" (the unweighted RMS norm, one name for both norms of a layer).
 * "kq_soft_max" covers the whole KV cache (n_kv padded past the tokens) and
 * the last layer keeps only the output rows (inp_out_ids): such stages show up
 * as count mismatches, listed.
 */
function llamaCppRules(opts: { qkNorm: boolean; attnOut: boolean }): NameRule[] {
  const layer = (s: string) => new RegExp(`^${s}-${L}$`);
  const rules: NameRule[] = [
    { match: /^inp_embd$/, stage: 'embedding' },
    { match: layer('attn_norm'), stage: 'attn_norm' },
    { match: layer('Vcur'), stage: 'v_proj' },
  ];
  if (opts.qkNorm)
    rules.push(
      { match: layer('Qcur_normed'), stage: 'q_norm' },
      { match: layer('Kcur_normed'), stage: 'k_norm' },
    );
  rules.push(
    { match: layer('Qcur'), stage: 'q_post_rope' },
    { match: layer('Kcur'), stage: 'k_post_rope' },
    { match: layer('kq_soft_max'), stage: 'attn_softmax' },
    { match: layer('kqv_out'), stage: 'attention' },
  );
  // llama names the O projection's output; qwen2 and qwen3 leave it unnamed.
  if (opts.attnOut) rules.push({ match: layer('attn_out'), stage: 'attn_out' });
  rules.push(
    { match: layer('ffn_inp'), stage: 'attn_residual' },
    { match: layer('ffn_norm'), stage: 'ffn_norm' },
    { match: layer('ffn_gate'), stage: 'ffn_gate' },
    { match: layer('ffn_up'), stage: 'ffn_up' },
    { match: layer('ffn_swiglu'), stage: 'ffn_swiglu' },
    // The residual sum after the FFN is named "ffn_out" too, then renamed "l_out".
    { match: layer('ffn_out'), stage: 'ffn_out' },
    { match: layer('l_out'), stage: 'layer_output' },
    { match: /^result_norm$/, stage: 'output_norm' },
    { match: /^result_output$/, stage: 'logits' },
  );
  return rules;
}

const MAPS: NameMap[] = [
  {
    name: 'hf-llama',
    description:
      'Hugging Face transformers LlamaForCausalLM module outputs (forward hooks); q_proj/k_proj reordered from rotate-half to GGUF pair layout',
    rules: hfRules({ qkNorm: false, ropePermuted: true }),
  },
  {
    name: 'hf-qwen2',
    description: 'Hugging Face transformers Qwen2ForCausalLM module outputs (forward hooks)',
    rules: hfRules({ qkNorm: false, ropePermuted: false }),
  },
  {
    name: 'hf-qwen3',
    description:
      'Hugging Face transformers Qwen3ForCausalLM module outputs (forward hooks), with q_norm/k_norm',
    rules: hfRules({ qkNorm: true, ropePermuted: false }),
  },
  {
    name: 'llama.cpp-llama',
    description: 'llama.cpp graph tensor names of the llama architecture (eval callback dumps)',
    rules: llamaCppRules({ qkNorm: false, attnOut: true }),
  },
  {
    name: 'llama.cpp-qwen2',
    description: 'llama.cpp graph tensor names of the qwen2 architecture (eval callback dumps)',
    rules: llamaCppRules({ qkNorm: false, attnOut: false }),
  },
  {
    name: 'llama.cpp-qwen3',
    description: 'llama.cpp graph tensor names of the qwen3 architecture (eval callback dumps)',
    rules: llamaCppRules({ qkNorm: true, attnOut: false }),
  },
];

export const NAME_MAPS: ReadonlyMap<string, NameMap> = new Map(MAPS.map((m) => [m.name, m]));

export function nameMap(name: string): NameMap {
  const map = NAME_MAPS.get(name);
  if (!map)
    throw new TraceMapError(
      `unknown name map ${JSON.stringify(name)} (known: ${[...NAME_MAPS.keys()].join(', ')})`,
    );
  return map;
}

/** The canonical name a rule of `map` gives `source`, or undefined when no rule matches. */
export function mapName(map: NameMap, source: string): MappedName | undefined {
  for (const rule of map.rules) {
    const m = rule.match.exec(source);
    if (!m) continue;
    const layer = isLayerStage(rule.stage) ? Number(m[1]) : null;
    const name = stageName(rule.stage, layer);
    return rule.transform ? { name, transform: rule.transform } : { name };
  }
  return undefined;
}

/** Applies a layout transform to a tensor's values (a new array; the input is left alone). */
export function applyTransform<T extends Float32Array | Float64Array>(
  data: T,
  transform: TensorTransform,
  what: string,
  headDim: number | undefined,
): T {
  if (transform === 'rope-halves-to-pairs') {
    if (headDim === undefined)
      throw new TraceMapError(
        `${what}: undoing the rotate-half layout needs the head size; pass headDim (--head-dim), or include attn_scores or a per-head q_norm in either trace`,
      );
    if (!(Number.isInteger(headDim) && headDim > 0 && headDim % 2 === 0 && data.length % headDim === 0))
      throw new TraceMapError(
        `${what}: head size ${headDim} must be even and divide the ${data.length} values`,
      );
    const out = new (data.constructor as new (n: number) => T)(data.length);
    const half = headDim / 2;
    for (let base = 0; base < data.length; base += headDim)
      for (let i = 0; i < half; i++) {
        out[base + 2 * i] = data[base + i];
        out[base + 2 * i + 1] = data[base + half + i];
      }
    return out;
  }
  throw new TraceMapError(`${what}: unknown transform ${JSON.stringify(transform)}`);
}
