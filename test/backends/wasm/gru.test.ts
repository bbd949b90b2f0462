import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  denseEquivalent,
  minGruCoefficients,
  recurrenceMatvec,
  referenceGruStepBound,
} from '../../../src/backends/reference/gru.js';
import { referenceLinearScan } from '../../../src/backends/reference/scan.js';
import {
  gruGates,
  gruMatvec,
  gruMatvecScratchBytes,
  gruMatvecUnits,
  gruScan,
  gruScanOnPool,
  gruScanScratchBytes,
  type WasmRecurrence,
} from '../../../src/backends/wasm/gru.js';
import { scanLinear } from '../../../src/backends/wasm/scan.js';
import {
  GRU_STRUCTURES,
  type GruRecurrence,
  type GruStructure,
  recurrenceBound,
} from '../../../src/ops/gru.js';
import { linearScanBound } from '../../../src/ops/scan.js';
import { WorkerPool } from '../../../src/scheduler/pool.js';
import { randomRecurrence } from '../../helpers/gru-cases.js';
import { alloc, free, put, read, rt, sameBits, splits, uniform } from './nn-helpers.js';

function upload(rec: GruRecurrence): { w: WasmRecurrence; ptrs: number[] } {
  const p = (v: ArrayLike<number>) => put(Float32Array.from(v));
  if (rec.kind === 'dense' || rec.kind === 'diagonal') {
    const u = p(rec.u);
    return { w: { kind: rec.kind, H: rec.H, u }, ptrs: [u] };
  }
  if (rec.kind === 'monarch') {
    const [b1, b2] = [p(rec.b1), p(rec.b2)];
    return { w: { kind: 'monarch', H: rec.H, b1, b2 }, ptrs: [b1, b2] };
  }
  const w = p(rec.w);
  return { w: { kind: 'butterfly', H: rec.H, w }, ptrs: [w] };
}

function matvec(
  rec: GruRecurrence,
  h: Float32Array,
  ranges: [number, number][] = [[0, gruMatvecUnits(rec.kind, rec.H)]],
) {
  const { w, ptrs } = upload(rec);
  const hp = put(h);
  const y = alloc(3 * rec.H);
  const s = gruMatvecScratchBytes(rec.kind, rec.H)
    ? rt.arena.alloc(gruMatvecScratchBytes(rec.kind, rec.H))
    : 0;
  for (const [r0, r1] of ranges) gruMatvec(rt, w, hp, y, s, r0, r1);
  const out = read(y, 3 * rec.H);
  free(...ptrs, hp, y, s);
  return out;
}

const SIZES: Record<GruStructure, number[]> = {
  dense: [1, 3, 8, 33, 64],
  diagonal: [1, 5, 64],
  monarch: [1, 4, 9, 64, 81],
  butterfly: [2, 4, 16, 64],
};

describe('GRU recurrent products (gru_matvec_*)', () => {
  for (const kind of GRU_STRUCTURES) {
    it(`${kind}: within γ(n)·(|U|·|h|) of the float64 product with its dense equivalent`, () => {
      for (const H of SIZES[kind]) {
        const rec = randomRecurrence(kind, H, H * 3 + 1);
        const h = uniform(H, H + 5, 2);
        const y = matvec(rec, h);
        const U = denseEquivalent(rec);
        const m = recurrenceMatvec(rec, h, true);
        for (let o = 0; o < 3 * H; o++) {
          let r = 0;
          for (let j = 0; j < H; j++) r += U[o * H + j] * h[j];
          // The dense equivalent's own float64 rounding is far below the f32 bound.
          expect(Math.abs(y[o] - r), `${kind} H ${H} o ${o}`).toBeLessThanOrEqual(
            recurrenceBound(kind, H, m[o]),
          );
        }
      }
    });

    it(`${kind}: any split of its units gives the same bits`, () => {
      const H = 16;
      const rec = randomRecurrence(kind, H, 7);
      const h = uniform(H, 8);
      const whole = matvec(rec, h);
      for (const s of splits(gruMatvecUnits(kind, H), 1, 3))
        expect(sameBits(matvec(rec, h, s), whole)).toBe(true);
    });
  }
});

describe('GRU step and scan (gru_gates)', () => {
  it('one step from the same f32 state: within the derived per-element bound, every structure, with and without b_h', () => {
    for (const kind of GRU_STRUCTURES) {
      for (const H of [4, 16, 64]) {
        for (const withBias of [true, false]) {
          const rec = randomRecurrence(kind, H, H + 17, kind === 'dense' ? 2 / Math.sqrt(H) : 0.7);
          const gx = uniform(3 * H, 19, 3);
          const bh = withBias ? uniform(3 * H, 20, 0.5) : null;
          const h = uniform(H, 21);
          const { w, ptrs } = upload(rec);
          const [gxp, hp, bhp] = [put(gx), put(h), bh ? put(bh) : 0];
          const gh = alloc(3 * H);
          const out = alloc(H);
          const s = rt.arena.alloc(gruMatvecScratchBytes(kind, H) + 4);
          gruMatvec(rt, w, hp, gh, s);
          gruGates(rt, gxp, gh, bhp, hp, out, H);
          const got = read(out, H);
          free(...ptrs, gxp, hp, bhp, gh, out, s);
          const ref = referenceGruStepBound(rec, gx, bh, h);
          for (let i = 0; i < H; i++)
            expect(Math.abs(got[i] - ref.h[i]), `${kind} H ${H} i ${i}`).toBeLessThanOrEqual(ref.bound[i]);
        }
      }
    }
  });

  it('gates: ragged ranges give the same bits (scalar tails = lane 0 of the vector code)', () => {
    const H = 23;
    const [gx, gh, bh, h] = [uniform(3 * H, 1, 4), uniform(3 * H, 2, 4), uniform(3 * H, 3), uniform(H, 4)];
    const ps = [put(gx), put(gh), put(bh), put(h)];
    const run = (ranges: [number, number][]) => {
      const out = alloc(H);
      for (const [i0, i1] of ranges) gruGates(rt, ps[0], ps[1], ps[2], ps[3], out, H, i0, i1);
      const r = read(out, H);
      free(out);
      return r;
    };
    const whole = run([[0, H]]);
    for (const s of splits(H, 1, 5)) expect(sameBits(run(s), whole)).toBe(true);
    free(...ps);
  });

  it('a whole scan, replayed step by step: each wasm state within the step bound from its own previous state', () => {
    for (const kind of ['dense', 'diagonal'] as const) {
      const [H, T] = [32, 12];
      const rec = randomRecurrence(kind, H, 90, kind === 'dense' ? 0.3 : 0.9);
      const gx = uniform(T * 3 * H, 91, 2);
      const bh = uniform(3 * H, 92, 0.3);
      const { w, ptrs } = upload(rec);
      const [gxp, bhp] = [put(gx), put(bh)];
      const hs = alloc(T * H);
      const s = rt.arena.alloc(gruScanScratchBytes(kind, H));
      gruScan(rt, w, gxp, bhp, 0, hs, T, s);
      const got = read(hs, T * H);
      free(...ptrs, gxp, bhp, hs, s);
      let prev: Float32Array = new Float32Array(H);
      for (let t = 0; t < T; t++) {
        const ref = referenceGruStepBound(rec, gx.subarray(t * 3 * H, (t + 1) * 3 * H), bh, prev);
        const cur = got.subarray(t * H, (t + 1) * H);
        for (let i = 0; i < H; i++) expect(Math.abs(cur[i] - ref.h[i])).toBeLessThanOrEqual(ref.bound[i]);
        prev = cur;
      }
    }
  });

  it('minGRU through scan_linear: the f32 scan of its coefficients within the scan bound of their float64 scan', () => {
    const [T, H] = [200, 12];
    const k = uniform(T * H, 101, 3);
    const ht = uniform(T * H, 102, 2);
    const h0 = uniform(H, 103);
    const c = minGruCoefficients(k, ht);
    const [a, b] = [Float32Array.from(c.a), Float32Array.from(c.b)];
    const [ap, bp, hp0] = [put(a), put(b), put(h0)];
    const hs = alloc(T * H);
    scanLinear(rt, ap, bp, hp0, hs, T, H);
    const got = read(hs, T * H);
    free(ap, bp, hp0, hs);
    const ref = referenceLinearScan(a, b, h0, T, H);
    for (let i = 0; i < got.length; i++)
      expect(Math.abs(got[i] - ref.h[i])).toBeLessThanOrEqual(
        linearScanBound(Math.floor(i / H), ref.magnitude[i]),
      );
  });
});

describe('GRU scan over a WorkerPool', () => {
  let pool: WorkerPool;
  beforeAll(async () => {
    pool = await WorkerPool.create({ threads: 2, compiled: rt, memory: rt.memory });
  });
  afterAll(() => pool.dispose());

  it('every structure on 2 threads gives the bits of one thread', async () => {
    for (const kind of GRU_STRUCTURES) {
      const [H, T] = [16, 5];
      const rec = randomRecurrence(kind, H, 120);
      const gx = uniform(T * 3 * H, 121, 2);
      const { w, ptrs } = upload(rec);
      const [gxp, h0] = [put(gx), put(uniform(H, 122))];
      const [one, two] = [alloc(T * H), alloc(T * H)];
      const s = rt.arena.alloc(gruScanScratchBytes(kind, H));
      gruScan(rt, w, gxp, 0, h0, one, T, s);
      await gruScanOnPool(pool, rt, w, gxp, 0, h0, two, T, s);
      expect(sameBits(read(two, T * H), read(one, T * H)), kind).toBe(true);
      free(...ptrs, gxp, h0, one, two, s);
    }
  });
});
