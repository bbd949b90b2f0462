import { afterEach, describe, expect, it, vi } from 'vitest';
import { callKernel, MAX_ARGS, SpinBudget } from '../../src/scheduler/protocol.js';

/** Drives a SpinBudget on a fake clock; returns the budget (ms) the spin ran with. */
function spinOnce(
  b: SpinBudget,
  clock: { now: number },
  opts: { sawAfterMs?: number; gapMs?: number },
): number {
  b.begin();
  const start = clock.now;
  const step = opts.gapMs ?? 0.0005; // one expired() check per step
  for (;;) {
    clock.now += step;
    if (opts.sawAfterMs !== undefined && clock.now - start >= opts.sawAfterMs) {
      b.end(true);
      return budgetOf(b);
    }
    if (b.expired()) {
      b.end(false);
      return clock.now - start;
    }
  }
}

const budgetOf = (b: SpinBudget) => (b as unknown as { ms: number }).ms;

describe('SpinBudget', () => {
  afterEach(() => vi.restoreAllMocks());

  it('halves after each timed-out spin down to 0, and doubles back after spins that saw the change', () => {
    const clock = { now: 1000 };
    vi.spyOn(performance, 'now').mockImplementation(() => clock.now);
    const b = new SpinBudget(0.1);
    expect(spinOnce(b, clock, {})).toBeCloseTo(0.1, 2); // the first spin runs the full budget
    expect(budgetOf(b)).toBeCloseTo(0.05);
    for (let i = 0; i < 20; i++) spinOnce(b, clock, {});
    expect(budgetOf(b)).toBe(0); // halved below 2 us: no spin at all
    spinOnce(b, clock, { sawAfterMs: 0.0001 }); // a change seen at once still counts
    expect(budgetOf(b)).toBeCloseTo(0.004);
    for (let i = 0; i < 10; i++) spinOnce(b, clock, { sawAfterMs: 0.001 });
    expect(budgetOf(b)).toBeCloseTo(0.1); // ceiling
  });

  it('stops at once and drops to 0 when the thread was descheduled mid-spin', () => {
    const clock = { now: 0 };
    vi.spyOn(performance, 'now').mockImplementation(() => clock.now);
    const b = new SpinBudget(0.1);
    const ran = spinOnce(b, clock, { gapMs: 0.05 }); // 50 us between two checks
    expect(ran).toBeCloseTo(0.05);
    expect(budgetOf(b)).toBe(0);
  });

  it('probes with the full budget every 256th spin, so a low budget can recover', () => {
    const clock = { now: 0 };
    vi.spyOn(performance, 'now').mockImplementation(() => clock.now);
    const b = new SpinBudget(0.1);
    const ran: number[] = [];
    for (let i = 0; i < 512; i++) ran.push(spinOnce(b, clock, {}));
    const full = ran.flatMap((r, i) => (r > 0.09 ? [i + 1] : []));
    expect(full).toEqual([1, 256, 512]);
    // A probe that sees the change lifts the budget to the ceiling.
    for (let i = 0; i < 255; i++) spinOnce(b, clock, {});
    spinOnce(b, clock, { sawAfterMs: 0.03 });
    expect(budgetOf(b)).toBeCloseTo(0.1);
  });

  it('a zero maximum never spins', () => {
    const clock = { now: 0 };
    vi.spyOn(performance, 'now').mockImplementation(() => clock.now);
    const b = new SpinBudget(0);
    expect(spinOnce(b, clock, {})).toBeLessThan(0.001);
    expect(budgetOf(b)).toBe(0);
  });
});

describe('callKernel', () => {
  it('passes 0..MAX_ARGS arguments from any offset, in order', () => {
    const words = Float64Array.from({ length: 40 }, (_, i) => i * 1.5 - 3);
    for (let n = 0; n <= MAX_ARGS; n++) {
      let got: number[] = [];
      callKernel((...a: number[]) => (got = a), words, 7, n);
      expect(got).toEqual(Array.from(words.subarray(7, 7 + n)));
    }
  });
});
