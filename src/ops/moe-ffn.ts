/**
 * moeFfn's semantics: the mixture-of-experts feed-forward of a routed batch.
 * For token t with experts e_j and weights w_j (engine.moeRoute, [T, k]):
 *
 *   out_t = Σ_j w_j · down_{e_j}(silu(gate_{e_j}·x_t) ⊙ up_{e_j}·x_t)   (slot order j = 0..k−1)
 *         + g_t · down_s(silu(gate_s·x_t) ⊙ up_s·x_t)                   (shared expert, last)
 *
 * with g_t = sigmoid(gate_inp_shexp·x_t) (Qwen2-MoE) or 1 (no gate: DeepSeek),
 * and a token dropped by the router (switch capacity) getting no routed term.
 * Expert tensors are ggml's 3-D layout: gate/up [E, F, D], down [E, D, F];
 * the shared expert's 2-D: gate/up [Fs, D], down [D, Fs], its gate [D] f32.
 * Numerics as matmul's: `exact` or `ggml` (activations converted to each
 * weight type's vec_dot type). Validation lives here; backends implement it.
 */
import type { Tensor } from '../engine/tensor.js';
import { ShapeError, UnsupportedTypeError } from '../errors.js';
import type { MatmulNumerics } from './matmul.js';

export interface MoeSharedExpertWeights<T = Tensor> {
  /** [Fs, D] */
  gate: T;
  /** [Fs, D] */
  up: T;
  /** [D, Fs] */
  down: T;
  /** f32 [D]: the shared expert's gate sigmoid(gateInp·x); absent: added with weight 1. */
  gateInp?: T | null;
}

export interface MoeFfnWeights<T = Tensor> {
  /** [E, F, D] */
  gate: T;
  /** [E, F, D] */
  up: T;
  /** [E, D, F] */
  down: T;
  shared?: MoeSharedExpertWeights<T> | null;
}

export interface MoeFfnOptions {
  /** Default 'exact'. */
  numerics?: MatmulNumerics;
  /** Also return each slot's expert output, [T, k·D] (the trace stage moe_experts). */
  slotOutputs?: boolean;
}

export interface MoeFfnResult {
  /** [T, D] */
  out: Tensor;
  /** [T, k·D]: slot j of token t at [t, j·D ..], zeros for a dropped token (opts.slotOutputs). */
  slots?: Tensor;
}

/** The routing result as moeFfn reads it (engine.moeRoute's tensors). */
export interface MoeFfnRoute<T = Tensor> {
  weights: T;
  experts: T;
  dropped: Uint8Array | null;
}

export interface MoeFfnDims {
  tokens: number;
  dim: number;
  hidden: number;
  experts: number;
  k: number;
  /** The shared expert's width, 0 without one. */
  sharedHidden: number;
  numerics: MatmulNumerics;
}

interface Shaped {
  readonly shape: readonly number[];
  readonly type: { readonly name: string };
}

function expectShape(name: string, t: Shaped, want: readonly number[]): void {
  if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]))
    throw new ShapeError(`moeFfn: ${name} is [${t.shape}], expected [${want}]`);
}

/** Checks shapes, types and options before any work; returns the dimensions. */
export function validateMoeFfn(
  x: Shaped,
  route: MoeFfnRoute<Shaped>,
  w: MoeFfnWeights<Shaped>,
  opts: MoeFfnOptions = {},
): MoeFfnDims {
  const numerics = opts.numerics ?? 'exact';
  if (numerics !== 'exact' && numerics !== 'ggml')
    throw new ShapeError(`moeFfn: numerics must be 'exact' or 'ggml', got ${JSON.stringify(opts.numerics)}`);
  if (x.type.name !== 'f32') throw new UnsupportedTypeError(x.type.name, 'moeFfn: x must be f32, got');
  if (x.shape.length !== 2) throw new ShapeError(`moeFfn: x must be [T, D], got [${x.shape}]`);
  const [T, D] = x.shape;
  if (route.weights.shape.length !== 2 || route.weights.shape[0] !== T)
    throw new ShapeError(`moeFfn: route weights are [${route.weights.shape}], expected [${T}, k]`);
  const k = route.weights.shape[1];
  expectShape('route experts', route.experts, [T, k]);
  if (route.dropped && route.dropped.length !== T)
    throw new ShapeError(`moeFfn: route dropped has ${route.dropped.length} flags for ${T} tokens`);
  if (w.gate.shape.length !== 3)
    throw new ShapeError(`moeFfn: gate must be [E, F, D], got [${w.gate.shape}]`);
  const [E, F] = w.gate.shape;
  expectShape('gate', w.gate, [E, F, D]);
  expectShape('up', w.up, [E, F, D]);
  expectShape('down', w.down, [E, D, F]);
  if (k < 1 || k > E) throw new ShapeError(`moeFfn: k = ${k} experts per token, but there are ${E}`);
  let sharedHidden = 0;
  const s = w.shared;
  if (s) {
    if (s.gate.shape.length !== 2)
      throw new ShapeError(`moeFfn: shared gate must be [Fs, D], got [${s.gate.shape}]`);
    sharedHidden = s.gate.shape[0];
    expectShape('shared gate', s.gate, [sharedHidden, D]);
    expectShape('shared up', s.up, [sharedHidden, D]);
    expectShape('shared down', s.down, [D, sharedHidden]);
    if (s.gateInp) {
      if (s.gateInp.type.name !== 'f32')
        throw new UnsupportedTypeError(
          s.gateInp.type.name,
          'moeFfn: the shared expert gate must be f32, got',
        );
      if (s.gateInp.shape.reduce((a, b) => a * b, 1) !== D)
        throw new ShapeError(`moeFfn: shared gateInp is [${s.gateInp.shape}], expected [${D}]`);
    }
  }
  return { tokens: T, dim: D, hidden: F, experts: E, k, sharedHidden, numerics };
}
