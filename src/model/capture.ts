/**
 * Trace capture during a forward pass (design.md, "Trace stages"). A capture
 * plan names canonical stages (or 'all') and layers; the forward pass asks
 * wants() before reading anything, so a pass without a plan does no extra
 * work at all. Per-token stages are [n_tokens, dim] and hold every token of
 * the pass; attn_scores / attn_softmax are [n_head, n_q, n_kv].
 */
import type { Tensor } from '../engine/tensor.js';
import {
  LAYER_STAGES,
  type LayerStage,
  POST_STAGES,
  PRE_STAGES,
  type Stage,
  stageName,
} from '../trace/stages.js';
import { ModelError } from './errors.js';
import type { ArchSpec } from './hparams.js';

export type ModelStage = Stage;

/** Which stages and layers to capture. */
export interface CapturePlan {
  /** Stage names without the `blk.L.` prefix (`q_proj`, `logits`), or 'all' (default). */
  stages?: readonly string[] | 'all';
  /** Layer indices for the per-layer stages, or 'all' (default). */
  layers?: readonly number[] | 'all';
}

/** One captured stage. */
export interface TraceTensor {
  shape: number[];
  data: Float32Array;
}

/** Captured stages by canonical name, in computation order. */
export type CapturedStages = Map<string, TraceTensor>;

/** The dense FFN's stages, which a mixture-of-experts block replaces with the moe_ ones. */
const DENSE_FFN: ReadonlySet<string> = new Set(['ffn_gate', 'ffn_up', 'ffn_act', 'ffn_swiglu', 'ffn_out']);

/** Stages a block has: q_norm/k_norm only with qk-norm; moe_* instead of the dense FFN's in MoE models. */
function hasStage(arch: ArchSpec, s: LayerStage, moe: boolean): boolean {
  if (s.startsWith('scan_')) return false;
  if (s.startsWith('moe_')) return moe;
  if (DENSE_FFN.has(s)) return !moe;
  return arch.qkNorm || (s !== 'q_norm' && s !== 'k_norm');
}

/** The stages an architecture computes, in order (`moe`: the model's layers are mixture-of-experts). */
export function architectureStages(arch: ArchSpec, moe = false): ModelStage[] {
  return [...PRE_STAGES, ...LAYER_STAGES.filter((s) => hasStage(arch, s, moe)), ...POST_STAGES];
}

const PER_LAYER: ReadonlySet<string> = new Set(LAYER_STAGES);

export class Capture {
  readonly trace: CapturedStages = new Map();

  private constructor(
    private readonly stages: ReadonlySet<string>,
    private readonly layers: ReadonlySet<number> | null,
  ) {}

  /** Checks the plan against the architecture: an unknown stage or layer is a ModelError naming it. */
  static create(plan: CapturePlan, arch: ArchSpec, nLayer: number, moe = false): Capture {
    const available = architectureStages(arch, moe);
    const stages = plan.stages === undefined || plan.stages === 'all' ? available : plan.stages;
    for (const s of stages)
      if (!(available as string[]).includes(s))
        throw new ModelError(
          `trace stage ${JSON.stringify(s)} is not a stage of a ${arch.name} model; stages: ${available.join(', ')}`,
        );
    let layers: Set<number> | null = null;
    if (plan.layers !== undefined && plan.layers !== 'all') {
      for (const l of plan.layers)
        if (!Number.isInteger(l) || l < 0 || l >= nLayer)
          throw new ModelError(`trace layer ${l} is not in [0, ${nLayer})`);
      layers = new Set(plan.layers);
    }
    return new Capture(new Set(stages), layers);
  }

  /** Whether the plan asks for this stage (of this layer, for per-layer stages). */
  wants(stage: ModelStage, layer?: number): boolean {
    if (!this.stages.has(stage)) return false;
    return layer === undefined || this.layers === null || this.layers.has(layer);
  }

  /** Reads the tensor and records it under the canonical name, if the plan asks for it. */
  async put(
    stage: ModelStage,
    layer: number | undefined,
    t: Tensor,
    shape?: readonly number[],
  ): Promise<void> {
    if (!this.wants(stage, layer)) return;
    this.putData(stage, layer, await t.read(), shape ?? t.shape);
  }

  putData(stage: ModelStage, layer: number | undefined, data: Float32Array, shape: readonly number[]): void {
    if (!this.wants(stage, layer)) return;
    const name = stageName(stage, PER_LAYER.has(stage) ? (layer as number) : null);
    this.trace.set(name, { shape: [...shape], data });
  }
}
