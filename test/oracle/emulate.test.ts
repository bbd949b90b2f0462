import { describe, expect, it } from 'vitest';
import {
  quantizationMagnitude,
  quantizeInt8,
  roundBf16,
  roundF16,
  roundOperands,
  roundTf32Rna,
  roundTf32Rne,
  roundTies,
  stageF16,
  truncTf32,
} from '../../src/oracle/emulate.js';
import { bitsToF32, f32ToBits } from '../../src/types/half.js';

const f = bitsToF32;
const bits = (x: number) => `0x${f32ToBits(x).toString(16).padStart(8, '0')}`;

/** [input bits, rna, rne, trunc] — worked by hand on the 13 dropped bits (0x1000 is half a tf32 ulp). */
const TF32_CASES: [string, number, number, number, number][] = [
  ['1 + 2^-11: a tie, odd neighbour above', 0x3f801000, 0x3f802000, 0x3f800000, 0x3f800000],
  ['1 + 3·2^-11: a tie, even neighbour above', 0x3f803000, 0x3f804000, 0x3f804000, 0x3f802000],
  ['just below the tie', 0x3f800fff, 0x3f800000, 0x3f800000, 0x3f800000],
  ['just above the tie', 0x3f801001, 0x3f802000, 0x3f802000, 0x3f800000],
  ['−(1 + 2^-11): ties away from zero in magnitude', 0xbf801000, 0xbf802000, 0xbf800000, 0xbf800000],
  ['FLT_MAX overflows to inf', 0x7f7fffff, 0x7f800000, 0x7f800000, 0x7f7fe000],
  ['−FLT_MAX overflows to −inf', 0xff7fffff, 0xff800000, 0xff800000, 0xff7fe000],
  ['largest value that stays finite', 0x7f7fefff, 0x7f7fe000, 0x7f7fe000, 0x7f7fe000],
  ['subnormal tie (2^-137) between 0 and 2^-136', 0x00001000, 0x00002000, 0x00000000, 0x00000000],
  ['subnormal below the tie', 0x00000fff, 0x00000000, 0x00000000, 0x00000000],
  ['largest subnormals carry into 2^-126', 0x007ff000, 0x00800000, 0x00800000, 0x007fe000],
  ['−0 stays −0', 0x80000000, 0x80000000, 0x80000000, 0x80000000],
  ['+inf stays +inf', 0x7f800000, 0x7f800000, 0x7f800000, 0x7f800000],
  ['−inf stays −inf', 0xff800000, 0xff800000, 0xff800000, 0xff800000],
];

describe('tf32 roundings', () => {
  for (const [name, input, rna, rne, trunc] of TF32_CASES) {
    it(name, () => {
      const x = f(input);
      expect(bits(roundTf32Rna(x))).toBe(bits(f(rna)));
      expect(bits(roundTf32Rne(x))).toBe(bits(f(rne)));
      expect(bits(truncTf32(x))).toBe(bits(f(trunc)));
    });
  }

  it('NaN stays NaN in every mode (including a payload only in the dropped bits)', () => {
    for (const r of [roundTf32Rna, roundTf32Rne, truncTf32]) {
      expect(r(Number.NaN)).toBeNaN();
      expect(r(f(0x7f800001))).toBeNaN();
    }
  });

  it('results have at most 10 mantissa bits', () => {
    let s = 7;
    for (let i = 0; i < 10000; i++) {
      s = (s * 1664525 + 1013904223) >>> 0;
      const x = f(s & 0x7f7fffff);
      for (const r of [roundTf32Rna, roundTf32Rne, truncTf32]) expect(f32ToBits(r(x)) & 0x1fff).toBe(0);
      // Nearest roundings are within half a tf32 ulp, truncation within one.
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(x))) - 10);
      if (Number.isFinite(roundTf32Rne(x)) && Math.abs(x) >= 2 ** -126) {
        expect(Math.abs(roundTf32Rne(x) - x)).toBeLessThanOrEqual(ulp / 2);
        expect(Math.abs(truncTf32(x) - x)).toBeLessThan(ulp);
      }
    }
  });
});

describe('bf16 and f16 roundings', () => {
  it('bf16: round to nearest even, overflow, subnormals, NaN, −0', () => {
    expect(roundBf16(f(0x3f808000))).toBe(1); // 1 + 2^-8: tie to even (1)
    expect(bits(roundBf16(f(0x3f818000)))).toBe('0x3f820000'); // 1 + 3·2^-8: tie to even above
    expect(bits(roundBf16(f(0x3f808001)))).toBe('0x3f810000'); // above the tie
    expect(roundBf16(f(0x7f7f8000))).toBe(Number.POSITIVE_INFINITY); // tie at the top goes to even = inf
    expect(bits(roundBf16(f(0x7f7f7fff)))).toBe('0x7f7f0000');
    expect(roundBf16(f(0x00008000))).toBe(0); // subnormal tie to even (0)
    expect(bits(roundBf16(f(0x00018000)))).toBe('0x00020000');
    expect(roundBf16(Number.NaN)).toBeNaN();
    expect(Object.is(roundBf16(-0), -0)).toBe(true);
  });

  it('f16: round to nearest even, overflow to inf, subnormals, NaN, −0', () => {
    expect(roundF16(1 + 2 ** -11)).toBe(1); // tie to even
    expect(roundF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(roundF16(65504)).toBe(65504); // largest f16
    expect(roundF16(65519.99)).toBe(65504);
    expect(roundF16(65520)).toBe(Number.POSITIVE_INFINITY); // the tie above 65504 goes to even: inf
    expect(roundF16(-65520)).toBe(Number.NEGATIVE_INFINITY);
    expect(roundF16(2 ** -24)).toBe(2 ** -24); // smallest subnormal
    expect(roundF16(2 ** -25)).toBe(0); // tie between 0 and 2^-24: even
    expect(roundF16(2 ** -25 + 2 ** -40)).toBe(2 ** -24);
    expect(roundF16(3 * 2 ** -25)).toBe(2 ** -23); // tie between 2^-24 (odd) and 2^-23 (even)
    expect(roundF16(2 ** -14 - 2 ** -25)).toBe(2 ** -14); // largest subnormal region rounds up to the smallest normal
    expect(roundF16(Number.NaN)).toBeNaN();
    expect(Object.is(roundF16(-0), -0)).toBe(true);
    expect(Object.is(roundF16(-(2 ** -26)), -0)).toBe(true);
  });

  it('roundOperands and stageF16 map whole arrays', () => {
    const x = new Float32Array([1 + 2 ** -11, 65520, 3 * 2 ** -25]);
    expect(Array.from(stageF16(x))).toEqual([1, Number.POSITIVE_INFINITY, 2 ** -23]);
    // 65520 = 65504 + 16 is a tf32 tie (spacing 32 there): away from zero.
    expect(Array.from(roundOperands(x, 'tf32-rna'))).toEqual([1 + 2 ** -10, 65536, 3 * 2 ** -25]);
    expect(Array.from(roundOperands(x, 'tf32-rne'))).toEqual([1, 65536, 3 * 2 ** -25]);
    expect(Array.from(roundOperands(x, 'f32'))).toEqual(Array.from(x));
  });
});

describe('int8 activation quantization', () => {
  it('ties to even or away from zero', () => {
    expect([0.5, 1.5, 2.5, -0.5, -2.5, 2.4, -2.6].map((v) => roundTies(v, 'even'))).toEqual([
      0, 2, 2, 0, -2, 2, -3,
    ]);
    expect([0.5, 1.5, 2.5, -0.5, -2.5, 2.4, -2.6].map((v) => roundTies(v, 'away'))).toEqual([
      1, 2, 3, -1, -3, 2, -3,
    ]);
  });

  it('per row: scale amax/127, q = round(x/s)', () => {
    // amax 127 → s = 1 exactly; the halves are ties.
    const x = new Float32Array([127, -62.5, 0.5, 1.5, 2.5, -127, 10, 0]);
    const even = quantizeInt8(x, 1, 8);
    expect(Array.from(even.scales)).toEqual([1]);
    expect(Array.from(even.q)).toEqual([127, -62, 0, 2, 2, -127, 10, 0]);
    expect(Array.from(even.dequantized)).toEqual([127, -62, 0, 2, 2, -127, 10, 0]);
    const away = quantizeInt8(x, 1, 8, { ties: 'away' });
    expect(Array.from(away.q)).toEqual([127, -63, 1, 2, 3, -127, 10, 0]);
  });

  it('per block, an all-zero block, a non-finite block', () => {
    const x = new Float32Array([2.54, -1.27, 0, 0, 1, Number.NaN, 254, 127]);
    const r = quantizeInt8(x, 2, 4, { block: 2 });
    const s0 = Math.fround(2.54 / 127);
    expect(r.scales[0]).toBe(s0);
    expect(r.scales[1]).toBe(0);
    expect(r.scales[2]).toBeNaN();
    expect(r.scales[3]).toBe(2);
    // −1.27/s0 is −63.5 exactly: a tie, to even.
    expect(Math.fround(-1.27 / s0)).toBe(-63.5);
    expect(Array.from(r.q)).toEqual([127, -64, 0, 0, 0, 0, 127, 64]);
    expect(r.dequantized[4]).toBeNaN();
    expect(r.dequantized[5]).toBeNaN();
    expect(r.dequantized[7]).toBe(128);
  });

  it('quantizationMagnitude sums the block amax times |w|', () => {
    // x: one row, two blocks of 2 (amax 3, then 5); w: two rows.
    const x = [1, -3, 5, 0];
    const w = [1, 1, 1, 1, -2, 0, 0.5, 4];
    expect(Array.from(quantizationMagnitude(x, w, 1, 2, 4, 2))).toEqual([3 * 2 + 5 * 2, 3 * 2 + 5 * 4.5]);
    expect(() => quantizationMagnitude(x, w, 1, 2, 4, 3)).toThrow(RangeError);
  });
});
