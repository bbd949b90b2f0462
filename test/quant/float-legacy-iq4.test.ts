import { describe, expect, it } from 'vitest';
import { SizeError } from '../../src/errors.js';
import { quantizeRowBF16, quantizeRowF16 } from '../../src/quant/float.js';
import { bestIndex, quantizeRowIQ4_NL, quantizeRowIQ4_XS } from '../../src/quant/iq4.js';
import {
  quantizeRowQ4_0,
  quantizeRowQ4_1,
  quantizeRowQ5_0,
  quantizeRowQ5_1,
  quantizeRowQ8_0,
  quantizeRowQ8_1,
} from '../../src/quant/legacy.js';
import { quantizeRowQ8_K } from '../../src/quant/q8k.js';
import { nearestInt, roundfAwayFromZero, truncToInt8 } from '../../src/quant/rounding.js';
import {
  arrayBytes,
  arrayF32,
  conformanceAvailable,
  describeByteMismatch,
  firstByteMismatch,
  loadManifest,
} from '../helpers/conformance.js';

type Quantizer = (x: Float32Array, out: Uint8Array) => void;

const WEIGHT_QUANTIZERS: Record<string, Quantizer> = {
  f16: quantizeRowF16,
  bf16: quantizeRowBF16,
  q4_0: quantizeRowQ4_0,
  q4_1: quantizeRowQ4_1,
  q5_0: quantizeRowQ5_0,
  q5_1: quantizeRowQ5_1,
  q8_0: quantizeRowQ8_0,
  q8_K: quantizeRowQ8_K,
  iq4_nl: quantizeRowIQ4_NL,
  iq4_xs: quantizeRowIQ4_XS,
};

/** Activation quantizers checked through a weight type's act_input → act_quant_ref arrays. */
const ACTIVATION_CHECKS: { via: string; type: string; quantize: Quantizer }[] = [
  { via: 'q4_0', type: 'q8_0', quantize: quantizeRowQ8_0 },
  { via: 'q8_0', type: 'q8_0', quantize: quantizeRowQ8_0 },
  { via: 'q4_1', type: 'q8_1', quantize: quantizeRowQ8_1 },
  { via: 'q4_K', type: 'q8_K', quantize: quantizeRowQ8_K },
];

/** Quantizes each row of `input` and compares with `expected` byte for byte. */
function expectRowsMatch(
  what: string,
  quantize: Quantizer,
  input: Float32Array,
  expected: Uint8Array,
  rows: number,
) {
  const cols = input.length / rows;
  const rowBytes = expected.length / rows;
  for (let r = 0; r < rows; r++) {
    const want = expected.subarray(r * rowBytes, (r + 1) * rowBytes);
    const got = new Uint8Array(rowBytes);
    quantize(input.subarray(r * cols, (r + 1) * cols), got);
    const i = firstByteMismatch(want, got);
    if (i >= 0) expect.fail(describeByteMismatch(`${what}, row ${r}`, i, want, got));
  }
}

const have = conformanceAvailable();

describe.skipIf(!have)('reference quantizers are byte-identical to ggml_quantize_chunk', () => {
  const types = have ? loadManifest().types : {};
  for (const [type, quantize] of Object.entries(WEIGHT_QUANTIZERS)) {
    for (const c of types[type]?.cases ?? []) {
      it(`${type} ${c.name}`, () => {
        const file = types[type].file;
        const input = arrayF32(file, c.arrays.input);
        expectRowsMatch(`${type} ${c.name}`, quantize, input, arrayBytes(file, c.arrays.quant), c.rows);
      });
    }
  }
  for (const { via, type, quantize } of ACTIVATION_CHECKS) {
    for (const c of types[via]?.cases ?? []) {
      it(`${type} activations (${via}.bin act_quant_ref) ${c.name}`, () => {
        const file = types[via].file;
        const input = arrayF32(file, c.arrays.act_input);
        const want = arrayBytes(file, c.arrays.act_quant_ref);
        expectRowsMatch(`${type} via ${via} ${c.name}`, quantize, input, want, c.arrays.act_input.shape[0]);
      });
    }
  }
});

/** Quantizes the given values (whole blocks of blockSize) into a fresh buffer. */
function quantizeBlock(quantize: Quantizer, x: number[], typeSize: number, blockSize = 32): Uint8Array {
  const out = new Uint8Array((x.length / blockSize) * typeSize);
  quantize(new Float32Array(x), out);
  return out;
}

const halfAt = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);

describe('rounding helpers', () => {
  it('nearestInt rounds half to even, roundf half away from zero', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999998].map(nearestInt)).toEqual([0, 2, 2, 0, -2, -2, 2]);
    expect([0.5, 1.5, 2.5, -0.5, -2.5, 0.49999997].map(roundfAwayFromZero)).toEqual([1, 2, 3, -1, -3, 0]);
  });
  it('truncToInt8 truncates toward zero and wraps like a C int8_t cast', () => {
    expect([16.9, -0.9, -8.5, 200, Number.NaN].map(truncToInt8)).toEqual([16, 0, -8, -56, 0]);
  });
  it('bestIndex picks the nearest iq4_nl codebook entry', () => {
    expect([-200, -127, 0, -4.5, -4.6, 7, 113, 500].map(bestIndex)).toEqual([0, 0, 8, 8, 7, 9, 15, 15]);
  });
});

describe('hand-computed blocks', () => {
  it('q8_0: amax 127 gives d = 1, and ±2.5 round away from zero', () => {
    const x = new Array(32).fill(0);
    x[0] = 127;
    x[1] = 2.5;
    x[2] = -2.5;
    x[3] = 0.5;
    x[4] = -126.5;
    const b = quantizeBlock(quantizeRowQ8_0, x, 34);
    expect(halfAt(b, 0)).toBe(0x3c00);
    expect(Array.from(new Int8Array(b.buffer, 2, 6))).toEqual([127, 3, -3, 1, -127, 0]);
  });

  it('q8_1: s = d·Σqs', () => {
    const x = new Array(32).fill(0);
    x[0] = 127;
    x[20] = -1.5; // → -2
    const b = quantizeBlock(quantizeRowQ8_1, x, 36);
    expect(halfAt(b, 0)).toBe(0x3c00);
    expect(halfAt(b, 2)).toBe(0x57d0); // 125
    expect(new Int8Array(b.buffer, 4, 32)[20]).toBe(-2);
  });

  it('all-zero blocks: d = -0 for the symmetric formats, codes at the zero point', () => {
    const zeros = new Array(32).fill(0);
    const q4 = quantizeBlock(quantizeRowQ4_0, zeros, 18);
    expect(halfAt(q4, 0)).toBe(0x8000); // 0 / -8 = -0
    expect(Array.from(q4.subarray(2))).toEqual(new Array(16).fill(0x88));
    const q5 = quantizeBlock(quantizeRowQ5_0, zeros, 22);
    expect(halfAt(q5, 0)).toBe(0x8000);
    expect(Array.from(q5.subarray(2, 6))).toEqual([0xff, 0xff, 0xff, 0xff]); // code 16: fifth bit set
    expect(Array.from(q5.subarray(6))).toEqual(new Array(16).fill(0));
    expect(Array.from(quantizeBlock(quantizeRowQ4_1, zeros, 20))).toEqual(new Array(20).fill(0));
    expect(Array.from(quantizeBlock(quantizeRowQ8_0, zeros, 34))).toEqual(new Array(34).fill(0));
    const nl = quantizeBlock(quantizeRowIQ4_NL, zeros, 18);
    expect(Array.from(nl)).toEqual([0, 0, ...new Array(16).fill(0x88)]); // codebook entry 8 is 1, nearest to 0
    const xs = quantizeBlock(quantizeRowIQ4_XS, new Array(256).fill(0), 136, 256);
    expect(halfAt(xs, 0)).toBe(0x8000);
    expect(halfAt(xs, 2)).toBe(0xaaaa); // every sub-block scale 0 + 32: high bits 2
    expect(Array.from(xs.subarray(4, 8))).toEqual([0, 0, 0, 0]);
    expect(Array.from(quantizeBlock(quantizeRowQ8_K, new Array(256).fill(0), 292, 256))).toEqual(
      new Array(292).fill(0),
    );
  });

  it('q4_0: d = max/-8 from the signed max, codes min(15, trunc(x·id + 8.5))', () => {
    const x = Array.from({ length: 32 }, (_, j) => (j - 8) * 0.5); // max |x| = 11.5 at j = 31
    const b = quantizeBlock(quantizeRowQ4_0, x, 18);
    const d = 11.5 / -8;
    expect(halfAt(b, 0)).toBe(0xbdc0); // -1.4375
    const expected = x.map((v) => Math.min(15, Math.trunc(Math.fround(v * Math.fround(1 / d)) + 8.5)));
    const got = [...b.subarray(2)].flatMap((byte) => [byte & 15, byte >> 4]);
    const unpacked = [...got.filter((_, i) => i % 2 === 0), ...got.filter((_, i) => i % 2 === 1)];
    expect(unpacked).toEqual(expected);
  });

  it('q8_K: iscale = -127/max, half-even codes, d = 1/iscale as f32, bsums', () => {
    const x = new Array(256).fill(0);
    x[0] = 127; // iscale = -1
    x[1] = 0.5; // -0.5 → 0
    x[2] = 1.5; // -1.5 → -2
    x[3] = 2.5; // -2.5 → -2
    const b = quantizeBlock(quantizeRowQ8_K, x, 292, 256);
    const view = new DataView(b.buffer);
    expect(view.getFloat32(0, true)).toBe(-1);
    expect(Array.from(new Int8Array(b.buffer, 4, 4))).toEqual([-127, 0, -2, -2]);
    expect(view.getInt16(260, true)).toBe(-131);
    expect(view.getInt16(262, true)).toBe(0);
  });

  it('f16 and bf16 rows are little-endian halves', () => {
    const f16 = new Uint8Array(4);
    quantizeRowF16(new Float32Array([1, -2]), f16);
    expect(Array.from(f16)).toEqual([0x00, 0x3c, 0x00, 0xc0]);
    const bf16 = new Uint8Array(4);
    quantizeRowBF16(new Float32Array([1, -2]), bf16);
    expect(Array.from(bf16)).toEqual([0x80, 0x3f, 0x00, 0xc0]);
  });

  it('rejects partial blocks and wrong output sizes', () => {
    expect(() => quantizeRowQ4_0(new Float32Array(31), new Uint8Array(18))).toThrow(SizeError);
    expect(() => quantizeRowQ8_K(new Float32Array(256), new Uint8Array(291))).toThrow(SizeError);
  });
});
