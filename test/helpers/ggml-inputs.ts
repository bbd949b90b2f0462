/**
 * Inputs for the ggml-numerics matmul tests: seeded normals, quantize()d weights, and raw
 * random block bytes that reach every code (−128 included) with finite scales and consistent
 * q8_1 sums / q8_K bsums. Shared by the vitest suite and the relaxed-build child script.
 */
import type { GgmlMatmulType, VecDotType } from '../../src/backends/wasm/matmul-ggml.js';
import { activationLayout, weightRowBytes } from '../../src/backends/wasm/matmul-ggml.js';
import { quantize } from '../../src/ops/quantize.js';
import { GGML_TYPES } from '../../src/types/ggml-types.js';
import { f16ToF32, f32ToF16 } from '../../src/types/half.js';

/** Byte offsets of (d, min) f16 fields of the weight types whose value has a min. */
export const MIN_FIELDS: Partial<Record<GgmlMatmulType, [number, number]>> = {
  q4_1: [0, 2],
  q5_1: [0, 2],
  q2_K: [80, 82],
  q4_K: [0, 2],
  q5_K: [0, 2],
};

export const f16At = (b: Uint8Array, o: number) => f16ToF32(b[o] | (b[o + 1] << 8));

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s >>> 8) / 2 ** 24;
  };
}

export function normals(n: number, seed: number, scale = 1): Float32Array {
  const u = rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (u() + u() + u() + u() - 2) * Math.sqrt(3) * scale;
  return x;
}

/** Weights of `type` for N rows: quantize() of random rows, or raw random bytes with sane scales. */
export function makeWeights(
  type: GgmlMatmulType,
  N: number,
  K: number,
  seed: number,
  raw: boolean,
): Uint8Array {
  if (!raw) return quantize(type, normals(N * K, seed, 0.5));
  const bytes = new Uint8Array(N * weightRowBytes(type, K));
  const u = rng(seed);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (u() * 256) | 0;
  if (type === 'f16' || type === 'bf16') {
    const v = normals(N * K, seed + 1);
    return quantize(type, v);
  }
  // Every code pattern comes from the random bytes; the f16 scale fields get finite values.
  const { typeSize } = GGML_TYPES[type];
  const fields: number[] = { q2_K: [80, 82], q3_K: [108], q6_K: [208] }[type as string] ?? [0];
  if (MIN_FIELDS[type]) fields.push(MIN_FIELDS[type][1]);
  for (let b = 0; b < bytes.length; b += typeSize) {
    for (const f of new Set(fields)) {
      const h = f32ToF16((u() - 0.5) * 2 ** -6);
      bytes[b + f] = h & 0xff;
      bytes[b + f + 1] = h >> 8;
    }
  }
  return bytes;
}

/**
 * Full activation rows (ActivationLayout) from M rows of ggml blocks: a TypeScript definition of
 * the extension that quantizeActivations writes after each row's blocks.
 */
export function withExtension(vdt: VecDotType, ggml: Uint8Array, M: number, K: number): Uint8Array {
  const L = activationLayout(vdt, K);
  if (L.rowBytes === L.ggmlBytes) return ggml.slice();
  const out = new Uint8Array(M * L.rowBytes);
  const dv = new DataView(out.buffer);
  const { blockSize, typeSize } = GGML_TYPES[vdt];
  const qs = vdt === 'q8_0' ? 2 : 4;
  for (let m = 0; m < M; m++) {
    const src = ggml.subarray(m * L.ggmlBytes, (m + 1) * L.ggmlBytes);
    const row = m * L.rowBytes;
    out.set(src, row);
    for (let b = 0; b < K / blockSize; b++) {
      let sum = 0;
      for (let j = 0; j < blockSize; j++) {
        const q = (src[b * typeSize + qs + j] << 24) >> 24;
        dv.setInt16(row + L.wideOffset + 2 * (b * blockSize + j), q, true);
        sum += q;
      }
      if (vdt !== 'q8_K') {
        const o = row + L.scalarsOffset + 12 * b;
        dv.setFloat32(o, f16At(src, b * typeSize), true);
        dv.setFloat32(o + 4, vdt === 'q8_1' ? f16At(src, b * typeSize + 2) : 0, true);
        dv.setInt32(o + 8, sum, true);
      }
    }
  }
  return out;
}

/** The ggml blocks of M activation rows, concatenated (what ggml's quantizer writes). */
export function ggmlPart(vdt: VecDotType, xq: Uint8Array, M: number, K: number): Uint8Array {
  const L = activationLayout(vdt, K);
  const out = new Uint8Array(M * L.ggmlBytes);
  for (let m = 0; m < M; m++)
    out.set(xq.subarray(m * L.rowBytes, m * L.rowBytes + L.ggmlBytes), m * L.ggmlBytes);
  return out;
}

/** Full activation rows whose codes reach the extremes of the code range (−128 included), consistent fields. */
export function rawActivations(vdt: VecDotType, M: number, K: number, seed: number): Uint8Array {
  if (vdt === 'f16' || vdt === 'bf16') return quantize(vdt, normals(M * K, seed));
  const u = rng(seed);
  const info = GGML_TYPES[vdt];
  const nb = (M * K) / info.blockSize;
  const out = new Uint8Array(nb * info.typeSize);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    const o = b * info.typeSize;
    const qs = o + (vdt === 'q8_K' ? 4 : vdt === 'q8_1' ? 4 : 2);
    const n = info.blockSize;
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const q = j % 7 === 0 ? -128 : ((u() * 256) | 0) - 128;
      out[qs + j] = q & 0xff;
      sum += q;
    }
    const d = (u() + 0.1) / 100;
    if (vdt === 'q8_K') {
      dv.setFloat32(o, d, true);
      for (let g = 0; g < 16; g++) {
        let s = 0;
        for (let j = 0; j < 16; j++) s += (out[qs + 16 * g + j] << 24) >> 24;
        dv.setInt16(o + 260 + 2 * g, s, true);
      }
    } else {
      dv.setUint16(o, f32ToF16(d), true);
      if (vdt === 'q8_1') dv.setUint16(o + 2, f32ToF16(Math.fround(sum * f16At(out, o))), true);
    }
  }
  return withExtension(vdt, out, M, K);
}
