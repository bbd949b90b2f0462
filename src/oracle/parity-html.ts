/**
 * The parity matrix (`plumbline parity --html`) as one self-contained HTML
 * file (no network: inline SVG and CSS, no script): an op × dtype by backend
 * grid coloured by the worst |a − r| / bound ratio on a log scale (≪ 1 green,
 * ≥ 1 red, a failing case red whatever its ratio), a bar chart of the same
 * ratios, and every row in a table. WebGPU cells say where the cases ran
 * (a case can fall back to the CPU kernels). Styles are the diff report's.
 */
import { esc, heatColor, REPORT_CSS } from './diff-html.js';
import { formatNumber as f } from './format.js';
import { PARITY_ROW_HEADS, parityRowCells } from './parity-columns.js';
import type { ParityRow } from './parity-matrix.js';

export interface ParityHtmlOptions {
  title?: string;
  /** Backends asked for that could not run here, and why (no WebGPU adapter, ...). */
  skipped?: readonly { backend: string; reason: string }[];
  /** What ran each backend, by backend name (the WebGPU adapter), shown under the title. */
  devices?: Readonly<Record<string, string>>;
}

/** The colour scale's green end, log10: ratios of 1e-4 and below are equally far inside their bound. */
const GREEN_LOG = -4;

/** Green for ratio ≪ 1 through yellow to red at ratio ≥ 1; a failing case (or bad exact row) is red. */
function ratioColor(pass: boolean, ratio: number | null): string {
  if (!pass) return heatColor(0, GREEN_LOG, 0, false);
  if (ratio === null) return heatColor(GREEN_LOG, GREEN_LOG, 0, false); // exact and equal
  return heatColor(Math.log10(Math.max(ratio, 1e-30)), GREEN_LOG, 0, false);
}

/** One grid cell: the cases of one op × dtype on one backend. */
interface Cell {
  key: string;
  backend: string;
  rows: ParityRow[];
  pass: boolean;
  /** Worst bound ratio over the cases (null: every case compared exactly). */
  worst: number | null;
}

function cellsOf(rows: readonly ParityRow[]): {
  keys: string[];
  backends: string[];
  cells: Map<string, Cell>;
} {
  const keys: string[] = [];
  const backends: string[] = [];
  const cells = new Map<string, Cell>();
  for (const r of rows) {
    const key = `${r.op} ${r.dtype}`;
    if (!keys.includes(key)) keys.push(key);
    if (!backends.includes(r.backend)) backends.push(r.backend);
    const id = `${key}\u0000${r.backend}`;
    let c = cells.get(id);
    if (!c) {
      c = { key, backend: r.backend, rows: [], pass: true, worst: null };
      cells.set(id, c);
    }
    c.rows.push(r);
    c.pass &&= r.pass;
    if (r.worstRatio !== null) c.worst = Math.max(c.worst ?? 0, r.worstRatio);
  }
  return { keys, backends, cells };
}

function ratioText(pass: boolean, ratio: number | null): string {
  if (ratio === null) return pass ? 'exact' : 'not exact';
  return f(ratio);
}

/** Where a cell's cases ran, for backends that can fall back ('' where everything ran on the CPU kernels). */
function ranOnText(c: Cell): string {
  const gpu = c.rows.filter((r) => r.ranOn === 'webgpu').length;
  if (gpu === 0 && c.backend !== 'webgpu') return '';
  const cpu = c.rows.length - gpu;
  if (cpu === 0) return 'ran on webgpu';
  return gpu === 0 ? 'ran on cpu (fallback)' : `webgpu ${gpu}, cpu ${cpu}`;
}

function grid(keys: string[], backends: string[], cells: Map<string, Cell>): string {
  const cw = 150;
  const ch = 30;
  const left = 120;
  const top = 24;
  const width = left + backends.length * cw + 10;
  const height = top + keys.length * ch + 10;
  const parts = [
    `<svg id="parity-grid" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="op × dtype by backend: worst |a−r|/bound">`,
  ];
  backends.forEach((b, j) => {
    parts.push(
      `<text x="${left + j * cw + cw / 2}" y="${top - 8}" class="col" text-anchor="middle">${esc(b)}</text>`,
    );
  });
  keys.forEach((key, i) => {
    const y = top + i * ch;
    parts.push(`<text x="${left - 6}" y="${y + ch / 2 + 3}" class="row">${esc(key)}</text>`);
    backends.forEach((b, j) => {
      const c = cells.get(`${key}\u0000${b}`);
      const x = left + j * cw;
      if (!c) {
        parts.push(
          `<rect class="cell absent" x="${x}" y="${y}" width="${cw - 2}" height="${ch - 2}" fill="#e5e5e5"><title>${esc(`${key} on ${b}: not run`)}</title></rect>`,
        );
        return;
      }
      const where = ranOnText(c);
      const passed = c.rows.filter((r) => r.pass).length;
      const tip = `${key} on ${b}: ${passed}/${c.rows.length} passed, worst ratio ${ratioText(c.pass, c.worst)}${where ? `, ${where}` : ''}`;
      parts.push(
        `<rect class="cell ${c.pass ? 'pass' : 'fail'}" data-op="${esc(c.rows[0].op)}" data-dtype="${esc(c.rows[0].dtype)}" data-backend="${esc(b)}" x="${x}" y="${y}" width="${cw - 2}" height="${ch - 2}" fill="${ratioColor(c.pass, c.worst)}"><title>${esc(tip)}</title></rect>`,
        `<text x="${x + 5}" y="${y + 12}" class="ctext">${esc(`${ratioText(c.pass, c.worst)} · ${passed}/${c.rows.length} ${c.pass ? 'pass' : 'FAIL'}`)}</text>`,
      );
      if (where) parts.push(`<text x="${x + 5}" y="${y + 24}" class="ctext small">${esc(where)}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** The colour scale under the grid: ratio 1e-4 … 1 and beyond. */
function legend(): string {
  const stops = Array.from({ length: 9 }, (_, i) => {
    const v = GREEN_LOG + (i / 8) * -GREEN_LOG;
    return `<stop offset="${(i / 8).toFixed(3)}" stop-color="${heatColor(v, GREEN_LOG, 0, false)}"/>`;
  }).join('');
  const ticks = Array.from({ length: -GREEN_LOG + 1 }, (_, i) => {
    const x = 10 + (i / -GREEN_LOG) * 300;
    return `<text x="${x}" y="34" class="tick" text-anchor="middle">${i === -GREEN_LOG ? '≥ 1' : `1e${GREEN_LOG + i}`}</text>`;
  }).join('');
  return `<svg id="parity-legend" xmlns="http://www.w3.org/2000/svg" width="520" height="40" viewBox="0 0 520 40" role="img" aria-label="colour scale">
<defs><linearGradient id="ratio-scale">${stops}</linearGradient></defs>
<rect x="10" y="4" width="300" height="16" fill="url(#ratio-scale)"/>${ticks}
<text x="320" y="16" class="tick">worst |a−r|/bound (log scale); a failing case is red</text>
</svg>`;
}

/** Horizontal bars, one per backend for each op × dtype, on a log axis with the bound (ratio 1) marked. */
function bars(keys: string[], backends: string[], cells: Map<string, Cell>): string {
  const bh = 9;
  const group = backends.length * (bh + 2) + 8;
  const left = 120;
  const top = 36;
  const pw = 420;
  const logs = [...cells.values()]
    .map((c) => c.worst)
    .filter((r): r is number => r !== null && r > 0 && Number.isFinite(r))
    .map((r) => Math.log10(r));
  const lo = Math.min(GREEN_LOG, Math.floor(Math.min(...logs, 0)));
  const hi = Math.max(1, Math.min(6, Math.ceil(Math.max(...logs, 0))));
  const X = (ratio: number) => {
    const v = ratio > 0 ? Math.log10(ratio) : lo;
    return left + ((Math.min(hi, Math.max(lo, Number.isNaN(v) ? hi : v)) - lo) / (hi - lo)) * pw;
  };
  const width = left + pw + 150;
  const height = top + keys.length * group + 24;
  const parts = [
    `<svg id="parity-bars" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="worst |a−r|/bound per op × dtype and backend">`,
    `<text x="${left}" y="12" class="title">worst |a−r|/bound per op × dtype (one bar per backend: ${esc(backends.join(', '))})</text>`,
  ];
  for (let v = lo; v <= hi; v++)
    parts.push(
      `<line x1="${X(10 ** v)}" y1="${top - 4}" x2="${X(10 ** v)}" y2="${height - 20}" class="grid"/><text x="${X(10 ** v)}" y="${height - 6}" class="tick" text-anchor="middle">1e${v}</text>`,
    );
  keys.forEach((key, i) => {
    const y0 = top + i * group;
    parts.push(
      `<text x="${left - 6}" y="${y0 + (backends.length * (bh + 2)) / 2 + 3}" class="row">${esc(key)}</text>`,
    );
    backends.forEach((b, j) => {
      const c = cells.get(`${key}\u0000${b}`);
      if (!c) return;
      const y = y0 + j * (bh + 2);
      const label = `${b} ${c.pass ? '' : 'FAIL '}${ratioText(c.pass, c.worst)}`;
      if (c.worst === null) {
        parts.push(
          `<text x="${left + 4}" y="${y + bh - 1}" class="tick${c.pass ? '' : ' failtext'}">${esc(label)}</text>`,
        );
        return;
      }
      const w = Math.max(1, X(c.worst) - left);
      parts.push(
        `<rect class="bar ${c.pass ? 'pass' : 'fail'}" x="${left}" y="${y}" width="${w.toFixed(1)}" height="${bh}" fill="${ratioColor(c.pass, c.worst)}"><title>${esc(`${key} on ${label}`)}</title></rect>`,
        `<text x="${left + w + 4}" y="${y + bh - 1}" class="tick${c.pass ? '' : ' failtext'}">${esc(label)}</text>`,
      );
    });
  });
  parts.push(
    `<line x1="${X(1)}" y1="${top - 6}" x2="${X(1)}" y2="${height - 20}" class="mark"><title>the bound: ratio 1</title></line>`,
    `<text x="${X(1) + 3}" y="${top - 6}" class="tick">bound</text>`,
    '</svg>',
  );
  return parts.join('\n');
}

const PARITY_CSS = `.ctext{font:11px ui-monospace,monospace;fill:#111}.ctext.small{font-size:9px;fill:#333}
.failtext{fill:#a00;font-weight:bold} #parity-grid rect.cell.fail{stroke:#600;stroke-width:1.5}
`;

export function renderParityHtml(rows: readonly ParityRow[], opts: ParityHtmlOptions = {}): string {
  const title = opts.title ?? 'plumbline parity';
  const { keys, backends, cells } = cellsOf(rows);
  const failed = rows.filter((r) => !r.pass);
  const banner = failed.length
    ? `<div class="banner" id="parity-banner"><b>${failed.length} of ${rows.length} cases fail</b>\n${failed.map((r) => esc(`${r.backend} ${r.op} ${r.dtype} ${r.shape}${r.numerics ? ` ${r.numerics}` : ''}: ${r.reason}`)).join('\n')}</div>`
    : `<div class="banner clean" id="parity-banner">all ${rows.length} cases within their tier</div>`;
  const meta = [
    ...Object.entries(opts.devices ?? {}).map(([b, d]) => `<p class="meta"><b>${esc(b)}</b> ${esc(d)}</p>`),
    ...(opts.skipped ?? []).map(
      (s) => `<p class="meta warn"><b>${esc(s.backend)}</b> skipped: ${esc(s.reason)}</p>`,
    ),
  ].join('\n');
  const heads = [...PARITY_ROW_HEADS, 'worst ratio', 'worst index', 'ms', 'reason'];
  const body = rows
    .map((r) => {
      const cells = [
        ...parityRowCells(r),
        r.worstRatio === null ? '' : f(r.worstRatio),
        r.worstIndex >= 0 ? String(r.worstIndex) : '',
        r.ms.toFixed(2),
        r.reason,
      ];
      return `<tr${r.pass ? '' : ' class="fail"'}>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<style>${REPORT_CSS}${PARITY_CSS}</style></head><body>
<h1>${esc(title)} — ${rows.length - failed.length} passed, ${failed.length} failed</h1>
${meta}
${banner}
<h2>op × dtype by backend</h2>
${grid(keys, backends, cells)}
${legend()}
<h2>Worst ratios</h2>
${bars(keys, backends, cells)}
<h2>Cases</h2>
<table id="parity-rows"><thead><tr>${heads.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${body}
</tbody></table>
</body></html>
`;
}
