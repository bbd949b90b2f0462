/**
 * Softmax over the last dimension of x [..., n] (ggml SOFT_MAX without ALiBi
 * or sinks): w = x·scale + mask, y = exp(w − max w) / Σ exp(w − max w).
 * mask (optional) is f32 [..., n] with maskRows rows; row r of x adds mask
 * row r % maskRows, so a [n_q, n_kv] mask serves x [n_head, n_q, n_kv].
 * A row whose w are all −inf (fully masked) gives zeros; a NaN or +inf in w
 * gives a NaN row.
 */
import { ShapeError } from '../errors.js';
import { f32Attribute, f32Rows, type OpOperand, type RowShape } from './operand.js';

export interface SoftmaxOptions {
  /** Multiplies x before the mask is added; default 1; an f32. */
  scale?: number;
  mask?: OpOperand | null;
}

export interface SoftmaxDims extends RowShape {
  /** Rows of the mask (0: no mask). */
  maskRows: number;
  scale: number;
}

export function validateSoftmax(x: OpOperand, opts: SoftmaxOptions = {}): SoftmaxDims {
  const { rows, dim } = f32Rows('softmax', 'x', x);
  const scale = f32Attribute('softmax', 'scale', opts.scale ?? 1, 'finite');
  let maskRows = 0;
  if (opts.mask) {
    const m = f32Rows('softmax', 'mask', opts.mask);
    if (m.dim !== dim) throw new ShapeError(`softmax: mask rows have ${m.dim} entries, x rows ${dim}`);
    if (m.rows < 1 || rows % m.rows !== 0)
      throw new ShapeError(`softmax: x has ${rows} rows, not a multiple of the mask's ${m.rows}`);
    maskRows = m.rows;
  }
  return { rows, dim, maskRows, scale };
}
