/**
 * GPU embedding lookup: rows of a table of every ggml type, bit-identical
 * to the CPU engine's embedding (and to dequantize() of each row).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../src/engine/engine.js';
import { ShapeError } from '../../../src/errors.js';
import { dequantize } from '../../../src/ops/dequantize.js';
import { quantize } from '../../../src/ops/quantize.js';
import { GGML_TYPE_NAMES, GGML_TYPES, type GgmlTypeInfo } from '../../../src/types/ggml-types.js';
import { f32ToBf16, f32ToF16 } from '../../../src/types/half.js';
import { describeF32Mismatch, firstBitMismatch } from '../../helpers/conformance.js';
import { webgpuEngine } from '../../helpers/webgpu.js';

const gpu = await webgpuEngine();

/** Deterministic values in [−2, 2). */
function values(n: number, seed: number): Float32Array {
  let s = seed * 2654435761 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 4 - 2;
  });
}

/** A [nVocab, nEmbd] table of `type` as ggml bytes. */
function table(type: GgmlTypeInfo, nVocab: number, nEmbd: number): Uint8Array {
  const x = values(nVocab * nEmbd, type.id + 7);
  if (type.name === 'f32') return new Uint8Array(x.buffer);
  if (type.name === 'f16') return new Uint8Array(Uint16Array.from(x, f32ToF16).buffer);
  if (type.name === 'bf16') return new Uint8Array(Uint16Array.from(x, f32ToBf16).buffer);
  return quantize(type.name, x);
}

function expectBits(what: string, want: Float32Array, got: Float32Array): void {
  expect(got.length, what).toBe(want.length);
  const i = firstBitMismatch(want, got);
  if (i >= 0) expect.fail(describeF32Mismatch(what, i, want, got));
}

describe.skipIf(!gpu)('WebGPU embedding', () => {
  const e = gpu!;
  afterAll(() => e.dispose());

  for (const name of GGML_TYPE_NAMES) {
    const type = GGML_TYPES[name];
    it(`${name}: rows bit-identical to the CPU engine and to dequantize() of each row`, async () => {
      // Odd row lengths for the float types (rows not a multiple of 4 elements).
      const nEmbd = type.blockSize === 256 ? 512 : type.blockSize === 32 ? 96 : 75;
      const nVocab = 37;
      const bytes = table(type, nVocab, nEmbd);
      const rowBytes = bytes.byteLength / nVocab;
      const ids = [nVocab - 1, 0, 5, 5, 17, 36, 1, 22, 9];
      const t = e.tensor(bytes, [nVocab, nEmbd], name);
      const y = await e.embedding(t, ids);
      expect(y.shape).toEqual([ids.length, nEmbd]);
      const got = await y.read();
      ids.forEach((id, r) => {
        const want = dequantize(name, bytes.subarray(id * rowBytes, (id + 1) * rowBytes), nEmbd);
        expectBits(`${name} row ${r} (id ${id})`, want, got.subarray(r * nEmbd, (r + 1) * nEmbd));
      });
      const cpu = await createEngine({ backend: 'wasm', threads: 1 });
      try {
        const ct = cpu.tensor(bytes, [nVocab, nEmbd], name);
        expectBits(`${name} vs CPU engine`, await (await cpu.embedding(ct, ids)).read(), got);
      } finally {
        await cpu.dispose();
      }
      expect(e.opReport().embedding.cpu).toBe(0);
      t.dispose();
      y.dispose();
    });
  }

  it('no ids gives an empty [0, n_embd] result', async () => {
    const t = e.tensor(new Float32Array(64), [2, 32]);
    const y = await e.embedding(t, []);
    expect(y.shape).toEqual([0, 32]);
    expect((await y.read()).length).toBe(0);
  });

  it('a bad id is a ShapeError naming its index, before any kernel runs', async () => {
    const t = e.tensor(table(GGML_TYPES.q4_0, 4, 32), [4, 32], 'q4_0');
    const before = e.opReport().embedding?.webgpu ?? 0;
    await expect(e.embedding(t, [1, 4])).rejects.toThrow(ShapeError);
    await expect(e.embedding(t, [1, 4])).rejects.toThrow(/ids\[1\] = 4 is outside the vocabulary \[0, 4\)/);
    await expect(e.embedding(t, [-1])).rejects.toThrow(/ids\[0\] = -1/);
    await expect(e.embedding(t, [0.5])).rejects.toThrow(ShapeError);
    expect(e.opReport().embedding?.webgpu ?? 0).toBe(before);
    // A table of the wrong rank, and a tensor of another engine.
    await expect(e.embedding(e.reshape(t, [128]), [0])).rejects.toThrow(/\[n_vocab, n_embd\]/);
    const cpu = await createEngine({ backend: 'reference' });
    await expect(e.embedding(cpu.tensor(new Float32Array(4), [2, 2]), [0])).rejects.toThrow(ShapeError);
    await cpu.dispose();
    t.dispose();
  });
});
