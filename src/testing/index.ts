/**
 * plumbline/testing: parity assertions for kernel test suites, in place of
 * hand-tuned atol/rtol and "accepted divergence" lists — a tier says which
 * precision explains a difference.
 *
 *   import { assertParity, parityMatchers } from 'plumbline/testing';
 *   expect.extend(parityMatchers);                       // once, e.g. in a setup file
 *   expect(gpuOut).toMatchReference(ref.y, { tier: 'tf32', magnitude: ref.magnitude, K });
 *   assertParity(gpuOut, ref.y, { tier: 'f32' });        // throws ParityError with the report
 *
 * The matcher needs nothing from the runner at run time: it works with
 * vitest's and jest's expect.extend.
 */
import { PlumblineError } from '../errors.js';
import { type CompareOptions, type Comparison, compare } from '../oracle/compare.js';
import { formatComparison } from '../oracle/report.js';
import type { TensorLike } from '../oracle/tensor-input.js';

export type { CompareOptions, Comparison, ParityTier } from '../oracle/compare.js';
export type { TensorLike } from '../oracle/tensor-input.js';

/** A candidate that is not explained by the tier; the message is the readable report. */
export class ParityError extends PlumblineError {
  constructor(readonly comparison: Comparison) {
    super(formatComparison(comparison));
  }
}

/** Compares and throws a ParityError unless the verdict passes; returns the comparison. */
export function assertParity(
  candidate: TensorLike,
  reference: TensorLike,
  options: CompareOptions,
): Comparison {
  const c = compare(candidate, reference, options);
  if (!c.verdict.pass) throw new ParityError(c);
  return c;
}

interface MatcherContext {
  isNot?: boolean;
}

interface MatcherResult {
  pass: boolean;
  message: () => string;
}

/** Matchers for expect.extend (vitest or jest). */
export const parityMatchers = {
  toMatchReference(
    this: MatcherContext,
    received: TensorLike,
    reference: TensorLike,
    options: CompareOptions,
  ): MatcherResult {
    const c = compare(received, reference, options);
    const report = formatComparison(c);
    return {
      pass: c.verdict.pass,
      message: () =>
        this.isNot
          ? `expected the candidate not to match the reference at the ${c.tier} tier, but it does:\n${report}`
          : `expected the candidate to match the reference at the ${c.tier} tier:\n${report}`,
    };
  },
};

/** Registers parityMatchers on a runner's expect: setupParityMatchers(expect). */
export function setupParityMatchers(expect: { extend(matchers: Record<string, unknown>): void }): void {
  expect.extend(parityMatchers);
}

interface ParityMatchers<R = unknown> {
  /** Passes when the received tensor is explained by the tier against the reference (see compare()). */
  toMatchReference(reference: TensorLike, options: CompareOptions): R;
}

// Type-only: resolves the module being augmented; nothing of vitest is loaded at run time.
import type {} from 'vitest';

declare module 'vitest' {
  // biome-ignore lint/suspicious/noExplicitAny: vitest's own declaration uses any
  interface Matchers<T = any> extends ParityMatchers<T> {}
}

declare global {
  namespace jest {
    interface Matchers<R> extends ParityMatchers<R> {}
  }
}
