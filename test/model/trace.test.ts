/**
 * Trace capture: a plan changes nothing in the logits (bit for bit), 'all'
 * captures every stage the architecture has for every token, subsets capture
 * exactly what they name, and the captured tensors are the ones the pass
 * used (residual sums recomputed from them match bit for bit).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { architectureStages } from '../../src/model/capture.js';
import { ModelError } from '../../src/model/errors.js';
import { LAYER_STAGES } from '../../src/trace/stages.js';
import { bits, Engines, load, SYNTHETIC, syntheticBytes } from './helpers.js';

const engines = new Engines();
afterAll(() => engines.dispose());

const PROMPT = [1, 300, 301, 302, 303, 304, 305];

describe.each(['llama', 'qwen3'])('%s', (arch) => {
  const bytes = () => syntheticBytes(SYNTHETIC[arch]);

  it.each(['exact', 'ggml'] as const)(
    'logits are bit-identical with and without a plan (%s numerics)',
    async (numerics) => {
      const model = await load(await engines.get('wasm'), bytes(), { numerics });
      try {
        const run = async (trace?: { stages: 'all' }) => {
          model.reset();
          const a = await model.forward(PROMPT, { trace });
          const b = await model.forward([7], { trace });
          return Float32Array.of(...a.logits, ...b.logits);
        };
        const plain = await run();
        const traced = await run({ stages: 'all' });
        expect(bits(traced)).toEqual(bits(plain));
        expect(bits(await run())).toEqual(bits(plain));
      } finally {
        model.dispose();
      }
    },
  );

  it("'all' captures every stage of every layer, every token, and the tensors the pass used", async () => {
    const model = await load(await engines.get('wasm'), bytes());
    try {
      const h = model.hparams;
      const n = PROMPT.length;
      const { trace, logits } = await model.forward(PROMPT, { trace: { stages: 'all' } });
      const stages = architectureStages(h.arch);
      const expected = stages.flatMap((s) =>
        (LAYER_STAGES as readonly string[]).includes(s)
          ? Array.from({ length: h.nLayer }, (_, l) => `blk.${l}.${s}`)
          : [s],
      );
      expect(new Set(trace!.keys())).toEqual(new Set(expected));
      // Computation order.
      expect([...trace!.keys()][0]).toBe('embedding');
      expect([...trace!.keys()].slice(-2)).toEqual(['output_norm', 'logits']);

      const q = h.nHead * h.headDim;
      const kv = h.nHeadKv * h.headDim;
      const widths: Record<string, number> = {
        embedding: h.nEmbd,
        attn_norm: h.nEmbd,
        q_proj: q,
        k_proj: kv,
        v_proj: kv,
        q_norm: q,
        k_norm: kv,
        q_post_rope: q,
        k_post_rope: kv,
        attention: q,
        attn_out: h.nEmbd,
        attn_residual: h.nEmbd,
        ffn_norm: h.nEmbd,
        ffn_gate: h.nFf,
        ffn_up: h.nFf,
        ffn_act: h.nFf,
        ffn_swiglu: h.nFf,
        ffn_out: h.nEmbd,
        layer_output: h.nEmbd,
        output_norm: h.nEmbd,
        logits: h.nVocab,
      };
      for (const [name, t] of trace!) {
        const stage = name.replace(/^blk\.\d+\./, '');
        const shape =
          stage === 'attn_scores' || stage === 'attn_softmax' ? [h.nHead, n, n] : [n, widths[stage]];
        expect(t.shape, name).toEqual(shape);
        expect(t.data.length, name).toBe(shape[0] * shape[1] * (shape[2] ?? 1));
        expect(t.data.every(Number.isFinite), name).toBe(true);
      }
      // The last logits row is what forward returned.
      expect(bits(trace!.get('logits')!.data.slice((n - 1) * h.nVocab))).toEqual(bits(logits));
      // Residual adds recomputed in f32 from the captured inputs: the captures are the pass's own tensors.
      for (let l = 0; l < h.nLayer; l++) {
        const input = trace!.get(l === 0 ? 'embedding' : `blk.${l - 1}.layer_output`)!.data;
        const sum = (a: Float32Array, b: Float32Array) => a.map((x, i) => Math.fround(x + b[i]));
        const x1 = trace!.get(`blk.${l}.attn_residual`)!.data;
        expect(bits(sum(input, trace!.get(`blk.${l}.attn_out`)!.data))).toEqual(bits(x1));
        expect(bits(sum(x1, trace!.get(`blk.${l}.ffn_out`)!.data))).toEqual(
          bits(trace!.get(`blk.${l}.layer_output`)!.data),
        );
        // Causal softmax rows: sum to 1 over positions ≤ the query's, 0 beyond.
        const sm = trace!.get(`blk.${l}.attn_softmax`)!.data;
        for (let hd = 0; hd < h.nHead; hd++)
          for (let i = 0; i < n; i++) {
            const row = sm.subarray((hd * n + i) * n, (hd * n + i + 1) * n);
            expect(row.slice(0, i + 1).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
            expect(row.slice(i + 1).every((x) => x === 0)).toBe(true);
          }
      }
    } finally {
      model.dispose();
    }
  });

  it('a plan captures exactly its stages and layers; a decode pass traces its one token against the cache', async () => {
    const model = await load(await engines.get('wasm'), bytes());
    try {
      const h = model.hparams;
      const a = await model.forward(PROMPT, {
        trace: { stages: ['q_proj', 'attn_scores', 'logits'], layers: [1] },
      });
      expect([...a.trace!.keys()]).toEqual(['blk.1.q_proj', 'blk.1.attn_scores', 'logits']);
      const b = await model.forward([9], { trace: { stages: ['attn_softmax', 'embedding'] } });
      expect([...b.trace!.keys()]).toEqual(['embedding', 'blk.0.attn_softmax', 'blk.1.attn_softmax']);
      expect(b.trace!.get('blk.0.attn_softmax')!.shape).toEqual([h.nHead, 1, PROMPT.length + 1]);
    } finally {
      model.dispose();
    }
  });
});

describe('capture plans that do not fit the model', () => {
  it('name the stage or layer', async () => {
    const model = await load(await engines.get('wasm'), syntheticBytes(SYNTHETIC.llama));
    try {
      await expect(model.forward([1], { trace: { stages: ['q_norm'] } })).rejects.toThrow(
        /"q_norm" is not a stage of a llama model/,
      );
      await expect(model.forward([1], { trace: { stages: ['attn_probs'] } })).rejects.toThrow(ModelError);
      await expect(model.forward([1], { trace: { layers: [2] } })).rejects.toThrow(
        /layer 2 is not in \[0, 2\)/,
      );
      expect(model.position).toBe(0);
    } finally {
      model.dispose();
    }
  });
});
