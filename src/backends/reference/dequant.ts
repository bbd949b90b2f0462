/**
 * Reference dequantization: ggml's dequantize_row_* written out plainly. ggml
 * computes in f32, so each f32 operation is one Math.fround here (an f32 op
 * done in double and rounded once is exactly the f32 op); the result is then
 * bit-identical to ggml. Scalar loops, no tricks: this is the ground truth the
 * wasm kernels are tested against.
 */
import { minK4, scaleK4 } from '../../quant/kquant-search.js';
import type { GgmlTypeName } from '../../types/ggml-types.js';
import { f16ToF32, f16ToF32Bits } from '../../types/half.js';

const fr = Math.fround;

/** iq4_nl / iq4_xs codebook (kvalues_iq4nl). */
export const IQ4NL_VALUES = Int8Array.of(
  -127,
  -104,
  -83,
  -65,
  -49,
  -35,
  -22,
  -10,
  1,
  13,
  25,
  38,
  53,
  69,
  89,
  113,
);

type RowDequant = (src: Uint8Array, y: Float32Array, nblocks: number) => void;

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const half = (v: DataView, o: number) => f16ToF32(v.getUint16(o, true));

/** q3_K's 16 scales (6-bit, stored biased by 32) from 12 packed bytes, as ggml unpacks them. */
export function q3KScales(q: Uint8Array, o: number): Int8Array {
  const v = view(q);
  const a0 = v.getUint32(o, true);
  const a1 = v.getUint32(o + 4, true);
  const tmp = v.getUint32(o + 8, true);
  const k1 = 0x03030303;
  const k2 = 0x0f0f0f0f;
  const words = Uint32Array.of(
    (a0 & k2) | (((tmp >>> 0) & k1) << 4),
    (a1 & k2) | (((tmp >>> 2) & k1) << 4),
    ((a0 >>> 4) & k2) | (((tmp >>> 4) & k1) << 4),
    ((a1 >>> 4) & k2) | (((tmp >>> 6) & k1) << 4),
  );
  return new Int8Array(words.buffer);
}

function q4_0(s: Uint8Array, y: Float32Array, nb: number): void {
  const v = view(s);
  for (let i = 0; i < nb; i++) {
    const o = i * 18;
    const d = half(v, o);
    for (let j = 0; j < 16; j++) {
      y[i * 32 + j] = fr(((s[o + 2 + j] & 0x0f) - 8) * d);
      y[i * 32 + j + 16] = fr(((s[o + 2 + j] >> 4) - 8) * d);
    }
  }
}

function q4_1(s: Uint8Array, y: Float32Array, nb: number): void {
  const v = view(s);
  for (let i = 0; i < nb; i++) {
    const o = i * 20;
    const d = half(v, o);
    const m = half(v, o + 2);
    for (let j = 0; j < 16; j++) {
      y[i * 32 + j] = fr(fr((s[o + 4 + j] & 0x0f) * d) + m);
      y[i * 32 + j + 16] = fr(fr((s[o + 4 + j] >> 4) * d) + m);
    }
  }
}

function q5_0(s: Uint8Array, y: Float32Array, nb: number): void {
  const v = view(s);
  for (let i = 0; i < nb; i++) {
    const o = i * 22;
    const d = half(v, o);
    const qh = v.getUint32(o + 2, true);
    for (let j = 0; j < 16; j++) {
      const h0 = ((qh >>> j) << 4) & 0x10;
      const h1 = (qh >>> (j + 12)) & 0x10;
      y[i * 32 + j] = fr((((s[o + 6 + j] & 0x0f) | h0) - 16) * d);
      y[i * 32 + j + 16] = fr((((s[o + 6 + j] >> 4) | h1) - 16) * d);
    }
  }
}

function q5_1(s: Uint8Array, y: Float32Array, nb: number): void {
  const v = view(s);
  for (let i = 0; i < nb; i++) {
    const o = i * 24;
    const d = half(v, o);
    const m = half(v, o + 2);
    const qh = v.getUint32(o + 4, true);
    for (let j = 0; j < 16; j++) {
      const h0 = ((qh >>> j) << 4) & 0x10;
      const h1 = (qh >>> (j + 12)) & 0x10;
      y[i * 32 + j] = fr(fr(((s[o + 8 + j] & 0x0f) | h0) * d) + m);
      y[i * 32 + j + 16] = fr(fr(((s[o + 8 + j] >> 4) | h1) * d) + m);
    }
  }
}

/** q8_0 (34-byte blocks) and q8_1 (36 bytes: d, s, qs): y = d·q. */
function q8Block32(blockBytes: number, qsOffset: number): RowDequant {
  return (s, y, nb) => {
    const v = view(s);
    for (let i = 0; i < nb; i++) {
      const o = i * blockBytes;
      const d = half(v, o);
      for (let j = 0; j < 32; j++) y[i * 32 + j] = fr(v.getInt8(o + qsOffset + j) * d);
    }
  };
}

function iq4_nl(s: Uint8Array, y: Float32Array, nb: number): void {
  const v = view(s);
  for (let i = 0; i < nb; i++) {
    const o = i * 18;
    const d = half(v, o);
    for (let j = 0; j < 16; j++) {
      y[i * 32 + j] = fr(d * IQ4NL_VALUES[s[o + 2 + j] & 0xf]);
      y[i * 32 + j + 16] = fr(d * IQ4NL_VALUES[s[o + 2 + j] >> 4]);
    }
  }
}

function q2_K(s: Uint8Array, y: Float32Array, nb: number): void {
  const v = view(s);
  for (let i = 0; i < nb; i++) {
    const o = i * 84;
    const d = half(v, o + 80);
    const min = half(v, o + 82);
    let k = i * 256;
    let is = 0;
    for (let n = 0; n < 2; n++) {
      const q = o + 16 + n * 32;
      for (let shift = 0; shift < 8; shift += 2) {
        for (const base of [0, 16]) {
          const sc = s[o + is++];
          const dl = fr(d * (sc & 0xf));
          const ml = fr(min * (sc >> 4));
          for (let l = 0; l < 16; l++) y[k++] = fr(fr(dl * ((s[q + base + l] >> shift) & 3)) - ml);
        }
      }
    }
  }
}

function q3_K(s: Uint8Array, y: Float32Array, nb: number): void {
  const v = view(s);
  for (let i = 0; i < nb; i++) {
    const o = i * 110;
    const dAll = half(v, o + 108);
    const scales = q3KScales(s, o + 96);
    let k = i * 256;
    let is = 0;
    let m = 1;
    for (let n = 0; n < 2; n++) {
      const q = o + 32 + n * 32;
      for (let shift = 0; shift < 8; shift += 2, m <<= 1) {
        for (const base of [0, 16]) {
          const dl = fr(dAll * (scales[is++] - 32));
          for (let l = 0; l < 16; l++) {
            const hbit = s[o + base + l] & m ? 0 : 4;
            y[k++] = fr(dl * (((s[q + base + l] >> shift) & 3) - hbit));
          }
        }
      }
    }
  }
}

/** q4_K and q5_K: 8 sub-blocks of 32 with 6-bit scales and mins; q5_K adds a 5th bit from qh. */
function q45K(blockBytes: number, qsOffset: number, qhOffset: number | null): RowDequant {
  return (s, y, nb) => {
    const v = view(s);
    for (let i = 0; i < nb; i++) {
      const o = i * blockBytes;
      const d = half(v, o);
      const min = half(v, o + 2);
      let k = i * 256;
      for (let j = 0; j < 4; j++) {
        const q = o + qsOffset + j * 32;
        for (const [sub, nibble] of [
          [2 * j, 0],
          [2 * j + 1, 4],
        ]) {
          const d1 = fr(d * scaleK4(sub, s, o + 4));
          const m1 = fr(min * minK4(sub, s, o + 4));
          for (let l = 0; l < 32; l++) {
            const hi = qhOffset === null ? 0 : (s[o + qhOffset + l] >> sub) & 1 ? 16 : 0;
            y[k++] = fr(fr(d1 * (((s[q + l] >> nibble) & 0xf) + hi)) - m1);
          }
        }
      }
    }
  };
}

function q6_K(s: Uint8Array, y: Float32Array, nb: number): void {
  const v = view(s);
  for (let i = 0; i < nb; i++) {
    const o = i * 210;
    const d = half(v, o + 208);
    for (let n = 0; n < 2; n++) {
      const ql = o + n * 64;
      const qh = o + 128 + n * 32;
      const sc = o + 192 + n * 8;
      const yb = i * 256 + n * 128;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = s[qh + l];
        const q1 = ((s[ql + l] & 0xf) | ((h & 3) << 4)) - 32;
        const q2 = ((s[ql + l + 32] & 0xf) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((s[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((s[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
        y[yb + l] = fr(fr(d * v.getInt8(sc + is)) * q1);
        y[yb + l + 32] = fr(fr(d * v.getInt8(sc + is + 2)) * q2);
        y[yb + l + 64] = fr(fr(d * v.getInt8(sc + is + 4)) * q3);
        y[yb + l + 96] = fr(fr(d * v.getInt8(sc + is + 6)) * q4);
      }
    }
  }
}

function q8_K(s: Uint8Array, y: Float32Array, nb: number): void {
  const v = view(s);
  for (let i = 0; i < nb; i++) {
    const o = i * 292;
    const d = v.getFloat32(o, true);
    for (let j = 0; j < 256; j++) y[i * 256 + j] = fr(d * v.getInt8(o + 4 + j));
  }
}

function iq4_xs(s: Uint8Array, y: Float32Array, nb: number): void {
  const v = view(s);
  for (let i = 0; i < nb; i++) {
    const o = i * 136;
    const d = half(v, o);
    const scalesH = v.getUint16(o + 2, true);
    for (let ib = 0; ib < 8; ib++) {
      const ls = ((s[o + 4 + (ib >> 1)] >> (4 * (ib & 1))) & 0xf) | (((scalesH >> (2 * ib)) & 3) << 4);
      const dl = fr(d * (ls - 32));
      const q = o + 8 + ib * 16;
      const yb = i * 256 + ib * 32;
      for (let j = 0; j < 16; j++) {
        y[yb + j] = fr(dl * IQ4NL_VALUES[s[q + j] & 0xf]);
        y[yb + j + 16] = fr(dl * IQ4NL_VALUES[s[q + j] >> 4]);
      }
    }
  }
}

/** f32/f16/bf16 rows, written as bits so NaN payloads survive (a JS number cannot hold a signaling NaN). */
function floatRow(bytesPer: 2 | 4, toBits: (v: DataView, o: number) => number): RowDequant {
  return (s, y, n) => {
    const v = view(s);
    const out = new Uint32Array(y.buffer, y.byteOffset, y.length);
    for (let i = 0; i < n; i++) out[i] = toBits(v, i * bytesPer);
  };
}
export const REFERENCE_DEQUANT: Readonly<Record<GgmlTypeName, RowDequant>> = {
  f32: floatRow(4, (v, o) => v.getUint32(o, true)),
  f16: floatRow(2, (v, o) => f16ToF32Bits(v.getUint16(o, true))),
  bf16: floatRow(2, (v, o) => v.getUint16(o, true) << 16),
  q4_0,
  q4_1,
  q5_0,
  q5_1,
  q8_0: q8Block32(34, 2),
  q8_1: q8Block32(36, 4),
  q2_K,
  q3_K,
  q4_K: q45K(144, 16, null),
  q5_K: q45K(176, 48, 16),
  q6_K,
  q8_K,
  iq4_nl,
  iq4_xs,
};

/** Reference dequantization of `count` elements (count already validated against the byte size). */
export function referenceDequantize(
  type: GgmlTypeName,
  bytes: Uint8Array,
  count: number,
  blockSize: number,
): Float32Array {
  const y = new Float32Array(count);
  REFERENCE_DEQUANT[type](
    bytes,
    y,
    type === 'f32' || type === 'f16' || type === 'bf16' ? count : count / blockSize,
  );
  return y;
}
