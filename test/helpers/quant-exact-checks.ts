/**
 * Checks of the exact-numerics quantized matmul (src/backends/wasm/matmul-quant.ts) against
 * the float64 reference, shared by the vitest suite (the build Node loads by default) and the
 * relaxed-build child script (test/helpers/quant-exact-relaxed.ts). Each check returns a list
 * of failures (empty when it passes), so both runners report the same findings.
 *
 * Bound: the kernel multiplies x by weights bit-identical to dequantize(w) and sums the K
 * products in 4 lanes of K/4 terms, then in two levels, so |y − r| ≤ γ(K/4 + 3, u)·Σ|x||w|
 * ≤ γ(K, u)·Σ|x||w| (u = 2^-24, K ≥ 4) whether or not the product is fused into the sum;
 * r is the float64 dot of x and dequantize(w) (its own error is ~2^-53·Σ|x||w|, far below).
 */
import { referenceMatmul } from '../../src/backends/reference/matmul.js';
import { matmulQuantExact, type QuantExactType } from '../../src/backends/wasm/matmul-quant.js';
import type { WasmRuntime } from '../../src/backends/wasm/module.js';
import { dequantize } from '../../src/ops/dequantize.js';
import { quantize } from '../../src/ops/quantize.js';
import { dotBound, UNIT_ROUNDOFF } from '../../src/oracle/tiers.js';
import { GGML_TYPES } from '../../src/types/ggml-types.js';
import { f32ToF16 } from '../../src/types/half.js';
import { normals, rng } from './ggml-inputs.js';

/** f16 scale/min fields of each format (byte offsets in a block), set to finite values in raw weights. */
const SCALE_FIELDS: Partial<Record<QuantExactType, number[]>> = {
  q4_1: [0, 2],
  q5_1: [0, 2],
  q8_1: [0, 2],
  q2_K: [80, 82],
  q3_K: [108],
  q4_K: [0, 2],
  q5_K: [0, 2],
  q6_K: [208],
};

/**
 * N rows of K weights: quantize() of random rows, or (raw) random block bytes, so every code
 * appears, with random finite f16 scales down to subnormals. q8_K (an f32 scale) is always
 * quantized.
 */
export function exactWeights(
  type: QuantExactType,
  N: number,
  K: number,
  seed: number,
  raw: boolean,
): Uint8Array {
  if (!raw || type === 'q8_K') return quantize(type, normals(N * K, seed, 0.5));
  const { blockSize, typeSize } = GGML_TYPES[type];
  const bytes = new Uint8Array(((N * K) / blockSize) * typeSize);
  const u = rng(seed);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (u() * 256) | 0;
  const fields = SCALE_FIELDS[type] ?? [0];
  for (let b = 0; b < bytes.length; b += typeSize) {
    for (const f of fields) {
      const h = f32ToF16((u() - 0.5) * 2 ** (u() < 0.1 ? -20 : -5));
      bytes[b + f] = h & 0xff;
      bytes[b + f + 1] = h >> 8;
    }
  }
  return bytes;
}

function put(rt: WasmRuntime, bytes: Uint8Array): number {
  const p = rt.arena.alloc(bytes.byteLength);
  rt.u8.set(bytes, p);
  return p;
}

/**
 * y = x · Wᵀ through matmulQuantExact, column ranges computed by separate calls (default: one
 * call for all of [0, N)). Columns outside every range keep a sentinel (all-ones bits).
 */
export function runExact(
  rt: WasmRuntime,
  type: QuantExactType,
  x: Float32Array,
  w: Uint8Array,
  M: number,
  N: number,
  K: number,
  ranges: [number, number][] = [[0, N]],
): Float32Array {
  const xp = put(rt, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  const wp = put(rt, w);
  const yp = rt.arena.alloc(M * N * 4);
  try {
    rt.u8.fill(0xff, yp, yp + M * N * 4);
    for (const [n0, n1] of ranges) matmulQuantExact(rt, type, xp, wp, yp, M, N, K, n0, n1);
    return rt.f32(yp, M * N).slice();
  } finally {
    rt.arena.release(yp);
    rt.arena.release(wp);
    rt.arena.release(xp);
  }
}

/** Every y element within γ(K, u)·Σ|x||w| of the float64 dot of x and dequantize(w). */
export function boundFailures(
  type: QuantExactType,
  x: Float32Array,
  w: Uint8Array,
  y: Float32Array,
  M: number,
  N: number,
  K: number,
): string[] {
  const ref = referenceMatmul(x, dequantize(type, w, N * K), M, N, K);
  const out: string[] = [];
  for (let i = 0; i < M * N; i++) {
    const bound = dotBound(K, UNIT_ROUNDOFF.f32, ref.magnitude[i]);
    const err = Math.abs(y[i] - ref.y[i]);
    if (!(err <= bound)) {
      out.push(
        `${type} M=${M} N=${N} K=${K} y[${Math.floor(i / N)},${i % N}] = ${y[i]}, reference ${ref.y[i]}, ` +
          `|error| ${err} > bound ${bound}`,
      );
      if (out.length >= 3) break;
    }
  }
  return out;
}

function firstBitDifference(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return ua.length === ub.length ? -1 : ua.length;
}

/** Splits of [0, N) into 1, 2, 3 and 4 ranges at odd boundaries. */
export function splits(N: number): [number, number][][] {
  const cut = (...c: number[]) => {
    const b = [0, ...c.filter((v) => v > 0 && v < N), N];
    return b.slice(1).map((e, i) => [b[i], e] as [number, number]);
  };
  return [cut(), cut(Math.floor(N / 2) | 1), cut(5, Math.floor((2 * N) / 3) | 1), cut(1, 2, N - 3)];
}

/**
 * Determinism: the same bits for every split of [0, N) into column ranges, and row m of an
 * M-row call equal to the M = 1 call on that row alone (and to the first rows of smaller calls).
 */
export function determinismFailures(
  rt: WasmRuntime,
  type: QuantExactType,
  M: number,
  N: number,
  K: number,
  seed: number,
): string[] {
  const out: string[] = [];
  const x = normals(M * K, seed);
  const w = exactWeights(type, N, K, seed + 1, true);
  const full = runExact(rt, type, x, w, M, N, K);
  for (const ranges of splits(N)) {
    const y = runExact(rt, type, x, w, M, N, K, ranges);
    const i = firstBitDifference(full, y);
    if (i >= 0)
      out.push(
        `${type} M=${M} K=${K} split ${JSON.stringify(ranges)}: element ${i} differs (${y[i]} vs ${full[i]})`,
      );
  }
  for (let m = 0; m < M; m++) {
    const row = runExact(rt, type, x.subarray(m * K, (m + 1) * K), w, 1, N, K);
    const i = firstBitDifference(full.subarray(m * N, (m + 1) * N), row);
    if (i >= 0)
      out.push(
        `${type} K=${K} row ${m} of M=${M} differs from M=1 at column ${i} (${full[m * N + i]} vs ${row[i]})`,
      );
  }
  for (const m of [2, 3, 4, 5].filter((v) => v < M)) {
    const y = runExact(rt, type, x.subarray(0, m * K), w, m, N, K);
    const i = firstBitDifference(full.subarray(0, m * N), y);
    if (i >= 0) out.push(`${type} K=${K} M=${m} differs from the first rows of M=${M} at ${i}`);
  }
  return out;
}

/** NaN in x[m, k] makes row m all NaN and leaves the other rows' bits unchanged. */
export function nanFailures(
  rt: WasmRuntime,
  type: QuantExactType,
  N: number,
  K: number,
  seed: number,
): string[] {
  const M = 3;
  const x = normals(M * K, seed);
  const w = exactWeights(type, N, K, seed + 1, false);
  const clean = runExact(rt, type, x, w, M, N, K);
  const xn = x.slice();
  xn[K + (K >> 1) + 1] = Number.NaN;
  const y = runExact(rt, type, xn, w, M, N, K);
  const out: string[] = [];
  for (let n = 0; n < N; n++)
    if (!Number.isNaN(y[N + n])) out.push(`${type}: y[1, ${n}] = ${y[N + n]}, not NaN`);
  for (const m of [0, 2]) {
    const i = firstBitDifference(clean.subarray(m * N, (m + 1) * N), y.subarray(m * N, (m + 1) * N));
    if (i >= 0) out.push(`${type}: NaN in row 1 changed row ${m} at column ${i}`);
  }
  return out;
}

/** K values per block size: ragged chunk ends for 32-blocks (K mod 256 ≠ 0) and whole chunks. */
export function testKs(type: QuantExactType): number[] {
  return GGML_TYPES[type].blockSize === 32 ? [32, 64, 96, 160, 288, 512] : [256, 512, 768];
}
