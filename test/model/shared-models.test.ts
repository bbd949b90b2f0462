/**
 * The four shared GGUF files written by ggml's own writer (../shared/models):
 * every one loads and runs on wasm (q5_0 and q6_K tensors in the q4_K files
 * included); the tiny ones also agree with the float64 reference, in both
 * numerics profiles, token for token.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/model/generate.js';
import { checkBackendParity, Engines, load, runSharedModels, sharedModel } from './helpers.js';

const engines = new Engines();
afterAll(() => engines.dispose());

// README: space-separated vocabulary words tokenize to BOS + one ▁word piece each.
const TEXT = 'the of and to in is it that was for';

describe.runIf(runSharedModels)('shared models', () => {
  it.each(['tiny-f32', 'tiny-q8_0', 'tiny-q4_k', 'big-q4_k'])(
    '%s loads and generates on wasm',
    async (name) => {
      const model = await load(await engines.get('wasm'), sharedModel(`${name}.gguf`));
      try {
        expect(model.architecture).toBe('llama');
        const h = model.hparams;
        expect([h.nHead / h.nHeadKv, h.rope.mode, h.rope.freqBase]).toEqual([
          name === 'big-q4_k' ? 4 : 2,
          'normal',
          10000,
        ]);
        const prompt = model.tokenizer!.encode(TEXT);
        expect(prompt).toEqual([1, 386, 387, 389, 390, 391, 392, 393, 395, 397, 399]);
        const r = await generate(model, prompt, { maxTokens: 4 });
        expect(r.tokens).toHaveLength(4);
        expect(r.lastLogits).toHaveLength(h.nVocab);
        expect(r.lastLogits.every(Number.isFinite)).toBe(true);
        expect(model.position).toBe(prompt.length + 3);
      } finally {
        model.dispose();
      }
    },
  );

  describe.each(['tiny-f32', 'tiny-q8_0', 'tiny-q4_k'])('%s', (name) => {
    it.each(['exact', 'ggml'] as const)('wasm matches the reference (%s numerics)', async (numerics) => {
      await checkBackendParity(engines, sharedModel(`${name}.gguf`), numerics, 'the of and to', 2);
    });
  });

  it('the tiny files share their float weights: quantized logits stay near the f32 ones', async () => {
    const engine = await engines.get('wasm');
    const logits: Float32Array[] = [];
    for (const name of ['tiny-f32', 'tiny-q8_0']) {
      const model = await load(engine, sharedModel(`${name}.gguf`));
      try {
        logits.push((await model.forward([1, 386, 387, 389])).logits);
      } finally {
        model.dispose();
      }
    }
    // q8_0 weights move each logit by far less than the logits' spread (a shared-weights sanity check, not a tier).
    let err = 0;
    let ref = 0;
    for (let i = 0; i < logits[0].length; i++) {
      err += (logits[1][i] - logits[0][i]) ** 2;
      ref += logits[0][i] ** 2;
    }
    expect(err / ref).toBeLessThan(1e-2);
  });
});
