/**
 * Reference implementations of the transformer's element-wise and row ops
 * (semantics: src/ops/<op>.ts) in float64, straight from their definitions:
 * no f32 rounding, no reordering tricks. The ground truth the wasm kernels
 * are measured against (their error bounds: src/oracle/nn-bounds.ts).
 * Inputs are the f32 values (any ArrayLike), outputs Float64Array.
 */
import type { RopeParams } from '../../ops/rope.js';
import type { GgmlTypeInfo } from '../../types/ggml-types.js';
import { referenceDequantize } from './dequant.js';
import { erfc } from './erf.js';

type Vec = ArrayLike<number>;

/** y = x / √(Σx²/dim + eps) · w per row (w null: 1). */
export function referenceRmsNorm(
  x: Vec,
  w: Vec | null,
  rows: number,
  dim: number,
  eps: number,
): Float64Array {
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[o + i] * x[o + i];
    const s = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) y[o + i] = x[o + i] * s * (w ? w[i] : 1);
  }
  return y;
}

/** y = (x − μ) / √(σ² + eps) · w + b per row, σ² = Σ(x − μ)²/dim (w, b null: 1, 0). */
export function referenceLayerNorm(
  x: Vec,
  w: Vec | null,
  b: Vec | null,
  rows: number,
  dim: number,
  eps: number,
): Float64Array {
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += x[o + i];
    const mean = sum / dim;
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += (x[o + i] - mean) ** 2;
    const s = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) y[o + i] = (x[o + i] - mean) * s * (w ? w[i] : 1) + (b ? b[i] : 0);
  }
  return y;
}

/** θ of pair i at position p: p · freqScale · freqBase^(−2i/nDims) / freqFactors[i]. */
export function referenceRopeAngle(p: number, i: number, q: RopeParams): number {
  const ff = q.freqFactors ? q.freqFactors[i] : 1;
  return (p * q.freqScale * q.freqBase ** ((-2 * i) / q.nDims)) / ff;
}

/** Indices of the two elements pair i rotates, within a head. */
export function ropePair(i: number, q: Pick<RopeParams, 'mode' | 'nDims'>): [number, number] {
  return q.mode === 'normal' ? [2 * i, 2 * i + 1] : [i, i + q.nDims / 2];
}

export function referenceRope(x: Vec, positions: Vec, q: RopeParams): Float64Array {
  const y = Float64Array.from(x);
  for (let t = 0; t < q.nTokens; t++) {
    for (let i = 0; i < q.nDims / 2; i++) {
      const theta = referenceRopeAngle(positions[t], i, q);
      const c = Math.cos(theta) * q.attnFactor;
      const s = Math.sin(theta) * q.attnFactor;
      const [j0, j1] = ropePair(i, q);
      for (let h = 0; h < q.nHead; h++) {
        const o = (t * q.nHead + h) * q.headDim;
        const x0 = x[o + j0];
        const x1 = x[o + j1];
        y[o + j0] = x0 * c - x1 * s;
        y[o + j1] = x0 * s + x1 * c;
      }
    }
  }
  return y;
}

/** Softmax of x·scale + mask row (r % maskRows) per row; all −inf → zeros. */
export function referenceSoftmax(
  x: Vec,
  mask: Vec | null,
  rows: number,
  n: number,
  maskRows: number,
  scale: number,
): Float64Array {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    const mo = (r % Math.max(maskRows, 1)) * n;
    const w = new Float64Array(n);
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      w[i] = x[o + i] * scale + (mask ? mask[mo + i] : 0);
      max = Math.max(max, w[i]); // NaN if any w is NaN
    }
    if (max === Number.NEGATIVE_INFINITY) continue;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += w[i] = Math.exp(w[i] - max);
    for (let i = 0; i < n; i++) y[o + i] = w[i] / sum;
  }
  return y;
}

const map = (x: Vec, f: (v: number) => number) => Float64Array.from({ length: x.length }, (_, i) => f(x[i]));

/** x·σ(x); −inf → −0. */
export function referenceSiluValue(x: number): number {
  return x === Number.NEGATIVE_INFINITY ? -0 : x / (1 + Math.exp(-x));
}

/** 0.5·x·(1 + tanh z) written as x/(1 + e^(−2z)) (the same function, without cancellation); −inf → −0. */
export function referenceGeluTanhValue(x: number): number {
  const z = Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x);
  return x === Number.NEGATIVE_INFINITY ? -0 : x / (1 + Math.exp(-2 * z));
}

/** 0.5·x·(1 + erf(x/√2)) = 0.5·x·erfc(−x/√2); −inf → −0. */
export function referenceGeluErfValue(x: number): number {
  return x === Number.NEGATIVE_INFINITY ? -0 : 0.5 * x * erfc(-x / Math.SQRT2);
}

export function referenceSilu(x: Vec): Float64Array {
  return map(x, referenceSiluValue);
}

export function referenceGelu(x: Vec, approximate: 'tanh' | 'erf' = 'tanh'): Float64Array {
  return map(x, approximate === 'tanh' ? referenceGeluTanhValue : referenceGeluErfValue);
}

export function referenceSwiglu(gate: Vec, up: Vec): Float64Array {
  return Float64Array.from({ length: gate.length }, (_, i) => referenceSiluValue(gate[i]) * up[i]);
}

/** a + b with b's row r % bRows added to a's row r. */
export function referenceAdd(a: Vec, b: Vec, rows: number, dim: number, bRows: number): Float64Array {
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < dim; i++) y[r * dim + i] = a[r * dim + i] + b[(r % bRows) * dim + i];
  return y;
}

/** Rows ids[t] of a [nVocab, nEmbd] table of `type` (ggml bytes), dequantized as dequantize() does. */
export function referenceEmbedding(
  type: GgmlTypeInfo,
  table: Uint8Array,
  ids: Vec,
  nEmbd: number,
): Float64Array {
  const rowBytes = (nEmbd / type.blockSize) * type.typeSize;
  const y = new Float64Array(ids.length * nEmbd);
  for (let t = 0; t < ids.length; t++) {
    const row = table.subarray(ids[t] * rowBytes, (ids[t] + 1) * rowBytes);
    y.set(referenceDequantize(type.name, row, nEmbd, type.blockSize), t * nEmbd);
  }
  return y;
}
