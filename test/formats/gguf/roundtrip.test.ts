import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../../../src/formats/byte-source.js';
import {
  type GgufMetadataValue,
  isSupportedTensorType,
  readGguf,
  readGgufFromSource,
  GgufValueType as T,
  writeGguf,
  writeGgufFile,
} from '../../../src/formats/gguf/index.js';
import { GGML_TYPES } from '../../../src/types/ggml-types.js';
import { pattern, sampleFile, sampleOptions } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'plumbline-gguf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeGguf → readGguf round trip', () => {
  it('keeps every metadata value and its GGUF type, in order', async () => {
    const g = await readGguf(sampleFile());
    const want = new Map<string, GgufMetadataValue>([
      ['general.architecture', { type: T.STRING, value: 'llama' }],
      ['general.name', { type: T.STRING, value: 'sample' }],
      ['llama.context_length', { type: T.UINT32, value: 64 }],
      ['llama.embedding_length', { type: T.UINT32, value: 32 }],
      ['llama.rope.freq_base', { type: T.FLOAT32, value: 10000 }],
      ['u8', { type: T.UINT8, value: 255 }],
      ['i8', { type: T.INT8, value: -128 }],
      ['u16', { type: T.UINT16, value: 65535 }],
      ['i16', { type: T.INT16, value: -32768 }],
      ['i32', { type: T.INT32, value: -5 }],
      ['f64', { type: T.FLOAT64, value: Math.PI }],
      ['u64', { type: T.UINT64, value: 2n ** 64n - 1n }],
      ['i64', { type: T.INT64, value: -(2n ** 63n) }],
      ['flag', { type: T.BOOL, value: true }],
      [
        'tokenizer.ggml.tokens',
        { type: T.ARRAY, itemType: T.STRING, value: ['<unk>', '<s>', '</s>', 'héllo', '▁the'] },
      ],
      ['tokenizer.ggml.scores', { type: T.ARRAY, itemType: T.FLOAT32, value: [0, -1, -2, -3.5, -4] }],
      [
        'nested',
        {
          type: T.ARRAY,
          itemType: T.ARRAY,
          value: [
            { type: T.ARRAY, itemType: T.UINT32, value: [1, 2, 3] },
            { type: T.ARRAY, itemType: T.STRING, value: ['a', ''] },
            { type: T.ARRAY, itemType: T.UINT64, value: [] },
          ],
        },
      ],
    ]);
    expect([...g.metadata.keys()]).toEqual([...want.keys()]);
    expect(g.metadata).toEqual(want);
    expect(g.get('u64')).toBe(2n ** 64n - 1n);
    expect(g.get('nested')).toEqual([[1, 2, 3], ['a', ''], []]);
    expect(g.get('missing')).toBeUndefined();
  });

  it('keeps tensor names, types, shapes and bytes, with aligned offsets', async () => {
    const opts = sampleOptions();
    const g = await readGguf(writeGguf(opts));
    expect(g.version).toBe(3);
    expect(g.alignment).toBe(32);
    expect(g.dataOffset % 32).toBe(0);
    expect(g.tensors.map((t) => [t.name, t.type.name])).toEqual([
      ['norm.weight', 'f32'],
      ['q4.weight', 'q4_0'],
      ['q8.weight', 'q8_0'],
      ['iq2.weight', 'iq2_xxs'],
      ['empty', 'f16'],
    ]);
    expect(g.tensor('q4.weight')).toMatchObject({ ne: [32, 2], shape: [2, 32], count: 64, byteSize: 36 });
    expect(g.tensor('q8.weight')).toMatchObject({ ne: [64], shape: [64], count: 64, byteSize: 68 });
    expect(g.tensor('q4.weight')!.type).toBe(GGML_TYPES.q4_0);
    for (const [i, t] of g.tensors.entries()) {
      expect(t.offset % 32, t.name).toBe(0);
      expect(t.absoluteOffset).toBe(g.dataOffset + t.offset);
      expect(await g.tensorData(t)).toEqual(opts.tensors![i].data);
    }
    expect(await g.tensorData('q8.weight')).toEqual(pattern(68, 2));
  });

  it('lists a tensor type plumbline does not implement, with its ggml geometry', async () => {
    const g = await readGguf(sampleFile());
    const iq2 = g.tensor('iq2.weight')!;
    expect(isSupportedTensorType(iq2.type)).toBe(false);
    expect(iq2.type).toMatchObject({ id: 16, name: 'iq2_xxs', blockSize: 256, typeSize: 66 });
    expect(iq2.byteSize).toBe(66);
  });

  it('reads what it wrote identically when written back', async () => {
    const first = sampleFile();
    const g = await readGguf(first);
    const tensors = await Promise.all(
      g.tensors.map(async (t) => ({ name: t.name, type: t.type, ne: t.ne, data: await g.tensorData(t) })),
    );
    const second = writeGguf({ metadata: g.metadata, tensors, alignment: g.alignment, version: 3 });
    expect(second).toEqual(first);
  });

  it('writes the same bytes to a file as to memory, and reads the file lazily by path', async () => {
    const path = join(dir, 'sample.gguf');
    await writeGgufFile(path, sampleOptions());
    expect(new Uint8Array(readFileSync(path))).toEqual(sampleFile());
    const g = await readGguf(path);
    expect(g.name).toBe(path);
    expect(await g.tensorData('q4.weight')).toEqual(pattern(36, 1));
    await g.close();
    await expect(g.tensorData('q4.weight')).rejects.toThrow(/closed/);
  });

  it('honours a custom alignment and records it as general.alignment', async () => {
    const bytes = writeGguf({ ...sampleOptions(), alignment: 64 });
    const g = await readGguf(bytes);
    expect(g.alignment).toBe(64);
    expect(g.metadata.get('general.alignment')).toEqual({ type: T.UINT32, value: 64 });
    expect(g.dataOffset % 64).toBe(0);
    for (const t of g.tensors) expect(t.offset % 64).toBe(0);
    expect(bytes.length % 64).toBe(0);
  });

  it('writes and reads version 2', async () => {
    const g = await readGguf(writeGguf({ ...sampleOptions(), version: 2 }));
    expect(g.version).toBe(2);
    expect(g.tensors).toHaveLength(5);
  });

  it('handles no tensors, a scalar (n_dims = 0) and alignment 1', async () => {
    expect((await readGguf(writeGguf({}))).tensors).toEqual([]);
    const g = await readGguf(
      writeGguf({ alignment: 1, tensors: [{ name: 's', type: 'f32', shape: [], data: pattern(4) }] }),
    );
    expect(g.tensor('s')).toMatchObject({ ne: [], shape: [], count: 1, byteSize: 4 });
    expect(await g.tensorData('s')).toEqual(pattern(4));
  });

  it('keeps strings exactly: a leading BOM, astral characters, NUL, keys named __proto__', async () => {
    const values = ['\uFEFFbom', '𝄞 emoji 🦙', 'nul\0inside', ''];
    const g = await readGguf(
      writeGguf({
        metadata: [
          ['s', { type: T.ARRAY, itemType: T.STRING, value: values }],
          ['__proto__', 'p'],
        ],
      }),
    );
    expect(g.get('s')).toEqual(values);
    expect(g.get('__proto__')).toBe('p');
  });

  it('round-trips a header far larger than one write buffer or read chunk', async () => {
    const tokens = Array.from({ length: 20000 }, (_, i) => `token ${i} ${'x'.repeat(i % 17)}`);
    const scores = tokens.map((_, i) => -i);
    const bytes = writeGguf({
      metadata: [
        ['tokenizer.ggml.tokens', tokens],
        ['tokenizer.ggml.scores', scores],
      ],
      tensors: [{ name: 't', type: 'f32', shape: [3], data: pattern(12) }],
    });
    expect(bytes.length).toBeGreaterThan(300_000);
    const g = await readGguf(bytes);
    expect(g.get('tokenizer.ggml.tokens')).toEqual(tokens);
    expect(g.get('tokenizer.ggml.scores')).toEqual(scores);
    expect(await g.tensorData('t')).toEqual(pattern(12));
  });

  it('reads the same with tiny chunks (every field split across reads)', async () => {
    const bytes = sampleFile();
    const whole = await readGguf(bytes);
    for (const chunkSize of [1, 3, 7, 64]) {
      const g = await readGgufFromSource(bytesSource(bytes), { chunkSize });
      expect(g.metadata).toEqual(whole.metadata);
      expect(g.tensors).toEqual(whole.tensors);
    }
  });
});
