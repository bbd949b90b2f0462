/**
 * Top-k agreement of logits, row by row (a row is the last dimension: one
 * token's vocabulary). Order: larger value first, the lower index on ties;
 * NaN ranks below every number (it is never a prediction).
 */
import { CountMismatchError, ParityOptionError } from './errors.js';

export interface TopKAgreement {
  k: number;
  /** Rows compared (count of every statistic below). */
  rows: number;
  /** Mean over rows of |topk(a) ∩ topk(r)| / k. */
  meanOverlap: number;
  /** Smallest overlap fraction and the row where it occurs. */
  minOverlap: number;
  minOverlapRow: number;
  /** Rows whose argmax agrees, and the first row where it does not (−1 if none). */
  argmaxAgree: number;
  firstArgmaxMismatch: number;
}

function above(x: ArrayLike<number>, i: number, j: number): boolean {
  const a = x[i];
  const b = x[j];
  if (Number.isNaN(b)) return !Number.isNaN(a) || i < j;
  if (Number.isNaN(a)) return false;
  return a > b || (a === b && i < j);
}

/** Indices of the k largest values of x[off, off + len), best first. */
export function topKIndices(x: ArrayLike<number>, k: number, off = 0, len = x.length - off): number[] {
  const kk = Math.min(k, len);
  const top: number[] = [];
  for (let i = off; i < off + len; i++) {
    if (top.length === kk && !above(x, i, top[kk - 1])) continue;
    let p = top.length === kk ? kk - 1 : top.length;
    while (p > 0 && above(x, i, top[p - 1])) {
      top[p] = top[p - 1];
      p--;
    }
    top[p] = i;
  }
  return top.map((i) => i - off);
}

export function topKAgreement(
  candidate: ArrayLike<number>,
  reference: ArrayLike<number>,
  rowLength: number,
  k = 10,
): TopKAgreement {
  if (candidate.length !== reference.length)
    throw new CountMismatchError('top-k agreement', candidate.length, reference.length);
  if (!(rowLength > 0) || candidate.length % rowLength !== 0)
    throw new ParityOptionError(`top-k: ${candidate.length} values do not split into rows of ${rowLength}`);
  if (!(k >= 1)) throw new ParityOptionError(`top-k: k must be ≥ 1, got ${k}`);
  const rows = candidate.length / rowLength;
  const kk = Math.min(k, rowLength);
  let sum = 0;
  let minOverlap = 1;
  let minOverlapRow = -1;
  let argmaxAgree = 0;
  let firstArgmaxMismatch = -1;
  for (let row = 0; row < rows; row++) {
    const off = row * rowLength;
    const a = topKIndices(candidate, kk, off, rowLength);
    const r = topKIndices(reference, kk, off, rowLength);
    const inR = new Set(r);
    let shared = 0;
    for (const i of a) if (inR.has(i)) shared++;
    const overlap = shared / kk;
    sum += overlap;
    if (overlap < minOverlap || minOverlapRow < 0) {
      minOverlap = overlap;
      minOverlapRow = row;
    }
    if (a[0] === r[0]) argmaxAgree++;
    else if (firstArgmaxMismatch < 0) firstArgmaxMismatch = row;
  }
  return {
    k: kk,
    rows,
    meanOverlap: rows ? sum / rows : 1,
    minOverlap,
    minOverlapRow,
    argmaxAgree,
    firstArgmaxMismatch,
  };
}
