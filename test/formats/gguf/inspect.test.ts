/** `plumbline inspect`, driven through main() with a capturing io. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../../src/cli/command.js';
import { inspectCommand } from '../../../src/cli/inspect.js';
import { main } from '../../../src/cli/main.js';
import { GgufValueType as T, writeGgufFile } from '../../../src/formats/gguf/index.js';
import { modelPath, RawGguf, runModelTests, sampleOptions } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'plumbline-inspect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => out.push(t), err: (t) => err.push(t), isTty: false };
  const code = await main(['inspect', ...argv], io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function sample(): Promise<string> {
  const path = join(dir, 'sample.gguf');
  const opts = sampleOptions();
  const tokens = Array.from({ length: 1000 }, (_, i) => `tok${i}`);
  await writeGgufFile(path, {
    ...opts,
    metadata: [
      ...(opts.metadata as [string, never][]),
      ['tokenizer.ggml.model', 'gpt2'],
      ['tokenizer.ggml.merges', ['a b', 'c d', 'e f']],
      ['tokenizer.ggml.bos_token_id', 1],
      ['tokenizer.ggml.eos_token_id', 2],
      ['big.tokens', tokens],
      ['big.u64', { type: T.UINT64, value: 2n ** 60n }],
      ['__proto__', 'data'],
    ] as never,
  });
  return path;
}

describe('plumbline inspect', () => {
  it('is registered and prints its help', async () => {
    const { code, out } = await run('--help');
    expect(code).toBe(0);
    expect(out).toBe(inspectCommand.help);
    expect(out).toMatch(/usage: plumbline inspect FILE.gguf \[--json\] \[--metadata\]/);
  });

  it('text: architecture, hyperparameters, tokenizer summary, tensor table, totals', async () => {
    const { code, out, err } = await run(await sample());
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/GGUF v3/);
    expect(out).toMatch(/architecture: llama/);
    expect(out).toMatch(
      /hyperparameters:\n {2}llama\.context_length\s+64\n {2}llama\.embedding_length\s+32\n {2}llama\.rope\.freq_base\s+10000/,
    );
    expect(out).toMatch(/model\s+gpt2/);
    expect(out).toMatch(/merges\s+3/);
    expect(out).toMatch(/bos \/ eos \/ unk \/ pad ids\s+1 \/ 2 \/ - \/ -/);
    expect(out).toMatch(/name\s+type\s+shape\s+bytes\s+offset/);
    expect(out).toMatch(/q4\.weight\s+q4_0\s+\[2, 32\]\s+36\s+32/);
    expect(out).toMatch(/iq2\.weight\s+iq2_xxs\s+\[1, 256\]\s+66/);
    expect(out).toMatch(/total: 5 tensors, 392 elements/);
    expect(out).toMatch(/iq2_xxs \(unsupported\) ×1/);
    expect(out).not.toMatch(/tok999/); // no vocabulary dump
  });

  it('--metadata lists every key with its type, long arrays abridged', async () => {
    const { out } = await run(await sample(), '--metadata');
    expect(out).toMatch(/u64\s+u64\s+18446744073709551615/);
    expect(out).toMatch(/big\.tokens\s+string\[\]\s+\["tok0", "tok1",.*"tok7", … \(1000 items\)\]/);
    expect(out).toMatch(/nested\s+array\[\]\s+\[\[1, 2, 3\], \["a", ""\], \[\]\]/);
    expect(out).toMatch(/__proto__\s+string\s+"data"/);
    expect(out).not.toMatch(/tok8/);
  });

  it('--json: the same as one object, 64-bit values as numbers when safe, else strings', async () => {
    const { code, out } = await run(await sample(), '--json', '--metadata');
    expect(code).toBe(0);
    const j = JSON.parse(out);
    expect(j).toMatchObject({ version: 3, alignment: 32, architecture: 'llama' });
    expect(j.hyperparameters).toEqual({
      'llama.context_length': 64,
      'llama.embedding_length': 32,
      'llama.rope.freq_base': 10000,
    });
    expect(j.tokenizer).toMatchObject({
      model: 'gpt2',
      vocabSize: 5,
      mergesCount: 3,
      bosTokenId: 1,
      eosTokenId: 2,
    });
    expect(j.tensors[1]).toEqual({
      name: 'q4.weight',
      type: 'q4_0',
      typeId: 2,
      supported: true,
      shape: [2, 32],
      ne: [32, 2],
      elements: 64,
      bytes: 36,
      offset: 32,
      absoluteOffset: j.dataOffset + 32,
    });
    expect(j.tensors[3]).toMatchObject({ type: 'iq2_xxs', supported: false });
    expect(j.totals).toMatchObject({ tensors: 5, bytes: 32 + 36 + 68 + 66 });
    expect(j.metadata.u64).toEqual({ type: 'u64', value: '18446744073709551615' });
    expect(j.metadata['big.u64']).toEqual({ type: 'u64', value: '1152921504606846976' });
    expect(j.metadata.i32).toEqual({ type: 'i32', value: -5 });
    expect(j.metadata['big.tokens'].value).toMatchObject({ itemType: 'string', length: 1000 });
    expect(j.metadata['big.tokens'].value.head).toHaveLength(8);
    expect(Object.keys(j.metadata)).toContain('__proto__');
    expect(Object.getOwnPropertyDescriptor(j.metadata, '__proto__')?.value).toEqual({
      type: 'string',
      value: 'data',
    });
    expect(Object.getPrototypeOf(j.metadata)).toBe(Object.prototype);
  });

  it('without --metadata, JSON has no metadata dump', async () => {
    const j = JSON.parse((await run(await sample(), '--json')).out);
    expect(j.metadata).toBeUndefined();
    expect(JSON.stringify(j)).not.toMatch(/tok999/);
  });

  it('bad arguments are usage errors (exit 2)', async () => {
    for (const argv of [[], ['a.gguf', 'b.gguf'], ['--bogus', 'a.gguf'], ['--json=yes', 'a.gguf']]) {
      const { code, err } = await run(...argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(err).toMatch(/^plumbline inspect: /);
      expect(err).toMatch(/usage: plumbline inspect/);
    }
  });

  it('a missing file or a malformed one fails cleanly (exit 1)', async () => {
    const missing = await run(join(dir, 'nope.gguf'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/cannot open .*nope\.gguf/);
    const bad = join(dir, 'bad.gguf');
    writeFileSync(bad, new RawGguf().header({ tensors: 0, kvs: 1 }).str('k').u32(99).zeros(8).build());
    const r = await run(bad);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /GgufError: GGUF .*bad\.gguf: metadata "k" value type: unknown GGUF value type 99 \(at byte offset 33\)/,
    );
  });
});

describe.skipIf(!runModelTests)('plumbline inspect on a file written by ggml', () => {
  it('tiny-q4_k.gguf', async () => {
    const { code, out } = await run(modelPath('tiny-q4_k.gguf'));
    expect(code).toBe(0);
    expect(out).toMatch(/architecture: llama/);
    expect(out).toMatch(/llama\.attention\.layer_norm_rms_epsilon\s+0\.00001/);
    expect(out).toMatch(/llama\.attention\.head_count_kv\s+4/);
    expect(out).toMatch(/vocab size\s+512/);
    expect(out).toMatch(/bos \/ eos \/ unk \/ pad ids\s+1 \/ 2 \/ 0 \/ -/);
    expect(out).toMatch(/blk\.0\.ffn_down\.weight\s+q5_0\s+\[512, 1408\]\s+495616/);
    expect(out).toMatch(/output\.weight\s+q6_K\s+\[512, 512\]/);
    expect(out).toMatch(/total: 39 tensors/);
    expect(out).not.toMatch(/<0x41>/);

    const j = JSON.parse((await run(modelPath('tiny-q4_k.gguf'), '--json')).out);
    expect(j.hyperparameters['llama.block_count']).toBe(4);
    expect(j.hyperparameters['llama.attention.layer_norm_rms_epsilon']).toBe(0.00001);
    expect(j.tokenizer).toMatchObject({
      model: 'llama',
      vocabSize: 512,
      bosTokenId: 1,
      eosTokenId: 2,
      unknownTokenId: 0,
    });
    expect(j.tensors).toHaveLength(39);
    expect(j.totals.bytes + j.dataOffset).toBe(j.fileSize);
  });
});
