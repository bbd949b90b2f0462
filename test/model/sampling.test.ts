/** Greedy and seeded sampling: determinism, and that top-k / top-p / temperature do what they say. */
import { describe, expect, it } from 'vitest';
import { ModelError } from '../../src/model/errors.js';
import { argmax, Prng, Sampler } from '../../src/model/sampling.js';

const LOGITS = Float32Array.from([0.5, 2, -1, 2, 1.5, Number.NaN, -Infinity, 0]);

describe('Prng', () => {
  it('is deterministic per seed and uniform in [0, 1)', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const xs = Array.from({ length: 20000 }, () => a.next());
    expect(Array.from({ length: 20000 }, () => b.next())).toEqual(xs);
    expect(new Prng(43).next()).not.toBe(xs[0]);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    // Mean 1/2 with standard error 1/√(12·n) ≈ 0.002.
    expect(Math.abs(xs.reduce((s, x) => s + x, 0) / xs.length - 0.5)).toBeLessThan(0.01);
  });
});

describe('Sampler', () => {
  it('greedy takes the largest finite logit, the lowest id among ties', () => {
    expect(argmax(LOGITS)).toBe(1);
    expect(new Sampler().sample(LOGITS)).toBe(1);
    expect(() => argmax([Number.NaN])).toThrow(ModelError);
  });

  it('the same seed gives the same draws', () => {
    const draw = (seed: number) => {
      const s = new Sampler({ temperature: 1, seed });
      return Array.from({ length: 50 }, () => s.sample(LOGITS));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it('top-k keeps the k most likely, top-p the nucleus, NaN and -inf never drawn', () => {
    const seen = (opts: ConstructorParameters<typeof Sampler>[0]) => {
      const s = new Sampler({ temperature: 1, seed: 3, ...opts });
      return new Set(Array.from({ length: 2000 }, () => s.sample(LOGITS)));
    };
    expect(seen({ topK: 2 })).toEqual(new Set([1, 3]));
    expect(seen({ topK: 3 })).toEqual(new Set([1, 3, 4]));
    // Probabilities ∝ e^logit: ids 1 and 3 hold 2·e²/Σ ≈ 0.66 < 0.7, adding id 4 reaches ≈ 0.86.
    expect(seen({ topP: 0.7 })).toEqual(new Set([1, 3, 4]));
    expect(seen({ topP: 0.5 })).toEqual(new Set([1, 3]));
    const all = seen({});
    expect(all.has(5) || all.has(6)).toBe(false);
    expect(all.size).toBe(6);
  });

  it('draws in proportion to softmax(logits / temperature)', () => {
    const logits = [0, Math.log(3)];
    for (const temperature of [1, 2]) {
      const s = new Sampler({ temperature, seed: 11 });
      const n = 20000;
      let ones = 0;
      for (let i = 0; i < n; i++) ones += s.sample(logits);
      const p = 3 ** (1 / temperature) / (1 + 3 ** (1 / temperature));
      // Within 5 standard errors of the binomial.
      expect(Math.abs(ones / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    }
  });

  it('rejects options out of range', () => {
    expect(() => new Sampler({ temperature: -1 })).toThrow(ModelError);
    expect(() => new Sampler({ topK: 1.5 })).toThrow(ModelError);
    expect(() => new Sampler({ topP: 0 })).toThrow(ModelError);
  });
});
