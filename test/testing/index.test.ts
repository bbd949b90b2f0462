import { compare } from 'plumbline';
// Through the package subpath, as users import it (vitest.config.ts aliases it to the source).
import { assertParity, ParityError, parityMatchers, setupParityMatchers } from 'plumbline/testing';
import { describe, expect, it } from 'vitest';
import { referenceMatmul } from '../../src/backends/reference/matmul.js';
import { PlumblineError } from '../../src/errors.js';
import { emulatedMatmul } from '../../src/oracle/emulated-matmul.js';

expect.extend(parityMatchers);

const M = 4;
const N = 32;
const K = 128;
const x = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i * 0.37));
const w = Float32Array.from({ length: N * K }, (_, i) => Math.cos(i * 0.11));
const ref = referenceMatmul(x, w, M, N, K);
const tf32 = emulatedMatmul(x, w, M, N, K, { inputs: 'tf32-trunc', accumulate: 'f32' }).y;
const buggy = Float64Array.from(tf32);
buggy[77] += 0.3; // about 3 bounds: over the tier, under ggml's mul_mat NMSE limit

describe('plumbline/testing', () => {
  it('assertParity returns the comparison when the tier explains the candidate', () => {
    const c = assertParity(tf32, ref.y, { tier: 'tf32', magnitude: ref.magnitude, K });
    expect(c.verdict.pass).toBe(true);
    expect(compare).toBeTypeOf('function');
  });

  it('assertParity throws a ParityError whose message is the readable report', () => {
    let err: unknown;
    try {
      assertParity(buggy, ref.y, { tier: 'tf32', magnitude: ref.magnitude, K });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParityError);
    expect(err).toBeInstanceOf(PlumblineError);
    const e = err as ParityError;
    expect(e.comparison.bound?.index).toBe(77);
    const lines = e.message.split('\n');
    expect(lines[0]).toMatch(/^FAIL {2}tf32 tier \(bound\): 1 of 128 elements over the tf32 bound/);
    expect(lines[1]).toMatch(
      /ggml test-backend-ops mul_mat \(NMSE limit 0\.0005\): PASS .*disagrees with the tier/,
    );
    expect(lines[2]).toMatch(/^worst element 77: candidate .*, reference .*, \|a−r\| .*, bound .* \(ratio /);
    expect(lines[3]).toBe('first over the tier: 77');
  });

  it('toMatchReference passes, fails with the report, and negates', () => {
    expect(tf32).toMatchReference(ref.y, { tier: 'tf32', magnitude: ref.magnitude, K });
    expect(() =>
      expect(buggy).toMatchReference(ref.y, { tier: 'tf32', magnitude: ref.magnitude, K }),
    ).toThrow(/expected the candidate to match the reference at the tf32 tier:\nFAIL {2}tf32 tier/);
    expect(tf32).not.toMatchReference(ref.y, { tier: 'f32', magnitude: ref.magnitude, K });
    expect(() =>
      expect(tf32).not.toMatchReference(ref.y, { tier: 'tf32', magnitude: ref.magnitude, K }),
    ).toThrow(/not to match the reference at the tf32 tier, but it does:\nPASS/);
  });

  it('setupParityMatchers registers the matchers on any expect with extend()', () => {
    const registered: string[] = [];
    setupParityMatchers({ extend: (m) => registered.push(...Object.keys(m)) });
    expect(registered).toEqual(['toMatchReference']);
  });
});
