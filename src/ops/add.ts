/**
 * Element-wise add with row broadcast (ggml ADD): a [..., dim] f32, b f32
 * with rows of dim entries whose row count divides a's; row r of a adds row
 * r % bRows of b. Same shapes: the residual add; b [dim]: a bias.
 */
import { ShapeError } from '../errors.js';
import { f32Rows, type OpOperand, type RowShape } from './operand.js';

export interface AddDims extends RowShape {
  bRows: number;
}

export function validateAdd(a: OpOperand, b: OpOperand): AddDims {
  const { rows, dim } = f32Rows('add', 'a', a);
  const bs = f32Rows('add', 'b', b);
  if (bs.dim !== dim) throw new ShapeError(`add: a is [${a.shape}] but b's rows have ${bs.dim} entries`);
  if (bs.rows < 1 || rows % bs.rows !== 0)
    throw new ShapeError(`add: a has ${rows} rows, not a multiple of b's ${bs.rows} ([${b.shape}])`);
  return { rows, dim, bRows: bs.rows };
}
