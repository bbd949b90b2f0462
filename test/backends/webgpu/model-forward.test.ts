/**
 * A whole forward pass on the WebGPU engine: tiny synthetic llama (GQA),
 * qwen2 (QKV bias) and qwen3 (q/k RMSNorm) models with q8_0 weights against
 * the float64 reference engine, logits within the
 * model tier (src/model/parity.ts), for a prompt and then one decode step
 * through the GPU KV cache. Keeps to the 'exact' numerics (attention's
 * 'ggml' numerics run on the CPU by design: ops/attention.ts says why).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../src/engine/engine.js';
import { webgpuEngine } from '../../helpers/webgpu.js';
import { TINY_LLAMA, TINY_MOE } from '../../helpers/webgpu-models.js';
import { expectLogitParity, load, syntheticBytes } from '../../model/helpers.js';

const gpu = await webgpuEngine();
afterAll(() => gpu?.dispose());

const ARCHS = ['llama', 'qwen2', 'qwen3'] as const;

describe.skipIf(!gpu)('model forward on WebGPU', () => {
  it.each(ARCHS)(
    'a synthetic %s: prompt and one decode step within the model tier of the reference',
    async (arch) => {
      const bytes = syntheticBytes({ ...TINY_LLAMA, arch });
      const ref = await createEngine({ backend: 'reference' });
      const g = await load(gpu!, bytes);
      const r = await load(ref, bytes);
      try {
        const prompt = g.tokenizer!.encode('the of and to in is');
        const a = await g.forward(prompt, { logits: 'all' });
        const b = await r.forward(prompt, { logits: 'all' });
        expect(a.rows).toBe(prompt.length);
        expectLogitParity(a.logits, b.logits, g, prompt.length, 'exact');
        const sa = await g.forward([5]);
        const sb = await r.forward([5]);
        expectLogitParity(sa.logits, sb.logits, g, prompt.length + 1, 'exact');
        const report = gpu!.opReport();
        for (const op of ['embedding', 'matmul', 'rmsNorm', 'rope', 'attention', 'kvWrite', 'swiglu', 'add'])
          expect(report[op]?.cpu ?? 0, op).toBe(0);
      } finally {
        g.dispose();
        r.dispose();
        await ref.dispose();
      }
    },
  );

  it('a synthetic qwen3moe: experts routed and dispatched on the GPU, within the model tier', async () => {
    const bytes = syntheticBytes({ ...TINY_LLAMA, arch: 'qwen3moe', moe: TINY_MOE });
    const ref = await createEngine({ backend: 'reference' });
    const g = await load(gpu!, bytes);
    const r = await load(ref, bytes);
    try {
      const prompt = g.tokenizer!.encode('the of and to');
      const a = await g.forward(prompt, { logits: 'all' });
      const b = await r.forward(prompt, { logits: 'all' });
      expectLogitParity(a.logits, b.logits, g, prompt.length, 'exact');
      const report = gpu!.opReport();
      for (const op of ['moeRoute', 'moeFfn']) {
        expect(report[op]?.webgpu ?? 0, op).toBeGreaterThan(0);
        expect(report[op]?.cpu ?? 0, op).toBe(0);
      }
    } finally {
      g.dispose();
      r.dispose();
      await ref.dispose();
    }
  });
});
