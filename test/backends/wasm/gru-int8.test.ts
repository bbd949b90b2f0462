import { describe, expect, it } from 'vitest';
import {
  denseEquivalent,
  recurrenceMatvec,
  referenceGruStepBound,
} from '../../../src/backends/reference/gru.js';
import {
  gruMatvecI8,
  gruMatvecScratchBytes,
  gruMatvecUnits,
  gruScanI8,
  gruScanI8OnPool,
  gruScanI8ScratchBytes,
  type WasmInt8Recurrence,
} from '../../../src/backends/wasm/gru.js';
import {
  GRU_STRUCTURES,
  type GruRecurrence,
  type GruStructure,
  int8ProductRoundings,
  type QuantizedRecurrence,
  quantizeRecurrence,
} from '../../../src/ops/gru.js';
import { quantizeInt8 } from '../../../src/ops/int8-quantizer.js';
import { gamma, UNIT_ROUNDOFF } from '../../../src/oracle/tiers.js';
import { WorkerPool } from '../../../src/scheduler/pool.js';
import { randomRecurrence } from '../../helpers/gru-cases.js';
import { free, put, rng, rt, uniform } from './nn-helpers.js';

const U = UNIT_ROUNDOFF.f32;
const U32 = U;

function putI8(v: Int8Array): number {
  const p = rt.arena.alloc(Math.max(4, v.length));
  rt.u8.set(new Uint8Array(v.buffer, v.byteOffset, v.length), p);
  return p;
}

/** Runs gruScanI8 on a float structure quantized by quantizeRecurrence; returns the state codes [T, H]. */
function scanI8(
  rec: GruRecurrence,
  gx: Float32Array,
  bh: Float32Array | null,
  q0: Int8Array,
  sh: number,
  T: number,
) {
  const q = quantizeRecurrence(rec);
  const H = rec.H;
  const { rec: w, ptrs } = upload(rec.kind, q, H);
  const [gxp, bhp, q0p] = [put(gx), bh ? put(bh) : 0, putI8(q0)];
  const qs = rt.arena.alloc(T * H);
  const scratch = rt.arena.alloc(gruScanI8ScratchBytes(rec.kind, H));
  gruScanI8(rt, w, gxp, bhp, q0p, sh, qs, T, scratch);
  const out = new Int8Array(rt.u8.slice(qs, qs + T * H).buffer);
  free(...ptrs, gxp, bhp, q0p, qs, scratch);
  return { codes: out, q };
}

describe('quantized GRU kernels (gru_matvec_*_i8, gru_gates_i8)', () => {
  for (const kind of GRU_STRUCTURES) {
    it(`${kind}: replayed step by step, each state code is the reference's, except within the f32 bound of a .5 boundary (then ±1)`, () => {
      const H = { dense: 37, diagonal: 37, monarch: 36, butterfly: 32 }[kind];
      const T = 16;
      const rec = randomRecurrence(kind, H, 200, kind === 'dense' ? 0.3 : kind === 'diagonal' ? 0.9 : 0.6);
      const gx = uniform(T * 3 * H, 201, 2);
      const bh = uniform(3 * H, 202, 0.3);
      const r = rng(203);
      const q0 = Int8Array.from({ length: H }, () => Math.floor(r() * 255) - 127);
      const sh = Math.fround(1.1 / 127); // not a power of two: q·s_h rounds in f32
      const { codes, q } = scanI8(rec, gx, bh, q0, sh, T);
      let near = 0;
      let prev: Int8Array = q0;
      for (let t = 0; t < T; t++) {
        const h = Float64Array.from(prev, (c) => c * sh);
        const ref = referenceGruStepBound(q.rec, gx.subarray(t * 3 * H, (t + 1) * 3 * H), bh, h, {
          productRoundings: int8ProductRoundings(kind, H),
          stateRelError: U,
        });
        const cur = codes.subarray(t * H, (t + 1) * H);
        for (let i = 0; i < H; i++) {
          const x = ref.h[i] / sh;
          // The kernel's h'/s_h: within bound/s_h of x, then one f32 division rounding.
          const w = ref.bound[i] / sh + U * (Math.abs(x) + ref.bound[i] / sh);
          const expected = quantizeInt8(ref.h[i], sh);
          const tie = Math.floor(x + w - 0.5) >= Math.ceil(x - w - 0.5); // some k + ½ in [x − w, x + w]
          if (tie) {
            near++;
            expect(Math.abs(cur[i] - expected)).toBeLessThanOrEqual(1);
          } else expect(cur[i], `t ${t} i ${i} x ${x}`).toBe(expected);
        }
        prev = cur;
      }
      expect(near).toBeLessThan((T * H) / 10);
    });
  }

  it('states exactly at .5 of the state step round to even, as in the reference', () => {
    const H = 5;
    // u_z = u_n = 0, gx = 0, no b_h: z = ½ and n = 0 exactly, so h' = h/2 exactly (s_h a power of two).
    const rec: GruRecurrence = { kind: 'diagonal', H, u: [1, 1, 1, 1, 1, ...new Array(10).fill(0)] };
    const q0 = Int8Array.of(5, 7, -5, 3, -127);
    const { codes } = scanI8(rec, new Float32Array(3 * H), null, q0, 2 ** -4, 1);
    expect(Array.from(codes)).toEqual([2, 4, -2, 2, -64]);
  });

  it('saturates the state codes at ±127', () => {
    const H = 4;
    // z = σ(−30) ≈ 0 and n = tanh(±30) = ±1 on a step of 1/200: h'/s_h = ±200 saturates.
    const rec: GruRecurrence = { kind: 'diagonal', H, u: new Array(3 * H).fill(0) };
    const gx = Float32Array.from([0, 0, 0, 0, -30, -30, -30, -30, 30, -30, 30, -30]);
    const { codes } = scanI8(rec, gx, null, new Int8Array(H), Math.fround(1 / 200), 1);
    expect(Array.from(codes)).toEqual([127, -127, 127, -127]);
  });
});

describe('quantized recurrent products (gru_matvec_*_i8)', () => {
  for (const kind of GRU_STRUCTURES) {
    it(`${kind}: within γ(n)·(|U|·|h|) of the dequantized dense equivalent times q_h·s_h; any split of the units gives the same bits`, () => {
      for (const H of { dense: [5, 33], diagonal: [7], monarch: [4, 36, 81], butterfly: [2, 16, 64] }[kind]) {
        const rec = randomRecurrence(kind, H, 500 + H, 0.7);
        const q = quantizeRecurrence(rec);
        const r = rng(501 + H);
        const qh = Int8Array.from({ length: H }, () => Math.floor(r() * 255) - 127);
        const sh = Math.fround(0.9 / 127);
        const h = Float64Array.from(qh, (c) => c * sh);
        const U = denseEquivalent(q.rec);
        const m = recurrenceMatvec(q.rec, h, true);
        const n = int8ProductRoundings(kind, H);
        const units = gruMatvecUnits(kind, H);
        let whole: Float32Array | undefined;
        for (const split of [
          [0, units],
          [0, 1, units],
        ]) {
          const { y } = matvecI8(rec.kind, q, H, qh, sh, split);
          whole ??= y;
          expect(Buffer.from(y.buffer).equals(Buffer.from(whole.buffer))).toBe(true);
        }
        const y = whole as Float32Array;
        for (let o = 0; o < 3 * H; o++) {
          let exact = 0;
          for (let j = 0; j < H; j++) exact += U[o * H + j] * h[j];
          // The dense equivalent's float64 sum adds its own roundings (≤ 2^-50 relative of the magnitude).
          const bound = gamma(n, U32) * m[o] + n * 2 ** -149 + 2 ** -50 * m[o];
          if (!(Math.abs(y[o] - exact) <= bound))
            expect.fail(`${kind} H ${H} o ${o}: ${y[o]} vs ${exact} ± ${bound}`);
        }
      }
    });
  }

  it('the scan over a pool gives the bits of one thread, gates included', async () => {
    const pool = await WorkerPool.create({ threads: 2, compiled: rt, memory: rt.memory });
    try {
      for (const kind of GRU_STRUCTURES) {
        const H = 64;
        const T = 5;
        const q = quantizeRecurrence(randomRecurrence(kind, H, 600, 0.6));
        const w = upload(kind, q, H);
        const [gx, bh] = [put(uniform(T * 3 * H, 601, 2)), put(uniform(3 * H, 602, 0.3))];
        const q0 = putI8(Int8Array.from({ length: H }, (_, i) => ((i * 37) % 255) - 127));
        const sh = Math.fround(1 / 127);
        const outs: Uint8Array[] = [];
        for (const onPool of [false, true]) {
          const qs = rt.arena.alloc(T * H);
          const gates = rt.arena.alloc(T * 3 * H * 4);
          const scratch = rt.arena.alloc(gruScanI8ScratchBytes(kind, H));
          if (onPool) await gruScanI8OnPool(pool, w.rec, gx, bh, q0, sh, qs, T, scratch, gates);
          else gruScanI8(rt, w.rec, gx, bh, q0, sh, qs, T, scratch, gates);
          outs.push(
            Uint8Array.of(...rt.u8.slice(qs, qs + T * H), ...rt.u8.slice(gates, gates + T * 3 * H * 4)),
          );
          free(qs, gates, scratch);
        }
        expect(Buffer.from(outs[0]).equals(Buffer.from(outs[1])), kind).toBe(true);
        free(...w.ptrs, gx, bh, q0);
      }
    } finally {
      await pool.dispose();
    }
  });
});

/** A quantized structure's codes and scales in wasm memory. */
function upload(kind: GruStructure, q: QuantizedRecurrence, H: number) {
  const ptrs: number[] = [];
  const c = (name: string) => ptrs[ptrs.push(putI8(q.codes[name])) - 1];
  const s = (name: string) => ptrs[ptrs.push(put(q.scales[name])) - 1];
  const rec: WasmInt8Recurrence =
    kind === 'dense' || kind === 'diagonal'
      ? { kind, H, qu: c('u'), su: s('u') }
      : kind === 'monarch'
        ? { kind: 'monarch', H, q1: c('b1'), s1: s('b1'), q2: c('b2'), s2: s('b2') }
        : { kind: 'butterfly', H, qw: c('w'), sw: s('w') };
  return { rec, ptrs };
}

function matvecI8(
  kind: GruStructure,
  q: QuantizedRecurrence,
  H: number,
  qh: Int8Array,
  sh: number,
  split: number[],
) {
  const w = upload(kind, q, H);
  const qp = putI8(qh);
  const y = rt.arena.alloc(3 * H * 4);
  const scratch = rt.arena.alloc(Math.max(16, gruMatvecScratchBytes(kind, H)));
  for (let i = 0; i + 1 < split.length; i++)
    gruMatvecI8(rt, w.rec, qp, sh, y, scratch, split[i], split[i + 1]);
  const out = rt.f32(y, 3 * H).slice();
  free(...w.ptrs, qp, y, scratch);
  return { y: out };
}
