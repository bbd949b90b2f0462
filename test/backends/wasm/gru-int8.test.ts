import { describe, expect, it } from 'vitest';
import { quantizeRecurrence, referenceGruStepBound } from '../../../src/backends/reference/gru.js';
import { gruScanI8, type WasmInt8Recurrence } from '../../../src/backends/wasm/gru.js';
import type { GruRecurrence } from '../../../src/ops/gru.js';
import { quantizeInt8 } from '../../../src/ops/int8-quantizer.js';
import { UNIT_ROUNDOFF } from '../../../src/oracle/tiers.js';
import { randomRecurrence } from '../../helpers/gru-cases.js';
import { alloc, free, put, rng, rt, uniform } from './nn-helpers.js';

const U = UNIT_ROUNDOFF.f32;

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
  const [qu, su] = [putI8(q.codes.u), put(q.scales.u)];
  const w: WasmInt8Recurrence = { kind: rec.kind as 'dense' | 'diagonal', H, qu, su };
  const [gxp, bhp, q0p] = [put(gx), bh ? put(bh) : 0, putI8(q0)];
  const qs = rt.arena.alloc(T * H);
  const gh = alloc(3 * H);
  gruScanI8(rt, w, gxp, bhp, q0p, sh, qs, T, gh);
  const out = new Int8Array(rt.u8.slice(qs, qs + T * H).buffer);
  free(qu, su, gxp, bhp, q0p, qs, gh);
  return { codes: out, q };
}

describe('quantized GRU kernels (gru_matvec_*_i8, gru_gates_i8)', () => {
  for (const kind of ['dense', 'diagonal'] as const) {
    it(`${kind}: replayed step by step, each state code is the reference's, except within the f32 bound of a .5 boundary (then ±1)`, () => {
      const [H, T] = [37, 16];
      const rec = randomRecurrence(kind, H, 200, kind === 'dense' ? 0.3 : 0.9);
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
          productRoundings: kind === 'dense' ? 3 : 2,
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
