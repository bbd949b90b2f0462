/**
 * iq4_nl and iq4_xs as ggml_quantize_chunk makes them without an importance matrix:
 * quantize_iq4_nl / quantize_iq4_xs → quantize_row_iq4_nl_impl with quant_weights = NULL and
 * ntry = 7. Codes index the non-linear 16-entry codebook below.
 */

import { QK_K } from '../types/ggml-types.js';
import { checkRow, inverseScale, signedAbsMax, writeF16, writeU16 } from './blocks.js';
import { f32, nearestInt } from './rounding.js';

/** kvalues_iq4nl (ggml-common.h). */
export const IQ4NL_VALUES: readonly number[] = [
  -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
];
const V0 = IQ4NL_VALUES[0];
const VN = IQ4NL_VALUES[15];

const BLOCK = 32;
/** Scale candidates tried around the initial one: id = (itry + values[0]) / max for itry in ±NTRY. */
const NTRY = 7;
/** GROUP_MAX_EPS: a sub-block whose largest |x| is below this gets scale 0. */
const GROUP_MAX_EPS = f32(1e-15);

/**
 * ggml's best_index_int8: index of the codebook value nearest to v (binary search; on an exact
 * midpoint the upper value wins). The distances are f32 subtractions.
 */
export function bestIndex(v: number): number {
  if (v <= V0) return 0;
  if (v >= VN) return 15;
  let lo = 0;
  let hi = 15;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (v < IQ4NL_VALUES[mid]) hi = mid;
    else lo = mid;
  }
  return f32(v - IQ4NL_VALUES[hi - 1]) < f32(IQ4NL_VALUES[hi] - v) ? hi - 1 : hi;
}

/**
 * Weighted fit of one 32-value sub-block to the codebook for inverse scale id. Without an importance
 * matrix the weights are x²; sums run in f32 in source order (w*q*x is (w*q)*x).
 */
function fitCodebook(x: Float32Array, start: number, id: number): { sumqx: number; sumq2: number } {
  let sumqx = 0;
  let sumq2 = 0;
  for (let j = start; j < start + BLOCK; j++) {
    const xj = x[j];
    const w = f32(xj * xj);
    const q = IQ4NL_VALUES[bestIndex(f32(id * xj))];
    const wq = f32(w * q);
    sumqx = f32(sumqx + f32(wq * xj));
    sumq2 = f32(sumq2 + f32(wq * q));
  }
  return { sumqx, sumq2 };
}

/** The per-sub-block scale chosen by quantize_row_iq4_nl_impl (scales[ib]); 0 for a near-zero block. */
function subBlockScale(x: Float32Array, start: number): number {
  const max = signedAbsMax(x, start, BLOCK);
  if (Math.abs(max) < GROUP_MAX_EPS) return 0;
  // Start from the scale that maps max onto values[0] (ntry > 0 flips its sign), refit by least squares.
  let { sumqx, sumq2 } = fitCodebook(x, start, f32(1 / f32(-max / V0)));
  let d = sumq2 > 0 ? f32(sumqx / sumq2) : 0;
  let best = f32(d * sumqx);
  for (let itry = -NTRY; itry <= NTRY; itry++) {
    ({ sumqx, sumq2 } = fitCodebook(x, start, f32((itry + V0) / max)));
    // sumqx²/sumq2 > best, compared without the division.
    if (sumq2 > 0 && f32(sumqx * sumqx) > f32(best * sumq2)) {
      d = f32(sumqx / sumq2);
      best = f32(d * sumqx);
    }
  }
  return d;
}

/** Codes of one 32-value sub-block at inverse scale id, packed as in q4_0 (j low, j+16 high nibble). */
function writeCodes(x: Float32Array, start: number, id: number, out: Uint8Array, o: number): void {
  for (let j = 0; j < BLOCK / 2; j++) {
    const lo = bestIndex(f32(id * x[start + j]));
    const hi = bestIndex(f32(id * x[start + BLOCK / 2 + j]));
    out[o + j] = lo | (hi << 4);
  }
}

/** iq4_nl: 32 values per block, d:f16, qs[16]. */
export function quantizeRowIQ4_NL(x: Float32Array, out: Uint8Array): void {
  const blocks = checkRow('iq4_nl', x, out, BLOCK, 18);
  for (let b = 0; b < blocks; b++) {
    const start = b * BLOCK;
    const d = subBlockScale(x, start);
    writeF16(out, b * 18, d);
    // The codes are recomputed from the f32 scale (not its f16 rounding); a zero scale gives code 8.
    writeCodes(x, start, inverseScale(d), out, b * 18 + 2);
  }
}

const XS_SIZE = 136;
const XS_SUB = QK_K / BLOCK;

/**
 * iq4_xs: 256 values, d:f16, scales_h:u16, scales_l[4], qs[128]. Each 32-value sub-block has a
 * 6-bit scale l + 32 (low 4 bits in scales_l nibbles, high 2 bits in scales_h) on top of d.
 */
export function quantizeRowIQ4_XS(x: Float32Array, out: Uint8Array): void {
  const blocks = checkRow('iq4_xs', x, out, QK_K, XS_SIZE);
  const scales = new Float32Array(XS_SUB);
  for (let b = 0; b < blocks; b++) {
    const start = b * QK_K;
    const o = b * XS_SIZE;
    let maxScale = 0;
    for (let ib = 0; ib < XS_SUB; ib++) {
      scales[ib] = subBlockScale(x, start + ib * BLOCK);
      if (Math.abs(scales[ib]) > Math.abs(maxScale)) maxScale = scales[ib];
    }
    const d = f32(-maxScale / 32); // an all-zero super-block gives d = -0
    writeF16(out, o, d);
    const id = inverseScale(d);
    let scalesH = 0;
    out.fill(0, o + 4, o + 8);
    for (let ib = 0; ib < XS_SUB; ib++) {
      const l = Math.max(-32, Math.min(31, nearestInt(f32(id * scales[ib]))));
      const dl = f32(d * l);
      writeCodes(x, start + ib * BLOCK, inverseScale(dl), out, o + 8 + ib * (BLOCK / 2));
      const biased = l + 32;
      out[o + 4 + (ib >> 1)] |= (biased & 0xf) << (4 * (ib & 1));
      scalesH |= (biased >> 4) << (2 * ib);
    }
    writeU16(out, o + 2, scalesH);
  }
}
