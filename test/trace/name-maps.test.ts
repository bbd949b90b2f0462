import { describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/formats/safetensors/writer.js';
import { diff } from '../../src/oracle/diff.js';
import { TraceMapError } from '../../src/trace/errors.js';
import { applyTransform, mapName, NAME_MAPS, nameMap } from '../../src/trace/name-maps.js';
import { readTrace } from '../../src/trace/trace-file.js';
import {
  type Stage,
  TINY,
  TINY_TOKENS,
  type TinyConfig,
  tinyForward,
  traceBytes,
} from '../helpers/tiny-trace.js';

const T = TINY_TOKENS.length;

/** Another producer's file: tensors under its names, f32, no plumbline metadata. */
function foreign(tensors: { name: string; shape: number[]; data: Float64Array }[]): Uint8Array {
  return writeSafetensors(
    tensors.map((t) => ({
      name: t.name,
      dtype: 'F32' as const,
      shape: t.shape,
      data: Float32Array.from(t.data),
    })),
  );
}

/** GGUF pair layout → Hugging Face rotate-half layout, per head of D values (the inverse of the map's transform). */
function toHalves(d: Float64Array, D: number): Float64Array {
  const out = new Float64Array(d.length);
  for (let b = 0; b < d.length; b += D)
    for (let i = 0; i < D / 2; i++) {
      out[b + i] = d[b + 2 * i];
      out[b + D / 2 + i] = d[b + 2 * i + 1];
    }
  return out;
}

/** What forward hooks on a Hugging Face model capture (module outputs, batch of one). */
function hfTrace(stages: Map<string, Stage>, cfg: TinyConfig, permute: boolean) {
  const out: { name: string; shape: number[]; data: Float64Array }[] = [];
  const add = (
    name: string,
    canonical: string,
    reshape?: (s: number[]) => number[],
    fix?: (d: Float64Array) => Float64Array,
  ) => {
    const s = stages.get(canonical)!;
    out.push({ name, shape: reshape ? reshape(s.shape) : [1, ...s.shape], data: fix ? fix(s.data) : s.data });
  };
  const halves = permute ? (d: Float64Array) => toHalves(d, cfg.headDim) : undefined;
  add('model.embed_tokens', 'embedding');
  for (let l = 0; l < cfg.layers; l++) {
    const m = `model.layers.${l}`;
    add(`${m}.input_layernorm`, `blk.${l}.attn_norm`);
    add(`${m}.self_attn.q_proj`, `blk.${l}.q_proj`, undefined, halves);
    add(`${m}.self_attn.k_proj`, `blk.${l}.k_proj`, undefined, halves);
    add(`${m}.self_attn.v_proj`, `blk.${l}.v_proj`);
    if (cfg.qkNorm) {
      add(`${m}.self_attn.q_norm`, `blk.${l}.q_norm`, (s) => [1, ...s]);
      add(`${m}.self_attn.k_norm`, `blk.${l}.k_norm`, (s) => [1, ...s]);
    }
    add(`${m}.self_attn.o_proj`, `blk.${l}.attn_out`);
    add(`${m}.post_attention_layernorm`, `blk.${l}.ffn_norm`);
    add(`${m}.mlp.gate_proj`, `blk.${l}.ffn_gate`);
    add(`${m}.mlp.up_proj`, `blk.${l}.ffn_up`);
    add(`${m}.mlp.act_fn`, `blk.${l}.ffn_act`);
    add(`${m}.mlp.down_proj`, `blk.${l}.ffn_out`);
    add(m, `blk.${l}.layer_output`);
  }
  add('model.norm', 'output_norm');
  add('lm_head', 'logits');
  add('model.rotary_emb', 'embedding'); // something no map knows: listed, not dropped
  return out;
}

describe('name maps', () => {
  it('maps Hugging Face and llama.cpp names to canonical ones', () => {
    const hf = nameMap('hf-qwen3');
    expect(mapName(hf, 'model.layers.3.mlp.gate_proj')).toEqual({ name: 'blk.3.ffn_gate' });
    expect(mapName(hf, 'model.layers.3.self_attn.q_norm')).toEqual({ name: 'blk.3.q_norm' });
    expect(mapName(hf, 'model.layers.12')).toEqual({ name: 'blk.12.layer_output' });
    expect(mapName(hf, 'model.norm')).toEqual({ name: 'output_norm' });
    expect(mapName(hf, 'lm_head')).toEqual({ name: 'logits' });
    expect(mapName(hf, 'model.layers.3.mlp')).toBeUndefined();
    expect(mapName(nameMap('hf-llama'), 'model.layers.0.self_attn.k_proj')).toEqual({
      name: 'blk.0.k_proj',
      transform: 'rope-halves-to-pairs',
    });
    const cpp = nameMap('llama.cpp-llama');
    expect(mapName(cpp, 'attn_norm-3')).toEqual({ name: 'blk.3.attn_norm' });
    expect(mapName(cpp, 'Qcur-3')).toEqual({ name: 'blk.3.q_post_rope' });
    expect(mapName(cpp, 'ffn_inp-3')).toEqual({ name: 'blk.3.attn_residual' });
    expect(mapName(cpp, 'ffn_out-3')).toEqual({ name: 'blk.3.ffn_out' });
    expect(mapName(cpp, 'l_out-3')).toEqual({ name: 'blk.3.layer_output' });
    expect(mapName(cpp, 'result_output')).toEqual({ name: 'logits' });
    expect(mapName(cpp, 'kq-3')).toBeUndefined();
    expect(mapName(cpp, 'norm-3')).toBeUndefined();
    expect(mapName(nameMap('llama.cpp-qwen3'), 'Kcur_normed-0')).toEqual({ name: 'blk.0.k_norm' });
    expect(mapName(nameMap('llama.cpp-qwen2'), 'attn_out-0')).toBeUndefined();
    expect([...NAME_MAPS.keys()]).toEqual([
      'hf-llama',
      'hf-qwen2',
      'hf-qwen3',
      'llama.cpp-llama',
      'llama.cpp-qwen2',
      'llama.cpp-qwen3',
    ]);
    expect(() => nameMap('pytorch')).toThrow(TraceMapError);
  });

  it('undoes the rotate-half layout per head', () => {
    const pairs = Float64Array.from({ length: 16 }, (_, i) => i);
    expect([...applyTransform(toHalves(pairs, 8), 'rope-halves-to-pairs', 'q', 8)]).toEqual([...pairs]);
    expect(() => applyTransform(pairs, 'rope-halves-to-pairs', 'q', undefined)).toThrow(/head size/);
    expect(() => applyTransform(pairs, 'rope-halves-to-pairs', 'q', 6)).toThrow(TraceMapError);
  });

  it('refuses two tensors that map to one stage', async () => {
    const d = new Float64Array(4);
    const bytes = foreign([
      { name: 'lm_head', shape: [1, 4], data: d },
      { name: 'logits', shape: [1, 4], data: d },
    ]);
    await expect(readTrace(bytes, { map: 'hf-llama' })).rejects.toThrow(/both map to logits/);
  });
});

describe('diffing a mapped trace against a canonical one', () => {
  it('hf-llama: a Hugging Face trace with rotate-half Q/K matches the GGUF-layout reference', async () => {
    const stages = tinyForward();
    const ref = traceBytes(stages);
    const cand = foreign(hfTrace(stages, TINY, true));
    const r = await diff(ref, cand, { tier: 'f32', map: 'hf-llama' });
    expect(r.firstDivergence).toBeNull();
    expect(r.geometry.headDim).toBe(TINY.headDim);
    const q = r.stages.find((s) => s.name === 'blk.1.q_proj')!;
    expect(q).toMatchObject({ verdict: 'pass', sources: { candidate: 'model.layers.1.self_attn.q_proj' } });
    expect(q.candidateShape).toEqual([1, T, TINY.nHead * TINY.headDim]);
    const only = r.stages.filter((s) => s.verdict === 'only-reference').map((s) => s.stage);
    expect(new Set(only)).toEqual(
      new Set([
        'q_post_rope',
        'k_post_rope',
        'attn_scores',
        'attn_softmax',
        'attention',
        'attn_residual',
        'ffn_swiglu',
      ]),
    );
    const unknown = r.stages.find((s) => s.name === 'model.rotary_emb');
    expect(unknown).toMatchObject({ verdict: 'only-candidate', stage: null, layer: null });
    // Without the layout transform, the same Q/K values diverge: the map is what makes them comparable.
    const unmapped = await diff(ref, cand, { tier: 'f32', map: 'hf-qwen2' });
    expect(unmapped.firstDivergence?.name).toBe('blk.0.q_proj');
  });

  it('hf-llama needs the head size when neither trace shows it', async () => {
    const stages = tinyForward();
    const ref = traceBytes(stages, {
      drop: [...stages.keys()].filter((n) => n.endsWith('attn_scores') || n.endsWith('attn_softmax')),
    });
    const cand = foreign(hfTrace(stages, TINY, true));
    await expect(diff(ref, cand, { tier: 'f32', map: 'hf-llama' })).rejects.toThrow(/head size/);
    const r = await diff(ref, cand, { tier: 'f32', map: 'hf-llama', headDim: TINY.headDim });
    expect(r.firstDivergence).toBeNull();
  });

  it('hf-qwen3: per-head q_norm/k_norm of shape [1, T, H, D]', async () => {
    const cfg: TinyConfig = { ...TINY, qkNorm: true, rope: 'neox', seed: 11 };
    const stages = tinyForward(cfg);
    const r = await diff(traceBytes(stages), foreign(hfTrace(stages, cfg, false)), {
      tier: 'f32',
      map: 'hf-qwen3',
    });
    expect(r.firstDivergence).toBeNull();
    expect(r.stages.find((s) => s.name === 'blk.2.k_norm')?.verdict).toBe('pass');
  });

  it('llama.cpp-qwen3: ggml graph names, a planted fault found under its canonical name', async () => {
    const cfg: TinyConfig = { ...TINY, qkNorm: true, rope: 'neox', seed: 5 };
    const ref = tinyForward(cfg);
    const bad = tinyForward(cfg, undefined, (n, d) => {
      if (n === 'blk.1.ffn_gate') d[d.length - 1] *= 1.001;
    });
    const names: [string, string, number[]?][] = [['inp_embd', 'embedding']];
    for (let l = 0; l < cfg.layers; l++) {
      const H = cfg.nHead;
      const Hk = cfg.nKvHead;
      const D = cfg.headDim;
      names.push(
        [`attn_norm-${l}`, `blk.${l}.attn_norm`],
        [`Qcur_normed-${l}`, `blk.${l}.q_norm`],
        [`Kcur_normed-${l}`, `blk.${l}.k_norm`],
        [`Qcur-${l}`, `blk.${l}.q_post_rope`, [T, H, D]],
        [`Kcur-${l}`, `blk.${l}.k_post_rope`, [T, Hk, D]],
        [`Vcur-${l}`, `blk.${l}.v_proj`, [T, Hk, D]],
        [`kq-${l}`, `blk.${l}.attn_scores`],
        [`kq_soft_max-${l}`, `blk.${l}.attn_softmax`, [1, H, T, T]],
        [`kqv_out-${l}`, `blk.${l}.attention`],
        [`ffn_inp-${l}`, `blk.${l}.attn_residual`],
        [`ffn_norm-${l}`, `blk.${l}.ffn_norm`],
        [`ffn_gate-${l}`, `blk.${l}.ffn_gate`],
        [`ffn_up-${l}`, `blk.${l}.ffn_up`],
        [`ffn_swiglu-${l}`, `blk.${l}.ffn_swiglu`],
        [`ffn_out-${l}`, `blk.${l}.ffn_out`],
        [`l_out-${l}`, `blk.${l}.layer_output`],
      );
    }
    names.push(['result_norm', 'output_norm'], ['result_output', 'logits']);
    const cand = foreign(
      names.map(([name, c, shape]) => ({ name, shape: shape ?? bad.get(c)!.shape, data: bad.get(c)!.data })),
    );
    const r = await diff(traceBytes(ref), cand, { tier: 'f32', map: 'llama.cpp-qwen3' });
    expect(r.firstDivergence?.name).toBe('blk.1.ffn_gate');
    expect(r.firstDivergence?.sources?.candidate).toBe('ffn_gate-1');
    expect(
      r.stages.filter((s) => s.stage === 'attn_softmax').every((s) => s.verdict !== 'shape-mismatch'),
    ).toBe(true);
    // "kq" is Q·Kᵀ before ggml's softmax applies the scale: not the canonical scores, so it stays unmapped.
    expect(r.stages.find((s) => s.name === 'kq-0')).toMatchObject({ verdict: 'only-candidate', stage: null });
    expect(r.stages.find((s) => s.name === 'blk.0.attn_scores')?.verdict).toBe('only-reference');
  });
});
