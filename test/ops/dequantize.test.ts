import { describe, expect, it } from 'vitest';
import { wasmStatus } from '../../src/backends/wasm/default-runtime.js';
import { SizeError, UnsupportedTypeError } from '../../src/errors.js';
import { dequantize } from '../../src/ops/dequantize.js';
import { GGML_TYPE_NAMES, GGML_TYPES } from '../../src/types/ggml-types.js';
import {
  arrayBytes,
  arrayF32,
  conformanceAvailable,
  describeF32Mismatch,
  firstBitMismatch,
  loadManifest,
} from '../helpers/conformance.js';

const have = conformanceAvailable();
const backends = ['wasm', 'reference'] as const;

it('loads a wasm build', () => {
  expect(wasmStatus().build).toMatch(/^wasm-(relaxed-)?simd$/);
});

describe.skipIf(!have)('dequantize is bit-identical to ggml to_float (conformance corpus)', () => {
  const types = have ? loadManifest().types : {};
  for (const [name, spec] of Object.entries(types)) {
    for (const c of spec.cases) {
      for (const backend of backends) {
        it(`${name} ${c.name} (${backend})`, () => {
          const quant = arrayBytes(spec.file, c.arrays.quant);
          const want = arrayF32(spec.file, c.arrays.dequant);
          const got = dequantize(name, quant, c.rows * c.cols, { backend });
          const i = firstBitMismatch(want, got);
          if (i >= 0)
            expect.fail(describeF32Mismatch(`${name} ${c.name} row ${Math.floor(i / c.cols)}`, i, want, got));
        });
      }
      // Activation types (q8_0, q8_1, q8_K) through the vec_dot_type's act_quant_ref/act_dequant_ref.
      if (c.arrays.act_quant_ref && spec.vec_dot_type && !['f16', 'bf16'].includes(name)) {
        it(`${spec.vec_dot_type} (activations of ${name}) ${c.name}`, () => {
          const quant = arrayBytes(spec.file, c.arrays.act_quant_ref);
          const want = arrayF32(spec.file, c.arrays.act_dequant_ref);
          for (const backend of backends) {
            const got = dequantize(spec.vec_dot_type!, quant, want.length, { backend });
            const i = firstBitMismatch(want, got);
            if (i >= 0) expect.fail(describeF32Mismatch(`${spec.vec_dot_type} ${backend}`, i, want, got));
          }
        });
      }
    }
  }

  it('f16 → f32 for all 65536 patterns, both backends', () => {
    const m = loadManifest().f16_bf16_special;
    const want = arrayF32(m.file, m.f16_all_to_f32);
    const all = new Uint8Array(new Uint16Array(65536).map((_, i) => i).buffer);
    for (const backend of backends) {
      const got = dequantize('f16', all, 65536, { backend });
      const i = firstBitMismatch(want, got);
      if (i >= 0) expect.fail(describeF32Mismatch(`f16 ${backend}`, i, want, got));
    }
  });
});

describe('dequantize input validation', () => {
  it('rejects an unknown type', () => {
    expect(() => dequantize('q4_2', new Uint8Array(18))).toThrow(UnsupportedTypeError);
  });
  it('rejects a byte length that is not whole blocks, naming type and sizes', () => {
    expect(() => dequantize('q4_0', new Uint8Array(19))).toThrow(SizeError);
    expect(() => dequantize('q4_0', new Uint8Array(19))).toThrow(
      /q4_0: 19 bytes is not a whole number of 18-byte blocks/,
    );
  });
  it('rejects a count the bytes do not hold', () => {
    expect(() => dequantize('q8_0', new Uint8Array(34), 64)).toThrow(
      /q8_0: 64 elements need 68 bytes .* got 34 bytes/,
    );
    expect(() => dequantize('q4_K', new Uint8Array(144), 100)).toThrow(
      /not a multiple of the block size 256/,
    );
  });
  it('an all-zero block of every type dequantizes to zeros, the same bits on both backends', () => {
    for (const t of GGML_TYPE_NAMES) {
      const { blockSize, typeSize } = GGML_TYPES[t];
      // ±0: q4_0 computes (0 − 8)·0 = −0, as ggml does.
      const [wasm, ref] = backends.map((backend) =>
        dequantize(t, new Uint8Array(typeSize * 3), blockSize * 3, { backend }),
      );
      expect(wasm.length).toBe(blockSize * 3);
      expect(
        wasm.every((x) => x === 0),
        t,
      ).toBe(true);
      expect(firstBitMismatch(ref, wasm), t).toBe(-1);
    }
  });
  it('empty input gives an empty result', () => {
    expect(dequantize('q4_K', new Uint8Array(0), 0).length).toBe(0);
  });
});
