/** The model part of `plumbline demo` (npm start): cached model file, generation, parity with the reference. */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { demoModelPath, runDemoModel } from '../../src/cli/demo-model.js';

describe('demo model', () => {
  it('is written once and then reused', async () => {
    const first = await demoModelPath();
    expect(existsSync(first.path)).toBe(true);
    const again = await demoModelPath();
    expect(again).toEqual({ path: first.path, written: false });
  });

  it('generates on wasm and agrees with the reference', async () => {
    const r = await runDemoModel(4);
    expect(r.tokens).toHaveLength(4);
    expect(r.referenceTokens).toEqual(r.tokens);
    expect(r.logits.pass, r.logits.reason).toBe(true);
    expect(r.stages.map((s) => s.stage)).toEqual([
      'embedding',
      'blk.0.attn_out',
      'blk.0.layer_output',
      'blk.1.attn_out',
      'blk.1.layer_output',
      'output_norm',
      'logits',
    ]);
    expect(r.stages[0].nmse).toBe(0);
  });
});
