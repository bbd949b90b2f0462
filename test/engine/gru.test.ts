/**
 * engine.gru on the wasm and reference engines (semantics: src/ops/gru.ts).
 * Each wasm step is replayed in float64 from the wasm's own previous state and
 * must lie within the step's derived f32 bound (the quantized GRU: the same
 * state code, except where the bound reaches a .5 boundary); the pool gives
 * the bits of one thread; every structure agrees with its dense equivalent.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  denseEquivalent,
  referenceGruScan,
  referenceGruStepBound,
} from '../../src/backends/reference/gru.js';
import { GRU_POOL_MIN_FLOPS } from '../../src/backends/wasm/gru-op.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { ShapeError } from '../../src/errors.js';
import {
  GRU_STRUCTURES,
  type GruRecurrence,
  type GruStructure,
  gruShapes,
  int8ProductRoundings,
  quantizeRecurrence,
  recurrenceFlops,
} from '../../src/ops/gru.js';
import {
  Int8Quantizer,
  QuantizerInputError,
  QuantizerStateError,
  quantizeInt8,
} from '../../src/ops/int8-quantizer.js';
import { UNIT_ROUNDOFF } from '../../src/oracle/tiers.js';
import { uniform } from '../backends/wasm/nn-helpers.js';
import { gruWeightTensors, randomRecurrence, recurrenceScale } from '../helpers/gru-cases.js';

const U = UNIT_ROUNDOFF.f32;
const engines: Engine[] = [];
async function engine(backend: 'wasm' | 'reference', threads?: number): Promise<Engine> {
  const e = await createEngine({ backend, threads });
  engines.push(e);
  return e;
}
afterAll(async () => {
  for (const e of engines) await e.dispose();
});

interface Case {
  rec: GruRecurrence;
  gx: Float32Array;
  bh: Float32Array;
  h0: Float32Array;
  T: number;
}

function gruCase(kind: GruStructure, H: number, T: number, seed: number): Case {
  const scale = recurrenceScale(kind, H);
  return {
    rec: randomRecurrence(kind, H, seed, scale),
    gx: uniform(T * 3 * H, seed + 10, 2),
    bh: uniform(3 * H, seed + 11, 0.3),
    h0: uniform(H, seed + 12, 0.9),
    T,
  };
}

async function run(e: Engine, c: Case, opts: { int8?: Int8Quantizer; gates?: boolean } = {}) {
  const H = c.rec.H;
  const r = await e.gru?.(e.tensor(c.gx, [c.T, 3 * H]), gruWeightTensors(e, c.rec), {
    bh: e.tensor(c.bh, [3 * H]),
    h0: e.tensor(c.h0, [H]),
    int8: opts.int8 && { state: opts.int8 },
    gates: opts.gates,
  });
  if (!r) throw new Error(`${e.backend} has no gru`);
  return { h: await r.h.read(), gates: r.gates ? await r.gates.read() : undefined };
}

/** Steps (t, i) where h is outside the bound of one float64 step from its own previous state. */
function replayF32(c: Case, h: Float32Array): string[] {
  const H = c.rec.H;
  const bad: string[] = [];
  for (let t = 0; t < c.T; t++) {
    const prev = t ? h.subarray((t - 1) * H, t * H) : c.h0;
    const ref = referenceGruStepBound(c.rec, c.gx.subarray(t * 3 * H, (t + 1) * 3 * H), c.bh, prev);
    for (let i = 0; i < H; i++)
      if (!(Math.abs(h[t * H + i] - ref.h[i]) <= ref.bound[i]))
        bad.push(`t ${t} i ${i}: ${h[t * H + i]} vs ${ref.h[i]} ± ${ref.bound[i]}`);
  }
  return bad;
}

const SIZES: Record<GruStructure, number> = { dense: 24, diagonal: 19, monarch: 16, butterfly: 16 };

describe('engine.gru (f32)', () => {
  for (const kind of GRU_STRUCTURES) {
    it(`${kind}: wasm within the per-step f32 bound of the float64 step from its own state; reference agrees`, async () => {
      const c = gruCase(kind, SIZES[kind], 12, 7 + kind.length);
      const w = await run(await engine('wasm', 2), c, { gates: true });
      expect(replayF32(c, w.h)).toEqual([]);
      // The reference engine is the float64 scan rounded once.
      const r = await run(await engine('reference'), c, { gates: true });
      const gates = new Float64Array(c.T * 3 * c.rec.H);
      expect(r.h).toEqual(Float32Array.from(referenceGruScan(c.rec, c.gx, c.bh, c.h0, gates)));
      expect(r.gates).toEqual(Float32Array.from(gates));
    });
  }

  it('gates: h_t is (1 − z)·n + z·h_{t−1} of the returned r, z, n in f32, bit for bit; r within its bound', async () => {
    for (const kind of GRU_STRUCTURES) {
      const c = gruCase(kind, SIZES[kind], 6, 40);
      const H = c.rec.H;
      const { h, gates } = await run(await engine('wasm', 2), c, { gates: true });
      const g = gates as Float32Array;
      const f = Math.fround;
      for (let t = 0; t < c.T; t++)
        for (let i = 0; i < H; i++) {
          const [z, n] = [g[t * 3 * H + H + i], g[t * 3 * H + 2 * H + i]];
          const prev = t ? h[(t - 1) * H + i] : c.h0[i];
          expect(h[t * H + i]).toBe(f(f(f(1 - z) * n) + f(z * prev)));
        }
      // Gates match the float64 step's from the same state to a few ulps of the exp kernel.
      const ref = new Float64Array(3 * H);
      referenceGruScan(c.rec, c.gx.subarray(0, 3 * H), c.bh, c.h0, ref);
      for (let i = 0; i < 3 * H; i++) expect(Math.abs(g[i] - ref[i])).toBeLessThan(2 ** -18);
    }
  });

  it('threads: 1 and 2 give the same bits (dense H = 1024: the pool splits each step)', async () => {
    // The pool drivers of every structure are checked against one thread in test/backends/wasm/gru*.test.ts.
    const one = await engine('wasm', 1);
    const two = await engine('wasm', 2);
    const H: Record<GruStructure, number> = { dense: 1024, diagonal: 64, monarch: 64, butterfly: 64 };
    expect(recurrenceFlops('dense', 1024)).toBeGreaterThanOrEqual(GRU_POOL_MIN_FLOPS);
    for (const kind of GRU_STRUCTURES) {
      const c = gruCase(kind, H[kind], 2, 60);
      for (const int8 of [undefined, frozenState(0.9)]) {
        const [a, b] = [await run(one, c, { int8, gates: true }), await run(two, c, { int8, gates: true })];
        const same = (x?: Float32Array, y?: Float32Array) =>
          Buffer.from((x as Float32Array).buffer).equals(Buffer.from((y as Float32Array).buffer));
        expect(same(a.h, b.h), `${kind} ${int8 ? 'int8' : 'f32'}`).toBe(true);
        expect(same(a.gates, b.gates)).toBe(true);
      }
    }
  });

  it('every structure agrees with its dense equivalent (dyadic parameters: the dense U is exact in f32)', async () => {
    const w = await engine('wasm', 2);
    const ref = await engine('reference');
    for (const kind of ['diagonal', 'monarch', 'butterfly'] as const) {
      const H = 16;
      const c = gruCase(kind, H, 5, 80);
      const p = c.rec as unknown as Record<string, Float32Array>;
      for (const name of Object.keys(gruShapes(kind, H))) p[name] = p[name].map((v) => Math.round(v * 8) / 8);
      const U = denseEquivalent(c.rec);
      const dense: GruRecurrence = { kind: 'dense', H, u: Float32Array.from(U) };
      expect(Float64Array.from(dense.u)).toEqual(U);
      // Reference: the same float64 scan up to summation order, each rounded once to f32
      // (|h| < 1: the two roundings differ by at most one f32 ulp, 2^-24 below 1).
      const [rs, rd] = [await run(ref, c), await run(ref, { ...c, rec: dense })];
      for (let i = 0; i < rs.h.length; i++) expect(Math.abs(rs.h[i] - rd.h[i])).toBeLessThanOrEqual(2 ** -24);
      // Wasm: the structured kernel and the dense kernel on the dense equivalent, each within its own bound.
      expect(replayF32(c, (await run(w, c)).h)).toEqual([]);
      expect(replayF32({ ...c, rec: dense }, (await run(w, { ...c, rec: dense })).h)).toEqual([]);
    }
  });
});

function frozenState(amax: number, scale?: number): Int8Quantizer {
  if (scale) return Int8Quantizer.fromScales({ granularity: 'per-tensor' }, [scale]);
  const q = new Int8Quantizer({ granularity: 'per-tensor', calibration: { method: 'max-abs' } });
  q.observe([amax]);
  q.freeze();
  return q;
}

describe('engine.gru (int8)', () => {
  for (const kind of GRU_STRUCTURES) {
    it(`${kind}: each wasm state code is the reference step's from the wasm's own state, except within the bound of a .5 boundary`, async () => {
      const c = gruCase(kind, SIZES[kind], 16, 100 + kind.length);
      const H = c.rec.H;
      const state = frozenState(1.1); // s_h = 1.1/127, not a power of two: q·s_h rounds in f32
      const sh = state.scales()[0];
      const { h } = await run(await engine('wasm', 2), c, { int8: state });
      const q = quantizeRecurrence(c.rec);
      let near = 0;
      let prev = Float64Array.from(c.h0, (v) => quantizeInt8(v, sh) * sh);
      for (let t = 0; t < c.T; t++) {
        const ref = referenceGruStepBound(q.rec, c.gx.subarray(t * 3 * H, (t + 1) * 3 * H), c.bh, prev, {
          productRoundings: int8ProductRoundings(kind, H),
          stateRelError: U,
        });
        const cur = new Float64Array(H);
        for (let i = 0; i < H; i++) {
          const code = Math.round(h[t * H + i] / sh);
          expect(h[t * H + i]).toBe(Math.fround(code * sh)); // the output is f32(q·s_h)
          const x = ref.h[i] / sh;
          const wdt = ref.bound[i] / sh + U * (Math.abs(x) + ref.bound[i] / sh);
          const expected = quantizeInt8(ref.h[i], sh);
          if (Math.floor(x + wdt - 0.5) >= Math.ceil(x - wdt - 0.5)) {
            near++;
            expect(Math.abs(code - expected)).toBeLessThanOrEqual(1);
          } else expect(code, `t ${t} i ${i} x ${x}`).toBe(expected);
          cur[i] = code * sh;
        }
        prev = cur;
      }
      expect(near).toBeLessThan((c.T * H) / 10);
    });
  }

  for (const kind of GRU_STRUCTURES) {
    it(`${kind}: states exactly at .5 of the state step round to even on both engines`, async () => {
      // U's z and n gates zero, gx = 0, no b_h: z = ½ and n = 0 exactly, so h' = h/2 exactly (s_h = 2^-4).
      const H = 4;
      const rec = randomRecurrence(kind, H, 5, 0.5);
      const p = rec as unknown as Record<string, Float32Array>;
      for (const name of Object.keys(gruShapes(kind, H)))
        p[name] = p[name].map((v, i) => (i < p[name].length / 3 ? v : 0));
      const h0 = Float32Array.from([5, 7, -5, 3], (q) => q / 16);
      for (const e of [await engine('wasm', 2), await engine('reference')]) {
        const r = await e.gru?.(e.tensor(new Float32Array(3 * H), [1, 3 * H]), gruWeightTensors(e, rec), {
          h0: e.tensor(h0, [H]),
          int8: { state: frozenState(0, 2 ** -4) },
        });
        expect(
          Array.from(await (r as { h: Tensor }).h.read(), (v) => v * 16),
          e.backend,
        ).toEqual([2, 4, -2, 2]);
      }
    });
  }

  it('a NaN reaching the state is a QuantizerInputError naming its step on both engines, 1 and 2 threads', async () => {
    // int8 has no code for NaN: the reference's quantizer refuses it; wasm's kernel marks it (−128) for the host.
    const engines = [await engine('wasm', 1), await engine('wasm', 2), await engine('reference')];
    const sizes = { ...SIZES, dense: 1024 }; // dense 1024: the 2-thread scan runs on the pool
    for (const kind of GRU_STRUCTURES) {
      const H = sizes[kind];
      for (const [what, edit, step] of [
        ['gx at step 2', (c: Case) => (c.gx[2 * 3 * H + 2 * H + 1] = Number.NaN), 2],
        ['bh', (c: Case) => (c.bh[H - 1] = Number.NaN), 0],
      ] as const) {
        const c = gruCase(kind, H, 4, 70);
        edit(c);
        for (const e of engines) {
          const r = run(e, c, { int8: frozenState(0.9) });
          const where = `${kind}, NaN ${what}, ${e.backend}`;
          await expect(r, where).rejects.toThrow(QuantizerInputError);
          await expect(r, where).rejects.toThrow(`int8 quantization of NaN (the state after step ${step})`);
        }
      }
    }
    // A NaN h0 or weight is refused before the scan, by the quantizers both engines share.
    const c = gruCase('dense', 8, 2, 71);
    c.h0[3] = Number.NaN;
    const d = gruCase('dense', 8, 2, 72);
    if (d.rec.kind !== 'dense') throw new Error('a dense case');
    const u = Float32Array.from(d.rec.u);
    u[5] = Number.NaN;
    d.rec = { ...d.rec, u };
    for (const bad of [c, d]) {
      const errors = await Promise.all(
        engines.map((e) => run(e, bad, { int8: frozenState(0.9) }).catch((x) => x)),
      );
      for (const x of errors) expect(x).toBeInstanceOf(QuantizerInputError);
      expect(new Set(errors.map((x) => (x as Error).message)).size).toBe(1);
    }
  });

  it('frozen per-channel weight quantizers are used as given, on both engines alike', async () => {
    const c = gruCase('dense', 8, 4, 300);
    const H = 8;
    // Scales twice max-abs's: different codes from the default.
    const def = quantizeRecurrence(c.rec);
    const wq = Int8Quantizer.fromScales(
      { granularity: 'per-channel', channels: 3 * H, axis: 0 },
      Array.from(def.scales.u, (s) => 2 * s),
    );
    const state = frozenState(1);
    const out: Float32Array[] = [];
    for (const e of [await engine('wasm', 2), await engine('reference')]) {
      const r = await e.gru?.(e.tensor(c.gx, [c.T, 3 * H]), gruWeightTensors(e, c.rec), {
        h0: e.tensor(c.h0, [H]),
        int8: { state, weights: { u: wq } },
      });
      out.push(await (r as { h: Tensor }).h.read());
    }
    const sh = state.scales()[0];
    expect(Array.from(out[0], (v) => Math.round(v / sh))).toEqual(
      Array.from(out[1], (v) => Math.round(v / sh)),
    );
  });
});

describe('engine.gru errors', () => {
  it('names the operand that is wrong', async () => {
    for (const e of [await engine('wasm', 1), await engine('reference')]) {
      const H = 4;
      const gx = e.tensor(new Float32Array(2 * 3 * H), [2, 3 * H]);
      const dense = { kind: 'dense' as const, u: e.tensor(new Float32Array(3 * H * H), [3 * H, H]) };
      const gru = e.gru?.bind(e) as NonNullable<Engine['gru']>;
      await expect(gru(e.tensor(new Float32Array(10), [2, 5]), dense)).rejects.toThrow(
        /gx must be \[T, 3H\]/,
      );
      await expect(gru(gx, { kind: 'dense', u: e.tensor(new Float32Array(3 * H), [3 * H]) })).rejects.toThrow(
        ShapeError,
      );
      await expect(gru(gx, { kind: 'monarch', b1: dense.u, b2: dense.u })).rejects.toThrow(
        /b1 must be \[3,2,2,2\]/,
      );
      await expect(gru(gx, dense, { h0: e.tensor(new Float32Array(3), [3]) })).rejects.toThrow(
        /h0 must be \[4\]/,
      );
      const open = new Int8Quantizer({ granularity: 'per-tensor', calibration: { method: 'max-abs' } });
      await expect(gru(gx, dense, { int8: { state: open } })).rejects.toThrow(QuantizerStateError);
      const full = Int8Quantizer.fromScales({ granularity: 'per-tensor', range: 'full' }, [0.1]);
      await expect(gru(gx, dense, { int8: { state: full } })).rejects.toThrow(/narrow/);
      const wrong = Int8Quantizer.fromScales(
        { granularity: 'per-channel', channels: H, axis: 0 },
        [1, 1, 1, 1],
      );
      await expect(
        gru(gx, dense, { int8: { state: frozenState(1), weights: { u: wrong } } }),
      ).rejects.toThrow(/12 channels/);
    }
  });
});
