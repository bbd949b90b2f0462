/** Shared plumbing for the block quantizers: size checks, little-endian field writes, scans. */

import { SizeError } from '../errors.js';
import { f32ToF16 } from '../types/half.js';
import { f32 } from './rounding.js';

/** Throws unless x holds whole blocks and out is exactly their encoded size. Returns the block count. */
export function checkRow(
  typeName: string,
  x: Float32Array,
  out: Uint8Array,
  blockSize: number,
  typeSize: number,
): number {
  if (x.length % blockSize !== 0) {
    throw new SizeError(`${typeName}: ${x.length} values is not a multiple of the block size ${blockSize}`);
  }
  const blocks = x.length / blockSize;
  if (out.length !== blocks * typeSize) {
    throw new SizeError(
      `${typeName}: output must be ${blocks * typeSize} bytes for ${x.length} values, got ${out.length}`,
    );
  }
  return blocks;
}

/** Stores f32 value v as an IEEE half (round to nearest even), little-endian. */
export function writeF16(out: Uint8Array, offset: number, v: number): void {
  writeU16(out, offset, f32ToF16(v));
}

export function writeU16(out: Uint8Array, offset: number, bits: number): void {
  out[offset] = bits & 0xff;
  out[offset + 1] = (bits >>> 8) & 0xff;
}

export function writeU32(out: Uint8Array, offset: number, bits: number): void {
  out[offset] = bits & 0xff;
  out[offset + 1] = (bits >>> 8) & 0xff;
  out[offset + 2] = (bits >>> 16) & 0xff;
  out[offset + 3] = (bits >>> 24) & 0xff;
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

export function writeF32(out: Uint8Array, offset: number, v: number): void {
  scratchF32[0] = v;
  writeU32(out, offset, scratchU32[0]);
}

/**
 * The element of largest magnitude, with its sign (the first one on ties), as ggml's
 * `if (amax < fabsf(v)) { amax = fabsf(v); max = v; }` scans find it. 0 when all are zero.
 */
export function signedAbsMax(x: Float32Array, start: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let j = start; j < start + n; j++) {
    const a = Math.abs(x[j]);
    if (amax < a) {
      amax = a;
      max = x[j];
    }
  }
  return max;
}

/** Largest |x| as C's `amax = MAX(amax, fabsf(v))` computes it (a NaN is kept only until the next value). */
export function absMax(x: Float32Array, start: number, n: number): number {
  let amax = 0;
  for (let j = start; j < start + n; j++) {
    const a = Math.abs(x[j]);
    // biome-ignore lint/complexity/useMathMinMax: C's MAX macro; Math.max would make a NaN stick.
    amax = amax > a ? amax : a;
  }
  return amax;
}

/**
 * `d ? 1.0f/d : 0.0f`: the inverse scale, 0 for a zero (or -0) scale. C tests `d != 0`, so a NaN
 * scale (from overflowing sums) gives a NaN inverse, not 0 as JS truthiness would.
 */
export function inverseScale(d: number): number {
  return d !== 0 ? f32(1 / d) : 0;
}
