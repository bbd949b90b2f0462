/**
 * A diff as people read it (a table, then the first divergence with its error
 * growth) and as programs read it (diffToJson: the shape `plumbline diff
 * --json` prints).
 */
import { formatTable } from '../cli/table.js';
import type { DiffResult, StageMetrics, StageRow, TraceSummary } from './diff.js';
import type { Growth } from './diff-growth.js';
import { formatNumber as f, formatCosine } from './format.js';
import { formatComparison } from './report.js';

export interface DiffJson {
  tier: string;
  firstDivergence: { name: string; layer: number | null; stage: string | null; metrics: StageMetrics } | null;
  stages: {
    name: string;
    layer: number | null;
    stage: string | null;
    shape: number[];
    verdict: string;
    metrics: StageMetrics | null;
  }[];
}

export function diffToJson(r: DiffResult): DiffJson {
  const d = r.firstDivergence;
  return {
    tier: r.tier,
    firstDivergence: d
      ? { name: d.name, layer: d.layer, stage: d.stage, metrics: d.metrics as StageMetrics }
      : null,
    stages: r.stages.map((s) => ({
      name: s.name,
      layer: s.layer,
      stage: s.stage,
      shape: [...s.shape],
      verdict: s.verdict,
      metrics: s.metrics,
    })),
  };
}

/** JSON.stringify replacer: non-finite numbers as the strings Number() reads back ("Infinity", "NaN"). */
export function finiteJson(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
}

function traceLine(role: string, t: TraceSummary): string {
  const parts = [
    t.producer,
    t.backend && `backend ${t.backend}`,
    t.numerics && `numerics ${t.numerics}`,
    t.tokens && `${t.tokens.length} tokens`,
    t.map && `names mapped by ${t.map}`,
  ].filter(Boolean);
  return `${role}: ${t.file}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

function growthText(g: Growth | null | undefined): string {
  if (!g || g.ratio === null) return '-';
  return Number.isFinite(g.ratio) ? `×${f(g.ratio)}` : 'new';
}

const VERDICT_TEXT: Record<StageRow['verdict'], string> = {
  pass: 'pass',
  fail: 'FAIL',
  'only-reference': 'only in reference',
  'only-candidate': 'only in candidate',
  'shape-mismatch': 'shape mismatch',
};

function shapeText(s: StageRow): string {
  const a = `[${s.shape.join(', ')}]`;
  return s.candidateShape ? `${a} vs [${s.candidateShape.join(', ')}]` : a;
}

/** The per-stage table. */
export function formatDiffTable(r: DiffResult): string {
  const rows = r.stages.map((s) => {
    const m = s.metrics;
    const mark = s === r.firstDivergence ? '>' : ' ';
    if (!m)
      return [`${mark}${s.name}`, shapeText(s), VERDICT_TEXT[s.verdict], '', '', '', '', '', '', '', ''];
    const limit = m.threshold ? f(m.threshold.nmse) : m.basis === 'ggml' ? f(m.ggml.limit) : '-';
    return [
      `${mark}${s.name}`,
      shapeText(s),
      VERDICT_TEXT[s.verdict],
      m.K === null ? '?' : String(m.K),
      f(m.nmse),
      limit,
      formatCosine(m.cosine),
      f(m.maxAbs),
      growthText(m.growth),
      s.verdict === 'fail' ? (m.growth?.origin ?? '-') : '',
      m.ggml.pass ? 'pass' : 'FAIL',
    ];
  });
  return formatTable(
    ['stage', 'shape', 'verdict', 'K', 'NMSE', 'limit', 'cosine', 'max |a−r|', 'growth', 'origin', 'ggml'],
    rows,
  );
}

/** Why a stage's error is or is not its own: its relative error against what its inputs carried. */
export function formatGrowth(row: StageRow, r: DiffResult): string {
  const m = row.metrics as StageMetrics;
  const g = m.growth;
  if (!g) return 'error growth: not known (a name outside the canonical stages)';
  const rel = f(m.relError);
  const inputs = g.inputs.map((n) => {
    const e = r.stages.find((s) => s.name === n)?.metrics;
    return `${n} ${e ? f(e.relError) : '?'}`;
  });
  const model: Record<Growth['model'], string> = {
    none: 'no inputs',
    sum: 'absolute errors add',
    softmax: '2 × largest absolute input error',
    product: 'relative errors add',
    max: 'largest input relative error',
  };
  const lines = [
    `error growth: relative error ‖a−r‖/‖r‖ ${rel}; inputs: ${inputs.length ? inputs.join(', ') : 'none captured'}`,
  ];
  if (g.carried !== null)
    lines.push(
      `  carried from the inputs ≤ ${f(g.carried)} (${model[g.model]}), the op's own allowance ${f(g.allowance)}, growth ${growthText(g)}`,
    );
  const verdict: Record<Growth['origin'], string> = {
    introduced: `introduced here: ${row.name} adds more error than its inputs carry and its own precision explains`,
    carried: `carried: the inputs' error accounts for it; ${row.name} itself added no more than its tier allows`,
    none: 'no error',
    unknown: 'origin unknown: none of its inputs were captured on both sides',
  };
  lines.push(`  ${verdict[g.origin]}`);
  return lines.join('\n');
}

function indent(text: string, by = '  '): string {
  return text
    .split('\n')
    .map((l) => by + l)
    .join('\n');
}

/** The whole text report. */
export function formatDiff(r: DiffResult): string {
  const out: string[] = [traceLine('reference', r.reference), traceLine('candidate', r.candidate)];
  for (const w of r.warnings) out.push(`warning: ${w}`);
  out.push(
    `tier ${r.tier}${r.tier === 'ggml' ? " (test-backend-ops' fixed NMSE limits)" : ': per-stage NMSE/cosine limits derived for each stage’s dot length K (tiers.ts)'}; ggml's fixed limit beside each`,
    '',
    formatDiffTable(r),
    '',
  );
  const d = r.firstDivergence;
  if (!d) out.push(`no divergence: every stage compared is within the ${r.tier} tier`);
  else {
    out.push(
      `first divergence: ${d.name}${d.sources?.candidate ? ` (candidate's ${d.sources.candidate})` : ''}`,
    );
    if (d.comparison) out.push(indent(formatComparison(d.comparison, d.name)));
    out.push(indent(formatGrowth(d, r)));
    const i = r.firstIntroduced;
    if (i && i !== d)
      out.push(`first stage that introduced error over the tier: ${i.name}`, indent(formatGrowth(i, r)));
    else if (!i) out.push('no stage over the tier introduced error beyond what its inputs carried');
  }
  out.push('', summaryLine(r));
  return out.join('\n');
}

function summaryLine(r: DiffResult): string {
  const count = (v: StageRow['verdict']) => r.stages.filter((s) => s.verdict === v);
  const fails = count('fail');
  const introduced = fails.filter((s) => s.metrics?.growth?.origin === 'introduced').length;
  const parts = [
    `${r.stages.length - count('only-reference').length - count('only-candidate').length - count('shape-mismatch').length} stages compared`,
    `${fails.length} over the tier (${introduced} introduced, ${fails.length - introduced} carried or unknown)`,
  ];
  const list = (v: StageRow['verdict'], what: string) => {
    const s = count(v);
    if (s.length) parts.push(`${s.length} ${what}: ${s.map((x) => x.name).join(', ')}`);
  };
  list('only-reference', 'only in the reference');
  list('only-candidate', 'only in the candidate');
  list('shape-mismatch', 'with shapes that do not match');
  return `${parts.join('; ')}.`;
}
