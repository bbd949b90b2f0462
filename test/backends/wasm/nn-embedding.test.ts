import { describe, expect, it } from 'vitest';
import { referenceEmbedding } from '../../../src/backends/reference/nn.js';
import { embedding, embeddingCall } from '../../../src/backends/wasm/nn.js';
import { ShapeError } from '../../../src/errors.js';
import { dequantize } from '../../../src/ops/dequantize.js';
import { quantize } from '../../../src/ops/quantize.js';
import { GGML_TYPE_NAMES, GGML_TYPES, type GgmlTypeInfo } from '../../../src/types/ggml-types.js';
import { f32ToBf16, f32ToF16 } from '../../../src/types/half.js';
import { alloc, free, put, read, rng, rt, sameBits, splits, uniform } from './nn-helpers.js';

/** A [nVocab, nEmbd] table of `type` as ggml bytes (activation-only q8_1/q8_K through their quantizers too). */
function table(type: GgmlTypeInfo, nVocab: number, nEmbd: number): Uint8Array {
  const x = uniform(nVocab * nEmbd, nEmbd + type.id, 2);
  if (type.name === 'f32') return new Uint8Array(x.buffer);
  if (type.name === 'f16') return new Uint8Array(Uint16Array.from(x, f32ToF16).buffer);
  if (type.name === 'bf16') return new Uint8Array(Uint16Array.from(x, f32ToBf16).buffer);
  return quantize(type.name, x);
}

function lookup(
  type: GgmlTypeInfo,
  bytes: Uint8Array,
  ids: Int32Array,
  nEmbd: number,
  nVocab: number,
  r0?: number,
  r1?: number,
) {
  const tp = rt.arena.alloc(bytes.byteLength);
  rt.u8.set(bytes, tp);
  const ip = put(ids);
  const yp = alloc(ids.length * nEmbd);
  try {
    embedding(rt, type, tp, ip, yp, ids.length, nEmbd, nVocab, r0, r1);
    return read(yp, ids.length * nEmbd);
  } finally {
    free(tp, ip, yp);
  }
}

describe('embedding lookup (nn_embedding) for every ggml type', () => {
  for (const name of GGML_TYPE_NAMES) {
    const type = GGML_TYPES[name];
    it(`${name}: each row bit-identical to dequantize() of that row`, () => {
      const nEmbd = type.blockSize === 256 ? 512 : type.blockSize === 32 ? 96 : 75;
      const nVocab = 37;
      const bytes = table(type, nVocab, nEmbd);
      const rowBytes = bytes.byteLength / nVocab;
      const r = rng(type.id + 1);
      const ids = Int32Array.from({ length: 11 }, (_, i) =>
        i === 0 ? nVocab - 1 : i === 1 ? 0 : Math.floor(r() * nVocab),
      );
      const y = lookup(type, bytes, ids, nEmbd, nVocab);
      for (let t = 0; t < ids.length; t++) {
        const want = dequantize(name, bytes.subarray(ids[t] * rowBytes, (ids[t] + 1) * rowBytes), nEmbd);
        expect(sameBits(y.subarray(t * nEmbd, (t + 1) * nEmbd), want)).toBe(true);
      }
      expect(sameBits(y, Float32Array.from(referenceEmbedding(type, bytes, ids, nEmbd)))).toBe(true);
      for (const split of splits(ids.length, 1, 3)) {
        const tp = rt.arena.alloc(bytes.byteLength);
        rt.u8.set(bytes, tp);
        const ip = put(ids);
        const yp = alloc(ids.length * nEmbd);
        for (const [a, b] of split) embedding(rt, type, tp, ip, yp, ids.length, nEmbd, nVocab, a, b);
        expect(sameBits(read(yp, ids.length * nEmbd), y)).toBe(true);
        free(tp, ip, yp);
      }
    });
  }

  it('an id outside [0, n_vocab) is a ShapeError naming its index before any kernel runs', () => {
    const type = GGML_TYPES.q8_0;
    const bytes = table(type, 4, 32);
    expect(() => lookup(type, bytes, Int32Array.of(1, 4), 32, 4)).toThrow(ShapeError);
    expect(() => lookup(type, bytes, Int32Array.of(-1), 32, 4)).toThrow(/ids\[0\] = -1/);
    const ip = put(Int32Array.of(2, 9));
    expect(() => embeddingCall(rt, type, 0, ip, 0, 2, 32, 4)).toThrow(
      /ids\[1\] = 9 is outside the vocabulary \[0, 4\)/,
    );
    free(ip);
  });
});
