import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceLinearScan } from '../../../src/backends/reference/scan.js';
import {
  chunkedScanOnPool,
  linearScanOnPool,
  scanChunkApply,
  scanChunkCarry,
  scanChunkReduce,
  scanChunkScratchBytes,
  scanChunks,
  scanLinear,
} from '../../../src/backends/wasm/scan.js';
import { linearScanBound } from '../../../src/ops/scan.js';
import { WorkerPool } from '../../../src/scheduler/pool.js';
import { alloc, free, put, read, rng, rt, sameBits, splits, uniform } from './nn-helpers.js';

/** a_t = ±(0.9 … 1): the state remembers far back, so carries matter. */
function decays(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() < 0.2 ? -1 : 1) * (0.9 + 0.1 * r()));
}

interface Case {
  a: Float32Array;
  b: Float32Array;
  h0: Float32Array | null;
  T: number;
  D: number;
}

function makeCase(T: number, D: number, seed: number, withH0 = true): Case {
  return {
    a: decays(T * D, seed),
    b: uniform(T * D, seed + 1),
    h0: withH0 ? uniform(D, seed + 2, 4) : null,
    T,
    D,
  };
}

function sequential(c: Case, channelSplit: [number, number][] = [[0, c.D]]): Float32Array {
  const [ap, bp] = [put(c.a), put(c.b)];
  const hp0 = c.h0 ? put(c.h0) : 0;
  const hp = alloc(c.T * c.D);
  for (const [d0, d1] of channelSplit) scanLinear(rt, ap, bp, hp0, hp, c.T, c.D, d0, d1);
  const h = read(hp, c.T * c.D);
  free(ap, bp, hp0, hp);
  return h;
}

function chunked(
  c: Case,
  L: number,
  chunkSplit: [number, number][],
  channelSplit: [number, number][],
): Float32Array {
  const [ap, bp] = [put(c.a), put(c.b)];
  const hp0 = c.h0 ? put(c.h0) : 0;
  const hp = alloc(c.T * c.D);
  const C = scanChunks(c.T, L);
  const P = rt.arena.alloc(scanChunkScratchBytes(c.T, c.D, L));
  const E = P + C * c.D * 4;
  for (const [c0, c1] of chunkSplit)
    for (const [d0, d1] of channelSplit) scanChunkReduce(rt, ap, bp, P, E, c.T, c.D, L, c0, c1, d0, d1);
  for (const [d0, d1] of channelSplit) scanChunkCarry(rt, P, E, hp0, c.T, c.D, L, d0, d1);
  for (const [c0, c1] of chunkSplit)
    for (const [d0, d1] of channelSplit) scanChunkApply(rt, ap, bp, hp0, E, hp, c.T, c.D, L, c0, c1, d0, d1);
  const h = read(hp, c.T * c.D);
  free(ap, bp, hp0, hp, P);
  return h;
}

function withinBound(c: Case, h: Float32Array): string[] {
  const ref = referenceLinearScan(c.a, c.b, c.h0, c.T, c.D);
  const bad: string[] = [];
  for (let i = 0; i < h.length; i++) {
    const t = Math.floor(i / c.D);
    const bound = linearScanBound(t, ref.magnitude[i]);
    if (!(Math.abs(h[i] - ref.h[i]) <= bound) && bad.length < 5)
      bad.push(`[${t}, ${i % c.D}]: got ${h[i]}, reference ${ref.h[i]}, bound ${bound}`);
  }
  return bad;
}

describe('sequential linear scan (scan_linear)', () => {
  it('within γ(2t + 3)·m_t of the float64 reference, every D around the SIMD width, with and without h0', () => {
    for (const D of [1, 3, 4, 5, 8, 17, 64]) {
      for (const withH0 of [true, false]) {
        const c = makeCase(97, D, D * 7 + 1, withH0);
        expect(withinBound(c, sequential(c))).toEqual([]);
      }
    }
  });

  it('bit-identical for any split of the channels', () => {
    const c = makeCase(50, 37, 5);
    const whole = sequential(c);
    for (const s of splits(37, 1, 9)) expect(sameBits(sequential(c, s), whole)).toBe(true);
  });

  it('a = 0·∞ follows IEEE: h_{-1} = 0 with a = ∞ gives NaN, exactly as h = a·0 + b', () => {
    const c: Case = {
      a: Float32Array.of(Number.POSITIVE_INFINITY, 1),
      b: Float32Array.of(1, 1),
      h0: null,
      T: 1,
      D: 2,
    };
    const h = sequential(c);
    expect(Number.isNaN(h[0])).toBe(true);
    expect(h[1]).toBe(1);
  });
});

describe('chunked linear scan (scan_chunk_reduce, scan_chunk_carry, scan_chunk_apply)', () => {
  const c = makeCase(300, 13, 21);
  const L = 32;
  const C = scanChunks(c.T, L);

  it('bit-identical for any split of chunks and channels', () => {
    const whole = chunked(c, L, [[0, C]], [[0, c.D]]);
    for (const cs of splits(C, 1, 3))
      for (const ds of splits(c.D, 1, 4).slice(0, 2))
        expect(sameBits(chunked(c, L, cs, ds), whole)).toBe(true);
  });

  it('the first chunk is bit-identical to the sequential scan; with L ≥ T all of it is', () => {
    const seq = sequential(c);
    const ch = chunked(c, L, [[0, C]], [[0, c.D]]);
    expect(sameBits(ch.subarray(0, L * c.D), seq.subarray(0, L * c.D))).toBe(true);
    // Later chunks reassociate the products of a's: some bits differ (so this test can tell).
    expect(sameBits(ch, seq)).toBe(false);
    expect(sameBits(chunked(c, c.T, [[0, 1]], [[0, c.D]]), seq)).toBe(true);
  });

  it('within the same γ(2t + 3)·m_t bound of the reference, for several chunk lengths and ragged last chunks', () => {
    for (const Lx of [1, 2, 7, 32, 299])
      expect(withinBound(c, chunked(c, Lx, [[0, scanChunks(c.T, Lx)]], [[0, c.D]]))).toEqual([]);
    const z = makeCase(100, 6, 77, false);
    expect(withinBound(z, chunked(z, 9, [[0, scanChunks(100, 9)]], [[0, 6]]))).toEqual([]);
  });

  it('rejects ranges outside the problem', () => {
    expect(() => scanChunkReduce(rt, 0, 0, 0, 0, 10, 4, 3, 0, 5)).toThrow(/chunk range/);
    expect(() => scanLinear(rt, 0, 0, 0, 0, 10, 4, 2, 5)).toThrow(/channel range/);
  });
});

describe('linear scans over a WorkerPool', () => {
  let pool: WorkerPool;
  beforeAll(async () => {
    pool = await WorkerPool.create({ threads: 2, compiled: rt, memory: rt.memory });
  });
  afterAll(() => pool.dispose());

  it('sequential and chunked on 2 threads give the bits of one thread', async () => {
    const c = makeCase(257, 19, 31);
    const [ap, bp, hp0] = [put(c.a), put(c.b), put(c.h0 as Float32Array)];
    const hp = alloc(c.T * c.D);
    await linearScanOnPool(pool, ap, bp, hp0, hp, c.T, c.D);
    expect(sameBits(read(hp, c.T * c.D), sequential(c))).toBe(true);
    const L = 16;
    const scratch = rt.arena.alloc(scanChunkScratchBytes(c.T, c.D, L));
    await chunkedScanOnPool(pool, ap, bp, hp0, hp, scratch, c.T, c.D, L);
    expect(sameBits(read(hp, c.T * c.D), chunked(c, L, [[0, scanChunks(c.T, L)]], [[0, c.D]]))).toBe(true);
    free(ap, bp, hp0, hp, scratch);
  });
});
