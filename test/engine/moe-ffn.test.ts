/**
 * engine.moeFfn on the wasm engine (1, 2 and 3 threads) against the reference
 * engine: within the derived bound (src/oracle/moe-bound.ts) in exact
 * numerics and within the q8 bound in ggml numerics, bit-identical for any
 * thread count, and typed errors that name the bad operand.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { ShapeError, UnsupportedTypeError } from '../../src/errors.js';
import type { MoeFfnWeights } from '../../src/ops/moe-ffn.js';
import type { MoeRouteOptions } from '../../src/ops/moe-route.js';
import { moeFfnBound } from '../../src/oracle/moe-bound.js';
import { uniform } from '../backends/wasm/nn-helpers.js';
import { moeFfnWeights } from '../helpers/moe-ffn-cases.js';

const engines = new Map<string, Promise<Engine>>();
function engine(backend: 'wasm' | 'reference', threads = 1): Promise<Engine> {
  const key = `${backend}/${threads}`;
  if (!engines.has(key)) engines.set(key, createEngine({ backend, threads }));
  return engines.get(key) as Promise<Engine>;
}
afterAll(async () => {
  for (const e of engines.values()) await (await e).dispose();
});

const T = 9;
const E = 8;
const D = 64;
const F = 96;
const Fs = 64;

/** Quantized expert tensors (and their exact values) for one engine. */
const weightsOn = (e: Engine, type: string, shared: boolean) =>
  moeFfnWeights(e, type, shared, { E, D, F, Fs });

const x = uniform(T * D, 11, 1);
const logits = uniform(T * E, 12, 3);

async function run(e: Engine, route: MoeRouteOptions, numerics: 'exact' | 'ggml', shared: boolean) {
  const { w, ref, refShared } = weightsOn(e, 'q8_0', shared);
  const r = await e.moeRoute(e.tensor(logits, [T, E]), route);
  const res = await (e.moeFfn as NonNullable<Engine['moeFfn']>)(e.tensor(x, [T, D]), r, w, {
    numerics,
    slotOutputs: true,
  });
  const routeValues = {
    weights: await r.weights.read(),
    experts: Int32Array.from(await r.experts.read()),
    dropped: r.dropped,
    droppedCount: r.droppedCount,
  };
  return { out: await res.out.read(), slots: await res.slots?.read(), route: routeValues, ref, refShared };
}

describe('engine.moeFfn', () => {
  const cases: [MoeRouteOptions, boolean][] = [
    [{ scheme: 'mixtral', k: 2 }, false],
    [{ scheme: 'qwen2-moe', k: 4 }, true],
    [{ scheme: 'switch', k: 1, capacityFactor: 1 }, false],
  ];
  for (const [route, shared] of cases)
    for (const numerics of ['exact', 'ggml'] as const)
      it(`${route.scheme}${shared ? ' + gated shared expert' : ''}, ${numerics}: wasm within the bound of the reference; 1, 2, 3 threads bit-identical`, async () => {
        const ref = await run(await engine('reference'), route, 'exact', shared);
        const k = route.k;
        const bound = moeFfnBound(
          x,
          T,
          D,
          ref.route,
          k,
          ref.ref,
          ref.refShared,
          numerics === 'ggml' ? 32 : 0,
        );
        const outs: Uint32Array[] = [];
        for (const threads of [1, 2, 3]) {
          const got = await run(await engine('wasm', threads), route, numerics, shared);
          expect(got.route.experts).toEqual(ref.route.experts);
          for (let i = 0; i < T * D; i++)
            expect(Math.abs(got.out[i] - ref.out[i]), `element ${i}`).toBeLessThanOrEqual(bound[i]);
          expect(got.slots).toHaveLength(T * k * D);
          outs.push(new Uint32Array(got.out.buffer), new Uint32Array((got.slots as Float32Array).buffer));
        }
        for (let i = 2; i < outs.length; i++) expect(outs[i]).toEqual(outs[i % 2]);
        if (numerics === 'ggml') {
          // The reference's own ggml numerics (activations rounded through q8_0) sit within the same bound.
          const rg = await run(await engine('reference'), route, 'ggml', shared);
          for (let i = 0; i < T * D; i++)
            expect(Math.abs(rg.out[i] - ref.out[i])).toBeLessThanOrEqual(bound[i]);
        }
      });

  // llama.cpp takes any type per tensor: an f32 up (f32 activations) beside a q8_0 gate (q8_0 activations).
  for (const f32Side of ['up', 'gate'] as const)
    it(`ggml numerics, f32 ${f32Side} beside q8_0: wasm within the bound of the reference; 1, 2, 3 threads bit-identical`, async () => {
      const route: MoeRouteOptions = { scheme: 'qwen2-moe', k: 4 };
      const mixed = async (e: Engine, numerics: 'exact' | 'ggml') => {
        const q = weightsOn(e, 'q8_0', true);
        const f = weightsOn(e, 'f32', true);
        const qs = q.w.shared as NonNullable<MoeFfnWeights['shared']>;
        const fs = f.w.shared as NonNullable<MoeFfnWeights['shared']>;
        const w: MoeFfnWeights = {
          ...q.w,
          [f32Side]: f.w[f32Side],
          shared: { ...qs, [f32Side]: fs[f32Side] },
        };
        const r = await e.moeRoute(e.tensor(logits, [T, E]), route);
        const res = await (e.moeFfn as NonNullable<Engine['moeFfn']>)(e.tensor(x, [T, D]), r, w, {
          numerics,
        });
        return {
          out: await res.out.read(),
          route: {
            weights: await r.weights.read(),
            experts: Int32Array.from(await r.experts.read()),
            dropped: r.dropped,
            droppedCount: r.droppedCount,
          },
          ref: { ...q.ref, [f32Side]: f.ref[f32Side] },
          refShared: q.refShared && f.refShared && { ...q.refShared, [f32Side]: f.refShared[f32Side] },
        };
      };
      const ref = await mixed(await engine('reference'), 'exact');
      const bound = moeFfnBound(x, T, D, ref.route, route.k, ref.ref, ref.refShared, 32);
      const outs: Uint32Array[] = [];
      for (const threads of [1, 2, 3]) {
        const got = await mixed(await engine('wasm', threads), 'ggml');
        expect(got.route.experts).toEqual(ref.route.experts);
        for (let i = 0; i < T * D; i++)
          expect(Math.abs(got.out[i] - ref.out[i]), `element ${i}`).toBeLessThanOrEqual(bound[i]);
        outs.push(new Uint32Array(got.out.buffer));
      }
      expect(outs[1]).toEqual(outs[0]);
      expect(outs[2]).toEqual(outs[0]);
      const rg = await mixed(await engine('reference'), 'ggml');
      for (let i = 0; i < T * D; i++) expect(Math.abs(rg.out[i] - ref.out[i])).toBeLessThanOrEqual(bound[i]);
    });

  it('reference slot outputs are each expert FFN alone: Σ_j w_j·slot_j is the routed sum', async () => {
    const ref = await run(await engine('reference'), { scheme: 'mixtral', k: 2 }, 'exact', false);
    const slots = ref.slots as Float32Array;
    for (let t = 0; t < T; t++)
      for (let d = 0; d < D; d++) {
        const s =
          ref.route.weights[t * 2] * slots[t * 2 * D + d] +
          ref.route.weights[t * 2 + 1] * slots[(t * 2 + 1) * D + d];
        expect(Math.abs(s - ref.out[t * D + d])).toBeLessThanOrEqual(1e-6 * (Math.abs(s) + 1));
      }
  });

  it.each(['wasm', 'reference'] as const)(
    '%s: bad shapes and types are typed errors naming the operand',
    async (backend) => {
      const e = await engine(backend);
      const { w } = weightsOn(e, 'q8_0', true);
      const r = await e.moeRoute(e.tensor(logits, [T, E]), { scheme: 'mixtral', k: 2 });
      const xt = e.tensor(x, [T, D]);
      const ffn = e.moeFfn as NonNullable<Engine['moeFfn']>;
      const bad = e.tensor(new Uint8Array(7 * F * (D / 32) * 34), [7, F, D], 'q8_0');
      await expect(ffn.call(e, xt, r, { ...w, up: bad })).rejects.toThrow(ShapeError);
      await expect(ffn.call(e, xt, r, { ...w, up: bad })).rejects.toThrow(
        /up is \[7,96,64\], expected \[8,96,64\]/,
      );
      await expect(ffn.call(e, xt, r, { ...w, down: w.gate })).rejects.toThrow(
        /down is \[8,96,64\], expected \[8,64,96\]/,
      );
      await expect(ffn.call(e, e.tensor(x.subarray(0, 8 * D), [8, D]), r, w)).rejects.toThrow(
        /route weights/,
      );
      const sh = w.shared as NonNullable<MoeFfnWeights['shared']>;
      await expect(
        ffn.call(e, xt, r, { ...w, shared: { ...sh, gateInp: e.tensor(x.subarray(0, 32), [32]) } }),
      ).rejects.toThrow(/shared gateInp/);
      await expect(ffn.call(e, xt, r, w, { numerics: 'fast' as never })).rejects.toThrow(/numerics/);
      await expect(ffn.call(e, e.tensor(new Uint8Array(T * D * 2), [T, D], 'f16'), r, w)).rejects.toThrow(
        UnsupportedTypeError,
      );
    },
  );
});
