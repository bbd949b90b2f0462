import { describe, expect, it } from 'vitest';
import { referenceMoeRoute, referenceWeights } from '../../../src/backends/reference/moe.js';
import { finishMoeRoute, moeRoute, moeRouteBytes, putMoeBias } from '../../../src/backends/wasm/moe.js';
import {
  MOE_SCHEMES,
  type MoeRouteOptions,
  type MoeRoutePlan,
  moeRoutePlan,
} from '../../../src/ops/moe-route.js';
import { moeSelectionProblems, moeWeightBound } from '../../../src/oracle/moe-bound.js';
import { deepseekHandCase, schemeOptions } from '../moe-helpers.js';
import { free, put, rt, uniform, wide } from './nn-helpers.js';

/** Runs the kernel over the given split points (one call per range). */
function run(logits: Float32Array, T: number, E: number, opts: MoeRouteOptions, cuts: number[] = []) {
  const plan = moeRoutePlan(T, E, opts);
  const bytes = moeRouteBytes(plan);
  const lp = put(logits);
  const bias = putMoeBias(rt, plan);
  const groupScores = bytes.groupScores ? rt.arena.alloc(bytes.groupScores) : 0;
  const weights = rt.arena.alloc(bytes.weights);
  const experts = rt.arena.alloc(bytes.experts);
  const bounds = [0, ...cuts, T];
  for (let i = 0; i + 1 < bounds.length; i++)
    moeRoute(rt, plan, { logits: lp, bias, groupScores, weights, experts }, bounds[i], bounds[i + 1]);
  const gs = groupScores ? rt.f32(groupScores, T * plan.nGroup).slice() : null;
  const r = finishMoeRoute(rt, plan, weights, experts);
  free(lp, bias, groupScores, weights, experts);
  return { ...r, plan, groupScores: gs };
}

/** Checks every token against the reference: selection by the near-tie rule, weights within the derived bound. */
function check(logits: Float32Array, T: number, E: number, opts: MoeRouteOptions) {
  const got = run(logits, T, E, opts);
  const ref = referenceMoeRoute(logits, T, E, opts);
  const { k, nGroup } = got.plan;
  const problems: string[] = [];
  let worst = 0;
  let sameSelection = true;
  for (let t = 0; t < T; t++) {
    const row = logits.subarray(t * E, (t + 1) * E);
    const ids = got.experts.subarray(t * k, (t + 1) * k);
    const gs = got.groupScores ? got.groupScores.subarray(t * nGroup, (t + 1) * nGroup) : null;
    const p = moeSelectionProblems(row, got.plan, ids, gs, ref.experts.subarray(t * k, (t + 1) * k));
    for (const s of p) problems.push(`token ${t}: ${s}`);
    if (ids.some((e, j) => e !== ref.experts[t * k + j])) sameSelection = false;
    const w = referenceWeights(row, got.plan, ids);
    const b = moeWeightBound(row, got.plan, ids, w);
    for (let j = 0; j < k; j++) {
      const dropped = got.dropped?.[t] === 1;
      const err = Math.abs(got.weights[t * k + j] - (dropped ? 0 : w[j]));
      worst = Math.max(worst, err / b[j]);
      if (!(err <= b[j]))
        problems.push(`token ${t} weight ${j}: ${got.weights[t * k + j]} vs ${w[j]} (bound ${b[j]})`);
    }
  }
  if (sameSelection && got.dropped) expect([...got.dropped]).toEqual([...(ref.dropped ?? [])]);
  return { got, ref, problems, worst, sameSelection };
}

const SIZES = [
  [5, 2],
  [8, 2],
  [13, 4],
  [16, 4],
  [64, 6],
  [160, 6],
  [256, 8],
];

describe('moe_route kernel against the float64 reference', () => {
  it('every scheme, ragged and model expert counts: selection explained, weights within the derived bound', () => {
    for (const scheme of MOE_SCHEMES)
      for (const [E, k] of SIZES) {
        const T = 23;
        const opts = schemeOptions(scheme, E, k);
        for (const logits of [uniform(T * E, E * 13 + k, 8), wide(T * E, E + k, -6, 6)]) {
          const v = check(logits, T, E, opts);
          expect(v.problems, `${scheme} E ${E} k ${k}`).toEqual([]);
          // Softmax schemes select on the logits: the same experts as the reference, always.
          if (v.got.plan.gating !== 'sigmoid') expect(v.sameSelection).toBe(true);
          if (process.env.MOE_WORST) console.log(scheme, E, k, v.worst.toFixed(3), v.sameSelection);
        }
      }
  });

  it('logit spreads up to 150 (the u·|l − m| term of the bound)', () => {
    for (const scheme of ['mixtral', 'qwen2-moe', 'topk-softmax'] as const) {
      const E = 32;
      const T = 9;
      const logits = uniform(T * E, 99, 75);
      expect(check(logits, T, E, { scheme, k: 4 }).problems).toEqual([]);
    }
  });

  it('bit-identical for any split of the tokens', () => {
    const T = 37;
    for (const scheme of MOE_SCHEMES) {
      const E = 64;
      const opts = schemeOptions(scheme, E, 6);
      const logits = uniform(T * E, 5, 4);
      const one = run(logits, T, E, opts);
      for (const cuts of [[1], [5, 6, 30], [12, 24], Array.from({ length: T - 1 }, (_, i) => i + 1)]) {
        const r = run(logits, T, E, opts, cuts);
        expect(new Uint32Array(r.weights.buffer)).toEqual(new Uint32Array(one.weights.buffer));
        expect(r.experts).toEqual(one.experts);
      }
    }
  });

  it('exact ties: the lower expert index wins in every scheme, SIMD chunks and tails alike', () => {
    for (const E of [6, 11, 64]) {
      const logits = new Float32Array(E).fill(1);
      logits[E - 1] = 3; // a clear winner last, then a run of equal values
      for (const scheme of MOE_SCHEMES) {
        const opts = schemeOptions(scheme, E, 4);
        const bias = opts.bias ? new Array(E).fill(0.125) : undefined;
        const r = run(logits, 1, E, { ...opts, bias });
        const k = r.plan.k;
        // deepseek-v3 with 8 groups (E = 64): the last group wins, then the tied groups 0, 1, 2.
        expect([...r.experts], scheme).toEqual([E - 1, 0, 1, 2].slice(0, k));
      }
    }
  });

  it('deepseek-v3 hand case: groups by the sum of their top-2, bias for selection only, scale', () => {
    const { logits, opts } = deepseekHandCase();
    const r = run(logits, 1, 8, opts);
    expect([...r.experts]).toEqual([0, 2]);
    expect(Math.abs(r.weights[0] - 1.5)).toBeLessThan(1e-6);
    expect(Math.abs(r.weights[1] - 1)).toBeLessThan(1e-6);
    expect(check(logits, 1, 8, opts).problems).toEqual([]);
  });

  it('near ties under sigmoid: either choice is explained; a clear inversion is not', () => {
    // σ(l) for l and the next f32 above it differ by far less than the kernel's error.
    const E = 8;
    const l = Math.fround(0.3);
    const next = new Float32Array(
      new Uint32Array([new Uint32Array(new Float32Array([l]).buffer)[0] + 1]).buffer,
    )[0];
    const logits = Float32Array.from([0, l, -1, next, -2, 0, -1, -3]);
    const opts: MoeRouteOptions = { scheme: 'deepseek-v3', k: 1 };
    const plan: MoeRoutePlan = moeRoutePlan(1, E, opts);
    expect(check(logits, 1, E, opts).problems).toEqual([]);
    // The checker accepts expert 1 or 3 for the reference's 3, and rejects expert 0 (σ(0) is clearly lower).
    expect(moeSelectionProblems(logits, plan, [1], null, [3])).toEqual([]);
    expect(moeSelectionProblems(logits, plan, [3], null, [3])).toEqual([]);
    expect(moeSelectionProblems(logits, plan, [0], null, [3]).length).toBeGreaterThan(0);
    // Softmax schemes allow no slack at all.
    const soft = moeRoutePlan(1, E, { scheme: 'mixtral', k: 1 });
    expect(moeSelectionProblems(logits, soft, [1], null, [3]).length).toBeGreaterThan(0);
  });

  it('switch: drops reported, dropped weights zero in memory and in the result', () => {
    const T = 40;
    const E = 4;
    const logits = uniform(T * E, 3, 2);
    for (let t = 0; t < T; t += 2) logits[t * E] = 10; // half the tokens crowd expert 0
    const v = check(logits, T, E, { scheme: 'switch', k: 1, capacityFactor: 1 });
    expect(v.problems).toEqual([]);
    expect(v.got.droppedCount).toBe(v.ref.droppedCount);
    expect(v.got.droppedCount).toBeGreaterThan(0);
    for (let t = 0; t < T; t++) if (v.got.dropped?.[t]) expect(v.got.weights[t]).toBe(0);
  });
  it('edge sizes: k = E (every expert, Σw = 1), one expert, no tokens', () => {
    for (const E of [1, 3, 8]) {
      const logits = uniform(5 * E, E, 4);
      for (const scheme of ['mixtral', 'topk-softmax', 'deepseek-v3'] as const) {
        const v = check(logits, 5, E, { scheme, k: E });
        expect(v.problems).toEqual([]);
        for (let t = 0; t < 5; t++) {
          const row = [...v.got.experts.subarray(t * E, (t + 1) * E)].sort((a, b) => a - b);
          expect(row).toEqual(Array.from({ length: E }, (_, i) => i));
        }
      }
    }
    expect(run(new Float32Array(0), 0, 8, { scheme: 'mixtral', k: 2 }).experts.length).toBe(0);
  });

  it('the wrapper refuses a plan without the buffers it needs, and ranges outside the tokens', () => {
    const plan = moeRoutePlan(2, 16, {
      scheme: 'deepseek-v3',
      k: 2,
      nGroup: 4,
      topkGroup: 2,
      bias: new Array(16).fill(0),
    });
    const p = { logits: 16, bias: 16, groupScores: 0, weights: 16, experts: 16 };
    expect(() => moeRoute(rt, plan, p)).toThrow(/group-score buffer/);
    expect(() => moeRoute(rt, plan, { ...p, groupScores: 16, bias: 0 })).toThrow(/bias/);
    expect(() => moeRoute(rt, plan, { ...p, groupScores: 16 }, 1, 3)).toThrow(/outside/);
  });
  it('the full-softmax renormalizing path (taken when E > 16384·k) within its own bound', () => {
    // Called directly: flags 0 (softmax) | 4 (normalize), as moeRouteCall builds them for such E.
    const T = 9;
    const E = 64;
    const k = 4;
    const logits = uniform(T * E, 77, 8);
    const plan = moeRoutePlan(T, E, { scheme: 'mixtral', k });
    const lp = put(logits);
    const w = rt.arena.alloc(T * k * 4);
    const ex = rt.arena.alloc(T * k * 4);
    rt.kernel('moe_route')(lp, 0, 0, w, ex, E, k, 4, 1, 1, 0, T);
    const got = rt.f32(w, T * k).slice();
    const ids = new Int32Array(rt.memory.buffer, ex, T * k).slice();
    free(lp, w, ex);
    const ref = referenceMoeRoute(logits, T, E, { scheme: 'mixtral', k });
    expect(ids).toEqual(ref.experts);
    // A plan whose E is past 16384·k makes the bound follow the full-softmax path.
    const full = { ...plan, experts: 16384 * k + 1 };
    for (let t = 0; t < T; t++) {
      const row = logits.subarray(t * E, (t + 1) * E);
      const b = moeWeightBound(
        row,
        full,
        ids.subarray(t * k, (t + 1) * k),
        ref.exact.subarray(t * k, (t + 1) * k),
      );
      for (let j = 0; j < k; j++)
        expect(Math.abs(got[t * k + j] - ref.exact[t * k + j])).toBeLessThanOrEqual(b[j]);
    }
  });
});
