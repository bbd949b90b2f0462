/**
 * The replay registry: one rule per stage kind (the stage name without its
 * `blk.L.` prefix), saying which of the candidate's own captured stages that
 * stage is computed from and how to recompute it in float64 from them and the
 * model's weights, with the error a correct kernel may make.
 *
 * Adding a stage family: write a rule and register it once, at import time
 * of the module that defines it (replay-moe.ts, scan-replay-rules.ts) —
 *
 *   registerReplayRule('scan_state', {
 *     inputs: (layer) => [stageName('scan_gates', layer), stageName('scan_in', layer)],
 *     async recompute(layer, x, ctx) {
 *       const r = referenceLinearScan(…x.get(…)…);
 *       return { y: r.h, K: …, magnitude: r.magnitude, tier: ctx.tierFor('elementwise') };
 *     },
 *   });
 *
 * (with `{ architecture: 'my-arch' }` for a rule that only holds for one
 * model family, matched against the GGUF's general.architecture — it wins
 * over the shared rule of that stage) and make sure that module is imported
 * before replay() runs (src/oracle/replay.ts imports the transformer and MoE
 * rules; scan-replay.ts imports the scan rules). The driver handles everything
 * else: reading the inputs, skipping a stage whose inputs were not captured,
 * the tier bound, the verdict and the consequence test.
 */
import type { Numerics } from '../model/model.js';
import type { MatmulPrecision } from '../ops/matmul.js';
import { ParityOptionError } from './errors.js';
import type { ReplayModel } from './replay-model.js';
import { type TierName, tierBound } from './tiers.js';

/** Values of the candidate's captured stages, by canonical name. */
export interface ReplayInputs {
  get(name: string): Float32Array | Float64Array;
  shape(name: string): readonly number[];
}

/**
 * What a stage computes, for the tier a replay resolves when asked for
 * 'auto': 'matmul' stages take the tier of their weight type in the numerics
 * (ggml: the activations' vec_dot conversion), 'lookup' is exact, everything
 * else f32.
 */
export type ReplayStageKind = 'matmul' | 'lookup' | 'elementwise';

export interface ReplayContext {
  model: ReplayModel;
  /** The tokens of the pass (the candidate's metadata). */
  tokens: readonly number[];
  /** Position of each token: the pass starts at 0. */
  positions: Int32Array;
  numerics: Numerics;
  /** The last layer index (output_norm reads its layer_output). */
  lastLayer: number;
  /** The tier a stage of this kind is judged at (the user's tier, or resolved from 'auto'). */
  tierFor(kind: ReplayStageKind, weightType?: string): TierName;
  /** Whether the candidate captured this stage (rules may read another form of an input that was not). */
  captured(name: string): boolean;
  /**
   * Whose kernels computed the candidate (its metadata's backend): 'webgpu'
   * traces are held to the larger of the CPU and the WGSL-derived kernel
   * bounds (a WebGPU engine runs some ops on the CPU), the others to the CPU's.
   */
  kernels: 'cpu' | 'webgpu';
  /** The candidate's matmul operands: f32, or rounded to f16 (ReplayOptions.matmulPrecision). */
  matmulPrecision: MatmulPrecision;
}

/** The CPU kernels' bound, or on a WebGPU trace the larger of it and the WGSL kernels' (per element). */
export function kernelBoundFor(
  kernels: ReplayContext['kernels'],
  cpu: ArrayLike<number>,
  gpu: () => ArrayLike<number>,
): Float64Array {
  const out = Float64Array.from(cpu);
  if (kernels === 'webgpu') {
    const g = gpu();
    for (let i = 0; i < out.length; i++) out[i] = Math.max(out[i], g[i]);
  }
  return out;
}

/**
 * A stage recomputed from the candidate's inputs. Each element may differ
 * from `y` by c·(ρ·m + u_out·(|y| + ρ·m)) + atol (tiers.ts, tierBound) for a
 * dot-like computation of length K with magnitude m in the tier's precision,
 * or by `kernelBound` where a tighter derivation of an f32 kernel exists —
 * the larger of the two, so any correct implementation order passes.
 */
export interface ReplayOutput {
  y: ArrayLike<number>;
  tier: TierName;
  K: number;
  /** Per element, the magnitude the tier bound scales (matmul: Σ|x||w|; elementwise: |y| or its operands). */
  magnitude: ArrayLike<number>;
  kernelBound?: ArrayLike<number>;
}

export interface ReplayRule {
  /** The candidate's stages this stage is recomputed from (canonical names). */
  inputs(layer: number | null, ctx: ReplayContext): string[];
  recompute(layer: number | null, inputs: ReplayInputs, ctx: ReplayContext): Promise<ReplayOutput>;
}

const RULES = new Map<string, ReplayRule>();
const ANY = '*';

export interface RegisterReplayRuleOptions {
  /**
   * The model family (GGUF `general.architecture`) the rule is for; default:
   * every family without a rule of its own for that stage. A family whose
   * stage of a shared name computes something else (a scan model's
   * layer_output is x + scan_out) registers its own.
   */
  architecture?: string;
}

/**
 * Registers the rule of a stage kind (`q_proj`, `logits`, `scan_state`); a
 * second rule for one stage and family is an error.
 */
export function registerReplayRule(
  stage: string,
  rule: ReplayRule,
  opts: RegisterReplayRuleOptions = {},
): void {
  const key = `${opts.architecture ?? ANY}:${stage}`;
  if (RULES.has(key))
    throw new ParityOptionError(
      `replay: stage ${stage} already has a rule${opts.architecture ? ` for ${opts.architecture}` : ''}`,
    );
  RULES.set(key, rule);
}

/** The rule for a stage of a model family: the family's own, else the shared one. */
export function replayRule(stage: string, architecture?: string): ReplayRule | undefined {
  return (
    (architecture !== undefined ? RULES.get(`${architecture}:${stage}`) : undefined) ??
    RULES.get(`${ANY}:${stage}`)
  );
}

/** The registered rules as `stage` (shared) or `architecture:stage`. */
export function replayStages(): string[] {
  return [...RULES.keys()].map((k) => (k.startsWith(`${ANY}:`) ? k.slice(ANY.length + 1) : k));
}

/** The per-element bounds of an output: max(tier bound, kernel bound). */
export function replayBound(out: ReplayOutput): Float64Array {
  const n = out.y.length;
  const b = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = tierBound(out.tier, out.K, out.magnitude[i], out.y[i]);
    b[i] = out.kernelBound ? Math.max(t, out.kernelBound[i]) : t;
  }
  return b;
}
