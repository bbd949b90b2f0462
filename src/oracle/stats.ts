/**
 * Summary statistics of a tensor, always with the count they were taken over
 * (design.md, "Trace stages"): two statistics of different counts are never
 * compared. Accumulated in float64 with Welford's update (no cancellation
 * from Σx² − n·mean²); std is the population standard deviation.
 */
import { CountMismatchError } from './errors.js';

export interface TensorStats {
  count: number;
  mean: number;
  std: number;
  min: number;
  max: number;
}

/** Streaming accumulator for TensorStats. */
export class StatsAccumulator {
  count = 0;
  private mean = 0;
  private m2 = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;

  add(x: number): void {
    this.count++;
    const d = x - this.mean;
    this.mean += d / this.count;
    this.m2 += d * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
  }

  result(): TensorStats {
    const n = this.count;
    return {
      count: n,
      mean: n ? this.mean : Number.NaN,
      std: n ? Math.sqrt(this.m2 / n) : Number.NaN,
      min: n ? this.min : Number.NaN,
      max: n ? this.max : Number.NaN,
    };
  }
}

/** Statistics of the finite elements of x (count says how many). */
export function tensorStats(x: ArrayLike<number>): TensorStats {
  const acc = new StatsAccumulator();
  for (let i = 0; i < x.length; i++) if (Number.isFinite(x[i])) acc.add(x[i]);
  return acc.result();
}

export interface StdRatio {
  /** std(candidate) / std(reference); 1 when both are 0, inf when only the reference's is. */
  ratio: number;
  count: number;
}

/** std ratio of two statistics over the same count; different counts throw CountMismatchError. */
export function stdRatio(candidate: TensorStats, reference: TensorStats): StdRatio {
  if (candidate.count !== reference.count)
    throw new CountMismatchError('std ratio', candidate.count, reference.count);
  const { std: a } = candidate;
  const { std: r } = reference;
  const ratio = r > 0 ? a / r : a === r ? 1 : Number.POSITIVE_INFINITY;
  return { ratio, count: candidate.count };
}
