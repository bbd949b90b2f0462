/**
 * The replay registry: rules per stage, a model family's own rule over the
 * shared one, and families the engine does not run (their rules read their
 * own weights; no reference is computed).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceSilu } from '../../src/backends/reference/nn.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { writeGguf } from '../../src/formats/gguf/index.js';
import { syntheticModel } from '../../src/model/synthetic.js';
import { replay } from '../../src/oracle/replay.js';
import { registerReplayRule, replayRule, replayStages } from '../../src/oracle/replay-rules.js';
import { stageName } from '../../src/trace/stages.js';
import { encodeTrace } from '../../src/trace/trace-file.js';
import { capturePass } from '../helpers/faulty-engine.js';

const TOKENS = [3, 1, 4, 1, 5];
const SPEC = { nEmbd: 64, nLayer: 2, nHead: 4, nHeadKv: 2, nFf: 96, nVocab: 340 } as const;
const LLAMA = syntheticModel({ arch: 'llama', ...SPEC, seed: 8 });
const QWEN2 = syntheticModel({ arch: 'qwen2', ...SPEC, seed: 9 });

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'wasm', threads: 1 });
});
afterAll(() => engine.dispose());

describe('replay rules', () => {
  it('every transformer stage has a shared rule; a second rule for one stage is an error', () => {
    for (const s of ['embedding', 'attn_norm', 'q_proj', 'attention', 'ffn_swiglu', 'layer_output', 'logits'])
      expect(replayStages()).toContain(s);
    expect(() => registerReplayRule('q_proj', replayRule('q_proj')!)).toThrow(/already has a rule/);
  });

  it("a family's own rule wins over the shared one for that family only", async () => {
    // A (wrong on purpose) qwen2-only ffn_act: silu(gate) + 1. Every qwen2 ffn_act is then a fault.
    registerReplayRule(
      'ffn_act',
      {
        inputs: (l) => [stageName('ffn_gate', l)],
        async recompute(l, x, ctx) {
          const y = referenceSilu(x.get(stageName('ffn_gate', l))).map((v) => v + 1);
          return { y, tier: ctx.tierFor('elementwise'), K: 3, magnitude: y.map(Math.abs) };
        },
      },
      { architecture: 'qwen2' },
    );
    expect(replayStages()).toContain('qwen2:ffn_act');
    const q = await replay(QWEN2, (await capturePass(engine, QWEN2, TOKENS, 'exact')).bytes, {
      reference: 'none',
    });
    expect(q.stages.filter((s) => s.verdict === 'fault').map((s) => s.name)).toEqual([
      'blk.0.ffn_act',
      'blk.1.ffn_act',
    ]);
    const l = await replay(LLAMA, (await capturePass(engine, LLAMA, TOKENS, 'exact')).bytes, {
      reference: 'none',
    });
    expect(l.firstFault).toBeNull();
  });

  it('a family the engine does not run: no reference, its stages replayed where a rule applies', async () => {
    // A GGUF of another architecture holding only an embedding table.
    const table = Float32Array.from({ length: 8 * 16 }, (_, i) => Math.sin(i));
    const gguf = writeGguf({
      metadata: [['general.architecture', 'toy']],
      tensors: [
        { name: 'token_embd.weight', type: 'f32', shape: [8, 16], data: new Uint8Array(table.buffer) },
      ],
    });
    const tokens = [2, 7, 0];
    const embedding = Float32Array.from(tokens.flatMap((t) => [...table.subarray(t * 16, (t + 1) * 16)]));
    const trace = encodeTrace(
      [
        { name: 'embedding', shape: [3, 16], data: embedding },
        { name: 'output_norm', shape: [3, 16], data: embedding },
      ],
      {
        producer: 'test',
        backend: 'toy',
        model: createHash('sha256').update(gguf).digest('hex'),
        tokens,
        numerics: 'exact',
      },
    );
    const r = await replay(gguf, trace);
    expect(r.reference.source).toBe('none');
    expect(r.warnings.join('\n')).toMatch(/no reference computed .*toy/);
    expect(r.stages.map((s) => [s.name, s.verdict])).toEqual([
      ['embedding', 'ok'],
      ['output_norm', 'skipped'],
    ]);
    expect(r.stages[1].reason).toMatch(/^cannot replay: .*toy/);
  });
});
