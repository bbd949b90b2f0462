/**
 * The forward pass against llama.cpp itself: logits that llama.cpp's CPU
 * backend computed (fixtures/llama-cpp-logits.json, written by
 * scripts/llama-cpp-model-logits.ts) for the tiny shared models and the
 * synthetic llama, qwen2 and qwen3 models. ggml numerics reproduce what
 * llama.cpp computes, so they are judged in the q8 tier along the path
 * (src/model/parity.ts) with every position's argmax equal; exact numerics
 * skip llama.cpp's activation quantization, a difference of the same tier.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { compareLogits } from '../../src/model/parity.js';
import { formatComparison } from '../../src/oracle/report.js';
import { Engines, load, runSharedModels, SYNTHETIC, sharedModel, syntheticBytes } from './helpers.js';
import { LLAMA_CPP_TOKENS } from './llama-cpp-cases.js';

interface Fixture {
  sha256: string;
  nVocab: number;
  logits: string;
}
const fixtures = JSON.parse(
  readFileSync(new URL('./fixtures/llama-cpp-logits.json', import.meta.url), 'utf8'),
) as Record<string, Fixture> & { tokens: number[] };

const engines = new Engines();
afterAll(() => engines.dispose());

const sources: [string, () => Uint8Array][] = [
  ...(runSharedModels ? ['tiny-f32', 'tiny-q8_0', 'tiny-q4_k'] : []).map((n): [string, () => Uint8Array] => [
    n,
    () => readFileSync(sharedModel(`${n}.gguf`)),
  ]),
  ...Object.keys(SYNTHETIC).map((n): [string, () => Uint8Array] => [
    `synthetic:${n}`,
    () => syntheticBytes(SYNTHETIC[n]),
  ]),
];

describe.each(sources)('%s against llama.cpp', (name, bytesOf) => {
  it.each(['ggml', 'exact'] as const)('%s numerics', async (numerics) => {
    const bytes = bytesOf();
    const fixture = fixtures[name];
    expect(fixtures.tokens).toEqual(LLAMA_CPP_TOKENS);
    // The fixture was computed from exactly these bytes (else rerun scripts/llama-cpp-model-logits.ts).
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(fixture.sha256);
    const buf = Buffer.from(fixture.logits, 'base64');
    const reference = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const model = await load(await engines.get('wasm'), bytes, { numerics });
    try {
      const { logits } = await model.forward(LLAMA_CPP_TOKENS, { logits: 'all' });
      const c = compareLogits(logits, reference, model, LLAMA_CPP_TOKENS.length, 'ggml');
      expect(c.pass, `${c.reason}\n${formatComparison(c.comparison)}`).toBe(true);
      if (numerics === 'ggml') expect(c.comparison.topK?.argmaxAgree).toBe(LLAMA_CPP_TOKENS.length);
    } finally {
      model.dispose();
    }
  });
});
