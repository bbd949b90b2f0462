import { afterAll, describe, expect, it } from 'vitest';
import { referenceMoeRoute } from '../../../src/backends/reference/moe.js';
import {
  type ReferenceFfnWeights,
  type ReferenceSharedExpert,
  referenceMoeFfn,
} from '../../../src/backends/reference/moe-dispatch.js';
import {
  callingThread,
  type ExpertFfn,
  groupByExpert,
  type MoeDims,
  type MoeNumerics,
  moeFfn,
  type SharedExpert,
} from '../../../src/backends/wasm/moe-dispatch.js';
import { ITEM_GRANULE, type MatmulJob, planItems } from '../../../src/backends/wasm/moe-items.js';
import { dequantize } from '../../../src/ops/dequantize.js';
import type { MoeRouteOptions, MoeRouteResult } from '../../../src/ops/moe-route.js';
import { quantize } from '../../../src/ops/quantize.js';
import { moeFfnBound } from '../../../src/oracle/moe-bound.js';
import { WorkerPool } from '../../../src/scheduler/pool.js';
import { alloc, free, put, read, rt, uniform } from './nn-helpers.js';

function putBytes(b: Uint8Array): number {
  const p = rt.arena.alloc(b.byteLength);
  new Uint8Array(rt.memory.buffer, p, b.byteLength).set(b);
  return p;
}

/** Random expert tensors of one type: the wasm views and the dequantized reference values. */
function experts(type: string, E: number, D: number, F: number, seed: number) {
  const make = (N: number, K: number, s: number) => {
    const bytes = quantize(type, uniform(E * N * K, s, 0.5));
    return { w: { type, ptr: putBytes(bytes), count: E, N, K }, values: dequantize(type, bytes) };
  };
  const g = make(F, D, seed);
  const u = make(F, D, seed + 1);
  const d = make(D, F, seed + 2);
  const ffn: ExpertFfn = { gate: g.w, up: u.w, down: d.w };
  const ref: ReferenceFfnWeights = { gate: g.values, up: u.values, down: d.values, hidden: F };
  return { ffn, ref, ptrs: [g.w.ptr, u.w.ptr, d.w.ptr] };
}

const one = callingThread(rt);
const pools = [
  await WorkerPool.create({ threads: 2, compiled: rt, memory: rt.memory }),
  await WorkerPool.create({ threads: 3, compiled: rt, memory: rt.memory }),
];
afterAll(async () => {
  for (const p of pools) await p.dispose();
});

describe('groupByExpert', () => {
  it('a stable counting sort: tokens in order within each expert, rows per slot, dropped tokens without rows', () => {
    const route: MoeRouteResult = {
      experts: Int32Array.from([2, 0, 0, 1, 2, 1]),
      weights: new Float32Array(6),
      dropped: null,
      droppedCount: 0,
    };
    const g = groupByExpert(route, 3, 2, 3);
    expect([...g.offsets]).toEqual([0, 2, 4, 6]);
    expect([...g.tokens]).toEqual([0, 1, 1, 2, 0, 2]);
    expect([...g.pos]).toEqual([4, 0, 1, 2, 5, 3]);
    expect(g.active).toEqual([0, 1, 2]);
    const sw = groupByExpert(
      {
        experts: Int32Array.from([1, 1, 0]),
        weights: new Float32Array(3),
        dropped: Uint8Array.from([0, 1, 0]),
        droppedCount: 1,
      },
      3,
      1,
      4,
    );
    expect([...sw.offsets]).toEqual([0, 1, 2, 2, 2]);
    expect([...sw.pos]).toEqual([1, -1, 0]);
    expect(sw.active).toEqual([0, 1]);
    expect(() => groupByExpert({ ...route, experts: Int32Array.from([0, 3, 0, 1, 2, 1]) }, 3, 2, 3)).toThrow(
      /outside/,
    );
  });
});

describe('MoE FFN (dispatch, quantized expert matmuls, combine) against the float64 reference', () => {
  const cases: [string, MoeRouteOptions, number, number][] = [
    ['q8_0', { scheme: 'mixtral', k: 2 }, 8, 32],
    ['q4_K', { scheme: 'qwen3-moe', k: 3 }, 4, 256],
    ['q8_0', { scheme: 'switch', k: 1, capacityFactor: 1 }, 4, 64],
    // Float experts (K not a multiple of 4: the in-order tail) take the exact float path.
    ['f16', { scheme: 'mixtral', k: 2 }, 4, 42],
    ['bf16', { scheme: 'qwen3-moe', k: 2 }, 4, 36],
    ['f32', { scheme: 'mixtral', k: 2 }, 4, 20],
  ];
  for (const [type, opts, E, D] of cases)
    it(`${type}, ${opts.scheme}, E ${E}, D ${D}: within the derived bound`, async () => {
      const T = 11;
      const F = D;
      const dims: MoeDims = { tokens: T, dim: D, hidden: F };
      const { ffn, ref, ptrs } = experts(type, E, D, F, E + D);
      const x = uniform(T * D, 7, 1);
      const route = referenceMoeRoute(uniform(T * E, 9, 3), T, E, opts);
      const k = route.plan.k;
      const xp = put(x);
      const out = alloc(T * D);
      await moeFfn(rt, one, xp, route, k, ffn, out, dims);
      const got = read(out, T * D);
      const want = referenceMoeFfn(x, T, D, route, k, ref);
      const bound = moeFfnBound(x, T, D, route, k, ref);
      let worst = 0;
      for (let i = 0; i < T * D; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / bound[i]);
      expect(worst).toBeLessThanOrEqual(1);
      if (type === 'f32') {
        // ggml's f32 vec_dot takes f32 activations: ggml numerics run the same exact float path.
        const out2 = alloc(T * D);
        await moeFfn(rt, one, xp, route, k, ffn, out2, dims, { numerics: 'ggml' });
        expect(new Uint32Array(read(out2, T * D).buffer)).toEqual(new Uint32Array(got.buffer));
        free(out2);
      }
      if (route.dropped)
        for (let t = 0; t < T; t++)
          if (route.dropped[t]) expect(got.subarray(t * D, (t + 1) * D).every((v) => v === 0)).toBe(true);
      free(xp, out, ...ptrs);
    });

  for (const gated of [true, false])
    it(`a shared expert ${gated ? 'gated by sigmoid(gate_inp_shexp·x) (Qwen2-MoE)' : 'added unweighted (DeepSeek)'}`, async () => {
      const T = 6;
      const E = 8;
      const D = 32;
      const F = 32;
      const Fs = 64;
      const dims: MoeDims = { tokens: T, dim: D, hidden: F };
      const { ffn, ref, ptrs } = experts('q8_0', E, D, F, 3);
      const sh = experts('q8_0', 1, D, Fs, 4);
      const gateInp = uniform(D, 5, 0.5);
      const gp = gated ? put(gateInp) : 0;
      const shared: SharedExpert = { ffn: sh.ffn, hidden: Fs, gateInp: gp };
      const refShared: ReferenceSharedExpert = { ...sh.ref, gateInp: gated ? gateInp : null };
      const x = uniform(T * D, 8, 1);
      const route = referenceMoeRoute(uniform(T * E, 10, 3), T, E, { scheme: 'qwen2-moe', k: 2 });
      const xp = put(x);
      const out = alloc(T * D);
      await moeFfn(rt, one, xp, route, 2, ffn, out, dims, { shared });
      const got = read(out, T * D);
      const want = referenceMoeFfn(x, T, D, route, 2, ref, refShared);
      const bound = moeFfnBound(x, T, D, route, 2, ref, refShared);
      for (let i = 0; i < T * D; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(bound[i]);
      free(xp, out, gp, ...ptrs, ...sh.ptrs);
    });

  it.each(['exact', 'ggml'] as const)(
    'bit-identical on 1, 2 and 3 threads, the calling thread alone included (%s numerics)',
    async (numerics: MoeNumerics) => {
      const E = 8;
      const D = 64;
      const F = 96;
      const { ffn, ptrs } = experts('q4_0', E, D, F, 11);
      const sh = experts('f16', 1, D, 64, 12); // exact: the float path; ggml: f16 activations
      const gp = put(uniform(D, 15, 0.5));
      const shared: SharedExpert = { ffn: sh.ffn, hidden: 64, gateInp: gp };
      for (const T of [1, 13]) {
        const dims: MoeDims = { tokens: T, dim: D, hidden: F };
        const x = put(uniform(T * D, 13 + T, 1));
        const route = referenceMoeRoute(uniform(T * E, 14 + T, 3), T, E, { scheme: 'qwen2-moe', k: 3 });
        const out = alloc(T * D);
        const slots = alloc(T * 3 * D);
        const runs: Uint32Array[] = [];
        for (const runner of [one, ...pools]) {
          await moeFfn(rt, runner, x, route, 3, ffn, out, dims, { shared, numerics, slotOutputs: slots });
          runs.push(Uint32Array.from(new Uint32Array(read(out, T * D).buffer)));
          runs.push(Uint32Array.from(new Uint32Array(read(slots, T * 3 * D).buffer)));
        }
        for (let i = 2; i < runs.length; i++) expect(runs[i]).toEqual(runs[i % 2]);
        free(x, out, slots);
      }
      free(gp, ...ptrs, ...sh.ptrs);
    },
  );

  it('ggml numerics (activations quantized to q8_0, integer dots): within the q8 bound, not within the f32 one', async () => {
    const T = 7;
    const E = 8;
    const D = 64;
    const F = 64;
    const Fs = 32;
    const dims: MoeDims = { tokens: T, dim: D, hidden: F };
    const { ffn, ref, ptrs } = experts('q8_0', E, D, F, 21);
    const sh = experts('q8_0', 1, D, Fs, 22);
    const gateInp = uniform(D, 23, 0.5);
    const gp = put(gateInp);
    const x = uniform(T * D, 24, 1);
    const route = referenceMoeRoute(uniform(T * E, 25, 3), T, E, { scheme: 'qwen2-moe', k: 2 });
    const xp = put(x);
    const out = alloc(T * D);
    await moeFfn(rt, one, xp, route, 2, ffn, out, dims, {
      numerics: 'ggml',
      shared: { ffn: sh.ffn, hidden: Fs, gateInp: gp },
    });
    const got = read(out, T * D);
    const refShared: ReferenceSharedExpert = { ...sh.ref, gateInp };
    const want = referenceMoeFfn(x, T, D, route, 2, ref, refShared);
    const q8 = moeFfnBound(x, T, D, route, 2, ref, refShared, 32);
    const f32 = moeFfnBound(x, T, D, route, 2, ref, refShared);
    let worstQ8 = 0;
    let worstF32 = 0;
    for (let i = 0; i < T * D; i++) {
      const err = Math.abs(got[i] - want[i]);
      worstQ8 = Math.max(worstQ8, err / q8[i]);
      worstF32 = Math.max(worstF32, err / f32[i]);
    }
    expect(worstQ8).toBeLessThanOrEqual(1);
    expect(worstF32).toBeGreaterThan(1);
    await expect(
      moeFfn(rt, one, xp, route, 2, { ...ffn, gate: { ...ffn.gate, type: 'q8_K' } }, out, dims, {
        numerics: 'ggml',
      }),
    ).rejects.toThrow(/gate weights of type q8_K have no ggml-numerics kernel/);
    await expect(
      moeFfn(rt, one, xp, route, 2, { ...ffn, down: { ...ffn.down, count: 7 } }, out, dims),
    ).rejects.toThrow(/down is \[7, 64, 64\], expected \[8, 64, 64\]/);
    free(xp, out, gp, ...ptrs, ...sh.ptrs);
  });
});

describe('planItems (expert × column ranges dealt to threads)', () => {
  const job = (M: number, N: number, gated: boolean): MatmulJob => ({
    ggml: false,
    M,
    N,
    K: 64,
    a: { type: 'q8_0', x: 0, w: 0, y: 0 },
    b: gated ? { type: 'q8_0', x: 0, w: 0, y: 0 } : undefined,
  });
  it('covers every column of every job once, on the granule grid, about evenly by cost', () => {
    const jobs = [job(1, 256, true), job(5, 96, true), job(0, 64, true), job(40, 200, true)];
    for (const threads of [1, 2, 3, 7]) {
      const plan = planItems(jobs, threads);
      expect(plan.ranges).toHaveLength(threads);
      const cover = jobs.map((j) => new Uint8Array(j.N));
      const cost = new Array(threads).fill(0);
      plan.ranges.forEach((r, t) => {
        for (let i = r.start; i < r.end; i++) {
          const o = i * 16;
          const M = plan.table[o + 1];
          const N = plan.table[o + 2];
          const [n0, n1] = [plan.table[o + 4], plan.table[o + 5]];
          expect(n0 % ITEM_GRANULE).toBe(0);
          const j = jobs.findIndex((jj) => jj.M === M && jj.N === N);
          for (let n = n0; n < n1; n++) cover[j][n]++;
          cost[t] += (n1 - n0) * (M + 4);
        }
      });
      expect(plan.ranges.at(-1)?.end).toBe(plan.table.length / 16);
      for (const [j, c] of cover.entries()) expect(c.every((v) => v === (jobs[j].M > 0 ? 1 : 0))).toBe(true);
      const total = cost.reduce((a, b) => a + b, 0);
      // Each thread is within one granule of the largest job's column cost of its share.
      for (const c of cost) expect(Math.abs(c - total / threads)).toBeLessThanOrEqual(ITEM_GRANULE * 44);
      expect(plan.maxM).toBe(40);
    }
  });
});
