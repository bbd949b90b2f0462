/**
 * Shared pieces of the nn kernel tests: a runtime, typed arrays in and out of
 * wasm memory, seeded inputs, and the comparison of a kernel's f32 output
 * with the float64 reference under a per-element bound (src/oracle/nn-bounds.ts).
 */
import { WasmRuntime } from '../../../src/backends/wasm/module.js';

export const rt = await WasmRuntime.create();

/** Copies f32 (or i32) data into fresh arena memory; returns its pointer. */
export function put(data: Float32Array | Int32Array): number {
  const p = rt.arena.alloc(data.byteLength);
  new Uint8Array(rt.memory.buffer, p, data.byteLength).set(
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  );
  return p;
}

export function alloc(floats: number): number {
  return rt.arena.alloc(floats * 4);
}

export function read(p: number, n: number): Float32Array {
  return rt.f32(p, n).slice();
}

/** Releases every pointer given (after a case). */
export function free(...ptrs: number[]): void {
  for (const p of ptrs) if (p) rt.arena.release(p);
}

/** xorshift32, uniform in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** n values uniform in [−scale, scale), rounded to f32. */
export function uniform(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

/** n values ±2^e·(1..2), e uniform in [lo, hi): every magnitude in the range. */
export function wide(n: number, seed: number, lo: number, hi: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from(
    { length: n },
    () => (r() < 0.5 ? -1 : 1) * 2 ** Math.floor(lo + r() * (hi - lo)) * (1 + r()),
  );
}

/**
 * add's cases for a row width: a residual (as many b rows as a rows), a bias
 * broadcast (one b row) and two b rows repeated; operands across 2^±30.
 */
export function addCases(dim: number): { rows: number; bRows: number; a: Float32Array; b: Float32Array }[] {
  return [
    [3, 3],
    [4, 1],
    [6, 2],
  ].map(([rows, bRows]) => ({
    rows,
    bRows,
    a: wide(rows * dim, dim, -30, 30),
    b: wide(bRows * dim, dim + 9, -30, 30),
  }));
}

/** Row lengths: ragged around every SIMD width, the brief's list, and model sizes. */
export const DIMS = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65, 127, 255, 1000, 4096, 4097];

export interface Verdict {
  failures: string[];
  /** Largest |a − r| / bound over the finite elements. */
  worstRatio: number;
}

/**
 * Every element within its bound; where the reference is NaN or ±inf the
 * kernel must give exactly that (NaN for NaN, the same infinity); −0/+0 are
 * equal.
 */
export function within(
  label: string,
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  bound: ArrayLike<number>,
): Verdict {
  const failures: string[] = [];
  let worstRatio = 0;
  for (let i = 0; i < ref.length; i++) {
    const a = got[i];
    const r = ref[i];
    let ok: boolean;
    if (Number.isNaN(r)) ok = Number.isNaN(a);
    else if (!Number.isFinite(r)) ok = a === r;
    else {
      const d = Math.abs(a - r);
      ok = d <= bound[i];
      if (bound[i] > 0) worstRatio = Math.max(worstRatio, d / bound[i]);
      else if (d > 0) worstRatio = Number.POSITIVE_INFINITY;
    }
    if (!ok && failures.length < 5)
      failures.push(`${label}[${i}]: got ${a}, reference ${r}, bound ${bound[i]}`);
  }
  return { failures, worstRatio };
}

/** Bit patterns equal (NaN payloads included). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** A few splits of [0, total) into contiguous ranges at multiples of `granularity`. */
export function splits(total: number, granularity: number, seed: number): [number, number][][] {
  const r = rng(seed);
  const out: [number, number][][] = [[[0, total]]];
  for (const parts of [2, 3, 7]) {
    const cuts = new Set<number>([0, total]);
    while (cuts.size < Math.min(parts + 1, total + 1)) {
      const c = Math.min(total, Math.floor((r() * total) / granularity) * granularity);
      cuts.add(c);
      if (cuts.size >= total / granularity + 1) break;
    }
    const s = [...cuts].sort((a, b) => a - b);
    out.push(s.slice(1).map((e, i) => [s[i], e] as [number, number]));
  }
  return out;
}
