/**
 * GELU, element-wise over f32, in its two forms:
 *   'tanh' (ggml GELU, the default): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
 *   'erf'  (ggml GELU_ERF, exact):   0.5·x·(1 + erf(x/√2))
 * gelu(−inf) = −0 and gelu(+inf) = +inf (the limits).
 */
import { ShapeError } from '../errors.js';
import type { OpOperand } from './operand.js';
import { validateElementwise } from './silu.js';

export type GeluApproximation = 'tanh' | 'erf';

export interface GeluOptions {
  approximate?: GeluApproximation;
}

export function validateGelu(
  x: OpOperand,
  opts: GeluOptions = {},
): { count: number; approximate: GeluApproximation } {
  const approximate = opts.approximate ?? 'tanh';
  if (approximate !== 'tanh' && approximate !== 'erf')
    throw new ShapeError(
      `gelu: approximate must be 'tanh' or 'erf', got ${JSON.stringify(opts.approximate)}`,
    );
  return { count: validateElementwise('gelu', x), approximate };
}
