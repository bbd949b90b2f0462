/**
 * replay(): localizes the faulty kernel of a candidate trace without being
 * fooled by upstream drift (design.md, "Parity", Replay). Every captured stage
 * is recomputed on the float64 reference from the candidate's *own* captured
 * inputs of that stage and the model's weights (replay-rules.ts), and the
 * candidate's output is judged against the error a correct kernel may make
 * at the tier. Each stage is then:
 * - fault: its output does not follow from its inputs — this kernel is wrong;
 * - consequence: it does not follow from its recorded inputs, but does from
 *   the replayed value of an input that is itself a fault (the trace recorded
 *   something other than what this stage consumed);
 * - carried: it follows from its inputs but differs from the reference trace
 *   (upstream drift, or the kernel's own legitimate rounding at a lower tier);
 * - ok: it follows from its inputs and agrees with the reference;
 * - skipped: no rule for the stage, or an input was not captured.
 * The first fault in computation order is the kernel to fix.
 *
 * The reference trace (for carried vs ok) is a given trace, or the model run
 * on the reference backend in exact numerics over the candidate's tokens.
 */
import { createEngine } from '../engine/engine.js';
import { UnsupportedArchitectureError } from '../model/errors.js';
import type { HParams } from '../model/hparams.js';
import type { Numerics } from '../model/model.js';
import { sha256Of } from '../model/trace-output.js';
import type { MatmulPrecision } from '../ops/matmul.js';
import type { NameMap } from '../trace/name-maps.js';
import { parseStageName } from '../trace/stages.js';
import { encodeTrace, readTrace, type Trace } from '../trace/trace-file.js';
import { type Comparison, compare, type ParityTier } from './compare.js';
import { type DiffResult, diff, type TraceSummary } from './diff.js';
import { ParityOptionError } from './errors.js';
import { ReplayModel } from './replay-model.js';
import {
  type ReplayContext,
  type ReplayInputs,
  type ReplayOutput,
  type ReplayRule,
  type ReplayStageKind,
  replayBound,
  replayRule,
} from './replay-rules.js';
import './replay-transformer.js';
import './replay-moe.js';
import { GGML_TYPES, type GgmlTypeName } from '../types/ggml-types.js';
import { isTierName, type TierName } from './tiers.js';

export type ReplayTier = TierName | 'auto';
export type ReplayVerdict = 'ok' | 'carried' | 'fault' | 'consequence' | 'skipped';

type TraceInput = string | Uint8Array | Trace;

export interface ReplayOptions {
  /**
   * 'auto' (default): each stage at the tier its computation explains —
   * matmuls at their weight type's tier in the numerics (ggml: q8 for
   * quantized weights, f16/bf16 for half weights), the embedding exact,
   * everything else f32. A tier name judges every stage at that tier.
   */
  tier?: ReplayTier;
  /** The candidate's numerics (default: its metadata's, else 'exact'): ggml keeps K/V in an f16 cache. */
  numerics?: Numerics;
  /**
   * The reference trace for carried vs ok: a trace, 'compute' (default: the
   * model on the reference backend in exact numerics) or 'none'.
   */
  reference?: TraceInput | 'compute' | 'none';
  /** The tier of the comparison with the reference (default: the tier, f32 for 'auto'). */
  referenceTier?: ParityTier;
  /** A name map for traces given as paths or bytes that another producer named (trace/name-maps.ts). */
  map?: NameMap | string;
  /** The tokens of the pass, when the candidate's metadata has none (another producer's trace). */
  tokens?: readonly number[];
  /**
   * The candidate's matmul operands (default: its metadata's `matmul_precision`, else 'f32'): 'f16'
   * (rounded to f16, f32 sums, as a WebGPU engine with matmulPrecision 'f16' or an fp16 GPU kernel
   * computes) puts the matmuls that are not q8 at the f16 tier, with their derived per-element bound.
   */
  matmulPrecision?: MatmulPrecision;
  onProgress?: (done: number, total: number, name: string) => void;
}

export interface ReplayStageRow {
  name: string;
  layer: number | null;
  stage: string;
  shape: readonly number[];
  verdict: ReplayVerdict;
  /** Whether the output follows from the stage's own inputs; null when skipped. */
  consistent: boolean | null;
  /** Worst |candidate − replay| / bound (≤ 1: explained by the tier); null when skipped or exact. */
  boundRatio: number | null;
  /** The tier the stage was judged at. */
  tier: TierName | null;
  /** The candidate's stages it was recomputed from. */
  inputs: string[];
  /** For a consequence: the faulty input whose replayed value explains this stage. */
  consequenceOf?: string;
  /** Elements over their bound, of the finite pairs checked. */
  exceeded: number;
  count: number;
  /** First element over its bound, −1 if none. */
  firstExceeding: number;
  /** NMSE and cosine against the replay. */
  nmse: number;
  cosine: number;
  /** Against the reference trace: its diff verdict, or null without a reference. */
  reference: { verdict: DiffResult['stages'][number]['verdict']; nmse: number | null } | null;
  reason: string;
  comparison?: Comparison;
}

export interface ReplayResult {
  tier: ReplayTier;
  numerics: Numerics;
  model: string;
  candidate: TraceSummary;
  reference: { source: 'trace' | 'computed' | 'none'; file?: string; tier?: ParityTier };
  stages: ReplayStageRow[];
  firstFault: ReplayStageRow | null;
  warnings: string[];
}

function resolveTier(
  tier: ReplayTier,
  numerics: Numerics,
  precision: MatmulPrecision,
  kind: ReplayStageKind,
  weight?: string,
): TierName {
  if (tier !== 'auto') return tier;
  if (kind === 'lookup') return 'exact';
  if (kind !== 'matmul') return 'f32';
  const operands = precision === 'f16' ? 'f16' : 'f32';
  if (numerics !== 'ggml' || !weight) return operands;
  const vdt = GGML_TYPES[weight as GgmlTypeName]?.vecDotType;
  if (vdt === 'bf16') return 'bf16';
  if (vdt === 'f16') return 'f16';
  if (vdt === 'q8_0' || vdt === 'q8_1' || vdt === 'q8_K') return 'q8';
  return operands;
}

/** The trace metadata key naming a candidate's matmul operands (written by trace-output.ts). */
const MATMUL_PRECISION_KEY = 'matmul_precision';

function matmulPrecisionOf(cand: Trace, given: MatmulPrecision | undefined): MatmulPrecision {
  if (given !== undefined) {
    if (given !== 'f32' && given !== 'f16')
      throw new ParityOptionError(
        `replay: matmulPrecision must be 'f32' or 'f16', got ${JSON.stringify(given)}`,
      );
    return given;
  }
  return cand.metadata.raw.get(MATMUL_PRECISION_KEY) === 'f16' ? 'f16' : 'f32';
}

function summaryOf(t: Trace): TraceSummary {
  const m = t.metadata;
  const s: TraceSummary = { file: t.file };
  for (const k of ['format', 'producer', 'backend', 'model', 'numerics'] as const)
    if (m[k] !== undefined) s[k] = m[k];
  if (m.tokens) s.tokens = m.tokens;
  return s;
}

/** The model on the reference backend (exact numerics) over the tokens, every stage captured. */
async function computeReference(modelSource: string | Uint8Array, tokens: number[], sha: string) {
  const engine = await createEngine({ backend: 'reference' });
  try {
    const model = await engine.load(modelSource, {
      numerics: 'exact',
      nCtx: tokens.length,
      nBatch: tokens.length,
    });
    try {
      const r = await model.forward(tokens, { trace: { stages: 'all' }, logits: 'none' });
      const tensors = [...(r.trace ?? [])].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
      const bytes = encodeTrace(tensors, {
        producer: 'plumbline replay',
        backend: engine.backend,
        model: sha,
        tokens,
        numerics: 'exact',
      });
      return readTrace(bytes);
    } finally {
      model.dispose();
    }
  } finally {
    await engine.dispose();
  }
}

export async function replay(
  modelSource: string | Uint8Array,
  candidate: TraceInput,
  opts: ReplayOptions = {},
): Promise<ReplayResult> {
  const tier = opts.tier ?? 'auto';
  if (tier !== 'auto' && !isTierName(tier))
    throw new ParityOptionError(`replay: unknown tier ${JSON.stringify(tier)} (a tier name or 'auto')`);
  if (opts.numerics !== undefined && opts.numerics !== 'exact' && opts.numerics !== 'ggml')
    throw new ParityOptionError(
      `replay: numerics must be 'exact' or 'ggml', got ${JSON.stringify(opts.numerics)}`,
    );
  const owned: Trace[] = [];
  const model = await ReplayModel.open(modelSource);
  try {
    const cand =
      typeof candidate === 'object' && 'stages' in candidate
        ? candidate
        : await readTrace(candidate, { map: opts.map });
    if (cand !== candidate) owned.push(cand);
    if (opts.tokens && !Array.from(opts.tokens).every((t) => Number.isSafeInteger(t) && t >= 0))
      throw new ParityOptionError(`replay: tokens must be non-negative integers, got [${[...opts.tokens]}]`);
    const tokens = opts.tokens ? [...opts.tokens] : cand.metadata.tokens;
    if (!tokens || tokens.length === 0)
      throw new ParityOptionError(
        `replay: ${cand.file} has no tokens in its metadata; the replay needs them (embedding, positions): give them`,
      );
    if (opts.tokens && cand.metadata.tokens && cand.metadata.tokens.join(',') !== tokens.join(','))
      throw new ParityOptionError(`replay: the tokens given differ from those in ${cand.file}'s metadata`);
    const meta = cand.metadata.numerics;
    const numerics: Numerics = opts.numerics ?? (meta === 'ggml' ? 'ggml' : 'exact');
    const warnings: string[] = [];
    const sha = await sha256Of(modelSource);
    if (cand.metadata.model && cand.metadata.model !== sha)
      warnings.push(
        `the candidate was computed from another model (sha256 ${cand.metadata.model.slice(0, 12)}… vs ${sha.slice(0, 12)}…)`,
      );

    const refOpt = opts.reference ?? 'compute';
    let refTrace: Trace | undefined;
    let refInfo: ReplayResult['reference'] = { source: 'none' };
    const referenceTier: ParityTier = opts.referenceTier ?? (tier === 'auto' ? 'f32' : tier);
    if (refOpt === 'compute') {
      try {
        refTrace = await computeReference(modelSource, tokens, sha);
        owned.push(refTrace);
        refInfo = { source: 'computed', tier: referenceTier };
      } catch (e) {
        // A family the engine does not run (its replay rules may still read its weights): no reference.
        if (!(e instanceof UnsupportedArchitectureError)) throw e;
        warnings.push(`no reference computed (${e.message}): carried and ok are not told apart`);
      }
    } else if (refOpt !== 'none') {
      refTrace =
        typeof refOpt === 'object' && 'stages' in refOpt
          ? refOpt
          : await readTrace(refOpt, { map: opts.map });
      if (refTrace !== refOpt) owned.push(refTrace);
      refInfo = { source: 'trace', file: refTrace.file, tier: referenceTier };
    }
    const vsReference = refTrace ? await diff(refTrace, cand, { tier: referenceTier }) : undefined;
    if (vsReference) warnings.push(...vsReference.warnings);

    const stages = await replayAll(cand, model, {
      tokens,
      numerics,
      matmulPrecision: matmulPrecisionOf(cand, opts.matmulPrecision),
      tier,
      vsReference,
      onProgress: opts.onProgress,
    });
    return {
      tier,
      numerics,
      model: model.name,
      candidate: summaryOf(cand),
      reference: refInfo,
      stages,
      firstFault: stages.find((s) => s.verdict === 'fault') ?? null,
      warnings,
    };
  } finally {
    for (const t of owned) await t.close();
    await model.close();
  }
}

interface RunOptions {
  tokens: number[];
  numerics: Numerics;
  matmulPrecision: MatmulPrecision;
  tier: ReplayTier;
  vsReference: DiffResult | undefined;
  onProgress?: ReplayOptions['onProgress'];
}

async function replayAll(cand: Trace, model: ReplayModel, o: RunOptions): Promise<ReplayStageRow[]> {
  const positions = Int32Array.from(o.tokens, (_, i) => i);
  const h = transformerHParams(model);
  const lastLayer = h ? h.nLayer - 1 : Math.max(-1, ...cand.stages.map((s) => s.layer ?? -1));
  const ctx: ReplayContext = {
    model,
    tokens: o.tokens,
    positions,
    numerics: o.numerics,
    lastLayer,
    tierFor: (kind, weight) => resolveTier(o.tier, o.numerics, o.matmulPrecision, kind, weight),
    captured: (name) => cand.get(name) !== undefined,
    kernels: cand.metadata.backend === 'webgpu' ? 'webgpu' : 'cpu',
    matmulPrecision: o.matmulPrecision,
  };
  // Maps that reorder Q/K per head (Hugging Face) need the head size.
  const readOpts = h ? { headDim: h.headDim } : {};
  const values = new Map<string, Float32Array | Float64Array>();
  const read = async (name: string) => {
    let v = values.get(name);
    if (!v) {
      v = await cand.read(name, readOpts);
      values.set(name, v);
    }
    return v;
  };
  const refRows = new Map(o.vsReference?.stages.map((r) => [r.name, r]));
  /** Replayed values of the faulty stages, for the consequence test. */
  const replayed = new Map<string, Corrected>();
  const rows: ReplayStageRow[] = [];
  /** Whether a weight or stage name belongs to a layer before l. */
  const before = (name: string, l: number) => {
    const m = /^blk\.(\d+)\./.exec(name);
    return m !== null && Number(m[1]) < l;
  };
  let layer = -1;
  for (const entry of cand.stages) {
    if (entry.layer !== null && entry.layer > layer) {
      // Stages go in computation order: weights of earlier layers, and stages before the residual
      // entering this layer, are not read again (a model's weights in f32 need not fit in memory).
      layer = entry.layer;
      model.forget((n) => before(n, layer));
      for (const n of [...values.keys()]) if (before(n, layer - 1)) values.delete(n);
    }
    const base = {
      name: entry.name,
      layer: entry.layer,
      stage: entry.stage as string,
      shape: entry.shape,
      reference: referenceOf(refRows.get(entry.name), o.vsReference !== undefined),
    };
    const row = await replayStage(entry.name, base, cand, ctx, read, replayed, rows);
    rows.push(row);
    o.onProgress?.(rows.length, cand.stages.length, entry.name);
  }
  return rows;
}

/** The model's transformer hyperparameters, or undefined for a family they do not describe (its rules read its own). */
function transformerHParams(model: ReplayModel): HParams | undefined {
  try {
    return model.hparams;
  } catch {
    return undefined;
  }
}

function referenceOf(
  r: DiffResult['stages'][number] | undefined,
  have: boolean,
): ReplayStageRow['reference'] {
  if (!have) return null;
  if (!r) return { verdict: 'only-candidate', nmse: null };
  return { verdict: r.verdict, nmse: r.metrics ? r.metrics.nmse : null };
}

type RowBase = Pick<ReplayStageRow, 'name' | 'layer' | 'stage' | 'shape' | 'reference'>;

function skipped(base: RowBase, inputs: string[], reason: string): ReplayStageRow {
  return {
    ...base,
    verdict: 'skipped',
    consistent: null,
    boundRatio: null,
    tier: null,
    inputs,
    exceeded: 0,
    count: 0,
    firstExceeding: -1,
    nmse: Number.NaN,
    cosine: Number.NaN,
    reason,
  };
}

function judge(data: ArrayLike<number>, out: ReplayOutput): Comparison {
  if (out.tier === 'exact') return compare(data, out.y, { tier: 'exact' });
  return compare(data, out.y, { tier: out.tier, bound: replayBound(out) });
}

/** A faulty stage as a correct kernel could have produced it (see corrected()). */
interface Corrected {
  /** The recorded values, those over their bound replaced by the replayed ones. */
  values: Float32Array;
  /** At the replaced elements, the bound: how far a correct kernel's value may lie from the replay. */
  slack: Float32Array;
}

/**
 * A faulty stage's values as a correct kernel could have produced them: the
 * elements over their bound (or non-finite where the replay is not) replaced
 * by the replayed value, the others as recorded (they are what the consumers
 * saw, to within the kernel's own rounding the replay cannot know).
 */
function corrected(data: ArrayLike<number>, out: ReplayOutput): Corrected {
  const bound = out.tier === 'exact' ? undefined : replayBound(out);
  const values = Float32Array.from(data);
  const slack = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const a = values[i];
    const y = out.y[i];
    const over = bound ? !(Math.abs(a - y) <= bound[i]) : Math.fround(y) !== a;
    if (!over || (Number.isNaN(a) && Number.isNaN(y))) continue;
    values[i] = y;
    slack[i] = bound ? bound[i] : 0;
  }
  return { values, slack };
}

async function replayStage(
  name: string,
  base: RowBase,
  cand: Trace,
  ctx: ReplayContext,
  read: (name: string) => Promise<Float32Array | Float64Array>,
  replayed: Map<string, Corrected>,
  done: readonly ReplayStageRow[],
): Promise<ReplayStageRow> {
  const ref = parseStageName(name);
  const rule = ref ? replayRule(ref.stage, ctx.model.architecture) : undefined;
  if (!ref || !rule)
    return skipped(base, [], `no replay rule for stage ${base.stage} (see registerReplayRule)`);
  let inputs: string[];
  let out: ReplayOutput;
  const data = await read(name);
  try {
    inputs = rule.inputs(ref.layer, ctx);
    const missing = inputs.filter((n) => !cand.get(n));
    if (missing.length > 0) return skipped(base, inputs, `input not captured: ${missing.join(', ')}`);
    const values = new Map<string, Float32Array | Float64Array>();
    for (const n of inputs) values.set(n, await read(n));
    out = await rule.recompute(ref.layer, inputsOf(values, cand), ctx);
  } catch (e) {
    return skipped(base, [], `cannot replay: ${(e as Error).message}`);
  }
  if (out.y.length !== data.length)
    return skipped(base, inputs, `the replay has ${out.y.length} values, the candidate ${data.length}`);
  const c = judge(data, out);
  const row: ReplayStageRow = {
    ...base,
    verdict: 'ok',
    consistent: c.verdict.pass,
    boundRatio: c.bound ? c.bound.worstRatio : null,
    tier: out.tier,
    inputs,
    exceeded: c.bound ? c.bound.exceeded : c.verdict.pass ? 0 : c.count,
    count: c.bound ? c.bound.count : c.finiteCount,
    firstExceeding: c.firstExceeding,
    nmse: c.nmse,
    cosine: c.cosine,
    reason: c.verdict.reason,
    comparison: c,
  };
  if (c.verdict.pass) {
    row.verdict = base.reference && base.reference.verdict === 'fail' ? 'carried' : 'ok';
    return row;
  }
  const cause = await consequenceOf(ref.layer, inputs, data, rule, ctx, read, replayed, done, cand);
  if (cause) {
    row.verdict = 'consequence';
    row.consequenceOf = cause;
  } else row.verdict = 'fault';
  replayed.set(name, corrected(data, out));
  return row;
}

function inputsOf(values: Map<string, Float32Array | Float64Array>, cand: Trace): ReplayInputs {
  return {
    get(n) {
      const v = values.get(n);
      if (!v) throw new ParityOptionError(`replay: a rule read ${n}, which it did not list as an input`);
      return v;
    },
    shape: (n) => cand.get(n)?.shape ?? [],
  };
}

/**
 * Whether the stage follows from one of its inputs that is itself
 * inconsistent once that input's out-of-bound elements are replaced by their
 * replayed values (corrected()): then the trace recorded something else than
 * what the stage consumed, and the stage is that input's consequence, not a
 * second fault. The replaced elements are known only to within their own
 * bound, so the stage's bound grows by its response to them moved by ±bound
 * (two more recomputations, first order).
 */
async function consequenceOf(
  layer: number | null,
  inputs: string[],
  data: ArrayLike<number>,
  rule: ReplayRule,
  ctx: ReplayContext,
  read: (name: string) => Promise<Float32Array | Float64Array>,
  replayed: Map<string, Corrected>,
  done: readonly ReplayStageRow[],
  cand: Trace,
): Promise<string | undefined> {
  for (const suspect of inputs) {
    const fix = replayed.get(suspect);
    const row = done.find((r) => r.name === suspect);
    if (!fix || !row || (row.verdict !== 'fault' && row.verdict !== 'consequence')) continue;
    const run = async (input: Float32Array) => {
      const values = new Map<string, Float32Array | Float64Array>();
      for (const n of inputs) values.set(n, n === suspect ? input : await read(n));
      return rule.recompute(layer, inputsOf(values, cand), ctx);
    };
    const out = await run(fix.values);
    const up = await run(fix.values.map((v, i) => v + fix.slack[i]));
    const down = await run(fix.values.map((v, i) => v - fix.slack[i]));
    const bound = out.tier === 'exact' ? new Float64Array(out.y.length) : replayBound(out);
    for (let i = 0; i < bound.length; i++)
      bound[i] += Math.max(Math.abs(up.y[i] - out.y[i]), Math.abs(down.y[i] - out.y[i]));
    const tier = out.tier === 'exact' ? 'f32' : out.tier;
    if (compare(data, out.y, { tier, bound }).verdict.pass) return suspect;
  }
  return undefined;
}
