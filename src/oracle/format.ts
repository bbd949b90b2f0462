/** Number formatting shared by verdict reasons and reports: 4 significant digits, exponent outside [1e-3, 1e6). */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e6 ? String(Number(x.toPrecision(4))) : x.toExponential(3);
}

/** A flat index as coordinates of a row-major shape: 17 in [4, 8] → "[2, 1]". */
export function formatIndex(i: number, shape?: readonly number[]): string {
  if (!shape || shape.length < 2 || i < 0) return String(i);
  const c: number[] = [];
  let rest = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    c.unshift(rest % shape[d]);
    rest = Math.floor(rest / shape[d]);
  }
  return `${i} [${c.join(', ')}]`;
}

/** A cosine similarity near 1 as "1 − 2.4e-12" (nine decimals would print both sides as 1.000000000). */
export function formatCosine(x: number): string {
  if (Number.isFinite(x) && x > 0.999 && x <= 1) return x === 1 ? '1' : `1 − ${formatNumber(1 - x)}`;
  return Number.isFinite(x) ? x.toFixed(6) : String(x);
}
