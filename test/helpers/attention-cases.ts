/**
 * Inputs and checks shared by the attention suites: seeded q, k, v (k and v
 * also as f16 bits), a run of the wasm kernels, and the worst ratio of the
 * error to its derived bound (oracle/attention-bound.ts).
 */
import { type ReferenceAttention, referenceAttention } from '../../src/backends/reference/attention.js';
import {
  type AttentionPhase,
  attentionArrays,
  DECODE_CHUNK,
  FLASH_BLOCK,
} from '../../src/backends/wasm/attention.js';
import type { WasmRuntime } from '../../src/backends/wasm/module.js';
import { type AttentionDims, type AttentionOptions, validateAttention } from '../../src/ops/attention.js';
import { type AttentionPath, attentionOutputBound } from '../../src/oracle/attention-bound.js';
import { f16ToF32, f32ToF16 } from '../../src/types/half.js';
import { normals } from './ggml-inputs.js';

export interface Shape {
  nQ: number;
  nKv: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
}

export interface Inputs {
  q: Float32Array;
  /** f32 values (for f16: the widened halves). */
  k: Float32Array;
  v: Float32Array;
  kBits: Uint16Array;
  vBits: Uint16Array;
}

function halves(x: Float32Array): [Float32Array, Uint16Array] {
  const bits = new Uint16Array(x.length);
  const widened = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    bits[i] = f32ToF16(x[i]);
    widened[i] = f16ToF32(bits[i]);
  }
  return [widened, bits];
}

/** q ~ N(0, qScale²), k ~ N(0, 1), v ~ N(0, 1), seeded; f16 K/V are the halves nearest to those. */
export function makeInputs(s: Shape, seed: number, kvType: 'f32' | 'f16', qScale = 1): Inputs {
  const q = normals(s.nQ * s.nHead * s.headDim, seed, qScale);
  let k = normals(s.nKv * s.nHeadKv * s.headDim, seed + 1);
  let v = normals(s.nKv * s.nHeadKv * s.headDim, seed + 2);
  const [kh, kBits] = halves(k);
  const [vh, vBits] = halves(v);
  if (kvType === 'f16') {
    k = kh;
    v = vh;
  }
  return { q, k, v, kBits, vBits };
}

export function dimsOf(s: Shape, kvType: 'f32' | 'f16', opts: AttentionOptions = {}): AttentionDims {
  return validateAttention(
    { shape: [s.nQ, s.nHead, s.headDim], type: { name: 'f32' } },
    { shape: [s.nKv, s.nHeadKv, s.headDim], type: { name: kvType } },
    { shape: [s.nKv, s.nHeadKv, s.headDim], type: { name: kvType } },
    opts,
  );
}

export type Split = (units: number, kernel: AttentionPhase['kernel']) => readonly [number, number][];

export function runWasm(rt: WasmRuntime, dims: AttentionDims, x: Inputs, split?: Split) {
  const f16 = dims.kvType === 'f16';
  return attentionArrays(rt, dims, x.q, f16 ? x.kBits : x.k, f16 ? x.vBits : x.v, split);
}

export function pathOf(dims: AttentionDims): AttentionPath {
  return dims.numerics === 'ggml' ? 'ggml' : dims.nQ === 1 ? 'decode' : 'prefill';
}

export interface Checked {
  ref: ReferenceAttention;
  /** Worst |a − r| / bound over the output (0 when every element is exact). */
  ratio: number;
  /** Elements over their bound, and rows that see nothing but are not exactly zero. */
  failures: string[];
}

/** Compares a wasm output with the float64 reference under the derived bound. */
export function checkOutput(
  dims: AttentionDims,
  x: Inputs,
  out: Float32Array,
  ref?: ReferenceAttention,
): Checked {
  const r = ref ?? referenceAttention(x.q, x.k, x.v, dims);
  const bound = attentionOutputBound(r, dims, {
    path: pathOf(dims),
    blockSize: FLASH_BLOCK,
    chunkSize: DECODE_CHUNK,
  });
  let ratio = 0;
  const failures: string[] = [];
  for (let e = 0; e < out.length; e++) {
    const err = Math.abs(out[e] - r.out[e]);
    if (Number.isNaN(out[e]) || err > bound[e]) {
      if (failures.length < 5)
        failures.push(`out[${e}] = ${out[e]}, reference ${r.out[e]}, bound ${bound[e]}`);
      else failures.length++;
    }
    if (err > 0) ratio = Math.max(ratio, bound[e] > 0 ? err / bound[e] : Number.POSITIVE_INFINITY);
  }
  return { ref: r, ratio, failures };
}

/** The kernel's exp on one value (for the ggml emulation). */
export function wasmExp(rt: WasmRuntime): (x: number) => number {
  const p = rt.arena.alloc(32);
  const exp = rt.kernel('exp_f32');
  return (x) => {
    rt.f32(p, 1)[0] = x;
    exp(p, p + 16, 1);
    return rt.f32(p + 16, 1)[0];
  };
}

export function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Equal values, NaN equal to NaN (NaN payloads differ between JS and the hardware). */
export function sameValues(a: Float32Array, b: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) {
    if (!(Object.is(a[i], b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i])))) return false;
  }
  return a.length === b.length;
}

/** Splits a phase's units into `parts` uneven ranges, run in reverse order. */
export const unevenSplit =
  (parts: number): Split =>
  (units) => {
    const cuts = [0];
    for (let p = 1; p < parts; p++) cuts.push(Math.min(units, Math.floor((units * p * p) / (parts * parts))));
    cuts.push(units);
    return cuts
      .slice(1)
      .map((e, k) => [cuts[k], e] as [number, number])
      .reverse();
  };

/** One unit per range. */
export const singleUnits: Split = (units) =>
  Array.from({ length: units }, (_, u) => [u, u + 1] as [number, number]);
