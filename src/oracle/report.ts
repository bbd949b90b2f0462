/**
 * The readable text report of a comparison: the verdict first, ggml's fixed
 * limit beside it (flagged when the two disagree), the worst element, then
 * every metric with its count.
 */
import type { Comparison } from './compare.js';
import { formatNumber as f, formatCosine, formatIndex } from './format.js';
import type { NonFiniteCensus } from './metrics.js';

function census(c: NonFiniteCensus): string {
  return `${c.nan} NaN, ${c.posInf} +inf, ${c.negInf} -inf`;
}

export function formatComparison(c: Comparison, title?: string): string {
  const lines: string[] = [];
  const basis = c.verdict.basis === 'non-finite' ? 'non-finite values' : c.verdict.basis;
  lines.push(
    `${c.verdict.pass ? 'PASS' : 'FAIL'}  ${title ? `${title}: ` : ''}${c.tier} tier (${basis}): ${c.verdict.reason}`,
  );
  const g = c.ggml;
  if (c.tier !== 'ggml') {
    const disagree = g.pass !== c.verdict.pass ? '  <- disagrees with the tier' : '';
    lines.push(
      `      ggml test-backend-ops ${g.op} (NMSE limit ${g.limit}): ${g.pass ? 'PASS' : 'FAIL'} — ${g.reason}${disagree}`,
    );
  }
  const idx = (i: number) => formatIndex(i, c.shape);
  if (c.worst) {
    const w = c.worst;
    const bound =
      w.bound !== undefined
        ? `, bound ${f(w.bound)} (ratio ${f(w.bound > 0 ? w.error / w.bound : w.error ? Infinity : 0)})`
        : '';
    lines.push(
      `worst element ${idx(w.index)}: candidate ${f(w.candidate)}, reference ${f(w.reference)}, |a−r| ${f(w.error)}${bound}`,
    );
  }
  lines.push(`first over the tier: ${c.firstExceeding >= 0 ? idx(c.firstExceeding) : 'none'}`);
  const shape = c.shape ? ` (shape [${c.shape.join(', ')}])` : '';
  lines.push(`metrics over ${c.finiteCount} finite pairs of ${c.count}${shape}:`);
  const row = (k: string, v: string) => lines.push(`  ${k.padEnd(12)}${v}`);
  if (c.bound) {
    const b = c.bound;
    const how = b.source === 'magnitude' ? `${b.model} bound from magnitudes, K = ${b.K}` : 'explicit bounds';
    row(
      'bound ratio',
      `worst ${f(b.worstRatio)} at ${idx(b.index)}; ${b.exceeded} of ${b.count} over (${how})`,
    );
  }
  if (c.thresholds) {
    const t = c.thresholds;
    row(
      'thresholds',
      `NMSE ≤ ${f(t.nmse)}, cosine ≥ ${formatCosine(t.cosine)} (σ² ${f(t.variance)}, K = ${t.K})`,
    );
  }
  row('max |a−r|', `${f(c.maxAbs.value)} at ${idx(c.maxAbs.index)}`);
  row(
    'max rel',
    `${f(c.maxRel.value)} at ${idx(c.maxRel.index)} (over ${c.maxRel.count} values with |r| ≥ ${f(c.maxRel.floor)})`,
  );
  row('RMSE', f(c.rmse));
  row('NMSE', `${f(c.nmse)} (Σ(a−r)²/Σr²; ggml's Σ(a−r)²/Σa²: ${f(g.nmse)})`);
  row('cosine', formatCosine(c.cosine));
  row(
    'ULP (f32)',
    `max ${f(c.ulp.max.value)} at ${idx(c.ulp.max.index)}, p99 ${f(c.ulp.p99)} (n = ${c.ulp.count})`,
  );
  const s = c.std;
  row(
    'std',
    `candidate ${f(s.candidate.std)} / reference ${f(s.reference.std)} = ${s.ratio.toFixed(6)} (n = ${s.count})`,
  );
  const mm = c.census.mismatches;
  row(
    'non-finite',
    `candidate ${census(c.census.candidate)}; reference ${census(c.census.reference)}; ` +
      `mismatches ${mm.nan} NaN, ${mm.inf} inf vs finite, ${mm.infSign} inf sign`,
  );
  if (c.topK) {
    const t = c.topK;
    const first = t.firstArgmaxMismatch >= 0 ? `, first mismatch row ${t.firstArgmaxMismatch}` : '';
    row(
      `top-${t.k}`,
      `mean overlap ${t.meanOverlap.toFixed(4)}, min ${t.minOverlap.toFixed(4)} at row ${t.minOverlapRow}; ` +
        `argmax agrees in ${t.argmaxAgree}/${t.rows} rows${first}`,
    );
  }
  return lines.join('\n');
}
