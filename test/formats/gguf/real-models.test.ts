/** The shared models, written by ggml's own GGUF writer (see ../shared/models/README.md). */
import { describe, expect, it } from 'vitest';
import { type ByteSource, fileSource } from '../../../src/formats/byte-source.js';
import { readGguf, readGgufFromSource, GgufValueType as T } from '../../../src/formats/gguf/index.js';
import { modelPath, runModelTests } from './helpers.js';

const LAYER_TENSORS = [
  'attn_norm',
  'attn_q',
  'attn_k',
  'attn_v',
  'attn_output',
  'ffn_norm',
  'ffn_gate',
  'ffn_down',
  'ffn_up',
];

function expectedNames(layers: number): string[] {
  const names = ['token_embd.weight'];
  for (let l = 0; l < layers; l++) names.push(...LAYER_TENSORS.map((t) => `blk.${l}.${t}.weight`));
  return [...names, 'output_norm.weight', 'output.weight'];
}

/** A ByteSource that counts what is read through it. */
function counting(src: ByteSource): ByteSource & { bytesRead: number; reads: number } {
  const c = {
    ...src,
    bytesRead: 0,
    reads: 0,
    async read(offset: number, length: number) {
      c.bytesRead += length;
      c.reads++;
      return src.read(offset, length);
    },
  };
  return c;
}

const MODELS = [
  { file: 'tiny-f32.gguf', embd: 512, layers: 4, heads: 8, kvHeads: 4, ff: 1408, vocab: 512 },
  { file: 'tiny-q8_0.gguf', embd: 512, layers: 4, heads: 8, kvHeads: 4, ff: 1408, vocab: 512 },
  { file: 'tiny-q4_k.gguf', embd: 512, layers: 4, heads: 8, kvHeads: 4, ff: 1408, vocab: 512 },
  { file: 'big-q4_k.gguf', embd: 2048, layers: 2, heads: 16, kvHeads: 4, ff: 5632, vocab: 2048 },
];

describe.skipIf(!runModelTests)('GGUF reader on files written by ggml', () => {
  for (const m of MODELS) {
    it(`${m.file}: llama hyperparameters, tokenizer and tensor list`, async () => {
      const g = await readGguf(modelPath(m.file));
      try {
        expect(g.version).toBe(3);
        expect(g.alignment).toBe(32);
        expect(g.get('general.architecture')).toBe('llama');
        const u32 = (value: number) => ({ type: T.UINT32, value });
        expect(g.metadata.get('llama.embedding_length')).toEqual(u32(m.embd));
        expect(g.metadata.get('llama.block_count')).toEqual(u32(m.layers));
        expect(g.metadata.get('llama.attention.head_count')).toEqual(u32(m.heads));
        expect(g.metadata.get('llama.attention.head_count_kv')).toEqual(u32(m.kvHeads));
        expect(g.metadata.get('llama.feed_forward_length')).toEqual(u32(m.ff));
        expect(g.metadata.get('llama.context_length')).toEqual(u32(512));
        expect(g.metadata.get('llama.rope.freq_base')).toEqual({ type: T.FLOAT32, value: 10000 });
        expect(g.metadata.get('llama.attention.layer_norm_rms_epsilon')).toEqual({
          type: T.FLOAT32,
          value: Math.fround(1e-5),
        });
        expect(g.get('tokenizer.ggml.model')).toBe('llama');
        const tokens = g.get('tokenizer.ggml.tokens') as string[];
        expect(tokens).toHaveLength(m.vocab);
        expect(tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
        expect(g.get('tokenizer.ggml.bos_token_id')).toBe(1);
        expect(g.get('tokenizer.ggml.eos_token_id')).toBe(2);

        expect(g.tensors.map((t) => t.name)).toEqual(expectedNames(m.layers));
        expect(g.tensor('token_embd.weight')).toMatchObject({
          ne: [m.embd, m.vocab],
          shape: [m.vocab, m.embd],
        });
        expect(g.tensor('blk.0.attn_k.weight')!.shape).toEqual([(m.embd / m.heads) * m.kvHeads, m.embd]);
        // ggml lays tensors out back to back, each padded to the alignment, up to the end of the file.
        const last = g.tensors.at(-1)!;
        expect(Math.ceil((last.absoluteOffset + last.byteSize) / 32) * 32).toBe(g.fileSize);
      } finally {
        await g.close();
      }
    });
  }

  it('tiny-f32 / q8_0 / q4_k use the types the README lists', async () => {
    const types = async (file: string) => {
      const g = await readGguf(modelPath(file));
      await g.close();
      return new Map(g.tensors.map((t) => [t.name, t.type.name]));
    };
    expect(new Set((await types('tiny-f32.gguf')).values())).toEqual(new Set(['f32']));
    const q8 = await types('tiny-q8_0.gguf');
    expect(q8.get('blk.0.attn_q.weight')).toBe('q8_0');
    expect(q8.get('blk.0.attn_norm.weight')).toBe('f32');
    const q4k = await types('tiny-q4_k.gguf');
    expect(q4k.get('token_embd.weight')).toBe('q4_K');
    expect(q4k.get('blk.3.ffn_gate.weight')).toBe('q4_K');
    expect(q4k.get('blk.0.ffn_down.weight')).toBe('q5_0');
    expect(q4k.get('blk.3.ffn_down.weight')).toBe('q5_0');
    expect(q4k.get('output.weight')).toBe('q6_K');
    expect(q4k.get('output_norm.weight')).toBe('f32');
  });

  it('tensorData returns byteSize bytes from the right place', async () => {
    const g = await readGguf(modelPath('tiny-q4_k.gguf'));
    const down = g.tensor('blk.0.ffn_down.weight')!;
    expect(down.byteSize).toBe((1408 / 32) * 22 * 512);
    const data = await g.tensorData(down);
    expect(data.length).toBe(down.byteSize);
    const norm = new Float32Array((await g.tensorData('output_norm.weight')).slice().buffer);
    expect(norm).toHaveLength(512);
    expect(norm.every((x) => x === 1)).toBe(true); // norms are 1 (README)
    await g.close();
  });

  it('big-q4_k (56 MB) is listed by path with a few small reads, not loaded', async () => {
    const src = counting(await fileSource(modelPath('big-q4_k.gguf')));
    const g = await readGgufFromSource(src);
    expect(g.tensors).toHaveLength(2 + 2 * 9 + 1);
    expect(g.tensor('output.weight')!.type.name).toBe('q6_K');
    expect(src.bytesRead).toBeLessThan(g.dataOffset + 64 * 1024);
    expect(src.bytesRead).toBeLessThan(g.fileSize / 100);
    const before = src.bytesRead;
    const out = g.tensor('output.weight')!;
    expect((await g.tensorData(out)).length).toBe(out.byteSize);
    expect(src.bytesRead - before).toBe(out.byteSize);
    await g.close();
  });
});
