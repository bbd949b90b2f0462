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

/** A slice-layout case: per-tensor types of gate, up, down and the expert widths (see expertSliceCases). */
export interface ExpertSliceCase {
  name: string;
  D: number;
  F: number;
  types: [gate: string, up: string, down: string];
}

/**
 * Expert layouts whose slices sit at every kind of offset: 2176-byte q8_0 slices (multiples of 16
 * but not of 256), 4356-byte f32 slices (of 4 only), 2178-byte f16 slices and 594-byte q4_0 ones
 * (not whole u32 words: odd experts start mid-word).
 */
export const expertSliceCases: ExpertSliceCase[] = [
  { name: 'q8_0 D 32 F 64', D: 32, F: 64, types: ['q8_0', 'q8_0', 'q8_0'] },
  { name: 'f32 D 33 F 33', D: 33, F: 33, types: ['f32', 'f32', 'f32'] },
  { name: 'f16 D 33 F 33', D: 33, F: 33, types: ['f16', 'f16', 'f16'] },
  { name: 'q4_0 gate/up D 32 F 33, f16 down', D: 32, F: 33, types: ['q4_0', 'q4_0', 'f16'] },
];

/** The expert tensors of a slice case on `e` ([E, F, D], [E, F, D], [E, D, F]) and each one's bytes. */
export function expertSliceWeights(e: Engine, c: ExpertSliceCase, E: number) {
  const shapes = [
    [E, c.F, c.D],
    [E, c.F, c.D],
    [E, c.D, c.F],
  ];
  const bytes = shapes.map((s, i) => quantize(c.types[i], uniform(s[0] * s[1] * s[2], 21 + i, 0.5)));
  const [gate, up, down] = shapes.map((s, i) => e.tensor(bytes[i], s, c.types[i]));
  return { w: { gate, up, down, shared: null } as MoeFfnWeights, bytes };
}

/**
 * What moeFfn's expert slots must hold: each expert's FFN over its routed rows (in token order,
 * as moeFfn groups them) through the engine's own matmul and swiglu, with the expert's weights
 * uploaded as tensors of their own (byte 0 of a buffer) — how the GPU engine sliced experts
 * before it bound them in place. Returns [T, k·D] like slotOutputs (zeros nowhere: no drops).
 */
export async function slotsFromOwnTensors(
  e: Engine,
  c: ExpertSliceCase,
  bytes: Uint8Array[],
  x: Float32Array,
  ids: Int32Array,
  T: number,
  k: number,
  E: number,
  numerics: 'exact' | 'ggml' = 'exact',
): Promise<Float32Array> {
  const { D, F } = c;
  const slots = new Float32Array(T * k * D);
  const own = (i: number, ex: number, shape: number[]) => {
    const n = bytes[i].length / E;
    return e.tensor(bytes[i].slice(ex * n, (ex + 1) * n), shape, c.types[i]);
  };
  for (let ex = 0; ex < E; ex++) {
    const rows: number[] = [];
    for (let s = 0; s < T * k; s++) if (ids[s] === ex) rows.push(s);
    if (rows.length === 0) continue;
    const xe = new Float32Array(rows.length * D);
    rows.forEach((s, r) => {
      const t = Math.floor(s / k);
      xe.set(x.subarray(t * D, (t + 1) * D), r * D);
    });
    const xt = e.tensor(xe, [rows.length, D]);
    const [g, u, d] = [own(0, ex, [F, D]), own(1, ex, [F, D]), own(2, ex, [D, F])];
    const [hg, hu] = [await e.matmul(xt, g, { numerics }), await e.matmul(xt, u, { numerics })];
    const h = await e.swiglu(hg, hu);
    const yt = await e.matmul(h, d, { numerics });
    const y = await yt.read();
    rows.forEach((s, r) => {
      slots.set(y.subarray(r * D, (r + 1) * D), s * D);
    });
    for (const t of [xt, g, u, d, hg, hu, h, yt]) t.dispose();
  }
  return slots;
}
