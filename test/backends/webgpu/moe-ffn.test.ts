/**
 * engine.moeFfn on WebGPU (exact numerics, and ggml with q8_0 activations)
 * against referenceMoeFfn (exact) on the GPU's own routing: within gpuMoeFfnBound (src/oracle/moe-bound.ts:
 * the engine's matmul and swiglu under WGSL accuracy, the combine in slot
 * order); slot outputs within the same bound terms; dropped tokens get no
 * routed term; same bits on a rerun.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { referenceMoeFfn } from '../../../src/backends/reference/moe-dispatch.js';
import { groupSlots } from '../../../src/backends/webgpu/ops/moe-ffn.js';
import type { MoeRouteOptions } from '../../../src/ops/moe-route.js';
import { gpuMoeFfnBound } from '../../../src/oracle/moe-bound.js';
import { moeFfnWeights } from '../../helpers/moe-ffn-cases.js';
import { webgpuEngine } from '../../helpers/webgpu.js';
import { uniform } from '../wasm/nn-helpers.js';

const gpu = await webgpuEngine();

const [T, E, D, F, Fs] = [8, 8, 32, 64, 32];

describe.skipIf(!gpu)('moeFfn on WebGPU', () => {
  const e = gpu!;
  afterAll(() => e.dispose());

  const weightsOn = (type: string, shared: boolean) => moeFfnWeights(e, type, shared, { E, D, F, Fs });

  const cases: [MoeRouteOptions, boolean, string, 'exact' | 'ggml'][] = [
    [{ scheme: 'mixtral', k: 2 }, false, 'f32', 'exact'],
    [{ scheme: 'qwen2-moe', k: 4 }, true, 'q8_0', 'exact'],
    [{ scheme: 'switch', k: 1, capacityFactor: 1 }, false, 'q4_0', 'exact'],
    [{ scheme: 'qwen2-moe', k: 4 }, true, 'q8_0', 'ggml'],
  ];
  for (const [routeOpts, shared, type, numerics] of cases)
    it(`${routeOpts.scheme}${shared ? ' + gated shared expert' : ''}, ${type} ${numerics}: within the derived bound of the reference`, async () => {
      const x = uniform(T * D, 11, 1);
      const logits = uniform(T * E, 12, 3);
      const { w, ref, refShared } = weightsOn(type, shared);
      const r = await e.moeRoute(e.tensor(logits, [T, E]), routeOpts);
      const route = {
        weights: await r.weights.read(),
        experts: Int32Array.from(await r.experts.read()),
        dropped: r.dropped,
        droppedCount: r.droppedCount,
      };
      const k = routeOpts.k;
      const res = await e.moeFfn(e.tensor(x, [T, D]), r, w, { slotOutputs: true, numerics });
      const out = await res.out.read();
      const slots = await res.slots!.read();
      const refSlots = new Float64Array(T * k * D);
      const want = referenceMoeFfn(x, T, D, route, k, ref, refShared, refSlots);
      const block = numerics === 'ggml' ? 32 : 0;
      const bound = gpuMoeFfnBound(x, T, D, route, k, ref, refShared, block);
      const bad: string[] = [];
      for (let i = 0; i < T * D; i++)
        if (!(Math.abs(out[i] - want[i]) <= bound[i]))
          bad.push(`out ${i}: ${out[i]} vs ${want[i]} (bound ${bound[i]})`);
      // A slot's bound: its expert's error alone (weight 1, no shared term).
      const one = { ...route, weights: new Float32Array(T * k).fill(1) };
      for (let j = 0; j < k; j++) {
        const only = { ...one, experts: Int32Array.from({ length: T }, (_, t) => route.experts[t * k + j]) };
        const b = gpuMoeFfnBound(x, T, D, only, 1, ref, null, block);
        for (let t = 0; t < T; t++)
          for (let d = 0; d < D; d++) {
            const i = (t * k + j) * D + d;
            if (!(Math.abs(slots[i] - refSlots[i]) <= b[t * D + d]))
              bad.push(`slot ${i}: ${slots[i]} vs ${refSlots[i]}`);
          }
      }
      expect(bad.slice(0, 3)).toEqual([]);
      if (r.dropped) {
        expect(r.droppedCount).toBeGreaterThan(0);
        for (let t = 0; t < T; t++)
          if (r.dropped[t]) expect(slots.subarray(t * D, (t + 1) * D).every((v) => v === 0)).toBe(true);
      }
      const again = await e.moeFfn(e.tensor(x, [T, D]), r, w, { numerics });
      expect(await again.out.read()).toEqual(out);
      expect(again.slots).toBeUndefined();
      expect(e.opReport().moeFfn.cpu).toBe(0);
    });

  it('an f32 up beside a q8_0 gate: each expert slice sized by its own type, within the bound', async () => {
    const x = uniform(T * D, 13, 1);
    const q = weightsOn('q8_0', false);
    const f = weightsOn('f32', false);
    const w = { ...q.w, up: f.w.up };
    const ref = { ...q.ref, up: f.ref.up };
    const r = await e.moeRoute(e.tensor(uniform(T * E, 14, 3), [T, E]), { scheme: 'mixtral', k: 2 });
    const route = {
      weights: await r.weights.read(),
      experts: Int32Array.from(await r.experts.read()),
      dropped: r.dropped,
      droppedCount: r.droppedCount,
    };
    const out = await (await e.moeFfn(e.tensor(x, [T, D]), r, w)).out.read();
    const want = referenceMoeFfn(x, T, D, route, 2, ref, null);
    const bound = gpuMoeFfnBound(x, T, D, route, 2, ref, null, 0);
    const bad: string[] = [];
    for (let i = 0; i < T * D; i++)
      if (!(Math.abs(out[i] - want[i]) <= bound[i])) bad.push(`out ${i}: ${out[i]} vs ${want[i]}`);
    expect(bad.slice(0, 3)).toEqual([]);
  });

  it('groups slots by expert in token order, dropped tokens left out', () => {
    const ids = Int32Array.from([2, 0, 0, 1, 2, 1]);
    const g = groupSlots(ids, 3, 2, 3, Uint8Array.from([0, 1, 0]));
    expect([...g.first]).toEqual([0, 1, 2, 4]);
    expect([...g.slot]).toEqual([1, 5, 0, 4]);
    expect([...g.pos]).toEqual([2, 0, -1, -1, 3, 1]);
  });
});
