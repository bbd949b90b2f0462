import { describe, expect, it } from 'vitest';
import { SizeError, UnsupportedTypeError } from '../../src/errors.js';
import { dequantize } from '../../src/ops/dequantize.js';
import { quantize } from '../../src/ops/quantize.js';
import { GGML_TYPE_NAMES, GGML_TYPES } from '../../src/types/ggml-types.js';
import {
  arrayBytes,
  arrayF32,
  conformanceAvailable,
  describeByteMismatch,
  firstByteMismatch,
  loadManifest,
} from '../helpers/conformance.js';

const have = conformanceAvailable();

describe.skipIf(!have)('quantize() is byte-identical to ggml_quantize_chunk, whole tensors at once', () => {
  const types = have ? loadManifest().types : {};
  for (const [name, spec] of Object.entries(types)) {
    for (const c of spec.cases) {
      it(`${name} ${c.name}`, () => {
        const want = arrayBytes(spec.file, c.arrays.quant);
        const got = quantize(name, arrayF32(spec.file, c.arrays.input));
        const i = firstByteMismatch(want, got);
        if (i >= 0)
          expect.fail(
            describeByteMismatch(
              `${name} ${c.name} row ${Math.floor(i / (want.length / c.rows))}`,
              i,
              want,
              got,
            ),
          );
      });
    }
  }
});

describe('quantize() arguments', () => {
  it('rejects unknown types and partial blocks with typed errors naming the type', () => {
    expect(() => quantize('q4_9', new Float32Array(32))).toThrow(UnsupportedTypeError);
    expect(() => quantize('q4_K', new Float32Array(100))).toThrow(SizeError);
    expect(() => quantize('q4_K', new Float32Array(100))).toThrow(
      /q4_K: element count 100 is not a multiple of the block size 256/,
    );
  });

  it('every type: dequantize(quantize(x)) has the bytes quantize wrote, and f32 is the identity', () => {
    const x = new Float32Array(512).map((_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
    for (const t of GGML_TYPE_NAMES) {
      const q = quantize(t, x);
      expect(q.length).toBe((512 / GGML_TYPES[t].blockSize) * GGML_TYPES[t].typeSize);
      const y = dequantize(t, q, 512);
      // Requantizing a dequantized tensor is not the identity for the searched formats, but f32/f16/bf16/q8 are stable.
      if (['f32', 'f16', 'bf16'].includes(t)) expect(quantize(t, y)).toEqual(q);
    }
    expect(dequantize('f32', quantize('f32', x), 512)).toEqual(x);
  });
});
