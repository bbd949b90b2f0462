import { describe, expect, it } from 'vitest';
import { createEngine, GgufError } from '../../src/index.js';
import { syntheticModel } from '../../src/model/synthetic.js';

const spec = { arch: 'llama', nEmbd: 64, nLayer: 2, nHead: 4, nHeadKv: 2, nFf: 96, nVocab: 400 } as const;

describe('engine.load', () => {
  it('loads a GGUF from bytes on both backends; greedy next tokens agree', async () => {
    const bytes = syntheticModel({ ...spec, type: 'q8_0' });
    const next: number[] = [];
    for (const backend of ['wasm', 'reference'] as const) {
      const engine = await createEngine({ backend, threads: 2 });
      const model = await engine.load(bytes);
      const { logits } = await model.forward([1, 5, 9, 42]);
      expect(logits?.length).toBe(spec.nVocab);
      next.push(logits!.indexOf(Math.max(...logits!)));
      model.dispose();
      await engine.dispose();
    }
    expect(next[0]).toBe(next[1]);
  });

  it('rejects bytes that are not GGUF with a typed error', async () => {
    const engine = await createEngine({ backend: 'reference' });
    await expect(engine.load(new Uint8Array(16))).rejects.toThrow(GgufError);
  });
});
