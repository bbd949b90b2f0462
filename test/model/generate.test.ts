/**
 * Generation: prefill then decode agree with one pass over the whole text,
 * prompt chunks change nothing beyond f32 rounding, generation stops at the
 * vocabulary's end-of-generation token, at maxTokens and at the context end.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/model/generate.js';
import { bits, Engines, expectLogitParity, load, SYNTHETIC, syntheticBytes } from './helpers.js';

const engines = new Engines();
afterAll(() => engines.dispose());

const spec = SYNTHETIC.qwen2;
const PROMPT = [1, 300, 301, 302, 303, 304, 305, 306, 307];

describe('generate', () => {
  it('decode after prefill matches one pass over prompt and generated tokens', async () => {
    const model = await load(await engines.get('wasm'), syntheticBytes(spec));
    try {
      const g = await generate(model, PROMPT, { maxTokens: 4 });
      expect(g.stop).toBe('max-tokens');
      expect(g.decodePasses).toBe(3);
      expect(model.position).toBe(PROMPT.length + 3);
      // All rows of one pass: row t's greedy token is the token generated after it.
      const all = [...PROMPT, ...g.tokens.slice(0, 3)];
      model.reset();
      const { logits } = await model.forward(all, { logits: 'all' });
      const V = model.hparams.nVocab;
      const row = (t: number) => logits.subarray(t * V, (t + 1) * V);
      for (let i = 0; i < 3; i++) {
        const r = row(PROMPT.length - 1 + i);
        expect(r.indexOf(Math.max(...r))).toBe(g.tokens[i]);
      }
      expectLogitParity(g.lastLogits, row(all.length - 1).slice(), model, all.length, 'exact');
    } finally {
      model.dispose();
    }
  });

  it('prompt chunks give the prompt logits within the f32 tier; the same chunking gives the same bits', async () => {
    const model = await load(await engines.get('wasm'), syntheticBytes(spec));
    try {
      const whole = await generate(model, PROMPT, { maxTokens: 1 });
      const chunked = await generate(model, PROMPT, { maxTokens: 1, nBatch: 4 });
      const again = await generate(model, PROMPT, { maxTokens: 1, nBatch: 4 });
      expectLogitParity(chunked.lastLogits, whole.lastLogits, model, PROMPT.length, 'exact');
      expect(bits(again.lastLogits)).toEqual(bits(chunked.lastLogits));
    } finally {
      model.dispose();
    }
  });

  it('stops at the end-of-generation token', async () => {
    const engine = await engines.get('wasm');
    const first = await load(engine, syntheticBytes(spec));
    const g = await generate(first, PROMPT, { maxTokens: 3 });
    first.dispose();
    // The same weights with the second generated token declared end-of-sequence.
    const eos = g.tokens[1];
    const model = await load(engine, syntheticBytes({ ...spec, eos }));
    try {
      expect(model.tokenizer!.isEog(eos)).toBe(true);
      const stopped = await generate(model, PROMPT, { maxTokens: 10 });
      expect(stopped.tokens).toEqual(g.tokens.slice(0, 2));
      expect(stopped.stop).toBe('eog');
      const on = await generate(model, PROMPT, { maxTokens: 3, stopAtEog: false });
      expect(on.tokens).toEqual(g.tokens);
    } finally {
      model.dispose();
    }
  });

  it('stops at the end of the context', async () => {
    const model = await load(await engines.get('wasm'), syntheticBytes(spec), { nCtx: PROMPT.length + 2 });
    try {
      const g = await generate(model, PROMPT, { maxTokens: 10 });
      expect(g.stop).toBe('context');
      expect(g.tokens).toHaveLength(3);
      expect(model.position).toBe(PROMPT.length + 2);
    } finally {
      model.dispose();
    }
  });

  it('seeded sampling is reproducible', async () => {
    const model = await load(await engines.get('wasm'), syntheticBytes(spec));
    try {
      const opts = { maxTokens: 6, temperature: 0.9, topK: 40, topP: 0.95, seed: 5 };
      const a = await generate(model, PROMPT, opts);
      const b = await generate(model, PROMPT, opts);
      expect(b.tokens).toEqual(a.tokens);
      expect(a.promptTokensPerS).toBeGreaterThan(0);
      expect(a.genTokensPerS).toBeGreaterThan(0);
    } finally {
      model.dispose();
    }
  });
});
