/** The columns that name a parity row and give its verdict: the first columns of the CLI table and of the HTML report's. */
import type { ParityRow } from './parity-matrix.js';

export const PARITY_ROW_HEADS = [
  'backend',
  'ran on',
  'op',
  'dtype',
  'shape',
  'numerics',
  'tier',
  'basis',
  'verdict',
];

export function parityRowCells(r: ParityRow): string[] {
  return [
    r.backend,
    r.ranOn,
    r.op,
    r.dtype,
    r.shape,
    r.numerics ?? '',
    r.tier,
    r.basis,
    r.pass ? 'pass' : 'FAIL',
  ];
}
