/** Seeded GRU recurrent structures for the reference, wasm and WebGPU tests. */
import type { Engine } from '../../src/engine/engine.js';
import type { Tensor } from '../../src/engine/tensor.js';
import {
  type GruRecurrence,
  type GruStructure,
  type GruWeights,
  gruShapes,
  recurrenceLayout,
} from '../../src/ops/gru.js';
import { uniform } from '../backends/wasm/nn-helpers.js';

/** A structure with f32 parameters uniform in ±scale. */
export function randomRecurrence(kind: GruStructure, H: number, seed: number, scale = 0.5): GruRecurrence {
  const { sizes } = recurrenceLayout(kind, H);
  const p: Record<string, Float32Array> = {};
  let s = seed;
  for (const [name, n] of Object.entries(sizes)) p[name] = uniform(n, s++, scale);
  return { kind, H, ...p } as GruRecurrence;
}

/** The parameter scale of a structure's test cases: keeps the state bounded over a few steps. */
export function recurrenceScale(kind: GruStructure, H: number): number {
  return kind === 'dense' ? 1 / Math.sqrt(H) : kind === 'diagonal' ? 0.9 : 0.6;
}

/** The recurrence's arrays as tensors of an engine, in the shapes engine.gru takes. */
export function gruWeightTensors(e: Engine, rec: GruRecurrence): GruWeights<Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, shape] of Object.entries(gruShapes(rec.kind, rec.H)))
    out[name] = e.tensor(
      Float32Array.from((rec as unknown as Record<string, ArrayLike<number>>)[name]),
      shape,
    );
  return { kind: rec.kind, ...out } as GruWeights<Tensor>;
}
