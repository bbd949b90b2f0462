/**
 * engine.gru on WebGPU (f32 and int8, every structure): each GPU step replayed in
 * float64 from the GPU's own previous state lies within gpuGruStepBound —
 * the reference step bound with WGSL's numerics (1 ULP per + − × since no
 * rounding mode is fixed, exp (3 + 2|x|) ULP, 2.5-ULP division); the gates
 * r, z, n within their bounds; int8 state codes the exact rounding of h'/s_h.
 * On SwiftShader the step kernels (the last product stage fused into the
 * gates) give the bits the unfused kernels gave (digests recorded from them).
 * int8 U is quantized once per tensor and weight quantizer: later calls read
 * nothing back and give the same bits; mutable tensors are quantized again.
 */
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { f32Bits } from '../../../src/backends/webgpu/context.js';
import { gpuGruStepBound } from '../../../src/backends/webgpu/ops/gru-bound.js';
import type { GpuTensor } from '../../../src/backends/webgpu/tensor.js';
import { gruStateCodeWgsl } from '../../../src/backends/webgpu/wgsl/gru.js';
import { createEngine } from '../../../src/engine/engine.js';
import type { Tensor } from '../../../src/engine/tensor.js';
import {
  type GruInt8Options,
  type GruRecurrence,
  type GruStructure,
  type GruWeights,
  gruArrays,
  int8ProductRoundings,
  quantizeRecurrence,
} from '../../../src/ops/gru.js';
import { Int8Quantizer, QuantizerInputError, quantizeInt8 } from '../../../src/ops/int8-quantizer.js';
import { gruWeightTensors, randomRecurrence, recurrenceScale } from '../../helpers/gru-cases.js';
import { webgpuEngine } from '../../helpers/webgpu.js';
import { rng, uniform } from '../wasm/nn-helpers.js';

const gpu = await webgpuEngine();

const SIZES: Record<GruStructure, number[]> = {
  dense: [1, 8, 33, 70],
  diagonal: [5, 64],
  monarch: [4, 9, 64],
  butterfly: [2, 16, 64, 128],
};

const BITS_CASES: [GruStructure, number][] = [
  ['dense', 8],
  ['dense', 33],
  ['diagonal', 5],
  ['diagonal', 64],
  ['monarch', 9],
  ['monarch', 64],
  ['butterfly', 2],
  ['butterfly', 16],
  ['butterfly', 64],
];
const SWIFTSHADER_BITS = [
  'dense 8 f32 ccc35122af370ae1',
  'dense 8 int8 7cc7c0ac49f90f85',
  'dense 33 f32 6bdc68f2ab0a7809',
  'dense 33 int8 98ba281b8a92675d',
  'diagonal 5 f32 21564f9e2dd102fd',
  'diagonal 5 int8 eca1689b540257a8',
  'diagonal 64 f32 62a4f8d7ac1d394b',
  'diagonal 64 int8 619f30e4377fc24a',
  'monarch 9 f32 7c871d6b4e550c16',
  'monarch 9 int8 de66d15ae2492363',
  'monarch 64 f32 a8f9d11d51212eef',
  'monarch 64 int8 014f5a8d856ef9e7',
  'butterfly 2 f32 8a3d2f6f8e2512a0',
  'butterfly 2 int8 e3020a5b86d455bf',
  'butterfly 16 f32 3f6f4a4c9b639126',
  'butterfly 16 int8 6ec6e2ec3a9e160e',
  'butterfly 64 f32 00873ba1295af864',
  'butterfly 64 int8 8e62f0043ed95e94',
];

describe.skipIf(!gpu)('gru on WebGPU', () => {
  const e = gpu!;
  afterAll(() => e.dispose());

  it('every structure: each step within the derived bound from the GPU’s own previous state, gates too', async () => {
    for (const kind of Object.keys(SIZES) as GruStructure[])
      for (const H of SIZES[kind])
        for (const withOptional of [true, false]) {
          const T = 6;
          const scale = recurrenceScale(kind, H);
          const rec = randomRecurrence(kind, H, H + 3, scale);
          const gx = uniform(T * 3 * H, H + 4, 2);
          const bh = withOptional ? uniform(3 * H, H + 5, 0.3) : null;
          const h0 = withOptional ? uniform(H, H + 6, 0.9) : null;
          const r = await e.gru(e.tensor(gx, [T, 3 * H]), gruWeightTensors(e, rec), {
            bh: bh && e.tensor(bh, [3 * H]),
            h0: h0 && e.tensor(h0, [H]),
            gates: true,
          });
          const h = await r.h.read();
          const gates = await r.gates!.read();
          expect(r.h.shape).toEqual([T, H]);
          let prev: ArrayLike<number> = h0 ?? new Float32Array(H);
          const problems: string[] = [];
          for (let t = 0; t < T; t++) {
            const ref = gpuGruStepBound(rec, gx.subarray(t * 3 * H, (t + 1) * 3 * H), bh, prev);
            const cur = h.subarray(t * H, (t + 1) * H);
            const g = gates.subarray(t * 3 * H, (t + 1) * 3 * H);
            for (let i = 0; i < H; i++)
              if (!(Math.abs(cur[i] - ref.h[i]) <= ref.bound[i]))
                problems.push(`t ${t} h[${i}] ${cur[i]} vs ${ref.h[i]} (bound ${ref.bound[i]})`);
            for (let i = 0; i < 3 * H; i++)
              if (!(Math.abs(g[i] - ref.gates[i]) <= ref.gateBound[i]))
                problems.push(`t ${t} gate ${i} ${g[i]} vs ${ref.gates[i]} (bound ${ref.gateBound[i]})`);
            prev = cur;
          }
          expect(problems.slice(0, 3), `${kind} H ${H}`).toEqual([]);
        }
    expect(e.opReport().gru.cpu).toBe(0);
  });

  /**
   * The SHA-256 of h and the gates, f32 and int8, every structure: the step kernels' bits as the kernels
   * before the gates absorbed the last product stage gave them on SwiftShader (recorded then). Only
   * that driver: another may round a + b·c differently (fused or not), the bounds above hold there.
   */
  it('SwiftShader: the fused step kernels give the bits the unfused kernels gave', async () => {
    const got: string[] = [];
    for (const [kind, H] of BITS_CASES)
      for (const int8 of [false, true]) {
        const T = 5;
        const rec = randomRecurrence(kind, H, H + 30, recurrenceScale(kind, H));
        const U = gruWeightTensors(e, rec);
        const r = await e.gru(e.tensor(uniform(T * 3 * H, H + 31, 2), [T, 3 * H]), U, {
          bh: e.tensor(uniform(3 * H, H + 32, 0.3), [3 * H]),
          h0: e.tensor(uniform(H, H + 33, 0.9), [H]),
          gates: true,
          ...(int8 && { int8: { state: stateQuantizer(Math.fround(1.1 / 127)) } }),
        });
        const hash = createHash('sha256');
        hash.update(new Uint8Array((await r.h.read()).buffer));
        hash.update(new Uint8Array((await r.gates!.read()).buffer));
        got.push(`${kind} ${H} ${int8 ? 'int8' : 'f32'} ${hash.digest('hex').slice(0, 16)}`);
      }
    if (!/swiftshader/i.test(e.device.description)) return;
    expect(got).toEqual(SWIFTSHADER_BITS);
  });

  function stateQuantizer(scale: number) {
    const q = new Int8Quantizer({
      granularity: 'per-tensor',
      range: 'narrow',
      calibration: { method: 'max-abs' },
    });
    q.observe([scale * 127]);
    q.freeze();
    return q;
  }

  async function gruI8(
    rec: GruRecurrence,
    gx: Float32Array,
    bh: Float32Array | null,
    h0: Float32Array | null,
    sh: number,
    T: number,
  ) {
    const H = rec.H;
    const state = stateQuantizer(sh);
    const r = await e.gru(e.tensor(gx, [T, 3 * H]), gruWeightTensors(e, rec), {
      bh: bh && e.tensor(bh, [3 * H]),
      h0: h0 && e.tensor(h0, [H]),
      int8: { state },
    });
    return { h: await r.h.read(), state };
  }

  it('state codes: the exact round-half-to-even of h/s_h, saturated, on any values (ties, subnormals, huge)', async () => {
    const sh = Math.fround(1.1 / 127);
    const r = rng(5);
    const h = new Float32Array(4096);
    for (let i = 0; i < h.length; i++) {
      const k = Math.floor(r() * 300) - 150;
      // Exact ties k + ½ where representable, their f32 neighbours, and random values.
      h[i] =
        i % 4 === 0 ? Math.fround((k + 0.5) * sh) : i % 4 === 1 ? (k + 0.5) * sh : (r() * 2 - 1) * 150 * sh;
    }
    h.set(
      [0, -0, 1e-45, -1e-40, 3e38, -3e38, sh * 0.5, sh * 1.5, sh * 2.5, -sh * 2.5, sh * 127.5, -sh * 127.5],
      0,
    );
    const ctx = e.host.ctx;
    const hb = ctx.upload(new Uint8Array(h.buffer), 'h');
    const cb = ctx.buffer(h.length * 4, 'codes');
    ctx.run(gruStateCodeWgsl(), [h.length, f32Bits(sh)], [hb, cb], Math.ceil(h.length / 64));
    const codes = new Int32Array((await ctx.read(cb, h.length * 4)).buffer);
    hb.destroy();
    cb.destroy();
    expect(Array.from(codes)).toEqual(Array.from(h, (v) => quantizeInt8(v, sh)));
    // Powers-of-two steps make the ties exact: half to even.
    const p2 = Float32Array.from([0.5, 1.5, 2.5, -2.5, 3.5, -0.5], (v) => v * 2 ** -4);
    const b2 = ctx.upload(new Uint8Array(p2.buffer), 'h');
    const c2 = ctx.buffer(p2.length * 4, 'codes');
    ctx.run(gruStateCodeWgsl(), [p2.length, f32Bits(2 ** -4)], [b2, c2], 1);
    expect(Array.from(new Int32Array((await ctx.read(c2, p2.length * 4)).buffer))).toEqual([
      0, 2, 2, -2, 4, 0,
    ]);
  });

  for (const kind of ['dense', 'diagonal', 'monarch', 'butterfly'] as const)
    it(`int8 ${kind}: replayed step by step, each state code the reference's except within the bound of a .5 boundary (then ±1)`, async () => {
      const H = { dense: 37, diagonal: 37, monarch: 36, butterfly: 32 }[kind];
      const T = 12;
      const rec = randomRecurrence(kind, H, 200, kind === 'dense' ? 0.3 : kind === 'diagonal' ? 0.9 : 0.6);
      const gx = uniform(T * 3 * H, 201, 2);
      const bh = uniform(3 * H, 202, 0.3);
      const h0 = uniform(H, 203, 1);
      const sh = Math.fround(1.1 / 127); // not a power of two: q·s_h rounds in f32
      const { h, state } = await gruI8(rec, gx, bh, h0, sh, T);
      const q = quantizeRecurrence(rec);
      let near = 0;
      let prev = Int32Array.from(state.quantize(h0));
      const bad: string[] = [];
      for (let t = 0; t < T; t++) {
        const hp = Float64Array.from(prev, (c) => c * sh);
        const ref = gpuGruStepBound(q.rec, gx.subarray(t * 3 * H, (t + 1) * 3 * H), bh, hp, {
          productRoundings: int8ProductRoundings(kind, H),
        });
        const cur = Int32Array.from(h.subarray(t * H, (t + 1) * H), (v) => Math.round(v / sh));
        for (let i = 0; i < H; i++) {
          expect(h[t * H + i]).toBe(Math.fround(cur[i] * sh));
          const x = ref.h[i] / sh;
          const w = ref.bound[i] / sh; // the kernel rounds its own h'/s_h exactly: no division error
          const expected = quantizeInt8(ref.h[i], sh);
          if (Math.floor(x + w - 0.5) >= Math.ceil(x - w - 0.5)) {
            near++;
            if (Math.abs(cur[i] - expected) > 1)
              bad.push(`t ${t} i ${i}: ${cur[i]} vs ${expected} (near .5)`);
          } else if (cur[i] !== expected) bad.push(`t ${t} i ${i}: ${cur[i]} vs ${expected} (x ${x})`);
        }
        prev = cur;
      }
      expect(bad.slice(0, 3)).toEqual([]);
      expect(near).toBeLessThan((T * H) / 10);
    });

  it('int8: states exactly at .5 of the state step round to even; codes saturate at ±127; runs on the GPU', async () => {
    const H = 5;
    // u_z = u_n = 0, gx = 0, no b_h: z = ½ and n = 0 exactly, so h' = h/2 exactly (s_h a power of two).
    const rec: GruRecurrence = { kind: 'diagonal', H, u: [1, 1, 1, 1, 1, ...new Array(10).fill(0)] };
    const h0 = Float32Array.from([5, 7, -5, 3, -127], (c) => c * 2 ** -4);
    const ties = await gruI8(rec, new Float32Array(3 * H), null, h0, 2 ** -4, 1);
    expect(Array.from(ties.h, (v) => v * 16)).toEqual([2, 4, -2, 2, -64]);
    const sat: GruRecurrence = { kind: 'diagonal', H: 4, u: new Array(12).fill(0) };
    const gx = Float32Array.from([0, 0, 0, 0, -30, -30, -30, -30, 30, -30, 30, -30]);
    const s = Math.fround(1 / 200);
    const r = await gruI8(sat, gx, null, null, s, 1);
    expect(Array.from(r.h)).toEqual([127, -127, 127, -127].map((c) => Math.fround(c * s)));
    expect(e.opReport().gru.cpu).toBe(0);
  });

  it('int8: U is quantized once per tensor and weight quantizer (no readback after; kept until U is disposed), the same bits; a new U, quantizer or mutable tensor is quantized again', async () => {
    const H = 16;
    const T = 3;
    const gx = e.tensor(uniform(T * 3 * H, 40, 2), [T, 3 * H]);
    const state = { state: stateQuantizer(Math.fround(1.1 / 127)) };
    const reads = vi.spyOn(e.host.ctx, 'read');
    const arraysOf = (U: GruWeights<Tensor>) => Object.values(gruArrays(U)) as GpuTensor[];
    const run = async (U: GruWeights<Tensor>, int8: GruInt8Options = state) => {
      reads.mockClear();
      const buffers = arraysOf(U).map((t) => t.buffer);
      const r = await e.gru(gx, U, { int8, gates: true });
      // The gates too: f32, moved by any change of the products (a state code may not move).
      const bits = [
        ...new Uint32Array((await r.h.read()).buffer),
        ...new Uint32Array((await r.gates!.read()).buffer),
      ];
      r.h.dispose();
      r.gates!.dispose();
      return { bits, uReads: reads.mock.calls.filter(([b]) => buffers.includes(b)).length };
    };
    /** The same arrays as tensors whose bytes may change (as KV cache views): never kept. */
    const mutable = (U: GruWeights<Tensor>) => {
      const views = Object.entries(gruArrays(U)).map(([n, t]) => [n, (t as GpuTensor).view(t.shape, false)]);
      return { kind: U.kind, ...Object.fromEntries(views) } as GruWeights<Tensor>;
    };
    try {
      for (const kind of ['dense', 'monarch'] as const) {
        const rec = randomRecurrence(kind, H, 41, recurrenceScale(kind, H));
        const U = gruWeightTensors(e, rec);
        const uploads = vi.spyOn(e.host.ctx, 'upload');
        const first = await run(U);
        // The packed arrays kept for U (one upload each), destroyed when U is disposed.
        const kept = uploads.mock.calls.flatMap(([, what], i) =>
          what.startsWith('gru U.') ? [vi.spyOn(uploads.mock.results[i].value as GPUBuffer, 'destroy')] : [],
        );
        uploads.mockRestore();
        expect(kept.length, kind).toBe(arraysOf(U).length);
        expect(first.uReads, kind).toBeGreaterThan(0);
        const second = await run(U);
        expect(second.uReads, `${kind}: the second call reads U back`).toBe(0);
        expect(second.bits, kind).toEqual(first.bits);
        // The uncached path (a mutable view is quantized at every call) gives the same bits.
        const fresh = await run(mutable(U));
        expect(fresh.uReads).toBeGreaterThan(0);
        expect(fresh.bits, kind).toEqual(first.bits);
        // Another U: its own codes, not the first U's.
        const other = gruWeightTensors(e, randomRecurrence(kind, H, 42, recurrenceScale(kind, H)));
        const o = await run(other);
        expect(o.bits).not.toEqual(first.bits);
        expect(o.bits).toEqual((await run(mutable(other))).bits);
        // The same U under other frozen weight quantizers (scales 1.5× max-abs): quantized again.
        const weights = Object.fromEntries(
          Object.entries(quantizeRecurrence(rec).scales).map(([n, sc]) => [
            n,
            Int8Quantizer.fromScales(
              { granularity: 'per-channel', axis: 0, channels: sc.length, range: 'narrow' },
              Array.from(sc, (v) => v * 1.5),
            ),
          ]),
        );
        const w1 = await run(U, { ...state, weights });
        expect(w1.uReads).toBeGreaterThan(0);
        expect(w1.bits).not.toEqual(first.bits);
        expect(w1.bits).toEqual((await run(mutable(U), { ...state, weights })).bits);
        expect((await run(U, { ...state, weights })).uReads).toBe(0);
        expect((await run(U)).bits).toEqual(first.bits);
        expect(kept.every((d) => d.mock.calls.length === 0)).toBe(true);
        for (const t of [...arraysOf(U), ...arraysOf(other)]) t.dispose();
        expect(
          kept.every((d) => d.mock.calls.length === 1),
          'packed arrays destroyed with U',
        ).toBe(true);
        await expect(run(U), 'a disposed U').rejects.toThrow('tensor used after dispose()');
      }
      // A tensor whose bytes change (written in place, as kvWrite does a KV cache view): the new bytes' result.
      const [a, b] = [43, 44].map((seed) => randomRecurrence('diagonal', H, seed, 0.9));
      const owner = arraysOf(gruWeightTensors(e, a))[0];
      const view = { kind: 'diagonal', u: owner.view(owner.shape, false) } as const;
      const before = await run(view);
      const bu = Float32Array.from((b as Extract<GruRecurrence, { kind: 'diagonal' }>).u);
      e.host.ctx.write(owner.buffer, 0, new Uint8Array(bu.buffer));
      const after = await run(view);
      expect(after.bits).not.toEqual(before.bits);
      expect(after.bits).toEqual((await run(gruWeightTensors(e, b))).bits);
      owner.dispose();
    } finally {
      reads.mockRestore();
      gx.dispose();
    }
  });

  it('int8: a NaN reaching the state is a QuantizerInputError naming its step, as on the CPU engines', async () => {
    const ctx = e.host.ctx;
    const hb = ctx.upload(new Uint8Array(Float32Array.of(Number.NaN, -Number.NaN, 1).buffer), 'h');
    const cb = ctx.buffer(12, 'codes');
    ctx.run(gruStateCodeWgsl(), [3, f32Bits(0.5)], [hb, cb], 1);
    // −128: no narrow-range code, the mark the host refuses.
    expect(Array.from(new Int32Array((await ctx.read(cb, 12)).buffer))).toEqual([-128, -128, 2]);
    hb.destroy();
    cb.destroy();
    for (const kind of ['dense', 'diagonal', 'monarch', 'butterfly'] as const) {
      const H = 16;
      const T = 4;
      const rec = randomRecurrence(kind, H, 9, recurrenceScale(kind, H));
      const gx = uniform(T * 3 * H, 10, 2);
      gx[2 * 3 * H + 2 * H + 1] = Number.NaN; // step 2's n gate
      const r = gruI8(rec, gx, null, null, 0.9 / 127, T);
      await expect(r, kind).rejects.toThrow(QuantizerInputError);
      await expect(r, kind).rejects.toThrow('int8 quantization of NaN (the state after step 2)');
    }
  });

  it('f32: a NaN propagates as on the CPU engines (NaN where the wasm engine has NaN, finite elsewhere)', async () => {
    const cpu = await createEngine({ backend: 'wasm', threads: 1 });
    try {
      for (const kind of ['dense', 'diagonal', 'monarch', 'butterfly'] as const) {
        const H = 16;
        const T = 4;
        const rec = randomRecurrence(kind, H, 19, recurrenceScale(kind, H));
        for (const gate of [0, 1, 2]) {
          const gx = uniform(T * 3 * H, 20 + gate, 2);
          gx[2 * 3 * H + gate * H + 3] = Number.NaN; // step 2, element 3 of gate r, z or n
          const run = async (eng: typeof cpu) => {
            const r = await eng.gru!(eng.tensor(gx, [T, 3 * H]), gruWeightTensors(eng, rec), { gates: true });
            return { h: await r.h.read(), gates: await r.gates!.read() };
          };
          const [g, c] = [await run(e), await run(cpu)];
          const nanAt = (v: Float32Array) => Array.from(v, (x) => Number.isNaN(x));
          expect(nanAt(g.h), `${kind} gate ${gate}: h`).toEqual(nanAt(c.h));
          expect(nanAt(g.gates), `${kind} gate ${gate}: gates`).toEqual(nanAt(c.gates));
          expect(nanAt(c.h).some(Boolean)).toBe(true);
        }
      }
    } finally {
      await cpu.dispose();
    }
  });
});
