/**
 * q8_K (quantize_row_q8_K_ref): the activation type for the k-quants and iq4_xs.
 * Block of 256: d:f32, qs:int8[256], bsums:int16[16] (sums of 16 consecutive codes).
 */

import { QK_K } from '../types/ggml-types.js';
import { checkRow, signedAbsMax, writeF32, writeU16 } from './blocks.js';
import { f32, nearestInt } from './rounding.js';

const TYPE_SIZE = 292;
const QS = 4;
const BSUMS = QS + QK_K;

export function quantizeRowQ8_K(x: Float32Array, out: Uint8Array): void {
  const blocks = checkRow('q8_K', x, out, QK_K, TYPE_SIZE);
  for (let b = 0; b < blocks; b++) {
    const start = b * QK_K;
    const o = b * TYPE_SIZE;
    const max = signedAbsMax(x, start, QK_K);
    if (max === 0) {
      // ggml writes d = 0 and zero codes (and leaves bsums untouched); zero sums are what it means.
      out.fill(0, o, o + TYPE_SIZE);
      continue;
    }
    // -127/max, not 127/amax: the code of largest magnitude is -127 when max > 0 and d is negative.
    const iscale = f32(-127 / max);
    for (let j = 0; j < QK_K; j++) {
      const q = Math.min(127, nearestInt(f32(iscale * x[start + j])));
      out[o + QS + j] = q & 0xff;
    }
    for (let g = 0; g < QK_K / 16; g++) {
      let sum = 0;
      for (let k = 0; k < 16; k++) sum += (out[o + QS + 16 * g + k] << 24) >> 24;
      writeU16(out, o + BSUMS + 2 * g, sum & 0xffff);
    }
    writeF32(out, o, f32(1 / iscale));
  }
}
