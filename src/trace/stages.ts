/**
 * Canonical trace stage names (design.md, "Trace stages"): the order a
 * forward pass computes them in, `blk.{L}.<stage>` for per-layer stages, and
 * which stages each one consumes (so a report can tell the op that introduced
 * an error from the ops that only carried it).
 */

/** Stages outside the layers, before them. */
export const PRE_STAGES = ['embedding'] as const;

/** Per-layer stages, in computation order; a trace holds the ones its architecture has. */
export const LAYER_STAGES = [
  'attn_norm',
  'q_proj',
  'k_proj',
  'v_proj',
  'q_norm',
  'k_norm',
  'q_post_rope',
  'k_post_rope',
  'attn_scores',
  'attn_softmax',
  'attention',
  'attn_out',
  'attn_residual',
  'ffn_norm',
  'ffn_gate',
  'ffn_up',
  'ffn_act',
  'ffn_swiglu',
  'ffn_out',
  'moe_router_logits',
  'moe_weights',
  'moe_experts',
  'moe_out',
  'scan_in',
  'scan_gates',
  'scan_state',
  'scan_out',
  'layer_output',
] as const;

/** Stages outside the layers, after them. */
export const POST_STAGES = ['output_norm', 'logits'] as const;

export type LayerStage = (typeof LAYER_STAGES)[number];
export type GlobalStage = (typeof PRE_STAGES)[number] | (typeof POST_STAGES)[number];
export type Stage = LayerStage | GlobalStage;

/** A parsed canonical name: `layer` is null for the stages outside the layers. */
export interface StageRef {
  layer: number | null;
  stage: Stage;
}

/**
 * What a stage computes, which decides how its error is judged and how error
 * in its inputs reaches it:
 * - lookup: rows copied from a table (embedding);
 * - norm / head-norm: RMS normalization over a row / over each head's slice;
 * - matmul: y = x·Wᵀ, a dot of the input's row length per element;
 * - rope: 2-term rotations;
 * - scores: Q·Kᵀ·scale per head (dots of head_dim);
 * - softmax: over the last axis (attention) or the experts (moe_weights);
 * - attention: softmax·V (dots of n_kv);
 * - add: the residual sums;
 * - activation: an elementwise function of one input (SiLU);
 * - gated: the product of two inputs (SwiGLU);
 * - experts: the selected experts' FFNs;
 * - combine: Σ_k weight_k · expert_k;
 * - recurrence: a scan layer's gates and states (src/model/scan-model.ts),
 *   each step a function of the step's input and the previous state.
 */
export type StageKind =
  | 'lookup'
  | 'norm'
  | 'head-norm'
  | 'matmul'
  | 'rope'
  | 'scores'
  | 'softmax'
  | 'attention'
  | 'add'
  | 'activation'
  | 'gated'
  | 'experts'
  | 'combine'
  | 'recurrence';

/**
 * One input of a stage: the stages that can provide it, in preference order
 * (k_post_rope reads k_norm when the model has qk-norm, else k_proj).
 * `residual` stands for the residual stream entering the layer: the previous
 * layer's layer_output, or the embedding in layer 0.
 */
export type InputSlot = readonly (LayerStage | 'residual')[];

interface StageSpec {
  kind: StageKind;
  inputs: readonly InputSlot[];
}

const LAYER_SPECS: Readonly<Record<LayerStage, StageSpec>> = {
  attn_norm: { kind: 'norm', inputs: [['residual']] },
  q_proj: { kind: 'matmul', inputs: [['attn_norm']] },
  k_proj: { kind: 'matmul', inputs: [['attn_norm']] },
  v_proj: { kind: 'matmul', inputs: [['attn_norm']] },
  q_norm: { kind: 'head-norm', inputs: [['q_proj']] },
  k_norm: { kind: 'head-norm', inputs: [['k_proj']] },
  q_post_rope: { kind: 'rope', inputs: [['q_norm', 'q_proj']] },
  k_post_rope: { kind: 'rope', inputs: [['k_norm', 'k_proj']] },
  attn_scores: { kind: 'scores', inputs: [['q_post_rope'], ['k_post_rope']] },
  attn_softmax: { kind: 'softmax', inputs: [['attn_scores']] },
  attention: { kind: 'attention', inputs: [['attn_softmax'], ['v_proj']] },
  attn_out: { kind: 'matmul', inputs: [['attention']] },
  attn_residual: { kind: 'add', inputs: [['residual'], ['attn_out']] },
  ffn_norm: { kind: 'norm', inputs: [['attn_residual']] },
  ffn_gate: { kind: 'matmul', inputs: [['ffn_norm']] },
  ffn_up: { kind: 'matmul', inputs: [['ffn_norm']] },
  ffn_act: { kind: 'activation', inputs: [['ffn_gate']] },
  ffn_swiglu: { kind: 'gated', inputs: [['ffn_act', 'ffn_gate'], ['ffn_up']] },
  ffn_out: { kind: 'matmul', inputs: [['ffn_swiglu']] },
  moe_router_logits: { kind: 'matmul', inputs: [['ffn_norm']] },
  moe_weights: { kind: 'softmax', inputs: [['moe_router_logits']] },
  moe_experts: { kind: 'experts', inputs: [['ffn_norm']] },
  moe_out: { kind: 'combine', inputs: [['moe_experts'], ['moe_weights']] },
  // A scan layer (src/model/scan-model.ts): scan_in the recurrence's input projections,
  // scan_gates its per-step coefficients, scan_state every h_t, scan_out its output projection.
  scan_in: { kind: 'matmul', inputs: [['residual']] },
  scan_gates: { kind: 'recurrence', inputs: [['scan_in']] },
  scan_state: { kind: 'recurrence', inputs: [['scan_gates', 'scan_in']] },
  scan_out: { kind: 'matmul', inputs: [['scan_state']] },
  // A scan layer has no attention: its layer_output is the residual stream plus scan_out.
  layer_output: {
    kind: 'add',
    inputs: [
      ['attn_residual', 'residual'],
      ['ffn_out', 'moe_out', 'scan_out'],
    ],
  },
};

const LAYER_PREFIX = 'blk.';
const LAYER_NAME = /^blk\.(0|[1-9][0-9]{0,5})\.([a-z_]+)$/;

const LAYER_SET: ReadonlySet<string> = new Set(LAYER_STAGES);
const GLOBAL_SET: ReadonlySet<string> = new Set([...PRE_STAGES, ...POST_STAGES]);

export function isLayerStage(s: string): s is LayerStage {
  return LAYER_SET.has(s);
}

/** The canonical name of a stage: `blk.3.q_proj`, or `logits` for a stage outside the layers. */
export function stageName(stage: Stage, layer: number | null = null): string {
  if (isLayerStage(stage)) {
    if (layer === null || !Number.isInteger(layer) || layer < 0)
      throw new RangeError(`stage ${stage} needs a layer index ≥ 0, got ${layer}`);
    return `${LAYER_PREFIX}${layer}.${stage}`;
  }
  if (layer !== null) throw new RangeError(`stage ${stage} is not per-layer (got layer ${layer})`);
  return stage;
}

/** Parses a canonical name; undefined for any other name (leading zeros in the layer are not canonical). */
export function parseStageName(name: string): StageRef | undefined {
  if (GLOBAL_SET.has(name)) return { layer: null, stage: name as GlobalStage };
  const m = LAYER_NAME.exec(name);
  if (!m || !isLayerStage(m[2])) return undefined;
  return { layer: Number(m[1]), stage: m[2] };
}

export function isCanonicalName(name: string): boolean {
  return parseStageName(name) !== undefined;
}

/**
 * Sort key of computation order: embedding, then layer by layer in
 * LAYER_STAGES order, then output_norm, logits.
 */
function orderKey(ref: StageRef): [number, number, number] {
  if (ref.layer === null) {
    const pre = (PRE_STAGES as readonly string[]).indexOf(ref.stage);
    return pre >= 0 ? [0, 0, pre] : [2, 0, (POST_STAGES as readonly string[]).indexOf(ref.stage)];
  }
  return [1, ref.layer, LAYER_STAGES.indexOf(ref.stage as LayerStage)];
}

/** Compares two parsed stages in computation order. */
export function compareStages(a: StageRef, b: StageRef): number {
  const x = orderKey(a);
  const y = orderKey(b);
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
}

/** Canonical names in computation order (names that are not canonical are left out: parse them first). */
export function sortStageNames(names: Iterable<string>): string[] {
  const refs: { name: string; ref: StageRef }[] = [];
  for (const name of names) {
    const ref = parseStageName(name);
    if (ref) refs.push({ name, ref });
  }
  return refs.sort((a, b) => compareStages(a.ref, b.ref)).map((r) => r.name);
}

export function stageKind(stage: Stage): StageKind {
  if (stage === 'embedding') return 'lookup';
  if (stage === 'output_norm') return 'norm';
  if (stage === 'logits') return 'matmul';
  return LAYER_SPECS[stage].kind;
}

/** The residual stream entering layer l: the embedding, or the previous layer's output. */
export function residualName(layer: number): string {
  return layer === 0 ? 'embedding' : stageName('layer_output', layer - 1);
}

/**
 * The inputs of a stage as canonical names, one slot per input, each slot
 * listing the names that can provide it in preference order. `lastLayer` is
 * the index of the final layer (output_norm reads its layer_output).
 */
export function stageInputs(ref: StageRef, lastLayer: number): string[][] {
  if (ref.stage === 'embedding') return [];
  if (ref.stage === 'output_norm')
    return lastLayer >= 0 ? [[stageName('layer_output', lastLayer)]] : [['embedding']];
  if (ref.stage === 'logits') return [['output_norm']];
  const layer = ref.layer as number;
  const residual = residualName(layer);
  return LAYER_SPECS[ref.stage as LayerStage].inputs.map((slot) =>
    slot.map((s) => (s === 'residual' ? residual : stageName(s, layer))),
  );
}

/** Every canonical name of a model with `layers` layers and the given per-layer stages, in order. */
export function canonicalNames(layers: number, stages: readonly LayerStage[] = LAYER_STAGES): string[] {
  const wanted = new Set(stages);
  const names: string[] = [...PRE_STAGES];
  for (let l = 0; l < layers; l++)
    for (const s of LAYER_STAGES) if (wanted.has(s)) names.push(stageName(s, l));
  names.push(...POST_STAGES);
  return names;
}
