/**
 * The diff as one self-contained HTML file (no network: inline SVG, CSS and
 * a few lines of JS): a layer × stage heat map of a chosen metric, per-layer
 * line charts of NMSE and 1 − cosine, the first divergence highlighted, and
 * the table below. Names come from files, so every string is escaped.
 */
import { LAYER_STAGES } from '../trace/stages.js';
import type { DiffResult, StageMetrics, StageRow } from './diff.js';
import { formatDiffTable, formatGrowth } from './diff-report.js';
import { formatNumber as f, formatCosine } from './format.js';

/** Heat map metrics: each maps a stage's metrics to a log10 value (null: not compared). */
export const HEAT_METRICS = {
  ratio: 'log10(NMSE / tier limit): > 0 is over the tier (black outline: the stage introduced it)',
  nmse: 'log10 NMSE',
  cosine: 'log10(1 − cosine)',
  growth: 'log10 error growth from the inputs',
} as const;

export type HeatMetric = keyof typeof HEAT_METRICS;

export interface DiffHtmlOptions {
  /** The heat map's initial metric (default 'ratio'); the page can switch. */
  metric?: HeatMetric;
  title?: string;
}

/** log10 of a stage's metric (clamped at 1e-30 so exact agreement still plots; 30 stands for inf or NaN). */
function heatValue(m: StageMetrics | null, metric: string): number | null {
  if (!m) return null;
  const lg = (x: number) => Math.log10(Math.max(x, 1e-30));
  if (metric === 'nmse') return Number.isFinite(m.nmse) ? lg(m.nmse) : 30;
  if (metric === 'cosine') return lg(1 - m.cosine);
  if (metric === 'growth') {
    const r = m.growth ? m.growth.ratio : null;
    return r === null ? null : Number.isFinite(r) ? lg(r) : 30;
  }
  const limit = m.threshold ? m.threshold.nmse : m.basis === 'ggml' ? m.ggml.limit : 0;
  if (!Number.isFinite(m.nmse) || m.nonFinite > 0) return 30;
  return limit > 0 ? lg(m.nmse) - lg(limit) : m.nmse > 0 ? 30 : -30;
}

/** Colour of a value in [lo, hi]: green → yellow → red (ratio: centred on 0, the tier limit). */
export function heatColor(v: number | null, lo: number, hi: number, centred: boolean): string {
  if (v === null) return '#e5e5e5';
  let t: number;
  if (centred)
    t =
      v <= 0
        ? 0.5 * Math.max(0, 1 + v / Math.max(-lo, 1e-9))
        : 0.5 + 0.5 * Math.min(1, v / Math.max(hi, 1e-9));
  else t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
  t = Math.min(1, Math.max(0, t));
  const hue = 120 * (1 - t);
  return `hsl(${hue.toFixed(0)}, 70%, ${(45 + 10 * Math.abs(t - 0.5)).toFixed(0)}%)`;
}

/** Escapes text for HTML (names come from files). */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A value range for the colour scale: finite values, clamped to a useful window. */
function range(values: (number | null)[], metric: HeatMetric): [number, number] {
  const v = values.filter((x): x is number => x !== null && Math.abs(x) < 30);
  if (metric === 'ratio') return [Math.min(-1, ...v), Math.max(1, ...v)];
  if (v.length === 0) return [0, 1];
  return [Math.min(...v), Math.max(...v)];
}

interface Cell {
  row: StageRow;
  x: number;
  y: number;
}

function heatMap(r: DiffResult, metric: HeatMetric): string {
  const layerRows = r.stages.filter((s) => s.layer !== null);
  const globals = r.stages.filter((s) => s.layer === null && s.stage !== null);
  const columns = LAYER_STAGES.filter((st) => layerRows.some((s) => s.stage === st));
  const layers = Math.max(-1, ...layerRows.map((s) => s.layer as number)) + 1;
  const cw = 30;
  const ch = 18;
  const left = 70;
  const top = 120;
  const gap = 14;
  const cells: Cell[] = [];
  globals.forEach((row, i) => {
    cells.push({ row, x: left + i * (cw * 3), y: 8 });
  });
  for (const row of layerRows)
    cells.push({
      row,
      x: left + columns.indexOf(row.stage as never) * cw,
      y: top + (row.layer as number) * ch,
    });
  const width = left + Math.max(columns.length * cw, globals.length * cw * 3) + 20;
  const height = top + layers * ch + 20;
  // Every metric's colours are computed here; the page's selector only swaps them.
  const fills = new Map<HeatMetric, string[]>();
  for (const k of Object.keys(HEAT_METRICS) as HeatMetric[]) {
    const values = cells.map((c) => heatValue(c.row.metrics, k));
    const [lo, hi] = range(values, k);
    fills.set(
      k,
      values.map((v) => heatColor(v, lo, hi, k === 'ratio')),
    );
  }
  const parts: string[] = [
    `<svg id="heatmap" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="per-layer, per-stage heat map">`,
  ];
  for (const [i, c] of cells.entries()) {
    const w = c.row.layer === null ? cw * 3 - gap / 2 : cw - 2;
    const m = c.row.metrics;
    const tip = `${c.row.name}: ${c.row.verdict}${m ? `, NMSE ${f(m.nmse)}, cosine ${formatCosine(m.cosine)}, growth ${m.growth?.ratio === null || !m.growth ? '-' : f(m.growth.ratio)}` : ''}`;
    parts.push(
      `<rect class="cell${c.row.verdict === 'fail' ? (m?.growth?.origin === 'carried' ? ' over' : ' over introduced') : ''}" x="${c.x}" y="${c.y}" width="${w}" height="${ch - 2}" ${[...fills].map(([k, v]) => ` data-fill-${k}="${v[i]}"`).join('')} fill="${fills.get(metric)?.[i]}"${m ? '' : ' stroke="#999" stroke-dasharray="2,2"'}><title>${esc(tip)}</title></rect>`,
    );
    if (c.row.layer === null)
      parts.push(`<text x="${c.x + 3}" y="${c.y + ch - 6}" class="glabel">${esc(c.row.name)}</text>`);
  }
  columns.forEach((st, i) => {
    const x = left + i * cw + cw / 2;
    parts.push(`<text transform="translate(${x},${top - 4}) rotate(-60)" class="col">${esc(st)}</text>`);
  });
  for (let l = 0; l < layers; l++)
    parts.push(`<text x="${left - 6}" y="${top + l * ch + ch - 6}" class="row">layer ${l}</text>`);
  const d = r.firstDivergence;
  const dc = d && cells.find((c) => c.row === d);
  if (dc) {
    const w = dc.row.layer === null ? cw * 3 - gap / 2 : cw - 2;
    parts.push(
      `<g id="first-divergence"><rect x="${dc.x - 2}" y="${dc.y - 2}" width="${w + 4}" height="${ch + 2}" fill="none" stroke="#000" stroke-width="3"/><path d="M${dc.x + w / 2 - 5},${dc.y - 9} l10,0 l-5,7 z" fill="#000"/><title>first divergence: ${esc(d.name)}</title></g>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}

interface Series {
  label: string;
  color: string;
  points: (number | null)[];
  dashed?: boolean;
}

function lineChart(id: string, title: string, layers: number, series: Series[], mark: number | null): string {
  const w = 520;
  const h = 220;
  const l = 56;
  const t = 24;
  const pw = w - l - 110;
  const ph = h - t - 34;
  const all = series.flatMap((s) => s.points).filter((x): x is number => x !== null && Number.isFinite(x));
  let lo = Math.floor(Math.min(...all, 0));
  let hi = Math.ceil(Math.max(...all, lo + 1));
  if (all.length === 0) [lo, hi] = [-16, 0];
  const X = (i: number) => l + (layers > 1 ? (i / (layers - 1)) * pw : pw / 2);
  const Y = (v: number) => t + ph - ((v - lo) / (hi - lo)) * ph;
  const parts = [
    `<svg id="${id}" xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(title)}">`,
    `<text x="${l}" y="14" class="title">${esc(title)}</text>`,
    `<line x1="${l}" y1="${t + ph}" x2="${l + pw}" y2="${t + ph}" class="axis"/><line x1="${l}" y1="${t}" x2="${l}" y2="${t + ph}" class="axis"/>`,
  ];
  const step = Math.max(1, Math.ceil((hi - lo) / 6));
  for (let v = lo; v <= hi; v += step)
    parts.push(
      `<line x1="${l - 3}" y1="${Y(v)}" x2="${l + pw}" y2="${Y(v)}" class="grid"/><text x="${l - 5}" y="${Y(v) + 4}" class="tick" text-anchor="end">1e${v}</text>`,
    );
  const every = Math.max(1, Math.ceil(layers / 12));
  for (let i = 0; i < layers; i += every)
    parts.push(`<text x="${X(i)}" y="${t + ph + 14}" class="tick" text-anchor="middle">${i}</text>`);
  parts.push(`<text x="${l + pw / 2}" y="${h - 4}" class="tick" text-anchor="middle">layer</text>`);
  if (mark !== null)
    parts.push(
      `<line x1="${X(mark)}" y1="${t}" x2="${X(mark)}" y2="${t + ph}" class="mark"><title>first divergence in layer ${mark}</title></line>`,
    );
  series.forEach((s, k) => {
    let path = '';
    s.points.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      path += `${path && s.points[i - 1] !== null ? 'L' : 'M'}${X(i).toFixed(1)},${Y(Math.min(hi, Math.max(lo, v))).toFixed(1)} `;
    });
    if (path)
      parts.push(
        `<path d="${path.trim()}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,4"' : ''}/>`,
      );
    s.points.forEach((v, i) => {
      if (v !== null && Number.isFinite(v))
        parts.push(
          `<circle cx="${X(i).toFixed(1)}" cy="${Y(Math.min(hi, Math.max(lo, v))).toFixed(1)}" r="2.5" fill="${s.color}"/>`,
        );
    });
    const ly = t + 10 + k * 16;
    parts.push(
      `<line x1="${l + pw + 10}" y1="${ly}" x2="${l + pw + 28}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,4"' : ''}/><text x="${l + pw + 32}" y="${ly + 4}" class="tick">${esc(s.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function layerSeries(r: DiffResult): { layers: number; nmse: Series[]; cosine: Series[] } {
  const rows = r.stages.filter((s) => s.layer !== null);
  const layers = Math.max(-1, ...rows.map((s) => s.layer as number)) + 1;
  const lg = (x: number) => (x > 0 ? Math.log10(x) : null);
  const inLayer = (l: number) => rows.filter((s) => s.layer === l && s.metrics);
  const output = (l: number) =>
    inLayer(l).find((s) => s.stage === 'layer_output') ?? inLayer(l)[inLayer(l).length - 1];
  const per = (fn: (l: number) => number | null) => Array.from({ length: layers }, (_, l) => fn(l));
  const worst = (l: number, key: (m: StageMetrics) => number) => {
    const v = inLayer(l).map((s) => key(s.metrics as StageMetrics));
    return v.length ? lg(Math.max(...v)) : null;
  };
  const outM = (l: number) => output(l)?.metrics ?? null;
  return {
    layers,
    nmse: [
      {
        label: 'layer output',
        color: '#1f77b4',
        points: per((l) => {
          const m = outM(l);
          return m ? lg(m.nmse) : null;
        }),
      },
      { label: 'worst stage', color: '#d62728', points: per((l) => worst(l, (m) => m.nmse)) },
      {
        label: 'output limit',
        color: '#777',
        dashed: true,
        points: per((l) => {
          const m = outM(l);
          return m?.threshold ? lg(m.threshold.nmse) : null;
        }),
      },
    ],
    cosine: [
      {
        label: 'layer output',
        color: '#1f77b4',
        points: per((l) => {
          const m = outM(l);
          return m ? lg(1 - m.cosine) : null;
        }),
      },
      { label: 'worst stage', color: '#d62728', points: per((l) => worst(l, (m) => 1 - m.cosine)) },
    ],
  };
}

/** The reports' shared style sheet (diff and replay). */
export const REPORT_CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:20px;margin:0 0 8px} h2{font-size:16px;margin:24px 0 8px}
.meta{color:#555;margin:2px 0}.warn{color:#a00}
.banner{border:2px solid #c00;background:#fff3f3;padding:10px 14px;margin:14px 0;white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12px}
.banner.clean{border-color:#080;background:#f3fff3}
.col,.row,.tick,.glabel{font:10px ui-monospace,monospace;fill:#333}.row{text-anchor:end}.title{font:12px system-ui;fill:#222}
.axis{stroke:#333}.grid{stroke:#eee}.mark{stroke:#c00;stroke-dasharray:3,3}
rect.cell.over{stroke:#600;stroke-width:1} rect.cell.introduced{stroke:#000;stroke-width:2.5}
table{border-collapse:collapse;font:12px ui-monospace,monospace}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
tr.fail td{color:#a00} tr.first td{background:#ffe08a;font-weight:bold} tr.absent td{color:#888}
.charts{display:flex;flex-wrap:wrap;gap:16px}
pre{font:12px ui-monospace,monospace}
`;

export function renderDiffHtml(r: DiffResult, opts: DiffHtmlOptions = {}): string {
  const metric = opts.metric ?? 'ratio';
  const title = opts.title ?? 'plumbline diff';
  const d = r.firstDivergence;
  const { layers, nmse, cosine } = layerSeries(r);
  const mark = d && d.layer !== null ? d.layer : null;
  const banner = d
    ? `<div class="banner" id="first-divergence-banner"><b>first divergence: ${esc(d.name)}</b>\n${esc(d.metrics?.reason ?? '')}\n${esc(formatGrowth(d, r))}</div>`
    : `<div class="banner clean" id="first-divergence-banner">no divergence: every stage compared is within the ${esc(r.tier)} tier</div>`;
  const meta = (role: string, t: DiffResult['reference']) =>
    `<p class="meta"><b>${role}</b> ${esc(t.file)} — ${esc([t.producer, t.backend, t.numerics, t.tokens && `${t.tokens.length} tokens`, t.map && `map ${t.map}`].filter(Boolean).join(', '))}</p>`;
  const rows = r.stages
    .map((s) => {
      const m = s.metrics;
      const cls = [s === d ? 'first' : '', s.verdict === 'fail' ? 'fail' : '', m ? '' : 'absent']
        .filter(Boolean)
        .join(' ');
      const cells = [
        s.name,
        `[${s.shape.join(', ')}]${s.candidateShape ? ` vs [${s.candidateShape.join(', ')}]` : ''}`,
        s.verdict,
        m ? (m.K === null ? '?' : String(m.K)) : '',
        m ? f(m.nmse) : '',
        m?.threshold ? f(m.threshold.nmse) : '',
        m ? formatCosine(m.cosine) : '',
        m ? f(m.maxAbs) : '',
        m ? f(m.maxRel) : '',
        m ? f(m.ulpMax) : '',
        m?.growth?.ratio != null ? f(m.growth.ratio) : '',
        s.verdict === 'fail' ? (m?.growth?.origin ?? '') : '',
        m ? `${m.ggml.pass ? 'pass' : 'FAIL'} (${f(m.ggml.nmse)} vs ${m.ggml.limit})` : '',
      ];
      return `<tr${cls ? ` class="${cls}"` : ''}${s === d ? ' id="first-divergence-row"' : ''}>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
    })
    .join('\n');
  const heads = [
    'stage',
    'shape',
    'verdict',
    'K',
    'NMSE',
    'limit',
    'cosine',
    'max |a−r|',
    'max rel',
    'max ULP',
    'growth',
    'origin',
    'ggml',
  ];
  const options = Object.entries(HEAT_METRICS)
    .map(([k, v]) => `<option value="${k}"${k === metric ? ' selected' : ''}>${esc(v)}</option>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<style>${REPORT_CSS}</style></head><body>
<h1>${esc(title)} — tier ${esc(r.tier)}</h1>
${meta('reference', r.reference)}
${meta('candidate', r.candidate)}
${r.warnings.map((w) => `<p class="meta warn">warning: ${esc(w)}</p>`).join('\n')}
${banner}
<h2>Heat map <select id="metric">${options}</select></h2>
${heatMap(r, metric)}
<h2>Per layer</h2>
<div class="charts">
${lineChart('chart-nmse', 'NMSE per layer', layers, nmse, mark)}
${lineChart('chart-cosine', '1 − cosine per layer', layers, cosine, mark)}
</div>
<h2>Stages</h2>
<table id="stages"><thead><tr>${heads.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${rows}
</tbody></table>
<details><summary>as text</summary><pre>${esc(formatDiffTable(r))}</pre></details>
<script>
document.getElementById('metric').addEventListener('change', (e) => {
  for (const c of document.querySelectorAll('#heatmap rect.cell')) c.setAttribute('fill', c.dataset['fill' + e.target.value[0].toUpperCase() + e.target.value.slice(1)]);
});
</script>
</body></html>
`;
}
