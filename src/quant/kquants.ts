/**
 * ggml's reference k-quant quantizers (`quantize_row_q2_K_ref` …
 * `quantize_row_q6_K_ref` in ggml's src/ggml-quants.c). These are what
 * `ggml_quantize_chunk` runs for q2_K…q6_K when no importance matrix is given,
 * and they produce ggml's bytes exactly (see kquant-search.ts for how the f32
 * arithmetic is reproduced).
 *
 * Each quantizer takes a whole number of 256-value super-blocks and writes
 * exactly (x.length / 256) blocks. Half-precision fields are little-endian.
 */

import { SizeError } from '../errors.js';
import { f16ToF32, f32ToF16 } from '../types/half.js';
import {
  clamp,
  GROUP_MAX_EPS,
  makeQ3Quants,
  makeQkx2Quants,
  makeQxQuants,
  minK4,
  packScaleMinK4,
  type Qkx2Params,
  scaleK4,
} from './kquant-search.js';
import { nearestInt } from './rounding.js';

const f = Math.fround;
const QK_K = 256;

/** Checks the sizes and returns the number of super-blocks. */
function blockCount(type: string, typeSize: number, x: Float32Array, out: Uint8Array): number {
  if (x.length % QK_K !== 0) {
    throw new SizeError(`${type}: ${x.length} values is not a multiple of ${QK_K}`);
  }
  const nb = x.length / QK_K;
  if (out.length !== nb * typeSize) {
    throw new SizeError(`${type}: output is ${out.length} bytes, expected ${nb * typeSize} (${nb} blocks)`);
  }
  return nb;
}

function writeF16(out: Uint8Array, o: number, h: number): void {
  out[o] = h & 0xff;
  out[o + 1] = h >> 8;
}

function readF16(out: Uint8Array, o: number): number {
  return f16ToF32(out[o] | (out[o + 1] << 8));
}

/** The C conversion of an int to int8_t (wraps modulo 256). */
function toInt8(v: number): number {
  return (v << 24) >> 24;
}

/**
 * Packs 256 two-bit values (q2_K's quants, q3_K's low bits) into 64 bytes at
 * out[o..]: byte 32·h + l holds L[128h + l + 32k] in bits 2k..2k+1.
 */
function pack2Bit(L: Uint8Array | Int8Array, out: Uint8Array, o: number): void {
  for (let j = 0; j < QK_K; j += 128) {
    for (let l = 0; l < 32; l++) {
      out[o + j / 4 + l] = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6);
    }
  }
}

// ---------------------------------------------------------------- q2_K

const Q2_K_SEARCH: Qkx2Params = { nmax: 3, rmin: -0.5, rdelta: f(0.1), nstep: 15, useMad: true };

/** q2_K (84 bytes/block): scales[16] (4-bit scale | 4-bit min), qs[64], d, dmin. */
export function quantizeRowQ2_K(x: Float32Array, out: Uint8Array): void {
  const nb = blockCount('q2_K', 84, x, out);
  const L = new Uint8Array(QK_K);
  const laux = new Uint8Array(16);
  const weights = new Float32Array(16);
  const scales = new Float32Array(16);
  const mins = new Float32Array(16);
  for (let i = 0; i < nb; i++) {
    const xb = i * QK_K;
    const o = i * 84;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 16; j++) {
      for (let l = 0; l < 16; l++) weights[l] = Math.abs(x[xb + 16 * j + l]);
      scales[j] = makeQkx2Quants(16, Q2_K_SEARCH, x, xb + 16 * j, weights, L, 16 * j, laux, mins, j);
      if (scales[j] > maxScale) maxScale = scales[j];
      if (mins[j] > maxMin) maxMin = mins[j];
    }
    // Sub-block scales and mins as 4-bit multiples of the super-block's d and dmin
    // (byte stores wrap modulo 256, as C's uint8_t assignments do).
    if (maxScale > 0) {
      const iscale = f(15 / maxScale);
      for (let j = 0; j < 16; j++) out[o + j] = nearestInt(f(iscale * scales[j]));
      writeF16(out, o + 80, f32ToF16(f(maxScale / 15)));
    } else {
      out.fill(0, o, o + 16);
      writeF16(out, o + 80, 0);
    }
    if (maxMin > 0) {
      const iscale = f(15 / maxMin);
      for (let j = 0; j < 16; j++) out[o + j] |= nearestInt(f(iscale * mins[j])) << 4;
      writeF16(out, o + 82, f32ToF16(f(maxMin / 15)));
    } else {
      writeF16(out, o + 82, 0);
    }
    // Requantize against the scales as stored (f16 d and dmin, 4-bit multipliers).
    const d0 = readF16(out, o + 80);
    const dmin0 = readF16(out, o + 82);
    for (let j = 0; j < 16; j++) {
      const d = f(d0 * (out[o + j] & 0xf));
      if (d === 0) continue;
      const dm = f(dmin0 * (out[o + j] >> 4));
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(f(f(x[xb + 16 * j + ii] + dm) / d));
        L[16 * j + ii] = clamp(l, 0, 3);
      }
    }
    pack2Bit(L, out, o + 16);
  }
}

// ---------------------------------------------------------------- q3_K

/** q3_K (110 bytes/block): hmask[32], qs[64], scales[12] (6-bit signed), d. */
export function quantizeRowQ3_K(x: Float32Array, out: Uint8Array): void {
  const nb = blockCount('q3_K', 110, x, out);
  const L = new Int8Array(QK_K);
  const scales = new Float32Array(16);
  for (let i = 0; i < nb; i++) {
    const xb = i * QK_K;
    const o = i * 110;
    const sc = o + 96;
    let maxScale = 0;
    let amax = 0;
    for (let j = 0; j < 16; j++) {
      scales[j] = makeQ3Quants(16, 4, x, xb + 16 * j, L, 16 * j);
      const a = Math.abs(scales[j]);
      if (a > amax) {
        amax = a;
        maxScale = scales[j];
      }
    }
    out.fill(0, sc, sc + 12);
    if (maxScale !== 0) {
      const iscale = f(-32 / maxScale);
      for (let j = 0; j < 16; j++) {
        const l = clamp(toInt8(nearestInt(f(iscale * scales[j]))), -32, 31) + 32;
        // Low 4 bits in bytes 0..7 (two per byte), high 2 bits in bytes 8..11.
        if (j < 8) out[sc + j] = l & 0xf;
        else out[sc + j - 8] |= (l & 0xf) << 4;
        out[sc + 8 + (j % 4)] |= (l >> 4) << (2 * (j >> 2));
      }
      writeF16(out, o + 108, f32ToF16(f(1 / iscale)));
    } else {
      writeF16(out, o + 108, 0);
    }
    // Requantize against the scales as stored.
    const d0 = readF16(out, o + 108);
    for (let j = 0; j < 16; j++) {
      const lo = j < 8 ? out[sc + j] & 0xf : out[sc + j - 8] >> 4;
      const s = (lo | (((out[sc + 8 + (j % 4)] >> (2 * (j >> 2))) & 3) << 4)) - 32;
      const d = f(d0 * s);
      if (d === 0) continue;
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(f(x[xb + 16 * j + ii] / d));
        L[16 * j + ii] = clamp(l, -4, 3) + 4;
      }
    }
    // Bit 2 of element j goes to hmask[j % 32], bit j / 32.
    out.fill(0, o, o + 32);
    for (let j = 0; j < QK_K; j++) {
      if (L[j] > 3) {
        out[o + (j & 31)] |= 1 << (j >> 5);
        L[j] -= 4;
      }
    }
    pack2Bit(L, out, o + 32);
  }
}

// ---------------------------------------------------------- q4_K, q5_K

const Q4_K_SEARCH: Qkx2Params = { nmax: 15, rmin: -1, rdelta: f(0.1), nstep: 20, useMad: false };
const Q5_K_SEARCH: Qkx2Params = { nmax: 31, rmin: -0.5, rdelta: f(0.1), nstep: 15, useMad: false };

/** Per-call scratch for the q4_K/q5_K super-block fit. */
interface ScaleMinScratch {
  readonly L: Uint8Array;
  readonly laux: Uint8Array;
  readonly weights: Float32Array;
  readonly scales: Float32Array;
  readonly mins: Float32Array;
  readonly ls: Uint8Array;
  readonly lm: Uint8Array;
}

function scaleMinScratch(): ScaleMinScratch {
  return {
    L: new Uint8Array(QK_K),
    laux: new Uint8Array(32),
    weights: new Float32Array(32),
    scales: new Float32Array(8),
    mins: new Float32Array(8),
    ls: new Uint8Array(8),
    lm: new Uint8Array(8),
  };
}

/**
 * The part q4_K and q5_K share: fits 8 sub-blocks of 32 with an affine
 * scale/min, writes d, dmin and the 12 packed 6-bit scale/min bytes to
 * out[o..o+16), and leaves the final quants (0..nmax) in s.L.
 */
function quantizeScaleMinBlock(
  p: Qkx2Params,
  x: Float32Array,
  xb: number,
  out: Uint8Array,
  o: number,
  s: ScaleMinScratch,
): void {
  const { L, weights, scales, mins } = s;
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    const xo = xb + 32 * j;
    // Weights |x| + rms(x) favour large values without ignoring small ones.
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 = f(sumX2 + f(x[xo + l] * x[xo + l]));
    const avX = f(Math.sqrt(f(sumX2 / 32)));
    for (let l = 0; l < 32; l++) weights[l] = f(avX + Math.abs(x[xo + l]));
    scales[j] = makeQkx2Quants(32, p, x, xo, weights, L, 32 * j, s.laux, mins, j);
    if (scales[j] > maxScale) maxScale = scales[j];
    if (mins[j] > maxMin) maxMin = mins[j];
  }
  const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
  for (let j = 0; j < 8; j++) {
    // C stores nearest_int into a uint8_t before clamping to 63.
    s.ls[j] = Math.min(63, nearestInt(f(invScale * scales[j])) & 0xff);
    s.lm[j] = Math.min(63, nearestInt(f(invMin * mins[j])) & 0xff);
  }
  packScaleMinK4(s.ls, s.lm, out, o + 4);
  writeF16(out, o, f32ToF16(f(maxScale / 63)));
  writeF16(out, o + 2, f32ToF16(f(maxMin / 63)));

  // Requantize against the scales as stored.
  const d0 = readF16(out, o);
  const dmin0 = readF16(out, o + 2);
  const nmax = p.nmax;
  for (let j = 0; j < 8; j++) {
    const d = f(d0 * scaleK4(j, out, o + 4));
    if (d === 0) continue;
    const dm = f(dmin0 * minK4(j, out, o + 4));
    for (let ii = 0; ii < 32; ii++) {
      const l = nearestInt(f(f(x[xb + 32 * j + ii] + dm) / d));
      L[32 * j + ii] = clamp(l, 0, nmax);
    }
  }
}

/** q4_K (144 bytes/block): d, dmin, scales[12], qs[128]. */
export function quantizeRowQ4_K(x: Float32Array, out: Uint8Array): void {
  const nb = blockCount('q4_K', 144, x, out);
  const s = scaleMinScratch();
  const L = s.L;
  for (let i = 0; i < nb; i++) {
    const o = i * 144;
    quantizeScaleMinBlock(Q4_K_SEARCH, x, i * QK_K, out, o, s);
    // Each 64 values: low nibbles hold the first 32, high nibbles the next 32.
    for (let j = 0, q = o + 16; j < QK_K; j += 64, q += 32) {
      for (let l = 0; l < 32; l++) out[q + l] = L[j + l] | (L[j + l + 32] << 4);
    }
  }
}

/** q5_K (176 bytes/block): d, dmin, scales[12], qh[32], qs[128]. */
export function quantizeRowQ5_K(x: Float32Array, out: Uint8Array): void {
  const nb = blockCount('q5_K', 176, x, out);
  const s = scaleMinScratch();
  const L = s.L;
  for (let i = 0; i < nb; i++) {
    const o = i * 176;
    quantizeScaleMinBlock(Q5_K_SEARCH, x, i * QK_K, out, o, s);
    // As q4_K for the low 4 bits; bit 4 of elements 64k+j and 64k+32+j goes to qh[j] bits 2k, 2k+1.
    const qh = o + 16;
    out.fill(0, qh, qh + 32);
    for (let n = 0, q = o + 48, bit = 0; n < QK_K; n += 64, q += 32, bit += 2) {
      for (let j = 0; j < 32; j++) {
        const l1 = L[n + j];
        const l2 = L[n + j + 32];
        out[qh + j] |= ((l1 >> 4) << bit) | ((l2 >> 4) << (bit + 1));
        out[q + j] = (l1 & 0xf) | ((l2 & 0xf) << 4);
      }
    }
  }
}

// ---------------------------------------------------------------- q6_K

/** q6_K (210 bytes/block): ql[128], qh[64], scales[16] (int8), d. */
export function quantizeRowQ6_K(x: Float32Array, out: Uint8Array): void {
  const nb = blockCount('q6_K', 210, x, out);
  const L = new Uint8Array(QK_K);
  const scales = new Float32Array(16);
  const sums = new Float64Array(2);
  for (let i = 0; i < nb; i++) {
    const xb = i * QK_K;
    const o = i * 210;
    let maxScale = 0;
    let maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      scales[ib] = makeQxQuants(16, 32, x, xb + 16 * ib, L, 16 * ib, sums);
      const a = Math.abs(scales[ib]);
      if (a > maxAbsScale) {
        maxAbsScale = a;
        maxScale = scales[ib];
      }
    }
    if (maxAbsScale < GROUP_MAX_EPS) {
      out.fill(0, o, o + 210);
      continue;
    }
    const iscale = f(-128 / maxScale);
    writeF16(out, o + 208, f32ToF16(f(1 / iscale)));
    // int8 scales: -128 is possible, +128 is clamped; the byte store wraps to two's complement.
    for (let ib = 0; ib < 16; ib++) out[o + 192 + ib] = Math.min(127, nearestInt(f(iscale * scales[ib])));
    // Requantize against the scales as stored.
    const d0 = readF16(out, o + 208);
    for (let j = 0; j < 16; j++) {
      const d = f(d0 * toInt8(out[o + 192 + j]));
      if (d === 0) continue;
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(f(x[xb + 16 * j + ii] / d));
        L[16 * j + ii] = clamp(l, -32, 31) + 32;
      }
    }
    // Per 128 values: low nibbles of 4 runs of 32 in ql[64], their top 2 bits in qh[32].
    for (let j = 0, ql = o, qh = o + 128; j < QK_K; j += 128, ql += 64, qh += 32) {
      for (let l = 0; l < 32; l++) {
        const a = L[j + l];
        const b = L[j + l + 32];
        const c = L[j + l + 64];
        const e = L[j + l + 96];
        out[ql + l] = (a & 0xf) | ((c & 0xf) << 4);
        out[ql + l + 32] = (b & 0xf) | ((e & 0xf) << 4);
        out[qh + l] = (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6);
      }
    }
  }
}
