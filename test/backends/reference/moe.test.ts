import { describe, expect, it } from 'vitest';
import { referenceMoeRoute } from '../../../src/backends/reference/moe.js';
import {
  MOE_NORM_MIN,
  MOE_SCHEMES,
  type MoeRouteOptions,
  type MoeScheme,
} from '../../../src/ops/moe-route.js';
import { UNIT_ROUNDOFF } from '../../../src/oracle/tiers.js';
import { schemeOptions } from '../moe-helpers.js';
import { uniform } from '../wasm/nn-helpers.js';

const sig = (x: number) => 1 / (1 + Math.exp(-x));

function route(logits: number[], E: number, opts: MoeRouteOptions) {
  return referenceMoeRoute(logits, logits.length / E, E, opts);
}

function close(got: ArrayLike<number>, want: number[]) {
  expect(got.length).toBe(want.length);
  for (const [i, w] of want.entries())
    expect(Math.abs(got[i] - w)).toBeLessThanOrEqual(1e-15 * Math.max(1, Math.abs(w)));
}

describe('moeRoute reference: hand-computed cases from the published formulas', () => {
  const l = [1, 3, 2, 0];
  const S = Math.exp(1) + Math.exp(3) + Math.exp(2) + 1;

  it('mixtral and qwen3-moe: softmax → top-2 → renormalize', () => {
    for (const scheme of ['mixtral', 'qwen3-moe'] as const) {
      const r = route(l, 4, { scheme, k: 2 });
      expect([...r.experts]).toEqual([1, 2]);
      close(r.exact, [1 / (1 + Math.exp(-1)), 1 / (1 + Math.exp(1))]);
    }
  });

  it('qwen2-moe: softmax → top-2, the probabilities as they are; normTopk renormalizes', () => {
    const r = route(l, 4, { scheme: 'qwen2-moe', k: 2 });
    close(r.exact, [Math.exp(3) / S, Math.exp(2) / S]);
    close(route(l, 4, { scheme: 'qwen2-moe', k: 2, normTopk: true }).exact, [sig(1), sig(-1)]);
  });

  it('topk-softmax: softmax over the selected logits only', () => {
    const r = route([0, 5, 1, 4, -2], 5, { scheme: 'topk-softmax', k: 3 });
    expect([...r.experts]).toEqual([1, 3, 2]);
    const z = Math.exp(5) + Math.exp(4) + Math.exp(1);
    close(r.exact, [Math.exp(5) / z, Math.exp(4) / z, Math.exp(1) / z]);
  });

  it('ties: the lower expert index wins, in every scheme', () => {
    const t = [2, 5, 5, 1, 5, 5];
    for (const scheme of MOE_SCHEMES) {
      const k = scheme === 'switch' ? 1 : 3;
      const r = route(t, 6, { scheme, k });
      expect([...r.experts]).toEqual([1, 2, 4].slice(0, k));
    }
  });

  it('deepseek-v3: bias for selection only, groups scored by the sum of their top-2, scale after normalizing', () => {
    // 4 groups of 2; σ(0) = 0.5, σ(ln 3) = 0.75. Selection values s = σ(l) + b:
    // [0.8, 0.5 | 0.7, 0.7 | 0.75, 0.5 | 0.5, 0.6]; group scores 1.3, 1.4, 1.25, 1.1:
    // keep groups 1 and 0 (a top-1 score would keep group 2 instead, for expert 4).
    // Top-2 of experts 0..3: 0 (0.8), then 2 and 3 tie at 0.7: 2.
    const logits = [Math.log(3), 0, 0, 0, 0, 0, 0, 0];
    const bias = [0.05, 0, 0.2, 0.2, 0.25, 0, 0, 0.1];
    const r = route(logits, 8, { scheme: 'deepseek-v3', k: 2, bias, nGroup: 4, topkGroup: 2, scale: 2.5 });
    expect([...r.experts]).toEqual([0, 2]);
    // Weights from σ without the bias: 0.75, 0.5 → 0.6, 0.4 → ×2.5.
    close(r.exact, [1.5, 1]);
    // Without groups expert 4 (0.75) beats 2 and 3.
    expect([...route(logits, 8, { scheme: 'deepseek-v3', k: 2, bias }).experts]).toEqual([0, 4]);
  });

  it('deepseek-v3: groups with equal scores keep the lower group', () => {
    // Groups of 2, all scores equal (σ(0)·2); keep 1 group: group 0, experts 0 and 1.
    const r = route(new Array(8).fill(0), 8, { scheme: 'deepseek-v3', k: 2, nGroup: 4, topkGroup: 1 });
    expect([...r.experts]).toEqual([0, 1]);
    close(r.exact, [0.5, 0.5]);
  });

  it('renormalization divides by max(Σw, 6.103515625e-5) as llama.cpp does', () => {
    // σ(−20)·2 ≈ 4.1e-9 < 2^-14: the weights are σ/2^-14, not 0.5 each.
    const r = route([-20, -20, -30], 3, { scheme: 'deepseek-v3', k: 2 });
    close(r.exact, [sig(-20) / MOE_NORM_MIN, sig(-20) / MOE_NORM_MIN]);
    expect(MOE_NORM_MIN).toBe(2 ** -14);
  });

  it('switch: top-1 probability, tokens past capacity dropped in token order and reported', () => {
    // 5 tokens, 2 experts, capacity ⌈1·5/2⌉ = 3: tokens 0–3 want expert 0, token 3 is dropped.
    const logits = [2, 0, 1, 0, 3, 1, 0.5, 0, -1, 2];
    const r = route(logits, 2, { scheme: 'switch', k: 1 });
    expect([...r.experts]).toEqual([0, 0, 0, 0, 1]);
    expect([...(r.dropped ?? [])]).toEqual([0, 0, 0, 1, 0]);
    expect(r.droppedCount).toBe(1);
    close(r.exact, [sig(2), sig(1), sig(2), 0, sig(3)]);
    const more = route(logits, 2, { scheme: 'switch', k: 1, capacityFactor: 2 });
    expect(more.droppedCount).toBe(0);
    expect(route(logits, 2, { scheme: 'switch', k: 1, capacity: 1 }).droppedCount).toBe(3);
  });

  it('rejects bad options with a message naming them', () => {
    expect(() => route(l, 4, { scheme: 'mixtral', k: 5 })).toThrow(/k must be/);
    expect(() => route(l, 4, { scheme: 'switch', k: 2 })).toThrow(/1 expert/);
    expect(() => route(l, 4, { scheme: 'deepseek-v3', k: 2, nGroup: 3 })).toThrow(/groups/);
    expect(() => route(l, 4, { scheme: 'deepseek-v3', k: 3, nGroup: 2, topkGroup: 1 })).toThrow(
      /kept groups/,
    );
    expect(() => route(l, 4, { scheme: 'deepseek-v3', k: 2, bias: [0] })).toThrow(/bias/);
    expect(() => route(l, 4, { scheme: 'nope' as MoeScheme, k: 2 })).toThrow(/unknown scheme/);
  });
});

describe('moeRoute reference invariants on every scheme', () => {
  it('finite non-negative weights, Σw = 1 where the scheme normalizes, k distinct experts', () => {
    for (const scheme of MOE_SCHEMES)
      for (const [E, k] of [
        [8, 2],
        [64, 6],
        [256, 8],
      ]) {
        const T = 17;
        const opts = schemeOptions(scheme, E, k);
        const r = referenceMoeRoute(uniform(T * E, E * 31 + k, 6), T, E, opts);
        const kk = r.plan.k;
        expect(r.weights.every((w) => Number.isFinite(w) && w >= 0)).toBe(true);
        for (let t = 0; t < T; t++) {
          const ids = r.experts.subarray(t * kk, (t + 1) * kk);
          expect(new Set(ids).size).toBe(kk);
          expect(ids.every((e) => e >= 0 && e < E)).toBe(true);
          if (r.plan.normalize || r.plan.gating === 'topk-softmax') {
            let sum = 0;
            for (let j = 0; j < kk; j++) sum += r.weights[t * kk + j];
            expect(Math.abs(sum / r.plan.scale - 1)).toBeLessThanOrEqual(kk * UNIT_ROUNDOFF.f32);
          }
        }
      }
  });
});
