/** SiLU (swish): y = x·σ(x) = x / (1 + e^(−x)), element-wise over f32; silu(−inf) = −0 (the limit). */
import { f32Rows, type OpOperand } from './operand.js';

/** Element count of an element-wise op's f32 operand. */
export function validateElementwise(op: string, x: OpOperand): number {
  const { rows, dim } = f32Rows(op, 'x', x);
  return rows * dim;
}

export function validateSilu(x: OpOperand): number {
  return validateElementwise('silu', x);
}
