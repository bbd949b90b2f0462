/**
 * ggml's reference quantizers for the 32-element legacy formats (quantize_row_q{4,5,8}_{0,1}_ref in
 * ggml-quants.c). ggml_quantize_chunk with no importance matrix calls exactly these.
 */

import { absMax, checkRow, inverseScale, signedAbsMax, writeF16, writeU32 } from './blocks.js';
import { f32, roundfAwayFromZero, truncToInt8 } from './rounding.js';

const QK = 32;
const HALF = QK / 2;
/** C's FLT_MAX, the start of the min/max scan. */
const FLT_MAX = 3.4028234663852886e38;

/**
 * One 4- or 5-bit format. Every code is `MIN(clampMax, (int8_t)((x - min)*id + bias))`; the
 * symmetric formats use min = 0, which leaves x unchanged in f32 (x - 0 is exact), so both families
 * share one loop.
 */
interface NibbleFormat {
  name: string;
  bits: 4 | 5;
  /** q4_1 / q5_1 store a minimum m after d and quantize x - m. */
  withMin: boolean;
  typeSize: number;
  /** Upper clamp of the code; q5_1's reference has none, and 127 (the int8 maximum) is a no-op. */
  clampMax: number;
}

const Q4_0: NibbleFormat = { name: 'q4_0', bits: 4, withMin: false, typeSize: 18, clampMax: 15 };
const Q4_1: NibbleFormat = { name: 'q4_1', bits: 4, withMin: true, typeSize: 20, clampMax: 15 };
const Q5_0: NibbleFormat = { name: 'q5_0', bits: 5, withMin: false, typeSize: 22, clampMax: 31 };
const Q5_1: NibbleFormat = { name: 'q5_1', bits: 5, withMin: true, typeSize: 24, clampMax: 127 };

interface BlockScale {
  d: number;
  id: number;
  min: number;
  /** Added before truncation: 0.5 rounds, and the symmetric formats also shift to unsigned codes. */
  bias: number;
}

/** q4_0 / q5_0: d = max / -2^(bits-1) with max the signed element of largest |x|. */
function symmetricScale(x: Float32Array, start: number, bits: number): BlockScale {
  const offset = 1 << (bits - 1);
  const d = f32(signedAbsMax(x, start, QK) / -offset); // an all-zero block gives d = -0
  return { d, id: inverseScale(d), min: 0, bias: offset + 0.5 };
}

/** q4_1 / q5_1: d = (max - min) / (2^bits - 1). */
function minMaxScale(x: Float32Array, start: number, bits: number): BlockScale {
  let min = FLT_MAX;
  let max = -FLT_MAX;
  for (let j = start; j < start + QK; j++) {
    const v = x[j];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const d = f32(f32(max - min) / ((1 << bits) - 1));
  return { d, id: inverseScale(d), min, bias: 0.5 };
}

function code(v: number, s: BlockScale, clampMax: number): number {
  const scaled = f32(f32(v - s.min) * s.id);
  return Math.min(clampMax, truncToInt8(f32(scaled + s.bias))) & 0xff;
}

function quantizeNibbles(fmt: NibbleFormat, x: Float32Array, out: Uint8Array): void {
  const blocks = checkRow(fmt.name, x, out, QK, fmt.typeSize);
  for (let b = 0; b < blocks; b++) {
    const start = b * QK;
    let o = b * fmt.typeSize;
    const s = fmt.withMin ? minMaxScale(x, start, fmt.bits) : symmetricScale(x, start, fmt.bits);
    writeF16(out, o, s.d);
    o += 2;
    if (fmt.withMin) {
      writeF16(out, o, s.min);
      o += 2;
    }
    // Element j goes in the low nibble of byte j, element j+16 in the high nibble; q5 keeps the
    // fifth bits in a u32 (bit j for element j) ahead of the nibbles.
    const qsOffset = fmt.bits === 5 ? o + 4 : o;
    let qh = 0;
    for (let j = 0; j < HALF; j++) {
      const lo = code(x[start + j], s, fmt.clampMax);
      const hi = code(x[start + HALF + j], s, fmt.clampMax);
      out[qsOffset + j] = (lo & 0x0f) | ((hi & 0x0f) << 4);
      qh |= ((lo >> 4) & 1) << j;
      qh |= ((hi >> 4) & 1) << (j + HALF);
    }
    if (fmt.bits === 5) writeU32(out, o, qh);
  }
}

export function quantizeRowQ4_0(x: Float32Array, out: Uint8Array): void {
  quantizeNibbles(Q4_0, x, out);
}

export function quantizeRowQ4_1(x: Float32Array, out: Uint8Array): void {
  quantizeNibbles(Q4_1, x, out);
}

export function quantizeRowQ5_0(x: Float32Array, out: Uint8Array): void {
  quantizeNibbles(Q5_0, x, out);
}

export function quantizeRowQ5_1(x: Float32Array, out: Uint8Array): void {
  quantizeNibbles(Q5_1, x, out);
}

/**
 * Writes the 32 int8 codes of one q8 block at `o` and returns their sum:
 * d = amax/127, id = d ? 1/d : 0, q = roundf(x·id) (halves away from zero).
 */
function q8Codes(x: Float32Array, start: number, d: number, out: Uint8Array, o: number): number {
  const id = inverseScale(d);
  let sum = 0;
  for (let j = 0; j < QK; j++) {
    const q = truncToInt8(roundfAwayFromZero(f32(x[start + j] * id)));
    out[o + j] = q & 0xff;
    sum += q;
  }
  return sum;
}

function q8Scale(x: Float32Array, start: number): number {
  return f32(absMax(x, start, QK) / 127);
}

/** q8_0: d:f16, qs:int8[32]. Also ggml's scalar activation quantizer for q4_0/q5_0/q8_0/iq4_nl. */
export function quantizeRowQ8_0(x: Float32Array, out: Uint8Array): void {
  const blocks = checkRow('q8_0', x, out, QK, 34);
  for (let b = 0; b < blocks; b++) {
    const start = b * QK;
    const d = q8Scale(x, start);
    writeF16(out, b * 34, d);
    q8Codes(x, start, d, out, b * 34 + 2);
  }
}

/** q8_1: d:f16, s:f16 = (float)Σqs · d, qs:int8[32]. The activation type for q4_1/q5_1. */
export function quantizeRowQ8_1(x: Float32Array, out: Uint8Array): void {
  const blocks = checkRow('q8_1', x, out, QK, 36);
  for (let b = 0; b < blocks; b++) {
    const start = b * QK;
    const d = q8Scale(x, start);
    writeF16(out, b * 36, d);
    const sum = q8Codes(x, start, d, out, b * 36 + 4);
    writeF16(out, b * 36 + 2, f32(sum * d)); // |sum| ≤ 32·127, exact as a float
  }
}
