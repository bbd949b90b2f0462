import { describe, expect, it } from 'vitest';
import { SizeError } from '../../src/errors.js';
import { partition } from '../../src/scheduler/partition.js';

/** The contract: `parts` contiguous ranges covering [0, total), boundaries on the grid, balanced. Returns the violation. */
function violation(total: number, parts: number, g: number): string | undefined {
  const r = partition(total, parts, g);
  if (r.length !== parts) return `${r.length} ranges`;
  if (r[0].start !== 0 || r[parts - 1].end !== total) return 'does not cover [0, total)';
  const sizes: number[] = [];
  for (let i = 0; i < parts; i++) {
    if (r[i].end < r[i].start) return `range ${i} is reversed`;
    if (i > 0 && r[i].start !== r[i - 1].end) return `gap or overlap before range ${i}`;
    if (r[i].end !== total && r[i].end % g !== 0) return `range ${i} ends off the grid`;
    sizes.push(Math.ceil((r[i].end - r[i].start) / g));
  }
  // Granules shared evenly: sizes differ by at most one, larger ones first.
  for (let i = 1; i < parts; i++) {
    if (sizes[i] > sizes[i - 1] || sizes[0] - sizes[i] > 1) return `unbalanced: ${sizes}`;
  }
  if (JSON.stringify(partition(total, parts, g)) !== JSON.stringify(r)) return 'not deterministic';
  return undefined;
}

describe('partition', () => {
  it('splits evenly on the grid', () => {
    expect(partition(12, 3)).toEqual([
      { start: 0, end: 4 },
      { start: 4, end: 8 },
      { start: 8, end: 12 },
    ]);
    expect(partition(64, 2, 16)).toEqual([
      { start: 0, end: 32 },
      { start: 32, end: 64 },
    ]);
  });

  it('gives the remainder granules to the first ranges and the ragged end to the last', () => {
    // 10 granules of 8 (the last one 4 long) over 4 parts: 3, 3, 2, 2 granules.
    expect(partition(76, 4, 8)).toEqual([
      { start: 0, end: 24 },
      { start: 24, end: 48 },
      { start: 48, end: 64 },
      { start: 64, end: 76 },
    ]);
  });

  it('edge cases: nothing to split, one part, fewer granules than parts, granularity above total', () => {
    expect(partition(0, 3)).toEqual([
      { start: 0, end: 0 },
      { start: 0, end: 0 },
      { start: 0, end: 0 },
    ]);
    expect(partition(7, 1, 4)).toEqual([{ start: 0, end: 7 }]);
    expect(partition(2, 4)).toEqual([
      { start: 0, end: 1 },
      { start: 1, end: 2 },
      { start: 2, end: 2 },
      { start: 2, end: 2 },
    ]);
    expect(partition(5, 3, 16)).toEqual([
      { start: 0, end: 5 },
      { start: 5, end: 5 },
      { start: 5, end: 5 },
    ]);
  });

  it('holds the contract over many sizes and is deterministic', () => {
    const bad: string[] = [];
    const check = (total: number, parts: number, g: number) => {
      const v = violation(total, parts, g);
      if (v) bad.push(`partition(${total}, ${parts}, ${g}): ${v}`);
    };
    for (let total = 0; total <= 70; total++) {
      for (let parts = 1; parts <= 5; parts++) {
        for (const g of [1, 2, 3, 4, 7, 16, 100]) check(total, parts, g);
      }
    }
    check(4096 * 11008, 4, 256);
    check(2 ** 40 + 3, 16, 64);
    expect(bad).toEqual([]);
  });

  it('rejects counts that are not non-negative integers with a SizeError', () => {
    expect(() => partition(-1, 2)).toThrow(SizeError);
    expect(() => partition(1.5, 2)).toThrow(SizeError);
    expect(() => partition(10, 0)).toThrow(SizeError);
    expect(() => partition(10, 2, 0)).toThrow(SizeError);
    expect(() => partition(Number.NaN, 2)).toThrow(/total/);
  });
});
