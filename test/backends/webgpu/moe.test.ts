/**
 * engine.moeRoute on WebGPU against the float64 reference. Softmax schemes
 * rank the logits' bits: experts identical to the reference (ties: lower
 * index), switch's drop census identical to the CPU's. deepseek-v3 ranks
 * σ(l) + bias computed with WGSL's exp (3 + 2|x| ULP): on well separated
 * values the experts are the reference's; on any values every difference is
 * explained by the derived δ (moeSelectionProblems with the GPU's error
 * model). Weights within the bound derived in src/oracle/moe-bound.ts
 * (WGSL: no rounding mode fixed, 1 ULP per + − ×, 2.5 ULP division, exp's ULPs).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { referenceMoeRoute, referenceWeights } from '../../../src/backends/reference/moe.js';
import { routeOnGpu } from '../../../src/backends/webgpu/ops/moe.js';
import { createEngine } from '../../../src/engine/engine.js';
import { MOE_SCHEMES, type MoeRouteOptions, moeRoutePlan } from '../../../src/ops/moe-route.js';
import { GPU_MOE_SELECTION, gpuMoeWeightBound, moeSelectionProblems } from '../../../src/oracle/moe-bound.js';
import { webgpuEngine } from '../../helpers/webgpu.js';
import { deepseekHandCase, schemeOptions } from '../moe-helpers.js';
import { rng, uniform, wide } from '../wasm/nn-helpers.js';

const gpu = await webgpuEngine();

describe.skipIf(!gpu)('moeRoute on WebGPU', () => {
  const e = gpu!;
  afterAll(() => e.dispose());

  async function route(logits: Float32Array, T: number, E: number, opts: MoeRouteOptions) {
    const plan = moeRoutePlan(T, E, opts);
    const t = e.tensor(logits, [T, E]);
    const r = await routeOnGpu(e.host, e.host.gpu(t, 'test'), plan);
    const out = {
      plan,
      weights: await r.weights.read(),
      experts: Int32Array.from(await r.experts.read()),
      groupScores: r.groupScores ? await r.groupScores.read() : null,
      dropped: r.dropped,
      droppedCount: r.droppedCount,
    };
    for (const x of [t, r.weights, r.experts, r.groupScores]) x?.dispose();
    return out;
  }

  /** Selection explained (softmax: identical), weights within the bound; whether the experts equal the reference's. */
  async function check(logits: Float32Array, T: number, E: number, opts: MoeRouteOptions) {
    const got = await route(logits, T, E, opts);
    const ref = referenceMoeRoute(logits, T, E, opts);
    const { k, nGroup } = got.plan;
    const problems: string[] = [];
    for (let t = 0; t < T; t++) {
      const row = logits.subarray(t * E, (t + 1) * E);
      const ids = got.experts.subarray(t * k, (t + 1) * k);
      const gs = got.groupScores?.subarray(t * nGroup, (t + 1) * nGroup) ?? null;
      const want = ref.experts.subarray(t * k, (t + 1) * k);
      for (const p of moeSelectionProblems(row, got.plan, ids, gs, want, GPU_MOE_SELECTION))
        problems.push(`token ${t}: ${p}`);
      const w = referenceWeights(row, got.plan, ids);
      const b = gpuMoeWeightBound(row, got.plan, ids, w);
      for (let j = 0; j < k; j++) {
        const want = got.dropped?.[t] ? 0 : w[j];
        const err = Math.abs(got.weights[t * k + j] - want);
        if (!(err <= b[j]))
          problems.push(`token ${t} weight ${j}: ${got.weights[t * k + j]} vs ${want} (bound ${b[j]})`);
      }
    }
    const same = got.experts.every((x, i) => x === ref.experts[i]);
    return { got, ref, problems, same };
  }

  it('every scheme, ragged and model expert counts: selection explained, weights within the derived bound', async () => {
    for (const scheme of MOE_SCHEMES)
      for (const [E, k] of [
        [5, 2],
        [13, 4],
        [64, 6],
        [160, 6],
        [256, 8],
      ]) {
        const T = 11;
        const opts = schemeOptions(scheme, E, k);
        for (const logits of [uniform(T * E, E * 13 + k, 8), wide(T * E, E + k, -6, 6)]) {
          const v = await check(logits, T, E, opts);
          expect(v.problems, `${scheme} E ${E} k ${k}`).toEqual([]);
          if (v.got.plan.gating !== 'sigmoid') expect(v.same, `${scheme} E ${E}`).toBe(true);
        }
      }
  });

  it('deepseek-v3 on well separated selection values: the reference experts exactly', async () => {
    // Distinct logits on a grid of step 8/E in [−4, 4): σ gaps ≥ 8/E·σ′(4) ≈ 5e-4 for E = 256, far above δ ≈ 1e-6.
    for (const [E, nGroup] of [
      [16, 1],
      [64, 8],
      [256, 8],
    ]) {
      const T = 7;
      const r = rng(E);
      const logits = new Float32Array(T * E);
      for (let t = 0; t < T; t++) {
        const perm = Array.from({ length: E }, (_, i) => i).sort(() => r() - 0.5);
        for (let i = 0; i < E; i++) logits[t * E + i] = (perm[i] * 8) / E - 4;
      }
      const v = await check(logits, T, E, {
        scheme: 'deepseek-v3',
        k: 6,
        nGroup,
        topkGroup: Math.min(4, nGroup),
        scale: 2.5,
      });
      expect(v.problems).toEqual([]);
      expect(v.same, `E ${E}`).toBe(true);
    }
  });

  it('exact ties: the lower expert index wins in every scheme (groups: the lower group)', async () => {
    for (const E of [6, 11, 64, 130]) {
      const logits = new Float32Array(E).fill(1);
      logits[E - 1] = 3;
      for (const scheme of MOE_SCHEMES) {
        const opts = schemeOptions(scheme, E, 4);
        const bias = opts.bias ? new Array(E).fill(0.125) : undefined;
        const r = await route(logits, 1, E, { ...opts, bias });
        expect([...r.experts], `${scheme} E ${E}`).toEqual([E - 1, 0, 1, 2].slice(0, r.plan.k));
      }
    }
    // −0 ties +0 (the reference compares values): the lower index first.
    const z = Float32Array.from([-1, 0, -0, 0, -2]);
    z[1] = -0;
    expect([...(await route(z, 1, 5, { scheme: 'mixtral', k: 3 })).experts]).toEqual([1, 2, 3]);
  });

  it('deepseek-v3 hand case: groups by the sum of their top-2, bias for selection only, scale', async () => {
    const { logits, opts } = deepseekHandCase();
    const r = await route(logits, 1, 8, opts);
    expect([...r.experts]).toEqual([0, 2]);
    expect(Math.abs(r.weights[0] - 1.5)).toBeLessThan(1e-5);
    expect(Math.abs(r.weights[1] - 1)).toBeLessThan(1e-5);
    expect((await check(logits, 1, 8, opts)).problems).toEqual([]);
  });

  it('switch: the drop census equals the reference and the CPU engine exactly; dropped weights are 0', async () => {
    const cpu = await createEngine({ backend: 'wasm', threads: 1 });
    try {
      for (const [T, E, factor] of [
        [40, 4, 1],
        [257, 8, 1.25],
        [300, 16, 0.5],
      ]) {
        const logits = uniform(T * E, T + E, 2);
        for (let t = 0; t < T; t += 2) logits[t * E] = 10; // half the tokens crowd expert 0
        const opts: MoeRouteOptions = { scheme: 'switch', k: 1, capacityFactor: factor };
        const v = await check(logits, T, E, opts);
        expect(v.problems).toEqual([]);
        expect(v.same).toBe(true);
        expect(v.got.droppedCount).toBeGreaterThan(0);
        expect([...(v.got.dropped ?? [])]).toEqual([...(v.ref.dropped ?? [])]);
        const c = await cpu.moeRoute(cpu.tensor(logits, [T, E]), opts);
        expect([...(v.got.dropped ?? [])]).toEqual([...(c.dropped ?? [])]);
        expect(v.got.droppedCount).toBe(c.droppedCount);
        for (let t = 0; t < T; t++) if (v.got.dropped?.[t]) expect(v.got.weights[t]).toBe(0);
      }
    } finally {
      await cpu.dispose();
    }
  });

  it('engine.moeRoute runs on the GPU; edge sizes k = E, one expert, no tokens; same bits on a rerun', async () => {
    for (const E of [1, 3, 8]) {
      const logits = uniform(5 * E, E, 4);
      for (const scheme of ['mixtral', 'topk-softmax', 'deepseek-v3'] as const) {
        const v = await check(logits, 5, E, { scheme, k: E });
        expect(v.problems).toEqual([]);
      }
    }
    const logits = uniform(9 * 64, 3, 6);
    const t = e.tensor(logits, [9, 64]);
    const opts = schemeOptions('deepseek-v3', 64, 6);
    const a = await e.moeRoute(t, opts);
    const b = await e.moeRoute(t, opts);
    expect(await b.weights.read()).toEqual(await a.weights.read());
    expect(await b.experts.read()).toEqual(await a.experts.read());
    expect(e.opReport().moeRoute.cpu).toBe(0);
    expect(e.opReport().moeRoute.webgpu).toBeGreaterThan(0);
    const none = await e.moeRoute(e.tensor(new Float32Array(0), [0, 8]), { scheme: 'mixtral', k: 2 });
    expect(none.experts.shape).toEqual([0, 2]);
  });
});
