/** Seeded GRU recurrent structures for the reference and wasm tests. */
import { type GruRecurrence, type GruStructure, recurrenceLayout } from '../../src/ops/gru.js';
import { uniform } from '../backends/wasm/nn-helpers.js';

/** A structure with f32 parameters uniform in ±scale. */
export function randomRecurrence(kind: GruStructure, H: number, seed: number, scale = 0.5): GruRecurrence {
  const { sizes } = recurrenceLayout(kind, H);
  const p: Record<string, Float32Array> = {};
  let s = seed;
  for (const [name, n] of Object.entries(sizes)) p[name] = uniform(n, s++, scale);
  return { kind, H, ...p } as GruRecurrence;
}
