import { describe, expect, it } from 'vitest';
import { SizeError } from '../../src/errors.js';
import {
  quantizeRowQ2_K,
  quantizeRowQ3_K,
  quantizeRowQ4_K,
  quantizeRowQ5_K,
  quantizeRowQ6_K,
} from '../../src/quant/kquants.js';
import { nearestInt } from '../../src/quant/rounding.js';
import {
  arrayBytes,
  arrayF32,
  conformanceAvailable,
  describeByteMismatch,
  firstByteMismatch,
  loadManifest,
  row,
} from '../helpers/conformance.js';

type Quantizer = (x: Float32Array, out: Uint8Array) => void;

const QUANTIZERS: Record<string, { fn: Quantizer; typeSize: number }> = {
  q2_K: { fn: quantizeRowQ2_K, typeSize: 84 },
  q3_K: { fn: quantizeRowQ3_K, typeSize: 110 },
  q4_K: { fn: quantizeRowQ4_K, typeSize: 144 },
  q5_K: { fn: quantizeRowQ5_K, typeSize: 176 },
  q6_K: { fn: quantizeRowQ6_K, typeSize: 210 },
};

const have = conformanceAvailable();

describe.skipIf(!have)('k-quant reference quantizers are byte-identical to ggml_quantize_chunk', () => {
  const types = have ? loadManifest().types : {};
  for (const [type, { fn, typeSize }] of Object.entries(QUANTIZERS)) {
    const spec = types[type];
    for (const c of spec?.cases ?? []) {
      it(`${type} ${c.name} (${c.rows} rows × ${c.cols})`, () => {
        expect(spec.type_size).toBe(typeSize);
        const input = arrayF32(spec.file, c.arrays.input);
        const quant = arrayBytes(spec.file, c.arrays.quant);
        const rowSize = (c.cols / 256) * typeSize;
        for (let r = 0; r < c.rows; r++) {
          const want = row(quant, c.arrays.quant, r);
          const got = new Uint8Array(rowSize);
          fn(row(input, c.arrays.input, r), got);
          const at = firstByteMismatch(want, got);
          if (at >= 0) {
            expect.fail(
              describeByteMismatch(
                `${type} ${c.name} row ${r} (block ${Math.floor(at / typeSize)}, byte ${at % typeSize} in block)`,
                at,
                want,
                got,
              ),
            );
          }
        }
      });
    }
  }
});

describe('k-quant quantizer argument checks', () => {
  for (const [type, { fn, typeSize }] of Object.entries(QUANTIZERS)) {
    it(`${type} rejects partial blocks and wrong output sizes`, () => {
      expect(() => fn(new Float32Array(100), new Uint8Array(typeSize))).toThrow(SizeError);
      expect(() => fn(new Float32Array(256), new Uint8Array(typeSize + 1))).toThrow(SizeError);
    });

    it(`${type} quantizes an all-zero block to all-zero bytes`, () => {
      const out = new Uint8Array(typeSize).fill(0xaa);
      fn(new Float32Array(256), out);
      expect(out.every((b) => b === 0)).toBe(true);
    });
  }
});

describe('nearestInt (ggml nearest_int)', () => {
  it('rounds ties to even', () => {
    expect([0.5, 1.5, 2.5, -1.5, -2.5, 3.49].map(nearestInt)).toEqual([0, 2, 2, -2, -2, 3]);
  });

  it('returns the mantissa bits ggml returns outside its asserted range', () => {
    // 5e6 + 1.5·2^23 = 17582912 has exponent 2^24: low 23 bits 402848, minus 0x400000.
    expect(nearestInt(5e6)).toBe(402848 - 0x400000);
    expect(nearestInt(Number.POSITIVE_INFINITY)).toBe(-0x400000);
  });
});
