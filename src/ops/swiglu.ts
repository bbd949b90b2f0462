/**
 * SwiGLU: y = silu(gate) ⊙ up (ggml SWIGLU with separate gate and up
 * tensors; llama's FFN between ffn_gate/ffn_up and ffn_down). gate, up, y:
 * f32 of one shape.
 */
import { type OpOperand, requireSameShape } from './operand.js';
import { validateElementwise } from './silu.js';

export function validateSwiglu(gate: OpOperand, up: OpOperand): number {
  const count = validateElementwise('swiglu', gate);
  validateElementwise('swiglu', up);
  requireSameShape('swiglu', gate, 'gate', up, 'up');
  return count;
}
