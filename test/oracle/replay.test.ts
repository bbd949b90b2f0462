import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { writeSafetensors } from '../../src/formats/safetensors/writer.js';
import { syntheticModel } from '../../src/model/synthetic.js';
import { diff } from '../../src/oracle/diff.js';
import { finiteJson } from '../../src/oracle/diff-report.js';
import { type ReplayResult, replay } from '../../src/oracle/replay.js';
import { formatReplay, renderReplayHtml, replayToJson } from '../../src/oracle/replay-report.js';
import { encodeTrace, readTrace } from '../../src/trace/trace-file.js';
import { capturePass, faultyEngine, scaleAt, traceTensors, wrongRopeBase } from '../helpers/faulty-engine.js';

const TOKENS = [1, 5, 9, 3, 7, 11, 2];
const SPEC = { nEmbd: 64, nLayer: 3, nHead: 4, nHeadKv: 2, nFf: 96, nVocab: 340 } as const;
const LLAMA = syntheticModel({ arch: 'llama', ...SPEC, seed: 3 });
const LLAMA_Q8 = syntheticModel({
  arch: 'llama',
  ...SPEC,
  type: 'q8_0',
  types: { token_embd: 'f16' },
  seed: 4,
});
const QWEN3 = syntheticModel({
  arch: 'qwen3',
  ...SPEC,
  type: 'q4_0',
  types: { token_embd: 'q8_0' },
  seed: 5,
});
const QWEN2 = syntheticModel({ arch: 'qwen2', ...SPEC, type: 'f16', seed: 6 });

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'wasm', threads: 2 });
});
afterAll(() => engine.dispose());

const verdicts = (r: ReplayResult, v: string) => r.stages.filter((s) => s.verdict === v).map((s) => s.name);

describe('replay: clean candidates', () => {
  for (const [name, gguf] of [
    ['llama f32', LLAMA],
    ['qwen3 q4_0 (qk-norm)', QWEN3],
    ['qwen2 f16 (qkv biases)', QWEN2],
  ] as const) {
    it(`a wasm pass in exact numerics has no fault (${name})`, async () => {
      const { bytes } = await capturePass(engine, gguf, TOKENS, 'exact');
      const r = await replay(gguf, bytes);
      expect(r.firstFault).toBeNull();
      expect(verdicts(r, 'skipped')).toEqual([]);
      expect(verdicts(r, 'fault')).toEqual([]);
      for (const s of r.stages)
        if (s.boundRatio !== null) expect(s.boundRatio, s.name).toBeLessThanOrEqual(1);
      expect(r.stages.find((s) => s.name === 'embedding')?.tier).toBe('exact');
    });
  }

  it('a ggml-numerics pass follows from its inputs even though its logits drift from the reference', async () => {
    const { bytes } = await capturePass(engine, LLAMA_Q8, TOKENS, 'ggml');
    const r = await replay(LLAMA_Q8, bytes);
    expect(r.numerics).toBe('ggml');
    expect(r.firstFault).toBeNull();
    expect(verdicts(r, 'fault')).toEqual([]);
    // The drift is real: diff against the exact reference fails at the logits, replay calls it carried.
    const logits = r.stages.find((s) => s.name === 'logits');
    expect(logits?.verdict).toBe('carried');
    expect(logits?.tier).toBe('q8');
    expect(r.stages.find((s) => s.name === 'blk.0.q_proj')?.tier).toBe('q8');
    expect(r.stages.find((s) => s.name === 'blk.0.attn_norm')?.tier).toBe('f32');
    // Every stage at the q8 tier: still clean.
    const q8 = await replay(LLAMA_Q8, bytes, { tier: 'q8', reference: 'none' });
    expect(q8.firstFault).toBeNull();
    expect(q8.stages.every((s) => s.tier === 'q8' && s.consistent)).toBe(true);
  });

  it('the same ggml pass judged as if exact (f32 matmuls) is flagged at its first quantized matmul', async () => {
    const { bytes } = await capturePass(engine, LLAMA_Q8, TOKENS, 'ggml');
    const r = await replay(LLAMA_Q8, bytes, { tier: 'f32', reference: 'none' });
    expect(r.firstFault?.name).toBe('blk.0.q_proj');
  });
});

describe('replay: planted kernel faults', () => {
  interface Case {
    what: string;
    gguf: Uint8Array;
    wrap: (e: Engine) => Engine;
    faults: string[];
  }
  const cases: Case[] = [
    {
      what: 'swiglu of layer 1 off by 1e-4 in one element',
      gguf: LLAMA,
      wrap: (e) => faultyEngine(e, 'swiglu', scaleAt(1e-4, 100), [1]),
      faults: ['blk.1.ffn_swiglu'],
    },
    {
      what: 'rms_norm of layer 1 (attn_norm) off by 1e-5 in one element',
      gguf: LLAMA,
      // rmsNorm calls: blk.0.attn_norm, blk.0.ffn_norm, blk.1.attn_norm, …
      wrap: (e) => faultyEngine(e, 'rmsNorm', scaleAt(1e-5, 70), [2]),
      faults: ['blk.1.attn_norm'],
    },
    {
      what: 'k_norm of layer 0 of a qwen3 (head RMSNorm) off in one element',
      gguf: QWEN3,
      // rmsNorm calls: attn_norm, q_norm, k_norm
      wrap: (e) => faultyEngine(e, 'rmsNorm', scaleAt(1e-4, 40), [2]),
      faults: ['blk.0.k_norm'],
    },
    {
      what: 'the down projection of layer 1 off in one element (ggml numerics, q8_0)',
      gguf: LLAMA_Q8,
      // matmul calls per layer: q, k, v, o, gate, up, down
      // (at the q8 tier a 1% error in one element can hide in the quantization bound: add 0.5)
      wrap: (e) => faultyEngine(e, 'matmul', (d) => void (d[5] += 0.5), [1 * 7 + 6]),
      faults: ['blk.1.ffn_out'],
    },
    {
      what: 'the attention kernel of layer 2 off in one output element',
      gguf: QWEN2,
      wrap: (e) => faultyEngine(e, 'attention', scaleAt(1e-4, 77), [2]),
      faults: ['blk.2.attention'],
    },
    {
      what: 'rope with a wrong frequency base (every call)',
      gguf: LLAMA,
      wrap: (e) => wrongRopeBase(e, 500000),
      faults: [0, 1, 2].flatMap((l) => [`blk.${l}.q_post_rope`, `blk.${l}.k_post_rope`]),
    },
  ];

  for (const c of cases) {
    it(`names exactly the faulty stage: ${c.what}`, async () => {
      const numerics = c.gguf === LLAMA_Q8 ? 'ggml' : 'exact';
      const { bytes } = await capturePass(c.wrap(engine), c.gguf, TOKENS, numerics);
      const r = await replay(c.gguf, bytes);
      expect(verdicts(r, 'fault')).toEqual(c.faults);
      expect(r.firstFault?.name).toBe(c.faults[0]);
      expect(r.firstFault?.boundRatio).toBeGreaterThan(1);
      expect(verdicts(r, 'consequence')).toEqual([]);
      // Downstream stages carry the error: they differ from the reference, yet follow from their inputs.
      const after = r.stages.slice(r.stages.indexOf(r.firstFault!) + 1);
      expect(after.filter((s) => s.verdict === 'carried').length).toBeGreaterThan(3);
      expect(r.stages.find((s) => s.name === 'logits')?.verdict).toBe('carried');

      // diff against a clean pass of the same engine sees the downstream stages diverge too.
      const ref = await capturePass(engine, c.gguf, TOKENS, numerics);
      const d = await diff(ref.bytes, bytes, { tier: 'f32' });
      const failing = d.stages.filter((s) => s.verdict === 'fail').map((s) => s.name);
      const downstream = failing.filter((n) => !c.faults.includes(n));
      expect(downstream.length).toBeGreaterThan(3);
      expect(downstream).toContain('logits');
    });
  }

  // A trace edited after the fact: the recorded stage is not what its consumers read.
  const recorded: [stage: string, consumers: string[]][] = [
    ['blk.1.ffn_up', ['blk.1.ffn_swiglu']],
    ['blk.1.attn_out', ['blk.1.attn_residual']],
    ['blk.1.attn_norm', ['blk.1.q_proj', 'blk.1.k_proj', 'blk.1.v_proj']],
    ['blk.2.q_proj', ['blk.2.q_post_rope']],
    ['blk.0.v_proj', ['blk.0.attention']],
  ];
  for (const [stage, consumers] of recorded) {
    it(`a stage recorded wrongly is the fault, its consumers its consequence: ${stage}`, async () => {
      const pass = await capturePass(engine, LLAMA, TOKENS, 'exact');
      const t = pass.stages.get(stage)!;
      t.data = t.data.slice();
      t.data[17] *= 1 + 1e-3;
      const r = await replay(LLAMA, encodeTrace(traceTensors(pass.stages), pass.meta), { reference: 'none' });
      expect(verdicts(r, 'fault')).toEqual([stage]);
      expect(verdicts(r, 'consequence')).toEqual(consumers);
      for (const n of consumers) {
        const row = r.stages.find((s) => s.name === n);
        expect(row?.consequenceOf).toBe(stage);
        expect(row?.consistent).toBe(false);
      }
      // No reference: nothing is called carried.
      expect(verdicts(r, 'carried')).toEqual([]);
      expect(r.reference.source).toBe('none');
    });
  }

  it('a stage whose inputs were not captured is skipped, naming them; the others are still judged', async () => {
    const pass = await capturePass(
      faultyEngine(engine, 'swiglu', scaleAt(1e-4, 100), [1]),
      LLAMA,
      TOKENS,
      'exact',
    );
    for (const n of ['blk.1.ffn_gate', 'blk.0.attn_norm']) pass.stages.delete(n);
    const r = await replay(LLAMA, encodeTrace(traceTensors(pass.stages), pass.meta), { reference: 'none' });
    const skippedRows = r.stages.filter((s) => s.verdict === 'skipped');
    expect(skippedRows.map((s) => [s.name, s.reason])).toEqual([
      ['blk.0.q_proj', 'input not captured: blk.0.attn_norm'],
      ['blk.0.k_proj', 'input not captured: blk.0.attn_norm'],
      ['blk.0.v_proj', 'input not captured: blk.0.attn_norm'],
      ['blk.1.ffn_act', 'input not captured: blk.1.ffn_gate'],
      ['blk.1.ffn_swiglu', 'input not captured: blk.1.ffn_gate'],
    ]);
    expect(r.firstFault).toBeNull();
  });

  it('a NaN from one kernel is that kernel’s fault', async () => {
    const wrap = faultyEngine(engine, 'silu', (d) => void (d[3] = Number.NaN), [0]);
    // silu runs only for the traced ffn_act: the pass itself does not consume it.
    const { bytes } = await capturePass(wrap, LLAMA, TOKENS, 'exact');
    const r = await replay(LLAMA, bytes, { reference: 'none' });
    expect(verdicts(r, 'fault')).toEqual(['blk.0.ffn_act']);
    expect(r.firstFault?.reason).toMatch(/non-finite/);
  });
});

describe('replay: traces of other producers', () => {
  it('reads a trace named by Hugging Face hooks through its map, tokens given', async () => {
    const pass = await capturePass(engine, QWEN2, TOKENS, 'exact');
    const hf: Record<string, string> = {
      embedding: 'model.embed_tokens',
      attn_norm: 'input_layernorm',
      q_proj: 'self_attn.q_proj',
      k_proj: 'self_attn.k_proj',
      v_proj: 'self_attn.v_proj',
      attn_out: 'self_attn.o_proj',
      ffn_norm: 'post_attention_layernorm',
      ffn_gate: 'mlp.gate_proj',
      ffn_up: 'mlp.up_proj',
      ffn_act: 'mlp.act_fn',
      ffn_out: 'mlp.down_proj',
      output_norm: 'model.norm',
      logits: 'lm_head',
    };
    const tensors = [];
    for (const [name, t] of pass.stages) {
      const m = /^blk\.(\d+)\.(.+)$/.exec(name);
      const stage = m ? m[2] : name;
      const to = m
        ? stage === 'layer_output'
          ? `model.layers.${m[1]}`
          : hf[stage] && `model.layers.${m[1]}.${hf[stage]}`
        : hf[stage];
      if (to) tensors.push({ name: to, dtype: 'F32' as const, shape: t.shape, data: t.data });
    }
    const bytes = writeSafetensors(tensors);
    await expect(replay(QWEN2, bytes, { map: 'hf-qwen2', reference: 'none' })).rejects.toThrow(/no tokens/);
    const r = await replay(QWEN2, bytes, { map: 'hf-qwen2', tokens: TOKENS, reference: 'none' });
    expect(r.firstFault).toBeNull();
    const ok = verdicts(r, 'ok');
    for (const n of [
      'embedding',
      'blk.0.attn_norm',
      'blk.1.q_proj',
      'blk.2.ffn_gate',
      'output_norm',
      'logits',
    ])
      expect(ok).toContain(n);
    // The residual sums and the SwiGLU product hooks do not see are formed in f32 from what they do.
    const row = (n: string) => r.stages.find((s) => s.name === n);
    expect(row('blk.1.ffn_norm')).toMatchObject({
      verdict: 'ok',
      inputs: ['blk.0.layer_output', 'blk.1.attn_out'],
    });
    expect(row('blk.1.ffn_out')).toMatchObject({ verdict: 'ok', inputs: ['blk.1.ffn_act', 'blk.1.ffn_up'] });
    expect(row('blk.2.layer_output')).toMatchObject({
      verdict: 'ok',
      inputs: ['blk.1.layer_output', 'blk.2.attn_out', 'blk.2.ffn_out'],
    });
    // Hooks see no RoPE or attention: the stages reading them are listed as skipped.
    const attnOut = r.stages.find((s) => s.name === 'blk.0.attn_out');
    expect(attnOut?.verdict).toBe('skipped');
    expect(attnOut?.reason).toBe('input not captured: blk.0.attention');
  });
});

describe('replay: reports', () => {
  it('--json shape: tier, firstFault, stages with consistency and bound ratios', async () => {
    const wrapped = faultyEngine(engine, 'swiglu', scaleAt(1e-4, 100), [1]);
    const { bytes } = await capturePass(wrapped, LLAMA, TOKENS, 'exact');
    const r = await replay(LLAMA, bytes);
    const json = JSON.parse(JSON.stringify(replayToJson(r), finiteJson));
    expect(Object.keys(json).sort()).toEqual(
      ['firstFault', 'numerics', 'reference', 'stages', 'tier', 'warnings'].sort(),
    );
    expect(json.tier).toBe('auto');
    expect(json.firstFault).toEqual({
      name: 'blk.1.ffn_swiglu',
      layer: 1,
      stage: 'ffn_swiglu',
      boundRatio: r.firstFault?.boundRatio,
    });
    expect(json.stages).toHaveLength((await readTrace(bytes)).stages.length);
    for (const s of json.stages) {
      expect(typeof s.name).toBe('string');
      expect(['ok', 'carried', 'fault', 'consequence', 'skipped']).toContain(s.verdict);
      expect(typeof s.consistent).toBe('boolean');
      expect(s.boundRatio === null || typeof s.boundRatio === 'number').toBe(true);
      expect(Array.isArray(s.inputs)).toBe(true);
    }
    const q = json.stages.find((s: { name: string }) => s.name === 'blk.0.q_proj');
    expect(q.inputs).toEqual(['blk.0.attn_norm']);
    expect(json.stages.find((s: { name: string }) => s.name === 'blk.0.attention').inputs).toEqual([
      'blk.0.q_post_rope',
      'blk.0.k_post_rope',
      'blk.0.v_proj',
    ]);

    const text = formatReplay(r);
    expect(text).toMatch(/^>\s+blk\.1\.ffn_swiglu\s+FAULT/m);
    expect(text).toContain('first fault: blk.1.ffn_swiglu');
    const html = renderReplayHtml(r);
    expect(html).toContain('id="first-fault"');
    expect(html).toContain('id="first-fault-row"');
    expect(html).not.toMatch(/<script|<link|src=/);
  });

  it('bad input is a typed error naming it', async () => {
    const { bytes } = await capturePass(engine, LLAMA, TOKENS, 'exact');
    await expect(replay(LLAMA, bytes, { tier: 'tf64' as never })).rejects.toThrow(/unknown tier "tf64"/);
    const noTokens = encodeTrace([{ name: 'embedding', shape: [1, 64], data: new Float32Array(64) }], {
      producer: 'x',
      backend: 'x',
      model: '0'.repeat(64),
      tokens: [],
      numerics: 'exact',
    });
    await expect(replay(LLAMA, noTokens)).rejects.toThrow(/no tokens/);
    const other = await replay(QWEN2, bytes, { reference: 'none' });
    expect(other.warnings.join('\n')).toMatch(/another model/);
  });
});
