/**
 * The GPU GRU step's tier (./gru.ts) against the float64 reference:
 * referenceGruStepBound (src/backends/reference/gru.ts) with WGSL's numerics —
 * u = 2^-23 (no rounding mode fixed: 1 ULP per + − ×), σ and tanh's quotient
 * carrying exp's (3 + 2|x|) ULP, the add and a 2.5-ULP division.
 */
import { type GruRecurrence, recurrenceRoundings } from '../../../ops/gru.js';
import { referenceGruStepBound } from '../../reference/gru.js';
import { WGSL_DIV_ERROR, WGSL_FLUSH, WGSL_ULP, wgslExpError } from '../wgsl/numerics.js';

/**
 * One step's bound for the GPU kernels from the f32 state h: the reference
 * step bound with u = 2^-23 and θ = ε_e + 3.5 ULP (exp at the step's largest
 * argument, capped at the kernel's clamp; the add; the 2.5-ULP division),
 * plus (n + 10)·2^-126 for flushed subnormals. The quantized GRU's code
 * is the exact round-half-to-even of the kernel's h'/s_h (integer
 * arithmetic), so it is the reference's code wherever no k + ½ lies within
 * bound/s_h of the exact quotient.
 */
export function gpuGruStepBound(
  rec: GruRecurrence,
  gx: ArrayLike<number>,
  bh: ArrayLike<number> | null,
  h: ArrayLike<number>,
  /** The quantized GRU: its int8 product's roundings per term (int8ProductRoundings); h = f32(q)·s_h carries 1 ULP. */
  int8: { productRoundings: number } | null = null,
) {
  const first = referenceGruStepBound(rec, gx, bh, h);
  // The largest exp argument: |pre| for σ, 2|pre_n| for tanh (from the exact gates; +1 covers the kernel's deviation).
  let arg = 0;
  const H = rec.H;
  const atanh = (v: number) => Math.atanh(Math.min(Math.abs(v), 1 - 1e-16));
  const logit = (v: number) => Math.abs(Math.log(v / (1 - v)));
  for (let i = 0; i < H; i++) {
    const [r, z, n] = [first.gates[i], first.gates[H + i], first.gates[2 * H + i]];
    arg = Math.max(arg, logit(r), logit(z), 2 * atanh(n));
  }
  const expRelError = wgslExpError(Math.min(88, arg + 1)) + (WGSL_DIV_ERROR - WGSL_ULP);
  const b = referenceGruStepBound(rec, gx, bh, h, {
    u: WGSL_ULP,
    expRelError,
    ...(int8 && { productRoundings: int8.productRoundings, stateRelError: WGSL_ULP }),
  });
  const atol = ((int8?.productRoundings ?? recurrenceRoundings(rec.kind, H)) + 10) * WGSL_FLUSH;
  return { ...b, bound: b.bound.map((v) => v + atol) };
}
