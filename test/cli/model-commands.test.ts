/** `plumbline run` and `plumbline trace`, driven through main() on a synthetic model written to a temporary file. */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/engine.js';
import { readSafetensors } from '../../src/formats/safetensors/index.js';
import { loadModel } from '../../src/model/load.js';
import { writeSyntheticModel } from '../../src/model/synthetic.js';
import { readTrace } from '../../src/trace/trace-file.js';
import { runCli } from '../helpers/cli.js';
import { SYNTHETIC } from '../model/helpers.js';

let dir: string;
let model: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'plumbline-cli-'));
  model = join(dir, 'qwen3.gguf');
  await writeSyntheticModel(model, SYNTHETIC.qwen3);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (argv: string[], streaming = false) => runCli(argv, { streaming });

describe('plumbline run', () => {
  it('--json gives the generated tokens, text, top-10 logits and speeds', async () => {
    const r = await cli([
      'run',
      model,
      '--prompt',
      'the of and',
      '--max-tokens',
      '5',
      '--threads',
      '2',
      '--json',
    ]);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.tokens).toHaveLength(5);
    expect(typeof j.text).toBe('string');
    expect(j.logits_last_top10).toHaveLength(10);
    expect(j.logits_last_top10[0].logit).toBeGreaterThanOrEqual(j.logits_last_top10[9].logit);
    expect(j.prompt_tokens_per_s).toBeGreaterThan(0);
    expect(j.gen_tokens_per_s).toBeGreaterThan(0);
    // BOS, then the words (this 384-token vocabulary spells them in pieces).
    expect(j.prompt_tokens[0]).toBe(1);
    expect(j.prompt_tokens.length).toBeGreaterThan(3);
    // The reference backend generates the same tokens.
    const ref = await cli([
      'run',
      model,
      '--tokens',
      j.prompt_tokens.join(','),
      '--max-tokens',
      '5',
      '--backend',
      'reference',
      '--json',
    ]);
    expect(JSON.parse(ref.out).tokens).toEqual(j.tokens);
  });

  it('streams the text, then prints prompt and generation speeds', async () => {
    const r = await cli(['run', model, '--tokens', '1,300,301', '--max-tokens', '4'], true);
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(
      (await cli(['run', model, '--tokens', '1,300,301', '--max-tokens', '4', '--json'])).out,
    );
    expect(r.written).toBe(json.text);
    expect(r.out).toMatch(/prompt: 3 tokens, [\d.]+ tokens\/s; generation: 4 tokens, [\d.]+ tokens\/s/);
  });

  it('bad arguments are usage errors', async () => {
    expect((await cli(['run', model])).code).toBe(2);
    expect((await cli(['run', model, '--tokens', '1,x'])).code).toBe(2);
    expect((await cli(['run', model, '--tokens', '1', '--numerics', 'fast'])).code).toBe(2);
    const bad = await cli(['run', model, '--tokens', '1,999']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/ModelError: forward: tokens\[1\] = 999/);
  });
});

describe('plumbline trace', () => {
  it('writes every stage with the design metadata; the file round-trips to the forward pass', async () => {
    const out = join(dir, 't.safetensors');
    const r = await cli([
      'trace',
      model,
      '--tokens',
      '1,300,301,302',
      '--numerics',
      'ggml',
      '--out',
      out,
      '--threads',
      '2',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/t\.safetensors: \d+ tensors/);
    const file = await readSafetensors(out);
    try {
      const meta = Object.fromEntries(file.metadata);
      expect(meta).toEqual({
        format: 'plumbline-trace/1',
        producer: 'plumbline',
        backend: expect.stringMatching(/^wasm/),
        model: createHash('sha256').update(readFileSync(model)).digest('hex'),
        tokens: '[1,300,301,302]',
        numerics: 'ggml',
      });
      expect(file.tensors).toHaveLength(3 + 2 * 20);
      // The same pass through the library gives the same tensors, bit for bit.
      const engine = await createEngine({ backend: 'wasm', threads: 2 });
      const m = await loadModel(engine, model, { numerics: 'ggml' });
      const { trace } = await m.forward([1, 300, 301, 302], { trace: {} });
      for (const [name, t] of trace!) {
        expect(file.get(name)?.shape, name).toEqual(t.shape);
        expect(
          Buffer.from((await file.tensorF32(name)).buffer).equals(Buffer.from(t.data.buffer)),
          name,
        ).toBe(true);
      }
      m.dispose();
      await engine.dispose();
      // The trace reader takes it as a plumbline trace: canonical stages in computation order, nothing unknown.
      const t = await readTrace(out);
      expect(t.metadata.tokens).toEqual([1, 300, 301, 302]);
      expect(t.stages.map((s) => s.name)).toEqual([...trace!.keys()]);
      expect(t.unknown).toHaveLength(0);
      await t.close();
    } finally {
      await file.close();
    }
  });

  it('--stages and --layers select; --json lists what was written', async () => {
    const out = join(dir, 's.safetensors');
    const r = await cli([
      'trace',
      model,
      '--prompt',
      'the',
      '--stages',
      'q_norm,attn_softmax,logits',
      '--layers',
      '1',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.stages.map((s: { name: string }) => s.name)).toEqual([
      'blk.1.q_norm',
      'blk.1.attn_softmax',
      'logits',
    ]);
    const n = j.tokens.length;
    expect(j.stages[1].shape).toEqual([4, n, n]);
    const bad = await cli(['trace', model, '--tokens', '1', '--stages', 'moe_out', '--out', out]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/"moe_out" is not a stage of a qwen3 model/);
    expect((await cli(['trace', model, '--tokens', '1'])).code).toBe(2);
  });
});
