/**
 * The three architectures on synthetic models (llama with GQA and k-quants,
 * qwen2 with Q/K/V biases, qwen3 with per-head q/k norms, a wider Q and a
 * tied head): the wasm engine against the float64 reference in both numerics
 * profiles, and bit-identical logits for any thread count.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  bits,
  checkBackendParity,
  Engines,
  logitsOnThreadCounts,
  SYNTHETIC,
  syntheticBytes,
} from './helpers.js';

const engines = new Engines();
afterAll(() => engines.dispose());

describe.each(Object.keys(SYNTHETIC))('synthetic %s', (arch) => {
  const bytes = () => syntheticBytes(SYNTHETIC[arch]);

  it.each(['exact', 'ggml'] as const)('wasm matches the reference (%s numerics)', async (numerics) => {
    await checkBackendParity(engines, bytes(), numerics, 'the of and to in is', 3);
  });

  it('gives bit-identical logits on 1, 2 and 3 threads', async () => {
    const results = await logitsOnThreadCounts(engines, bytes());
    expect(bits(results[1])).toEqual(bits(results[0]));
    expect(bits(results[2])).toEqual(bits(results[0]));
  });
});
