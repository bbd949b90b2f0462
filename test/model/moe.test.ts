/**
 * Mixture-of-experts models from GGUF on synthetic files: qwen3moe,
 * Mixtral-style llama (expert_count > 0) and qwen2moe (sigmoid-gated shared
 * expert). The wasm engine against the float64 reference in both numerics,
 * bit-identical logits for 1, 2 and 3 threads, the moe_* trace stages with
 * the values they must hold, `plumbline run` / `trace` on a MoE file, and bad
 * files as typed errors naming the key or tensor.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GgufValueType } from '../../src/formats/gguf/index.js';
import { HyperparameterError, ModelTensorError } from '../../src/model/errors.js';
import type { SyntheticModelSpec } from '../../src/model/synthetic.js';
import { writeSyntheticModel } from '../../src/model/synthetic.js';
import { readTrace } from '../../src/trace/trace-file.js';
import { runCli } from '../helpers/cli.js';
import { MOE_MODELS } from '../helpers/moe-models.js';
import {
  bits,
  type GgufContents as Contents,
  checkBackendParity,
  Engines,
  ggufVariant,
  load,
  loadError as loadWasmError,
  logitsOnThreadCounts,
  syntheticBytes,
} from './helpers.js';

const engines = new Engines();
afterAll(() => engines.dispose());

const MOE: Record<string, SyntheticModelSpec> = MOE_MODELS;

describe.each(Object.keys(MOE))('synthetic %s', (name) => {
  const bytes = () => syntheticBytes(MOE[name]);

  it.each(['exact', 'ggml'] as const)('wasm matches the reference (%s numerics)', async (numerics) => {
    await checkBackendParity(engines, bytes(), numerics, 'the of and to in is', 3);
  });

  it('gives bit-identical logits on 1, 2 and 3 threads', async () => {
    const results = await logitsOnThreadCounts(engines, bytes(), (model) =>
      expect(model.hparams.moe?.nExpert).toBe(MOE[name].moe?.nExpert),
    );
    expect(bits(results[1])).toEqual(bits(results[0]));
    expect(bits(results[2])).toEqual(bits(results[0]));
  });
});

describe('MoE trace stages', () => {
  it('qwen3moe: moe_* replace the dense FFN stages and hold the routing, each slot and their weighted sum', async () => {
    const model = await load(await engines.get('wasm'), syntheticBytes(MOE.qwen3moe));
    try {
      const tokens = model.tokenizer!.encode('the of and to');
      const n = tokens.length;
      const { trace } = await model.forward(tokens, { trace: {} });
      const t = trace!;
      for (const s of ['ffn_gate', 'ffn_up', 'ffn_swiglu', 'ffn_out'])
        expect(t.has(`blk.0.${s}`)).toBe(false);
      const [E, k, D] = [8, 2, 64];
      for (let l = 0; l < 2; l++) {
        const get = (s: string) => t.get(`blk.${l}.${s}`)!;
        expect(get('moe_router_logits').shape).toEqual([n, E]);
        expect(get('moe_weights').shape).toEqual([n, k]);
        expect(get('moe_experts').shape).toEqual([n, k * D]);
        expect(get('moe_out').shape).toEqual([n, D]);
        const w = get('moe_weights').data;
        const y = get('moe_experts').data;
        const out = get('moe_out').data;
        const res = get('attn_residual').data;
        const layer = get('layer_output').data;
        for (let i = 0; i < n; i++) {
          // Renormalized top-2 of a softmax: positive weights summing to 1 in f32.
          expect(w[i * k]).toBeGreaterThan(0);
          expect(Math.abs(w[i * k] + w[i * k + 1] - 1)).toBeLessThanOrEqual(2 ** -22);
          for (let d = 0; d < D; d++) {
            // The combine: one f32 product and one f32 sum per slot, in slot order from +0.
            let acc = 0;
            for (let j = 0; j < k; j++)
              acc = Math.fround(acc + Math.fround(y[(i * k + j) * D + d] * w[i * k + j]));
            expect(out[i * D + d]).toBe(acc);
            expect(layer[i * D + d]).toBe(Math.fround(res[i * D + d] + out[i * D + d]));
          }
        }
      }
    } finally {
      model.dispose();
    }
  });

  it('the reference engine traces the same stages; asking a dense stage of a MoE model names it', async () => {
    const model = await load(await engines.get('reference'), syntheticBytes(MOE.qwen2moe));
    try {
      const { trace } = await model.forward([1, 300], {
        trace: { stages: ['moe_experts', 'moe_out'], layers: [1] },
      });
      expect([...trace!.keys()]).toEqual(['blk.1.moe_experts', 'blk.1.moe_out']);
      expect(trace!.get('blk.1.moe_experts')!.shape).toEqual([2, 4 * 64]);
      await expect(model.forward([1], { trace: { stages: ['ffn_gate'] } })).rejects.toThrow(
        /"ffn_gate" is not a stage/,
      );
    } finally {
      model.dispose();
    }
  });
});

describe('plumbline run and trace on a MoE GGUF', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plumbline-moe-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cli = (argv: string[]) => runCli(argv);

  it('run generates, trace writes the moe stages', async () => {
    const file = join(dir, 'qwen3moe.gguf');
    await writeSyntheticModel(file, MOE.qwen3moe);
    const r = await cli([
      'run',
      file,
      '--tokens',
      '1,300,301',
      '--max-tokens',
      '3',
      '--threads',
      '2',
      '--json',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).tokens).toHaveLength(3);
    const out = join(dir, 't.safetensors');
    const t = await cli([
      'trace',
      file,
      '--tokens',
      '1,300,301',
      '--stages',
      'moe_weights,moe_out',
      '--out',
      out,
    ]);
    expect(t.code, t.err).toBe(0);
    const trace = await readTrace(out);
    try {
      expect(trace.stages.map((e) => e.name)).toEqual([
        'blk.0.moe_weights',
        'blk.0.moe_out',
        'blk.1.moe_weights',
        'blk.1.moe_out',
      ]);
      expect(trace.get('blk.1.moe_out')?.shape).toEqual([3, 64]);
    } finally {
      await trace.close();
    }
  });
});

const variant = (edit: (c: Contents) => void) => ggufVariant(MOE.qwen3moe, edit);
const loadError = (bytes: Uint8Array) => loadWasmError(engines, bytes);

const u32 = (value: number) => ({ type: GgufValueType.UINT32, value }) as const;

describe('MoE hyperparameter defaults', () => {
  it("without expert_feed_forward_length the experts are n_ff / expert_used_count wide (llama.cpp's default)", async () => {
    const bytes = await variant((c) => {
      c.metadata.delete('qwen3moe.expert_feed_forward_length');
      c.metadata.set('qwen3moe.feed_forward_length', u32(128));
    });
    const model = await load(await engines.get('wasm'), bytes);
    try {
      expect(model.hparams.moe).toEqual({
        nExpert: 8,
        nExpertUsed: 2,
        nFfExp: 64,
        nFfShexp: 0,
        scheme: 'qwen3-moe',
      });
    } finally {
      model.dispose();
    }
  });
});

describe('bad MoE files', () => {
  it.each([
    [
      'a missing expert tensor',
      (c: Contents) =>
        c.tensors.splice(
          c.tensors.findIndex((t) => t.name === 'blk.1.ffn_up_exps.weight'),
          1,
        ),
      ModelTensorError,
      /blk\.1\.ffn_up_exps\.weight.*is missing/,
    ],
    [
      'expert tensors for another expert count',
      (c: Contents) => c.metadata.set('qwen3moe.expert_count', u32(6)),
      ModelTensorError,
      /blk\.0\.ffn_gate_inp\.weight.*has shape \[8,64\] but the hyperparameters make it \[6,64\]/,
    ],
    [
      'an expert tensor with the wrong number of experts',
      (c: Contents) => {
        const i = c.tensors.findIndex((t) => t.name === 'blk.0.ffn_down_exps.weight');
        const t = c.tensors[i];
        c.tensors[i] = { ...t, shape: [7, 64, 64], data: t.data.subarray(0, (t.data.length / 8) * 7) };
      },
      ModelTensorError,
      /blk\.0\.ffn_down_exps\.weight.*has shape \[7,64,64\] but the hyperparameters make it \[8,64,64\]/,
    ],
    [
      'more experts per token than experts',
      (c: Contents) => c.metadata.set('qwen3moe.expert_used_count', u32(9)),
      HyperparameterError,
      /qwen3moe\.expert_used_count.*9 experts per token, but expert_count is 8/,
    ],
    [
      'no expert_count',
      (c: Contents) => c.metadata.delete('qwen3moe.expert_count'),
      HyperparameterError,
      /qwen3moe\.expert_count.*is missing/,
    ],
  ])('%s', async (_what, edit, type, message) => {
    const e = await loadError(await variant(edit));
    expect(e).toBeInstanceOf(type);
    expect(e.message).toMatch(message);
  });
});
