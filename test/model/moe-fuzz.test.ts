/**
 * Fuzzing MoE model loading (qwen3moe, Mixtral-style llama, qwen2moe): the
 * expert_* hyperparameters set to 0, negative, 2^31 and beyond, NaN, wrong
 * types or removed, expert_used_count above expert_count; the 3-D expert
 * tensors and the router given other shapes, types or names, swapped,
 * removed, or NaN; the file truncated and its header's counts and offsets
 * mutated (seeded). Every case either loads and runs one token to logits of
 * the vocabulary's length on the wasm and reference engines alike, or throws
 * a typed error naming the key or tensor at fault — with a per-case timeout,
 * and the wasm arena back to its bytes before the case (nothing leaked).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { GgufError } from '../../src/errors.js';
import { GgufValueType as T } from '../../src/formats/gguf/index.js';
import { loadModel } from '../../src/model/load.js';
import type { SyntheticModelSpec } from '../../src/model/synthetic.js';
import { quantize } from '../../src/ops/quantize.js';
import { mutate, prng, smallU64Offsets } from '../formats/gguf/helpers.js';
import { arenaBytes, expectPoolClosed, expectTypedError, outcome } from './fuzz-helpers.js';
import { checkBackendParity, Engines, type GgufContents, ggufVariant, syntheticBytes } from './helpers.js';

const SEED = 0x6d0e;
const engines = new Engines();
let opened: Engine[] = [];
afterAll(async () => {
  opened = [await engines.get('wasm'), await engines.get('reference')];
  await engines.dispose();
  for (const e of opened) expectPoolClosed(e);
});

const small = { nEmbd: 32, nLayer: 1, nHead: 2, nHeadKv: 1, nFf: 32, nVocab: 340, nCtx: 16 };
const SPECS: Record<string, SyntheticModelSpec> = {
  qwen3moe: { arch: 'qwen3moe', ...small, type: 'q8_0', moe: { nExpert: 4, nExpertUsed: 2, nFfExp: 64 } },
  mixtral: { arch: 'llama', ...small, type: 'q4_0', moe: { nExpert: 4, nExpertUsed: 2 } },
  qwen2moe: {
    arch: 'qwen2moe',
    ...small,
    type: 'f16',
    moe: { nExpert: 4, nExpertUsed: 2, nFfExp: 16, nFfShexp: 32 },
  },
};

interface Case {
  name: string;
  bytes: () => Promise<Uint8Array>;
  /** What an error must name (any of these); empty: only its type is checked. */
  names: string[];
  /** Whether a model that loads has valid weights, so its logits must be finite. */
  finite: boolean;
  /** Every logit NaN (a NaN router: NaN expert weights propagate). */
  allNaN?: boolean;
}

const BAD_VALUES: [string, unknown][] = [
  ['0', 0],
  ['-1 (i32)', { type: T.INT32, value: -1 }],
  ['2^31 - 1', { type: T.INT32, value: 2 ** 31 - 1 }],
  ['2^31', { type: T.UINT32, value: 2 ** 31 }],
  ['2^32 - 1', { type: T.UINT32, value: 2 ** 32 - 1 }],
  ['2^63 (u64)', { type: T.UINT64, value: 2n ** 63n }],
  ['-2^63 (i64)', { type: T.INT64, value: -(2n ** 63n) }],
  ['NaN', { type: T.FLOAT32, value: Number.NaN }],
  ['Infinity', { type: T.FLOAT64, value: Number.POSITIVE_INFINITY }],
  ['1.5', { type: T.FLOAT32, value: 1.5 }],
  ['a string', 'four'],
  ['a bool', true],
  ['an array', { type: T.ARRAY, itemType: T.UINT32, value: [2, 2] }],
  ['an empty array', { type: T.ARRAY, itemType: T.UINT32, value: [] }],
  ['an array of strings', ['2']],
  ['removed', undefined],
];

function moeKeys(spec: SyntheticModelSpec): string[] {
  const keys = [
    'expert_count',
    'expert_used_count',
    'feed_forward_length',
    'block_count',
    'embedding_length',
  ];
  keys.push('attention.head_count', 'attention.head_count_kv');
  if (spec.arch !== 'llama') keys.push('expert_feed_forward_length');
  if (spec.moe?.nFfShexp) keys.push('expert_shared_feed_forward_length');
  return keys;
}

const variant = (spec: SyntheticModelSpec, edit: (c: GgufContents) => void) => () => ggufVariant(spec, edit);

function tensorOf(c: GgufContents, name: string) {
  const t = c.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`test: no tensor ${name}`);
  return t;
}

/** Small finite weights of `shape` in `type`. */
function weights(type: string, shape: readonly number[]): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return quantize(
    type,
    Float32Array.from({ length: n }, (_, i) => 0.05 * Math.sin(i + 1)),
  );
}

function metadataCases(spec: SyntheticModelSpec): Case[] {
  const arch = spec.arch;
  const m = spec.moe ?? { nExpert: 0, nExpertUsed: 0 };
  const out: Case[] = [];
  for (const key of moeKeys(spec))
    for (const [label, value] of BAD_VALUES) {
      const full = `${arch}.${key}`;
      out.push({
        name: `${full} = ${label}`,
        bytes: variant(spec, (c) => {
          if (value === undefined) c.metadata.delete(full);
          else c.metadata.set(full, value as never);
        }),
        names: [full, key, 'tensor "'],
        finite: true,
      });
    }
  const used = `${arch}.expert_used_count`;
  out.push(
    {
      name: 'expert_used_count = expert_count + 1',
      bytes: variant(spec, (c) => c.metadata.set(used, m.nExpert + 1)),
      names: [used],
      finite: true,
    },
    {
      name: 'expert_count = 1 below expert_used_count 2',
      bytes: variant(spec, (c) => c.metadata.set(`${arch}.expert_count`, 1)),
      names: [used, `${arch}.expert_count`],
      finite: true,
    },
    {
      // Regression: 2^31 - 1 layers built as many tensor specs, and the process ran out of memory.
      name: 'block_count = 2^31 - 1 names block_count',
      bytes: variant(spec, (c) => c.metadata.set(`${arch}.block_count`, 2 ** 31 - 1)),
      names: [`${arch}.block_count`],
      finite: true,
    },
    {
      name: 'expert_used_count = 1 (fewer experts per token: still a valid model)',
      bytes: variant(spec, (c) => c.metadata.set(used, 1)),
      names: [],
      finite: true,
    },
    {
      name: 'expert_used_count = expert_count (every expert)',
      bytes: variant(spec, (c) => c.metadata.set(used, m.nExpert)),
      names: [],
      finite: true,
    },
  );
  for (const [label, value] of [
    ['another MoE architecture', arch === 'qwen3moe' ? 'qwen2moe' : 'qwen3moe'],
    ['"constructor"', 'constructor'],
    ['a number', { type: T.UINT32, value: 3 }],
    ['removed', undefined],
  ] as [string, unknown][])
    out.push({
      name: `general.architecture ${label}`,
      bytes: variant(spec, (c) => {
        if (value === undefined) c.metadata.delete('general.architecture');
        else c.metadata.set('general.architecture', value as never);
      }),
      // Another architecture reads its own <arch>.* keys: the first one missing is named.
      names: ['general.architecture', 'is missing'],
      finite: true,
    });
  if (arch !== 'llama')
    // Regression: expert_count 0 made a qwen*moe model dense; the error blamed its router tensor.
    out.push({
      name: 'expert_count = 0 names expert_count (a qwen*moe model has no dense form)',
      bytes: variant(spec, (c) => c.metadata.set(`${arch}.expert_count`, 0)),
      names: [`${arch}.expert_count`],
      finite: true,
    });
  return out;
}

function tensorCases(spec: SyntheticModelSpec): Case[] {
  const m = spec.moe ?? { nExpert: 0, nExpertUsed: 0 };
  const X = m.nExpert;
  const F = spec.arch === 'llama' ? spec.nFf : (m.nFfExp ?? spec.nFf);
  const E = spec.nEmbd;
  const gate = 'blk.0.ffn_gate_exps.weight';
  const up = 'blk.0.ffn_up_exps.weight';
  const down = 'blk.0.ffn_down_exps.weight';
  const router = 'blk.0.ffn_gate_inp.weight';
  const reshape = (name: string, shape: number[], type?: string) =>
    variant(spec, (c) => {
      const t = tensorOf(c, name);
      t.type = type ?? t.type;
      t.shape = shape;
      t.data = weights(t.type as string, shape);
    });
  const out: Case[] = [
    { name: `${gate} 2-D`, bytes: reshape(gate, [X * F, E]), names: [gate], finite: true },
    { name: `${gate} one expert more`, bytes: reshape(gate, [X + 1, F, E]), names: [gate], finite: true },
    { name: `${gate} rows and cols swapped`, bytes: reshape(gate, [X, E, F]), names: [gate], finite: true },
    { name: `${gate} 4-D`, bytes: reshape(gate, [1, X, F, E]), names: [gate], finite: true },
    { name: `${down} one expert fewer`, bytes: reshape(down, [X - 1, E, F]), names: [down], finite: true },
    {
      name: `${up} as f32 (a valid weight type)`,
      bytes: reshape(up, [X, F, E], 'f32'),
      names: [],
      finite: true,
    },
    { name: `${router} 3-D`, bytes: reshape(router, [1, X, E]), names: [router], finite: true },
    { name: `${router} as q8_0`, bytes: reshape(router, [X, E], 'q8_0'), names: [], finite: true },
    {
      name: `${gate} of type i32 (not a weight type)`,
      bytes: variant(spec, (c) => {
        const t = tensorOf(c, gate);
        t.type = 'i32';
        t.data = new Uint8Array(X * F * E * 4);
      }),
      names: [gate],
      finite: true,
    },
    {
      name: `${gate} removed`,
      bytes: variant(spec, (c) => {
        c.tensors = c.tensors.filter((t) => t.name !== gate);
      }),
      names: [gate],
      finite: true,
    },
    {
      name: 'a dense blk.0.ffn_gate.weight in a MoE layer',
      bytes: variant(spec, (c) => {
        c.tensors.push({
          name: 'blk.0.ffn_gate.weight',
          type: 'f32',
          shape: [F, E],
          data: weights('f32', [F, E]),
        });
      }),
      names: ['blk.0.ffn_gate.weight'],
      finite: true,
    },
    {
      name: `${gate} and ${up} swapped (same shape: a valid model)`,
      bytes: variant(spec, (c) => {
        const [g, u] = [tensorOf(c, gate), tensorOf(c, up)];
        [g.name, u.name] = [u.name, g.name];
      }),
      names: [],
      finite: true,
    },
    {
      name: `${gate} and ${down} swapped`,
      bytes: variant(spec, (c) => {
        const [g, d] = [tensorOf(c, gate), tensorOf(c, down)];
        [g.name, d.name] = [d.name, g.name];
      }),
      names: [gate, down],
      finite: true,
    },
    {
      name: `${router} all NaN`,
      bytes: variant(spec, (c) => {
        const t = tensorOf(c, router);
        t.data = new Uint8Array(new Float32Array(X * E).fill(Number.NaN).buffer);
      }),
      names: [],
      finite: false,
      allNaN: true,
    },
  ];
  if (m.nFfShexp) {
    const inp = 'blk.0.ffn_gate_inp_shexp.weight';
    out.push(
      { name: `${inp} as q8_0 (a vector)`, bytes: reshape(inp, [E], 'q8_0'), names: [inp], finite: true },
      { name: `${inp} as a matrix`, bytes: reshape(inp, [1, E], 'f32'), names: [inp], finite: true },
    );
  }
  return out;
}

/** Truncations at seeded offsets (denser in the header), and 1-3 seeded byte mutations of the header. */
function byteCases(spec: SyntheticModelSpec, seed: number): Case[] {
  const base = syntheticBytes(spec);
  const rand = prng(seed);
  const out: Case[] = [];
  const headerEnd = Math.min(base.length, 16384);
  const cuts = new Set<number>([0, 3, 4, 8, 16, 24, base.length - 1]);
  while (cuts.size < 30) cuts.add(Math.floor(rand() < 0.7 ? rand() * headerEnd : rand() * base.length));
  for (const at of [...cuts].sort((a, b) => a - b))
    out.push({
      name: `truncated to ${at} of ${base.length} bytes`,
      bytes: async () => base.slice(0, at),
      names: [],
      finite: false,
    });
  const header = base.slice(0, headerEnd);
  const offsets = smallU64Offsets(header);
  for (let i = 0; i < 30; i++) {
    const { bytes, how } = mutate(header, rand, offsets);
    const whole = new Uint8Array(bytes.length + base.length - headerEnd);
    whole.set(bytes);
    whole.set(base.subarray(headerEnd), bytes.length);
    out.push({ name: `header mutation ${i}: ${how}`, bytes: async () => whole, names: [], finite: false });
  }
  return out;
}

type Result = { ok: Float32Array } | { error: unknown };

/** Loads and runs one token on `backend`; asserts the case's contract; returns the logits or the error. */
async function runCase(c: Case, bytes: Uint8Array, backend: 'wasm' | 'reference'): Promise<Result> {
  const engine = await engines.get(backend);
  const before = arenaBytes(engine);
  const what = `${backend}: ${c.name}`;
  const r = await outcome(what, async () => {
    const model = await loadModel(engine, bytes, { nCtx: 8 });
    let logits: Float32Array;
    try {
      logits = (await model.forward([3])).logits;
      expect(logits.length, `${what}: logits`).toBe(model.hparams.nVocab);
    } finally {
      model.dispose();
    }
    // A file that loads runs in ggml numerics too (f16 KV cache, quantized activations).
    const ggml = await loadModel(engine, bytes, { nCtx: 8, numerics: 'ggml' });
    try {
      const g = (await ggml.forward([3])).logits;
      expect(g.length, `${what}: ggml logits`).toBe(ggml.hparams.nVocab);
      if (c.finite) expect(g.every(Number.isFinite), `${what}: finite ggml logits`).toBe(true);
    } finally {
      ggml.dispose();
    }
    return logits;
  });
  expect(arenaBytes(engine), `${what}: arena bytes after the case`).toBe(before);
  if ('error' in r) expectTypedError(what, r.error, c.names);
  else if (c.allNaN) expect(r.ok.every(Number.isNaN), `${what}: NaN propagates to every logit`).toBe(true);
  else if (c.finite) expect(r.ok.every(Number.isFinite), `${what}: finite logits`).toBe(true);
  return r;
}

describe.each(Object.keys(SPECS))('%s: hostile files', (arch) => {
  const spec = SPECS[arch];
  const cases = [...metadataCases(spec), ...tensorCases(spec), ...byteCases(spec, SEED + arch.length)];

  it(`${cases.length} cases: loads and runs, or a typed error naming the key or tensor`, async () => {
    let loaded = 0;
    for (const c of cases) {
      const bytes = await c.bytes();
      const w = await runCase(c, bytes, 'wasm');
      const r = await runCase(c, bytes, 'reference');
      // Both engines check the same file the same way.
      const said = (x: Result) => ('ok' in x ? 'ran' : `threw ${(x.error as Error).message}`);
      expect('ok' in w, `${c.name}: wasm ${said(w)}; reference ${said(r)}`).toBe('ok' in r);
      if ('error' in w && 'error' in r)
        expect((w.error as Error).message, c.name).toBe((r.error as Error).message);
      if ('ok' in w && 'ok' in r) {
        loaded++;
        const nan = (x: Float32Array) => x.map((v) => (Number.isNaN(v) ? 1 : 0)).join('');
        expect(nan(w.ok), `${c.name}: NaN logits at the same places`).toBe(nan(r.ok));
      }
    }
    // The valid variants (swapped same-shape experts, f32 experts, q8_0 router, k = 1 …) did load.
    expect(loaded).toBeGreaterThanOrEqual(5);
  }, 20000);

  // Regression: the reference engine threw a RangeError (typed array length) for the KV cache.
  it.each(['wasm', 'reference'] as const)(
    'a context of 2^30 positions is a typed error on %s',
    async (backend) => {
      const bytes = await ggufVariant(spec, (c) =>
        c.metadata.set(`${spec.arch}.context_length`, 2 ** 31 - 1),
      );
      const engine = await engines.get(backend);
      const r = await outcome(backend, () => loadModel(engine, bytes, { nCtx: 2 ** 30 }));
      expect('error' in r, `${backend}: loaded a 2^30-position context`).toBe(true);
      if ('error' in r) expectTypedError(backend, r.error, ['KV cache']);
    },
  );

  // Regression: the wasm MoE ran gate and up under one numerics flag and refused this at forward.
  it.each([
    ['an f32 expert up beside a quantized gate', { ffn_up: 'f32' }],
    ['an f32 expert gate beside a quantized up', { ffn_gate: 'f32' }],
  ] as const)(
    '%s runs in ggml numerics: wasm matches the reference; 1, 2, 3 threads bit-identical',
    async (_, types) => {
      const bytes = syntheticBytes({ ...spec, nCtx: 64, types });
      await checkBackendParity(engines, bytes, 'ggml', 'the of and to', 2);
      const results: Uint32Array[] = [];
      for (const threads of [1, 2, 3]) {
        const model = await loadModel(await engines.get('wasm', threads), bytes, {
          nCtx: 64,
          numerics: 'ggml',
        });
        try {
          const prompt = model.tokenizer!.encode('the of and to in is');
          const { logits } = await model.forward(prompt, { logits: 'all' });
          results.push(new Uint32Array(Float32Array.from(logits).buffer));
        } finally {
          model.dispose();
        }
      }
      expect(results[1]).toEqual(results[0]);
      expect(results[2]).toEqual(results[0]);
    },
  );

  it('a truncated file is a GgufError', async () => {
    const base = syntheticBytes(spec);
    const c: Case = {
      name: 'half',
      bytes: async () => base.slice(0, base.length >> 1),
      names: [],
      finite: false,
    };
    const r = await runCase(c, await c.bytes(), 'wasm');
    expect('error' in r && r.error instanceof GgufError).toBe(true);
  });
});
