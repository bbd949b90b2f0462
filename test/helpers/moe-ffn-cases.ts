/** MoE FFN test weights for one engine (the wasm, reference and WebGPU moeFfn tests). */
import type { ReferenceFfnWeights } from '../../src/backends/reference/moe-dispatch.js';
import type { Engine } from '../../src/engine/engine.js';
import { dequantize } from '../../src/ops/dequantize.js';
import type { MoeFfnWeights } from '../../src/ops/moe-ffn.js';
import { quantize } from '../../src/ops/quantize.js';
import { uniform } from '../backends/wasm/nn-helpers.js';

export interface MoeFfnDims {
  /** Experts, model width, expert hidden width, shared-expert hidden width. */
  E: number;
  D: number;
  F: number;
  Fs: number;
}

/**
 * Expert tensors gate/up [E, F, D] and down [E, D, F], and a gated shared
 * expert when `shared`, in `type` (f32: the values as they are), seeded
 * uniform in ±0.5; with the exact values the reference reads.
 */
export function moeFfnWeights(e: Engine, type: string, shared: boolean, { E, D, F, Fs }: MoeFfnDims) {
  const make = (shape: number[], seed: number) => {
    const v = uniform(
      shape.reduce((a, b) => a * b, 1),
      seed,
      0.5,
    );
    if (type === 'f32') return { t: e.tensor(v, shape), v };
    const bytes = quantize(type, v);
    return { t: e.tensor(bytes, shape, type), v: dequantize(type, bytes) };
  };
  const [g, u, d] = [make([E, F, D], 1), make([E, F, D], 2), make([E, D, F], 3)];
  const [sg, su, sd] = [make([Fs, D], 4), make([Fs, D], 5), make([D, Fs], 6)];
  const gateInp = uniform(D, 7, 0.5);
  const w: MoeFfnWeights = {
    gate: g.t,
    up: u.t,
    down: d.t,
    shared: shared ? { gate: sg.t, up: su.t, down: sd.t, gateInp: e.tensor(gateInp, [D]) } : null,
  };
  const ref: ReferenceFfnWeights = { gate: g.v, up: u.v, down: d.v, hidden: F };
  const refShared = shared ? { gate: sg.v, up: su.v, down: sd.v, hidden: Fs, gateInp } : null;
  return { w, ref, refShared };
}
