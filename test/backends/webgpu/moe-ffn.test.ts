/**
 * engine.moeFfn on WebGPU (exact numerics, and ggml with q8_0 activations)
 * against referenceMoeFfn (exact) on the GPU's own routing: within gpuMoeFfnBound (src/oracle/moe-bound.ts:
 * the engine's matmul and swiglu under WGSL accuracy, the combine in slot
 * order); slot outputs within the same bound terms; dropped tokens get no
 * routed term; same bits on a rerun.
 *
 * Expert slices (bound in place where the device binds their offset, else
 * copied once per weight tensor, by the byte-copy kernel where they start
 * mid-word): every layout gives the bits of experts uploaded as tensors of
 * their own — what the engine did before — the copies are counted (made on
 * the first call only, shared by views, disposed with the weights).
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { referenceMoeFfn } from '../../../src/backends/reference/moe-dispatch.js';
import { EXPERT_SLICE_COPY, groupSlots } from '../../../src/backends/webgpu/ops/moe-ffn.js';
import { byteCopyWgsl } from '../../../src/backends/webgpu/wgsl/byte-copy.js';
import { WasmRuntimeError } from '../../../src/errors.js';
import type { MoeRouteOptions } from '../../../src/ops/moe-route.js';
import { gpuMoeFfnBound } from '../../../src/oracle/moe-bound.js';
import {
  expertSliceCases,
  expertSliceWeights,
  moeFfnWeights,
  slotsFromOwnTensors,
} from '../../helpers/moe-ffn-cases.js';
import { webgpuEngine } from '../../helpers/webgpu.js';
import { uniform } from '../wasm/nn-helpers.js';

const gpu = await webgpuEngine();

const [T, E, D, F, Fs] = [8, 8, 32, 64, 32];

afterAll(() => gpu?.dispose());

describe.skipIf(!gpu)('moeFfn on WebGPU', () => {
  const e = gpu!;

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

describe.skipIf(!gpu)('moeFfn expert slices on WebGPU', () => {
  const e = gpu!;
  const { ctx } = e.host;
  const align = ctx.limits.minStorageBufferOffsetAlignment;
  const [T, E, k] = [6, 4, 2];
  // Token t routes to experts t and t + 1 (mod E): every expert gets rows.
  const ids = Int32Array.from({ length: T * k }, (_, s) => (Math.floor(s / k) + (s % k)) % E);
  const route = () => ({
    weights: e.tensor(uniform(T * k, 31, 1), [T, k]),
    experts: e.tensor(Float32Array.from(ids), [T, k]),
    dropped: null,
    droppedCount: 0,
  });
  const bits = (v: Float32Array) => Array.from(new Uint32Array(v.buffer, v.byteOffset, v.length));

  /** fn's result, the expert slice copies it allocated (their buffers) and its byte-copy dispatches. */
  async function counting<R>(fn: () => Promise<R>) {
    const buffer = vi.spyOn(ctx, 'buffer');
    const run = vi.spyOn(ctx, 'run');
    try {
      const r = await fn();
      const copies = buffer.mock.calls.flatMap(([, what], i) =>
        what === EXPERT_SLICE_COPY ? [buffer.mock.results[i].value as GPUBuffer] : [],
      );
      return { r, copies, byteCopies: run.mock.calls.filter(([code]) => code === byteCopyWgsl()).length };
    } finally {
      buffer.mockRestore();
      run.mockRestore();
    }
  }
  /** Experts of a tensor whose slices the device cannot bind in place, and those starting mid-word. */
  const expected = (bytes: Uint8Array[]) => {
    const starts = bytes.flatMap((b) => Array.from({ length: E }, (_, ex) => (ex * b.length) / E));
    return {
      copies: starts.filter((at) => at % align !== 0).length,
      byteCopies: starts.filter((at) => at % 4 !== 0).length,
    };
  };

  for (const c of expertSliceCases)
    it(`${c.name}: slices in place and copied give the bits of per-expert tensors; copied once`, async () => {
      const x = uniform(T * c.D, 32, 1);
      const xt = e.tensor(x, [T, c.D]);
      const r = route();
      const { w, bytes } = expertSliceWeights(e, c, E);
      const call = (numerics: 'exact' | 'ggml') => e.moeFfn(xt, r, w, { slotOutputs: true, numerics });
      const first = await counting(() => call('exact'));
      expect({ copies: first.copies.length, byteCopies: first.byteCopies }).toEqual(expected(bytes));
      const want = await slotsFromOwnTensors(e, c, bytes, x, ids, T, k, E);
      expect(bits(await first.r.slots!.read())).toEqual(bits(want));
      // Later calls, any numerics, copy nothing.
      const again = await counting(() => call('exact'));
      expect({ copies: again.copies.length, byteCopies: again.byteCopies }).toEqual({
        copies: 0,
        byteCopies: 0,
      });
      expect(bits(await again.r.out.read())).toEqual(bits(await first.r.out.read()));
      const ggml = await counting(() => call('ggml'));
      expect(ggml.copies.length + ggml.byteCopies).toBe(0);
      const wantGgml = await slotsFromOwnTensors(e, c, bytes, x, ids, T, k, E, 'ggml');
      expect(bits(await ggml.r.slots!.read())).toEqual(bits(wantGgml));
      expect(e.opReport().moeFfn.cpu).toBe(0);
      for (const t of [xt, r.weights, r.experts, w.gate, w.up, w.down]) t.dispose();
      for (const res of [first.r, again.r, ggml.r]) for (const t of [res.out, res.slots]) t?.dispose();
    });

  it('copies are shared by views of the weights, disposed with them, never reused by new weights', async () => {
    const c = expertSliceCases.find((s) => s.types[0] === 'f16')!;
    const xt = e.tensor(uniform(T * c.D, 33, 1), [T, c.D]);
    const r = route();
    const { w, bytes } = expertSliceWeights(e, c, E);
    const first = await counting(() => e.moeFfn(xt, r, w));
    const n = expected(bytes).copies;
    expect(first.copies.length).toBe(n);
    const destroyed = first.copies.map((b) => vi.spyOn(b, 'destroy'));
    const views = {
      gate: e.reshape(w.gate, w.gate.shape),
      up: e.reshape(w.up, w.up.shape),
      down: e.reshape(w.down, w.down.shape),
      shared: null,
    };
    const viaViews = await counting(() => e.moeFfn(xt, r, views));
    expect(viaViews.copies.length + viaViews.byteCopies).toBe(0);
    const out = bits(await first.r.out.read());
    expect(bits(await viaViews.r.out.read())).toEqual(out);
    w.gate.dispose();
    await expect(e.moeFfn(xt, r, w)).rejects.toThrow(WasmRuntimeError);
    await expect(e.moeFfn(xt, r, views)).rejects.toThrow(/after dispose/);
    w.up.dispose();
    w.down.dispose();
    expect(destroyed.every((d) => d.mock.calls.length === 1)).toBe(true);
    // New weights of the same bytes: their own copies, the same bits.
    const fresh = expertSliceWeights(e, c, E).w;
    const again = await counting(() => e.moeFfn(xt, r, fresh));
    expect(again.copies.length).toBe(n);
    expect(bits(await again.r.out.read())).toEqual(out);
    for (const t of [xt, r.weights, r.experts, fresh.gate, fresh.up, fresh.down, first.r.out, viaViews.r.out])
      t.dispose();
    again.r.out.dispose();
  });
});
