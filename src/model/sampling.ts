/**
 * Choosing the next token from logits: greedy (temperature 0, the default)
 * or seeded sampling in llama.cpp's order — top-k, then top-p on the
 * untempered probabilities, then temperature, then a draw. The PRNG is
 * seeded, so a seed and a logit sequence always give the same tokens.
 */
import { ModelError } from './errors.js';

export interface SamplingOptions {
  /** 0 (default): greedy. */
  temperature?: number;
  /** Keep the k most likely tokens (0: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1: all). */
  topP?: number;
  /** PRNG seed (default 0). */
  seed?: number;
}

/** xoshiro128** (Blackman & Vigna), seeded through splitmix32: uniform floats in [0, 1). */
export class Prng {
  private s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** 53 random bits in [0, 1). */
  next(): number {
    return ((this.nextU32() >>> 5) * 2 ** 26 + (this.nextU32() >>> 6)) / 2 ** 53;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Index of the largest finite logit (the lowest index among ties). */
export function argmax(logits: ArrayLike<number>): number {
  let best = -1;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v > bestValue || (best < 0 && v === bestValue)) {
      best = i;
      bestValue = v;
    }
  }
  if (best < 0) throw new ModelError('sampling: no finite logit to choose from');
  return best;
}

export class Sampler {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  private readonly rng: Prng;

  constructor(opts: SamplingOptions = {}) {
    this.temperature = opts.temperature ?? 0;
    this.topK = opts.topK ?? 0;
    this.topP = opts.topP ?? 1;
    if (!(this.temperature >= 0 && Number.isFinite(this.temperature)))
      throw new ModelError(`sampling: temperature must be a finite number ≥ 0, got ${opts.temperature}`);
    if (!Number.isSafeInteger(this.topK) || this.topK < 0)
      throw new ModelError(`sampling: topK must be an integer ≥ 0, got ${opts.topK}`);
    if (!(this.topP > 0 && this.topP <= 1))
      throw new ModelError(`sampling: topP must be in (0, 1], got ${opts.topP}`);
    const seed = opts.seed ?? 0;
    if (!Number.isSafeInteger(seed)) throw new ModelError(`sampling: seed must be an integer, got ${seed}`);
    this.rng = new Prng(seed);
  }

  get greedy(): boolean {
    return this.temperature === 0;
  }

  /** The next token for one row of logits. */
  sample(logits: ArrayLike<number>): number {
    if (this.greedy) return argmax(logits);
    // Candidates by logit, descending (ties: lower id first), NaN left out.
    let ids: number[] = [];
    for (let i = 0; i < logits.length; i++) if (!Number.isNaN(logits[i])) ids.push(i);
    ids.sort((a, b) => logits[b] - logits[a] || a - b);
    if (this.topK > 0 && ids.length > this.topK) ids = ids.slice(0, this.topK);
    if (ids.length === 0 || !(logits[ids[0]] > Number.NEGATIVE_INFINITY))
      throw new ModelError('sampling: no finite logit to choose from');
    if (this.topP < 1) ids = ids.slice(0, nucleusSize(ids, logits, this.topP));
    // Softmax at the temperature over what is left, then one draw.
    const max = logits[ids[0]];
    const w = ids.map((i) => Math.exp((logits[i] - max) / this.temperature));
    const total = w.reduce((a, b) => a + b, 0);
    let r = this.rng.next() * total;
    for (let j = 0; j < ids.length; j++) {
      r -= w[j];
      if (r < 0) return ids[j];
    }
    return ids[ids.length - 1];
  }
}

/** How many of the sorted candidates reach cumulative probability p (at temperature 1). */
function nucleusSize(ids: readonly number[], logits: ArrayLike<number>, p: number): number {
  const max = logits[ids[0]];
  const w = ids.map((i) => Math.exp(logits[i] - max));
  const total = w.reduce((a, b) => a + b, 0);
  let cum = 0;
  for (let j = 0; j < w.length; j++) {
    cum += w[j] / total;
    if (cum >= p) return j + 1;
  }
  return w.length;
}
