/**
 * Checks of the f32 GEMM / GEMV kernels, shared by the in-process tests (the
 * build this runtime loads) and a child process started with
 * --experimental-wasm-relaxed-simd (the relaxed build). Each check returns
 * the failures it found (empty when all is well), so the child can report
 * them as JSON.
 *
 * The bound: every y[m, n] is one sequential f32 chain of K products and K
 * additions (fused in the relaxed build), so |a − r| ≤ γ(K, u)·Σ|x||w|
 * (Higham, inner products) with u = 2^-24, plus K·2^-150 for products that
 * underflow into the subnormals (absolute, not relative, error).
 */
import { referenceMatmul } from '../../../src/backends/reference/matmul.js';
import {
  f32ScratchBytes,
  matmulF32,
  matmulF32Array,
  PANEL_WIDTH,
  type PackedWeightType,
  packedWeightBytes,
  packWeights,
} from '../../../src/backends/wasm/matmul-f32.js';
import type { WasmRuntime } from '../../../src/backends/wasm/module.js';
import { dotBound, UNIT_ROUNDOFF } from '../../../src/oracle/tiers.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../../src/types/half.js';

export type Failures = string[];

/** Deterministic values: uniform in [-1, 1), or ±2^e with e uniform in [-20, 20) (wide range). */
export function values(n: number, seed: number, wide = false): Float32Array {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = next() * 2 - 1;
    a[i] = wide ? Math.sign(u) * 2 ** Math.floor(next() * 40 - 20) * (1 + Math.abs(u)) : u;
  }
  return a;
}

function bound(K: number, magnitude: number): number {
  return dotBound(K, UNIT_ROUNDOFF.f32, magnitude, 1, K * 2 ** -150);
}

/** Compares y with the float64 reference element by element; NaN and ±inf must match exactly. */
export function compareWithReference(
  label: string,
  y: Float32Array,
  x: Float32Array,
  w: Float32Array,
  M: number,
  N: number,
  K: number,
): Failures {
  const ref = referenceMatmul(x, w, M, N, K);
  const out: Failures = [];
  for (let i = 0; i < M * N; i++) {
    const a = y[i];
    const r = ref.y[i];
    const ok = Number.isFinite(r) ? Math.abs(a - r) <= bound(K, ref.magnitude[i]) : Object.is(a, r);
    if (!ok) {
      out.push(
        `${label}: y[${Math.floor(i / N)}, ${i % N}] = ${a}, reference ${r}, bound ${bound(K, ref.magnitude[i])}`,
      );
      if (out.length >= 5) break;
    }
  }
  return out;
}

export const RAGGED = [1, 3, 5, 7, 17, 33, 65, 100, 257];

/** Every (M, N, K) of small ragged sizes, GEMV (M = 1..4) and GEMM, plus shapes that cross the K and M blocks. */
export function checkShapes(rt: WasmRuntime): { failures: Failures; cases: number } {
  const failures: Failures = [];
  let cases = 0;
  const shapes: [number, number, number][] = [];
  for (const M of [1, 2, 3, 4, 5, 6, 7, 9, 13, 33])
    for (const N of [1, 3, 5, 7, 8, 9, 17, 33, 65]) for (const K of RAGGED) shapes.push([M, N, K]);
  // K > 512 (two K blocks, ragged), M > 128 (two M blocks, ragged), N with a partial last panel.
  shapes.push([70, 37, 1100], [130, 24, 513], [4, 41, 1100], [1, 100, 2049], [65, 9, 600]);
  for (const [M, N, K] of shapes) {
    for (const wide of [false, true]) {
      const seed = M * 1_000_003 + N * 1009 + K + (wide ? 7 : 0);
      const x = values(M * K, seed, wide);
      const w = values(N * K, seed ^ 0x5bd1e995, wide);
      const packed = packWeights(rt, 'f32', w, N, K);
      const y = matmulF32Array(rt, x, packed, M);
      packed.dispose();
      failures.push(...compareWithReference(`${M}x${N}x${K}${wide ? ' wide' : ''}`, y, x, w, M, N, K));
      cases++;
    }
  }
  return { failures, cases };
}

/** The packed layout itself: panel p, row k, lane j holds W[8p + j, k] (zero past N). */
export function checkLayout(rt: WasmRuntime): Failures {
  const failures: Failures = [];
  for (const [N, K] of [
    [1, 1],
    [8, 4],
    [13, 7],
    [17, 9],
    [24, 33],
  ]) {
    const w = values(N * K, N * 31 + K);
    const packed = packWeights(rt, 'f32', w, N, K);
    if (packed.bytes !== packedWeightBytes(N, K) || packed.bytes !== Math.ceil(N / 8) * K * 32)
      failures.push(`[${N}, ${K}]: packed size ${packed.bytes}`);
    const got = rt.f32(packed.ptr, packed.bytes / 4);
    for (let p = 0; p < Math.ceil(N / 8); p++)
      for (let k = 0; k < K; k++)
        for (let j = 0; j < 8; j++) {
          const n = p * 8 + j;
          const want = n < N ? w[n * K + k] : 0;
          const at = (p * K + k) * 8 + j;
          if (!Object.is(got[at], want))
            failures.push(`[${N}, ${K}]: packed[${at}] = ${got[at]}, want ${want}`);
        }
    packed.dispose();
  }
  return failures.slice(0, 5);
}

/** f16 / bf16 weights: packed exactly (ggml's conversions), then the product within the bound. */
export function checkHalfWeights(rt: WasmRuntime): Failures {
  const failures: Failures = [];
  for (const type of ['f16', 'bf16'] as const) {
    const toBits = type === 'f16' ? f32ToF16 : f32ToBf16;
    const toF32 = type === 'f16' ? f16ToF32 : bf16ToF32;
    for (const [M, N, K] of [
      [1, 33, 100],
      [3, 17, 257],
      [9, 65, 65],
      [37, 24, 600],
    ]) {
      const x = values(M * K, M + N + K, true);
      const bits = new Uint16Array(N * K);
      const wf = values(N * K, N * K + 3, true);
      for (let i = 0; i < bits.length; i++) bits[i] = toBits(wf[i]);
      // Special halves: subnormals, the largest finite value, signed zeros.
      // bf16 0x6000 = 2^65 keeps every product finite (x ≤ 2^21); 0x0001 = 2^-133 underflows against small x.
      const specials =
        type === 'f16' ? [0x0001, 0x83ff, 0x7bff, 0x8000, 0x0000] : [0x0001, 0x807f, 0x6000, 0x8000];
      specials.forEach((h, i) => {
        bits[(i * 7919) % bits.length] = h;
      });
      const w = Float32Array.from(bits, toF32);
      const packed = packWeights(rt, type, bits, N, K);
      const f32Packed = packWeights(rt, 'f32', w, N, K);
      const same = Buffer.compare(
        Buffer.from(rt.u8.buffer, packed.ptr, packed.bytes),
        Buffer.from(rt.u8.buffer, f32Packed.ptr, f32Packed.bytes),
      );
      if (same !== 0)
        failures.push(`${type} ${N}x${K}: packing differs from the exactly converted f32 weights`);
      const y = matmulF32Array(rt, x, packed, M);
      failures.push(...compareWithReference(`${type} ${M}x${N}x${K}`, y, x, w, M, N, K));
      packed.dispose();
      f32Packed.dispose();
    }
  }
  return failures;
}

/** Zeros, K = 0, overflow to ±inf, inf − inf = NaN, NaN in x (its row) and in W (its column). */
export function checkSpecialValues(rt: WasmRuntime): Failures {
  const failures: Failures = [];
  const run = (x: Float32Array, w: Float32Array, M: number, N: number, K: number) => {
    const packed = packWeights(rt, 'f32', w, N, K);
    const y = matmulF32Array(rt, x, packed, M);
    packed.dispose();
    return y;
  };
  const expectAll = (label: string, y: Float32Array, want: (i: number) => number) => {
    for (let i = 0; i < y.length; i++)
      if (!Object.is(y[i], want(i))) {
        failures.push(`${label}: y[${i}] = ${y[i]}, want ${want(i)}`);
        return;
      }
  };

  for (const [M, N, K] of [
    [1, 9, 17],
    [6, 17, 33],
    [70, 9, 600],
  ]) {
    // Zeros: every sum is +0 + 0·w = +0.
    expectAll(`zeros ${M}x${N}x${K}`, run(new Float32Array(M * K), values(N * K, 5), M, N, K), () => 0);
    // K = 0: an empty sum.
    expectAll(`K=0 ${M}x${N}`, run(new Float32Array(0), new Float32Array(0), M, N, 0), () => 0);

    // Overflow: products of one sign near f32 max: the running sum overflows to ±inf (fused or not).
    const big = new Float32Array(M * K).fill(3e38);
    const wSign = new Float32Array(N * K);
    for (let n = 0; n < N; n++) wSign.fill(n % 2 ? -1 : 1, n * K, (n + 1) * K);
    if (K >= 2) {
      expectAll(`overflow ${M}x${N}x${K}`, run(big, wSign, M, N, K), (i) =>
        (i % N) % 2 ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY,
      );
    }
    // Infinite x against weights of both signs: inf − inf = NaN (fused or not).
    const xInf = new Float32Array(M * K).fill(Number.POSITIVE_INFINITY);
    const wAlt = new Float32Array(N * K);
    for (let i = 0; i < wAlt.length; i++) wAlt[i] = (i % K) % 2 ? -2 : 2;
    if (K >= 2) expectAll(`inf-inf ${M}x${N}x${K}`, run(xInf, wAlt, M, N, K), () => Number.NaN);
    // Large but representable: within the bound.
    const xl = values(M * K, 11).map((v) => v * 1e18);
    const wl = values(N * K, 12).map((v) => v * 1e18);
    failures.push(...compareWithReference(`large ${M}x${N}x${K}`, run(xl, wl, M, N, K), xl, wl, M, N, K));

    // NaN in x row m: row m is NaN, every other row as the reference says.
    const x = values(M * K, 21);
    const w = values(N * K, 22);
    const nanRow = M - 1;
    x[nanRow * K + (K >> 1)] = Number.NaN;
    const infRow = M > 2 ? 0 : -1;
    if (infRow >= 0) x[infRow * K] = Number.POSITIVE_INFINITY;
    const y = run(x, w, M, N, K);
    failures.push(...compareWithReference(`NaN/inf in x ${M}x${N}x${K}`, y, x, w, M, N, K));
    for (let n = 0; n < N; n++)
      if (!Number.isNaN(y[nanRow * N + n]))
        failures.push(`NaN in x row ${nanRow}: y[${nanRow}, ${n}] = ${y[nanRow * N + n]}`);
    // NaN in W row n: column n is NaN.
    const w2 = values(N * K, 23);
    const nanCol = N >> 1;
    w2[nanCol * K + K - 1] = Number.NaN;
    const x2 = values(M * K, 24);
    const y2 = run(x2, w2, M, N, K);
    failures.push(...compareWithReference(`NaN in w ${M}x${N}x${K}`, y2, x2, w2, M, N, K));
    for (let m = 0; m < M; m++)
      if (!Number.isNaN(y2[m * N + nanCol]))
        failures.push(`NaN in w row ${nanCol}: y[${m}, ${nanCol}] = ${y2[m * N + nanCol]}`);
  }
  return failures.slice(0, 10);
}

/** The splits of [0, panels) into `pieces` ranges at panel boundaries, first/middle/last-heavy. */
function splits(panels: number, pieces: number): number[][] {
  const out: number[][] = [];
  if (pieces > panels) return out;
  const even = Array.from({ length: pieces + 1 }, (_, i) => Math.round((i * panels) / pieces));
  out.push(even);
  // One panel for every range but the last, and one panel for every range but the first.
  out.push([...Array.from({ length: pieces }, (_, i) => i), panels]);
  out.push([0, ...Array.from({ length: pieces - 1 }, (_, i) => panels - pieces + 1 + i), panels]);
  return out;
}

/**
 * Determinism: identical bits for every split of [0, N) into 1..4 column ranges
 * (no write outside a range), and GEMV rows (M = 1..4) equal the same rows of a GEMM.
 */
export function checkDeterminism(rt: WasmRuntime): { failures: Failures; splits: number } {
  const failures: Failures = [];
  let count = 0;
  for (const [M, N, K] of [
    [1, 101, 300],
    [3, 37, 65],
    [37, 101, 300],
    [133, 43, 700],
  ]) {
    const x = values(M * K, M * 7 + K);
    const w = values(N * K, N * 13 + K);
    const packed = packWeights(rt, 'f32', w, N, K);
    const xp = rt.arena.alloc(M * K * 4);
    const yp = rt.arena.alloc(M * N * 4);
    // A worker's own scratch, left full of NaNs from "earlier work": nothing stale may leak in.
    const scratchBytes = f32ScratchBytes(rt, M, K);
    const scratch = rt.arena.alloc(scratchBytes);
    rt.f32(xp, M * K).set(x);
    matmulF32(rt, xp, packed, yp, M);
    const whole = new Uint32Array(rt.f32(yp, M * N).slice().buffer);
    // Without scratch (x read in place): the same bits.
    matmulF32(rt, xp, packed, yp, M, 0, N, 0);
    const direct = new Uint32Array(rt.memory.buffer, yp, M * N);
    if (direct.some((b, i) => b !== whole[i]))
      failures.push(`${M}x${N}x${K}: without scratch the bits differ`);
    const panels = Math.ceil(N / PANEL_WIDTH);
    const SENTINEL = 0x7fc0dead; // a NaN pattern no computation produces here
    for (let pieces = 1; pieces <= 4; pieces++) {
      for (const cut of splits(panels, pieces)) {
        const bits = new Uint32Array(rt.memory.buffer, yp, M * N);
        for (let r = 0; r < pieces; r++) {
          bits.fill(SENTINEL);
          new Uint32Array(rt.memory.buffer, scratch, scratchBytes / 4).fill(SENTINEL);
          const n0 = cut[r] * PANEL_WIDTH;
          const n1 = Math.min(N, cut[r + 1] * PANEL_WIDTH);
          matmulF32(rt, xp, packed, yp, M, n0, n1, scratch);
          const now = new Uint32Array(rt.memory.buffer, yp, M * N);
          for (let i = 0; i < M * N; i++) {
            const n = i % N;
            const want = n >= n0 && n < n1 ? whole[i] : SENTINEL;
            if (now[i] !== want) {
              failures.push(
                `${M}x${N}x${K} split [${cut}] range [${n0}, ${n1}): y[${Math.floor(i / N)}, ${n}] bits differ`,
              );
              break;
            }
          }
        }
        count++;
      }
    }
    // GEMV rows vs the GEMM: rows taken 1, 2, 3, 4 at a time from the same x.
    if (M > 4) {
      let m = 0;
      for (let g = 1; m < M; g = (g % 4) + 1) {
        const rows = Math.min(g, M - m);
        const part = matmulF32Array(rt, x.subarray(m * K, (m + rows) * K), packed, rows);
        const partBits = new Uint32Array(part.buffer);
        for (let i = 0; i < rows * N; i++)
          if (partBits[i] !== whole[m * N + i]) {
            failures.push(
              `${M}x${N}x${K}: rows [${m}, ${m + rows}) as M = ${rows} differ from the GEMM at ${i}`,
            );
            break;
          }
        m += rows;
      }
    }
    rt.arena.release(scratch);
    rt.arena.release(yp);
    rt.arena.release(xp);
    packed.dispose();
  }
  return { failures, splits: count };
}

/** Weight types for the f32 kernels, for tests that loop over them. */
export const PACKED_TYPES: readonly PackedWeightType[] = ['f32', 'f16', 'bf16'];
