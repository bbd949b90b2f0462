/**
 * diff(): two traces of one forward pass, stage by stage in computation
 * order (design.md, "Trace stages"), each compared at a tier (compare.ts),
 * then the first divergence — the earliest stage over the tier — with the
 * error growth from its inputs to it (diff-growth.ts) so the report says
 * which op introduced the error and which only carried it.
 *
 * Every stage of either trace gets a row: compared, present on one side only,
 * or with shapes that do not hold the same values. Names neither canonical
 * nor mapped are compared when both traces have them, and listed after the
 * canonical stages (their place in the computation is unknown, so they never
 * count as the first divergence).
 */

import type { NameMap } from '../trace/name-maps.js';
import {
  compareStages,
  parseStageName,
  type Stage,
  type StageRef,
  stageInputs,
  stageKind,
} from '../trace/stages.js';
import { readTrace, type Trace, type TraceEntry } from '../trace/trace-file.js';
import { type Comparison, compare, type ParityTier } from './compare.js';
import {
  type Geometry,
  inferGeometry,
  rowWidth,
  sameLayout,
  stageDepth,
  stageGgmlOp,
} from './diff-geometry.js';
import { type ErrorSummary, errorGrowth, type Growth } from './diff-growth.js';
import { ParityOptionError } from './errors.js';
import { isTierName } from './tiers.js';

export type StageVerdict = 'pass' | 'fail' | 'only-reference' | 'only-candidate' | 'shape-mismatch';

export interface DiffOptions {
  tier: ParityTier;
  /** Name map for traces given as paths or bytes (applied to both; canonical names pass through). */
  map?: NameMap | string;
  /** Head size for map transforms that need it, when the traces do not show it. */
  headDim?: number;
  /** Top-k size for the logits stage (default 10). */
  k?: number;
  /** Called after each row. */
  onProgress?: (done: number, total: number, name: string) => void;
}

/** A stage's metrics in a diff (JSON-ready apart from non-finite numbers). */
export interface StageMetrics {
  count: number;
  finiteCount: number;
  maxAbs: number;
  maxRel: number;
  rmse: number;
  nmse: number;
  cosine: number;
  /** √NMSE: ‖a − r‖/‖r‖. */
  relError: number;
  ulpMax: number;
  ulpP99: number;
  stdRatio: number;
  /** Non-finite mismatches (NaN or inf on one side only). */
  nonFinite: number;
  /** First flat index over the tier, −1 if none. */
  firstExceeding: number;
  /** The dot length the tier's thresholds were derived for (null: unknown, 1 assumed). */
  K: number | null;
  /** The tier's NMSE / cosine limits for this stage (statistics mode). */
  threshold: { nmse: number; cosine: number } | null;
  basis: Comparison['verdict']['basis'];
  reason: string;
  ggml: { op: string; limit: number; nmse: number; pass: boolean };
  topK?: { k: number; rows: number; meanOverlap: number; minOverlap: number; argmaxAgree: number };
  growth: Growth | null;
}

export interface StageRow {
  name: string;
  layer: number | null;
  /** null for a name that is neither canonical nor mapped. */
  stage: Stage | null;
  /** The reference's shape (the candidate's for a stage only it has). */
  shape: readonly number[];
  /** The candidate's shape when it differs from the reference's. */
  candidateShape?: readonly number[];
  /** The names in the files, where a map translated them. */
  sources?: { reference?: string; candidate?: string };
  verdict: StageVerdict;
  metrics: StageMetrics | null;
  /** The full comparison (compare.ts), for reports. */
  comparison?: Comparison;
}

export interface TraceSummary {
  file: string;
  map?: string;
  format?: string;
  producer?: string;
  backend?: string;
  model?: string;
  numerics?: string;
  tokens?: number[];
}

export interface DiffResult {
  tier: ParityTier;
  reference: TraceSummary;
  candidate: TraceSummary;
  geometry: Geometry;
  stages: StageRow[];
  /** The earliest canonical stage over the tier. */
  firstDivergence: StageRow | null;
  /** The earliest stage over the tier whose error its inputs do not account for. */
  firstIntroduced: StageRow | null;
  /** Traces that disagree on tokens or model, and the like. */
  warnings: string[];
}

type TraceInput = string | Uint8Array | Trace;

async function open(input: TraceInput, opts: DiffOptions): Promise<{ trace: Trace; owned: boolean }> {
  if (typeof input === 'string' || input instanceof Uint8Array)
    return { trace: await readTrace(input, { map: opts.map }), owned: true };
  return { trace: input, owned: false };
}

function summary(t: Trace): TraceSummary {
  const m = t.metadata;
  const s: TraceSummary = { file: t.file };
  if (t.map) s.map = t.map;
  for (const k of ['format', 'producer', 'backend', 'model', 'numerics'] as const)
    if (m[k] !== undefined) s[k] = m[k];
  if (m.tokens) s.tokens = m.tokens;
  return s;
}

function warningsOf(r: Trace, c: Trace): string[] {
  const w: string[] = [];
  const a = r.metadata.tokens;
  const b = c.metadata.tokens;
  if (a && b && a.join(',') !== b.join(','))
    w.push(
      `the traces ran different tokens (${a.length} vs ${b.length}; first difference at ${firstDifference(a, b)}): stage comparisons are not meaningful`,
    );
  if (r.metadata.model && c.metadata.model && r.metadata.model !== c.metadata.model)
    w.push(
      `the traces come from different models (sha256 ${r.metadata.model.slice(0, 12)}… vs ${c.metadata.model.slice(0, 12)}…)`,
    );
  return w;
}

function firstDifference(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/** Σr² and Σ(a − r)² over the pairs where both are finite. */
function norms(a: ArrayLike<number>, r: ArrayLike<number>): { refNorm: number; errorNorm: number } {
  let rr = 0;
  let se = 0;
  for (let i = 0; i < r.length; i++) {
    const x = a[i];
    const y = r[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    rr += y * y;
    se += (x - y) * (x - y);
  }
  return { refNorm: Math.sqrt(rr), errorNorm: Math.sqrt(se) };
}

function metricsOf(c: Comparison, K: number | undefined): StageMetrics {
  const mm = c.census.mismatches;
  const m: StageMetrics = {
    count: c.count,
    finiteCount: c.finiteCount,
    maxAbs: c.maxAbs.value,
    maxRel: c.maxRel.value,
    rmse: c.rmse,
    nmse: c.nmse,
    cosine: c.cosine,
    relError: Math.sqrt(c.nmse),
    ulpMax: c.ulp.max.value,
    ulpP99: c.ulp.p99,
    stdRatio: c.std.ratio,
    nonFinite: mm.nan + mm.inf + mm.infSign,
    firstExceeding: c.firstExceeding,
    K: K ?? null,
    threshold: c.thresholds ? { nmse: c.thresholds.nmse, cosine: c.thresholds.cosine } : null,
    basis: c.verdict.basis,
    reason: c.verdict.reason,
    ggml: { op: c.ggml.op, limit: c.ggml.limit, nmse: c.ggml.nmse, pass: c.ggml.pass },
    growth: null,
  };
  if (c.topK) {
    const t = c.topK;
    m.topK = {
      k: t.k,
      rows: t.rows,
      meanOverlap: t.meanOverlap,
      minOverlap: t.minOverlap,
      argmaxAgree: t.argmaxAgree,
    };
  }
  return m;
}

/** √ of what the tier lets this stage's own rounding add, in NMSE. */
function allowanceOf(c: Comparison): number {
  if (c.thresholds) return Math.sqrt(c.thresholds.nmse);
  if (c.tier === 'ggml') return Math.sqrt(c.ggml.limit);
  return 0;
}

interface Pair {
  name: string;
  ref?: TraceEntry;
  cand?: TraceEntry;
}

function pairs(r: Trace, c: Trace): { canonical: Pair[]; unknown: Pair[] } {
  const collect = (rs: readonly TraceEntry[], cs: readonly TraceEntry[]) => {
    const by = new Map<string, Pair>();
    for (const e of rs) by.set(e.name, { name: e.name, ref: e });
    for (const e of cs) {
      const p = by.get(e.name);
      if (p) p.cand = e;
      else by.set(e.name, { name: e.name, cand: e });
    }
    return [...by.values()];
  };
  const canonical = collect(r.stages, c.stages).sort((a, b) =>
    compareStages(parseStageName(a.name) as StageRef, parseStageName(b.name) as StageRef),
  );
  const unknown = collect(r.unknown, c.unknown).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  return { canonical, unknown };
}

export async function diff(
  reference: TraceInput,
  candidate: TraceInput,
  opts: DiffOptions,
): Promise<DiffResult> {
  if (!(opts.tier === 'ggml' || isTierName(opts.tier)))
    throw new ParityOptionError(`unknown tier ${JSON.stringify(opts.tier)}`);
  const r = await open(reference, opts);
  try {
    const c = await open(candidate, opts);
    try {
      return await run(r.trace, c.trace, opts);
    } finally {
      if (c.owned) await c.trace.close();
    }
  } finally {
    if (r.owned) await r.trace.close();
  }
}

async function run(ref: Trace, cand: Trace, opts: DiffOptions): Promise<DiffResult> {
  const geometry = inferGeometry(
    [
      { stages: ref.stages, tokens: ref.metadata.tokens },
      { stages: cand.stages, tokens: cand.metadata.tokens },
    ],
    opts.headDim,
  );
  const { canonical, unknown } = pairs(ref, cand);
  const lastLayer = Math.max(-1, ...canonical.map((p) => parseStageName(p.name)?.layer ?? -1));
  const errors = new Map<string, ErrorSummary>();
  const rows: StageRow[] = [];
  const total = canonical.length + unknown.length;
  const readOpts = geometry.headDim ? { headDim: geometry.headDim } : {};

  const resolveInputs = (ref: StageRef, seen = new Set<string>()): string[] => {
    const out: string[] = [];
    for (const slot of stageInputs(ref, lastLayer)) {
      const present = slot.find((n) => errors.has(n));
      if (present) {
        out.push(present);
        continue;
      }
      // Not captured on both sides: take the nearest captured ancestors of its first choice.
      const missing = slot[0];
      if (seen.has(missing)) continue;
      seen.add(missing);
      const mref = parseStageName(missing);
      if (mref) for (const a of resolveInputs(mref, seen)) if (!out.includes(a)) out.push(a);
    }
    return out;
  };

  for (const p of [...canonical, ...unknown]) {
    const sref = parseStageName(p.name);
    const base = { name: p.name, layer: sref?.layer ?? null, stage: sref?.stage ?? null };
    const sources = sourcesOf(p);
    let row: StageRow;
    if (!p.ref || !p.cand) {
      const e = (p.ref ?? p.cand) as TraceEntry;
      row = { ...base, shape: e.shape, verdict: p.ref ? 'only-reference' : 'only-candidate', metrics: null };
    } else if (!sameLayout(p.ref.shape, p.cand.shape, base.stage)) {
      row = {
        ...base,
        shape: p.ref.shape,
        candidateShape: p.cand.shape,
        verdict: 'shape-mismatch',
        metrics: null,
      };
    } else {
      const done = await compareStage(p.ref, p.cand, base.stage, ref, cand, geometry, opts, readOpts);
      row = { ...base, shape: p.ref.shape, ...done.row };
      if (p.ref.shape.join(',') !== p.cand.shape.join(',')) row.candidateShape = p.cand.shape;
      const m = done.row.metrics;
      const own: ErrorSummary = {
        relError: m.relError,
        errorNorm: done.errorNorm,
        maxAbs: m.maxAbs,
        nonFinite: m.nonFinite,
      };
      if (base.stage !== null && sref) {
        const inputs = resolveInputs(sref).map((n) => ({ name: n, error: errors.get(n) as ErrorSummary }));
        m.growth = errorGrowth(
          stageKind(base.stage),
          own,
          done.refNorm,
          inputs,
          allowanceOf(done.row.comparison),
        );
        errors.set(p.name, own);
      }
    }
    if (sources) row.sources = sources;
    rows.push(row);
    opts.onProgress?.(rows.length, total, p.name);
  }

  const firstDivergence = rows.find((r) => r.stage !== null && r.verdict === 'fail') ?? null;
  const firstIntroduced =
    rows.find((r) => r.stage !== null && r.verdict === 'fail' && r.metrics?.growth?.origin !== 'carried') ??
    null;
  return {
    tier: opts.tier,
    reference: summary(ref),
    candidate: summary(cand),
    geometry,
    stages: rows,
    firstDivergence,
    firstIntroduced,
    warnings: warningsOf(ref, cand),
  };
}

function sourcesOf(p: Pair): StageRow['sources'] | undefined {
  const s: NonNullable<StageRow['sources']> = {};
  if (p.ref && p.ref.source !== p.name) s.reference = p.ref.source;
  if (p.cand && p.cand.source !== p.name) s.candidate = p.cand.source;
  return s.reference || s.candidate ? s : undefined;
}

async function compareStage(
  r: TraceEntry,
  c: TraceEntry,
  stage: Stage | null,
  ref: Trace,
  cand: Trace,
  g: Geometry,
  opts: DiffOptions,
  readOpts: { headDim?: number },
): Promise<{
  row: { verdict: StageVerdict; metrics: StageMetrics; comparison: Comparison };
  refNorm: number;
  errorNorm: number;
}> {
  const rd = await ref.read(r.name, readOpts);
  const cd = await cand.read(c.name, readOpts);
  const shape = r.shape;
  const K = stage ? stageDepth(stage, shape, g) : undefined;
  const comparison = compare(
    { data: cd, shape },
    { data: rd, shape },
    {
      tier: opts.tier,
      K: K ?? 1,
      ggmlOp: stage ? stageGgmlOp(stage) : 'default',
      ...(stage === 'logits' ? { k: opts.k ?? 10, rowLength: rowWidth(shape, g.tokens) } : {}),
    },
  );
  const { refNorm, errorNorm } = norms(cd, rd);
  return {
    row: {
      verdict: comparison.verdict.pass ? 'pass' : 'fail',
      metrics: metricsOf(comparison, K),
      comparison,
    },
    refNorm,
    errorNorm,
  };
}
