/**
 * Splitting an op's output among threads. Work is divided by output elements
 * only (rows, columns, panels, blocks), so every output element is computed
 * by exactly one thread and the result does not depend on the split.
 */
import { SizeError } from '../errors.js';

/** The half-open range [start, end) of output units one thread owns. */
export interface Range {
  readonly start: number;
  readonly end: number;
}

function checkCount(name: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) {
    throw new SizeError(`partition: ${name} must be an integer >= ${min}, got ${v}`);
  }
}

/**
 * Splits [0, total) into `parts` contiguous ranges whose boundaries are
 * multiples of `granularity` (a panel width, a block count); only the last
 * non-empty range may end off the grid, at `total`. The granules are shared
 * as evenly as possible, earlier ranges taking the remainder, so when there
 * are fewer granules than parts the trailing ranges are empty. Always returns
 * exactly `parts` ranges; deterministic in its arguments.
 */
export function partition(total: number, parts: number, granularity = 1): Range[] {
  checkCount('total', total, 0);
  checkCount('parts', parts, 1);
  checkCount('granularity', granularity, 1);
  const granules = Math.ceil(total / granularity);
  const base = Math.floor(granules / parts);
  const extra = granules % parts;
  const ranges: Range[] = [];
  let g = 0;
  for (let i = 0; i < parts; i++) {
    const next = g + base + (i < extra ? 1 : 0);
    ranges.push({ start: Math.min(g * granularity, total), end: Math.min(next * granularity, total) });
    g = next;
  }
  return ranges;
}
