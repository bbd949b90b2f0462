/**
 * A replay as people read it (a table, then the first fault), as programs
 * read it (replayToJson: what `plumbline replay --json` prints) and as one
 * self-contained HTML page (a layer × stage grid coloured by verdict, the
 * first fault outlined, the table; styles shared with the diff report).
 */
import { formatTable } from '../cli/table.js';
import { LAYER_STAGES } from '../trace/stages.js';
import { esc, REPORT_CSS } from './diff-html.js';
import { formatNumber as f, formatIndex } from './format.js';
import type { ReplayResult, ReplayStageRow, ReplayVerdict } from './replay.js';

export interface ReplayJson {
  tier: string;
  numerics: string;
  reference: ReplayResult['reference'];
  firstFault: { name: string; layer: number | null; stage: string; boundRatio: number | null } | null;
  stages: {
    name: string;
    layer: number | null;
    stage: string;
    shape: number[];
    verdict: ReplayVerdict;
    consistent: boolean | null;
    boundRatio: number | null;
    tier: string | null;
    inputs: string[];
    consequenceOf?: string;
    exceeded: number;
    count: number;
    nmse: number;
    cosine: number;
    reference: ReplayStageRow['reference'];
    reason: string;
  }[];
  warnings: string[];
}

export function replayToJson(r: ReplayResult): ReplayJson {
  const ff = r.firstFault;
  return {
    tier: r.tier,
    numerics: r.numerics,
    reference: r.reference,
    firstFault: ff ? { name: ff.name, layer: ff.layer, stage: ff.stage, boundRatio: ff.boundRatio } : null,
    stages: r.stages.map((s) => ({
      name: s.name,
      layer: s.layer,
      stage: s.stage,
      shape: [...s.shape],
      verdict: s.verdict,
      consistent: s.consistent,
      boundRatio: s.boundRatio,
      tier: s.tier,
      inputs: s.inputs,
      ...(s.consequenceOf ? { consequenceOf: s.consequenceOf } : {}),
      exceeded: s.exceeded,
      count: s.count,
      nmse: s.nmse,
      cosine: s.cosine,
      reference: s.reference,
      reason: s.reason,
    })),
    warnings: r.warnings,
  };
}

const VERDICT_TEXT: Record<ReplayVerdict, string> = {
  ok: 'ok',
  carried: 'carried',
  fault: 'FAULT',
  consequence: 'consequence',
  skipped: 'skipped',
};

function ratioText(s: ReplayStageRow): string {
  if (s.boundRatio !== null) return f(s.boundRatio);
  return s.tier === 'exact' ? (s.consistent ? 'exact' : 'differs') : '';
}

function referenceText(s: ReplayStageRow): string {
  if (!s.reference) return '';
  const n = s.reference.nmse;
  return `${s.reference.verdict}${n !== null ? ` (NMSE ${f(n)})` : ''}`;
}

export function formatReplayTable(r: ReplayResult): string {
  return formatTable(
    ['', 'stage', 'verdict', 'tier', '|a−replay|/bound', 'vs reference', 'note'],
    r.stages.map((s) => [
      s === r.firstFault ? '>' : '',
      s.name,
      VERDICT_TEXT[s.verdict],
      s.tier ?? '',
      ratioText(s),
      referenceText(s),
      s.consequenceOf
        ? `consequence of ${s.consequenceOf}`
        : s.verdict === 'skipped' || s.verdict === 'fault'
          ? s.reason
          : '',
    ]),
  );
}

/** The first fault in words: the stage, its inputs, how far over its bound and where. */
export function formatFault(s: ReplayStageRow): string {
  const where = s.firstExceeding >= 0 ? `, first at index ${formatIndex(s.firstExceeding, s.shape)}` : '';
  return (
    `first fault: ${s.name} — its output does not follow from its own inputs ` +
    `(${s.inputs.length > 0 ? s.inputs.join(', ') : 'the model weights and tokens'}) at the ${s.tier} tier:\n` +
    `  ${s.reason}${where}\n` +
    '  this kernel is wrong; the stages after it that follow from their inputs only carry its error'
  );
}

function counts(r: ReplayResult): string {
  const n = new Map<ReplayVerdict, number>();
  for (const s of r.stages) n.set(s.verdict, (n.get(s.verdict) ?? 0) + 1);
  return (['fault', 'consequence', 'carried', 'ok', 'skipped'] as const)
    .filter((v) => n.has(v))
    .map((v) => `${n.get(v)} ${v}`)
    .join(', ');
}

function referenceLine(r: ReplayResult): string {
  const ref = r.reference;
  if (ref.source === 'none') return 'reference: none (carried vs ok not told apart)';
  const what = ref.source === 'computed' ? 'computed on the reference backend (exact numerics)' : ref.file;
  return `reference: ${what}, compared at the ${ref.tier} tier`;
}

export function formatReplay(r: ReplayResult): string {
  const lines = [
    `replay of ${r.candidate.file} against ${r.model} (tier ${r.tier}, ${r.numerics} numerics)`,
    referenceLine(r),
    ...r.warnings.map((w) => `warning: ${w}`),
    '',
    formatReplayTable(r),
    '',
    r.firstFault
      ? formatFault(r.firstFault)
      : `no fault: every stage replayed follows from its own inputs at its tier (${counts(r)})`,
  ];
  if (r.firstFault) lines.push(`(${counts(r)})`);
  return lines.join('\n');
}

const COLORS: Record<ReplayVerdict, string> = {
  ok: '#4caf50',
  carried: '#f2c744',
  fault: '#d62728',
  consequence: '#f28e2b',
  skipped: '#e5e5e5',
};

function grid(r: ReplayResult): string {
  const layerRows = r.stages.filter((s) => s.layer !== null);
  const globals = r.stages.filter((s) => s.layer === null);
  const known = LAYER_STAGES as readonly string[];
  const columns = [...new Set(layerRows.map((s) => s.stage))].sort(
    (a, b) => (known.indexOf(a) + 1 || 999) - (known.indexOf(b) + 1 || 999),
  );
  const layers = Math.max(-1, ...layerRows.map((s) => s.layer as number)) + 1;
  const cw = 30;
  const ch = 18;
  const left = 70;
  const top = 120;
  const place = new Map<ReplayStageRow, { x: number; y: number; w: number }>();
  globals.forEach((s, i) => {
    place.set(s, { x: left + i * cw * 3, y: 8, w: cw * 3 - 7 });
  });
  for (const s of layerRows)
    place.set(s, { x: left + columns.indexOf(s.stage) * cw, y: top + (s.layer as number) * ch, w: cw - 2 });
  const width = left + Math.max(columns.length * cw, globals.length * cw * 3) + 20;
  const height = top + layers * ch + 20;
  const parts = [
    `<svg id="replay-grid" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="per-layer, per-stage replay verdicts">`,
  ];
  for (const [s, p] of place) {
    const tip = `${s.name}: ${s.verdict}${s.boundRatio !== null ? `, |a−replay|/bound ${f(s.boundRatio)}` : ''}${s.consequenceOf ? `, consequence of ${s.consequenceOf}` : ''}`;
    parts.push(
      `<rect class="cell ${s.verdict}" x="${p.x}" y="${p.y}" width="${p.w}" height="${ch - 2}" fill="${COLORS[s.verdict]}"><title>${esc(tip)}</title></rect>`,
    );
    if (s.layer === null)
      parts.push(`<text x="${p.x + 3}" y="${p.y + ch - 6}" class="glabel">${esc(s.name)}</text>`);
  }
  columns.forEach((st, i) => {
    const x = left + i * cw + cw / 2;
    parts.push(`<text transform="translate(${x},${top - 4}) rotate(-60)" class="col">${esc(st)}</text>`);
  });
  for (let l = 0; l < layers; l++)
    parts.push(`<text x="${left - 6}" y="${top + l * ch + ch - 6}" class="row">layer ${l}</text>`);
  const ff = r.firstFault && place.get(r.firstFault);
  if (ff)
    parts.push(
      `<rect id="first-fault" x="${ff.x - 2}" y="${ff.y - 2}" width="${ff.w + 4}" height="${ch + 2}" fill="none" stroke="#000" stroke-width="3"/>`,
    );
  parts.push('</svg>');
  return parts.join('\n');
}

/** Row tints of the replay table beside the shared report styles (fault rows: the shared `fail`). */
const VERDICT_CSS = `tr.carried td{background:#fff8e0} tr.consequence td{background:#ffeedd}
#replay-grid rect.cell.fault{stroke:#600;stroke-width:1.5}
`;

export interface ReplayHtmlOptions {
  title?: string;
}

export function renderReplayHtml(r: ReplayResult, opts: ReplayHtmlOptions = {}): string {
  const title = opts.title ?? 'plumbline replay';
  const ff = r.firstFault;
  const banner = ff
    ? `<div class="banner" id="first-fault-banner">${esc(formatFault(ff))}</div>`
    : `<div class="banner clean" id="first-fault-banner">no fault: every stage replayed follows from its own inputs (${esc(counts(r))})</div>`;
  const legend = (Object.keys(COLORS) as ReplayVerdict[])
    .map(
      (v) =>
        `<span style="background:${COLORS[v]};color:${v === 'fault' ? '#fff' : '#000'};padding:0 6px;margin-right:8px">${v}</span>`,
    )
    .join('');
  const heads = [
    'stage',
    'shape',
    'verdict',
    'tier',
    '|a−replay|/bound',
    'over',
    'vs reference',
    'inputs',
    'note',
  ];
  const rows = r.stages
    .map((s) => {
      const cls = [
        s === ff ? 'first' : '',
        s.verdict === 'fault' ? 'fail' : '',
        s.verdict === 'skipped' ? 'absent' : '',
        s.verdict === 'carried' || s.verdict === 'consequence' ? s.verdict : '',
      ]
        .filter(Boolean)
        .join(' ');
      const cells = [
        s.name,
        `[${s.shape.join(', ')}]`,
        s.verdict,
        s.tier ?? '',
        ratioText(s),
        s.count > 0 ? `${s.exceeded}/${s.count}` : '',
        referenceText(s),
        s.inputs.join(', '),
        s.consequenceOf ? `consequence of ${s.consequenceOf}` : s.verdict === 'ok' ? '' : s.reason,
      ];
      return `<tr${cls ? ` class="${cls}"` : ''}${s === ff ? ' id="first-fault-row"' : ''}>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<style>${REPORT_CSS}${VERDICT_CSS}</style></head><body>
<h1>${esc(title)} — tier ${esc(r.tier)}, ${esc(r.numerics)} numerics</h1>
<p class="meta"><b>model</b> ${esc(r.model)}</p>
<p class="meta"><b>candidate</b> ${esc(r.candidate.file)} — ${esc([r.candidate.producer, r.candidate.backend, r.candidate.numerics].filter(Boolean).join(', '))}</p>
<p class="meta">${esc(referenceLine(r))}</p>
${r.warnings.map((w) => `<p class="meta warn">warning: ${esc(w)}</p>`).join('\n')}
${banner}
<h2>Verdicts</h2>
<p class="meta">${legend}</p>
${grid(r)}
<h2>Stages</h2>
<table id="stages"><thead><tr>${heads.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${rows}
</tbody></table>
</body></html>
`;
}
