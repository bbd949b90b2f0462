/**
 * Bad models and bad calls: typed errors that name the key or tensor, raised
 * before any tensor is read where the header tells, and nothing left
 * allocated when loading fails part-way.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { ContextOverflowError } from '../../src/errors.js';
import { type GgufTensorInput, GgufValueType } from '../../src/formats/gguf/index.js';
import {
  HyperparameterError,
  ModelError,
  ModelTensorError,
  ModelTooLargeError,
  UnsupportedArchitectureError,
} from '../../src/model/errors.js';
import { loadModel } from '../../src/model/load.js';
import { quantize } from '../../src/ops/quantize.js';
import {
  type GgufContents as Contents,
  Engines,
  ggufVariant,
  load,
  loadError as loadWasmError,
  SYNTHETIC,
  syntheticBytes,
} from './helpers.js';

const engines = new Engines();
afterAll(() => engines.dispose());

/** The qwen2 synthetic model, changed by `edit`, as GGUF bytes. */
const variant = (edit: (c: Contents) => void) => ggufVariant(SYNTHETIC.qwen2, edit);

const u32 = (value: number) => ({ type: GgufValueType.UINT32, value }) as const;
const f32Tensor = (name: string, n: number): GgufTensorInput => ({
  name,
  type: 'f32',
  shape: [n],
  data: new Uint8Array(new Float32Array(n).fill(1).buffer),
});

const loadError = (bytes: Uint8Array, opts = {}) => loadWasmError(engines, bytes, opts);

describe('hyperparameters', () => {
  it('an unsupported or missing architecture names general.architecture', async () => {
    const e = await loadError(
      await variant((c) =>
        c.metadata.set('general.architecture', { type: GgufValueType.STRING, value: 'gpt2' }),
      ),
    );
    expect(e).toBeInstanceOf(UnsupportedArchitectureError);
    expect((e as UnsupportedArchitectureError).key).toBe('general.architecture');
    expect(e.message).toMatch(/"gpt2" is not supported; supported: llama, qwen2, qwen3/);
    const missing = await loadError(await variant((c) => c.metadata.delete('general.architecture')));
    expect(missing).toBeInstanceOf(UnsupportedArchitectureError);
    const proto = await loadError(
      await variant((c) =>
        c.metadata.set('general.architecture', { type: GgufValueType.STRING, value: 'constructor' }),
      ),
    );
    expect(proto).toBeInstanceOf(UnsupportedArchitectureError);
  });

  it.each([
    [
      'missing',
      (c: Contents) => c.metadata.delete('qwen2.embedding_length'),
      'qwen2.embedding_length',
      /is missing/,
    ],
    [
      'a string',
      (c: Contents) => c.metadata.set('qwen2.block_count', { type: GgufValueType.STRING, value: '2' }),
      'qwen2.block_count',
      /must be a number/,
    ],
    [
      'zero',
      (c: Contents) => c.metadata.set('qwen2.feed_forward_length', u32(0)),
      'qwen2.feed_forward_length',
      /positive/,
    ],
    [
      'not dividing the heads',
      (c: Contents) => c.metadata.set('qwen2.attention.head_count_kv', u32(3)),
      'qwen2.attention.head_count_kv',
      /does not divide/,
    ],
    [
      'an odd rope dimension',
      (c: Contents) => c.metadata.set('qwen2.rope.dimension_count', u32(15)),
      'qwen2.rope.dimension_count',
      /even/,
    ],
    [
      'an unsupported rope scaling',
      (c: Contents) =>
        c.metadata.set('qwen2.rope.scaling.type', { type: GgufValueType.STRING, value: 'yarn' }),
      'qwen2.rope.scaling.type',
      /yarn/,
    ],
    [
      'no rms epsilon',
      (c: Contents) => c.metadata.delete('qwen2.attention.layer_norm_rms_epsilon'),
      'qwen2.attention.layer_norm_rms_epsilon',
      /missing/,
    ],
  ] as const)('%s: a HyperparameterError naming the key', async (_, edit, key, message) => {
    const e = await loadError(await variant(edit));
    expect(e).toBeInstanceOf(HyperparameterError);
    expect((e as HyperparameterError).key).toBe(key);
    expect(e.message).toMatch(message);
  });
});

describe('tensors', () => {
  it.each([
    [
      'missing',
      (c: Contents) =>
        c.tensors.splice(
          c.tensors.findIndex((t) => t.name === 'blk.1.ffn_up.weight'),
          1,
        ),
      'blk.1.ffn_up.weight',
      /is missing/,
    ],
    [
      'a missing qwen2 bias',
      (c: Contents) =>
        c.tensors.splice(
          c.tensors.findIndex((t) => t.name === 'blk.0.attn_k.bias'),
          1,
        ),
      'blk.0.attn_k.bias',
      /is missing/,
    ],
    [
      'the wrong shape',
      (c: Contents) => {
        const i = c.tensors.findIndex((t) => t.name === 'blk.0.attn_k.weight');
        c.tensors[i] = {
          name: 'blk.0.attn_k.weight',
          type: 'q8_0',
          shape: [64, 64],
          data: quantize('q8_0', new Float32Array(64 * 64)),
        };
      },
      'blk.0.attn_k.weight',
      /has shape \[64,64\] but the hyperparameters make it \[32,64\]/,
    ],
    [
      'a quantized norm',
      (c: Contents) => {
        const i = c.tensors.findIndex((t) => t.name === 'output_norm.weight');
        c.tensors[i] = {
          name: 'output_norm.weight',
          type: 'q8_0',
          shape: [64],
          data: quantize('q8_0', new Float32Array(64)),
        };
      },
      'output_norm.weight',
      /must be f32, f16 or bf16/,
    ],
    [
      'an unexpected extra layer',
      (c: Contents) => c.tensors.push(f32Tensor('blk.2.attn_norm.weight', 64)),
      'blk.2.attn_norm.weight',
      /is not a tensor of a qwen2 model/,
    ],
    [
      'a qk-norm in a qwen2 model',
      (c: Contents) => c.tensors.push(f32Tensor('blk.0.attn_q_norm.weight', 16)),
      'blk.0.attn_q_norm.weight',
      /is not a tensor of a qwen2 model/,
    ],
    [
      'more layers declared than present',
      (c: Contents) => c.metadata.set('qwen2.block_count', u32(3)),
      'blk.2.attn_norm.weight',
      /is missing/,
    ],
  ] as const)('%s: a ModelTensorError naming the tensor', async (_, edit, tensor, message) => {
    const e = await loadError(await variant(edit));
    expect(e).toBeInstanceOf(ModelTensorError);
    expect((e as ModelTensorError).tensor).toBe(tensor);
    expect(e.message).toMatch(message);
  });

  it('a vocab_size that token_embd does not have is refused', async () => {
    const e = await loadError(await variant((c) => c.metadata.set('qwen2.vocab_size', u32(400))));
    expect(e).toBeInstanceOf(ModelTensorError);
    expect((e as ModelTensorError).tensor).toBe('token_embd.weight');
  });
});

describe('context and memory', () => {
  it('a context beyond context_length, at load or in forward, is a ContextOverflowError', async () => {
    const bytes = syntheticBytes(SYNTHETIC.qwen2);
    const e = await loadError(bytes, { nCtx: 1024 });
    expect(e).toBeInstanceOf(ContextOverflowError);
    expect(e.message).toMatch(/qwen2\.context_length/);
    const model = await load(await engines.get('wasm'), bytes, { nCtx: 8 });
    try {
      await model.forward([1, 300, 301, 302, 303]);
      await expect(model.forward([1, 2, 3, 4])).rejects.toThrow(ContextOverflowError);
      // Nothing was written: the model goes on from where it was.
      expect(model.position).toBe(5);
      await model.forward([4, 5, 6]);
      expect(model.position).toBe(8);
      await expect(model.forward([7])).rejects.toThrow(/position 8 is beyond the context of 8/);
    } finally {
      model.dispose();
    }
  });

  it('a model larger than 32-bit wasm memory is refused before loading', async () => {
    // K and V of 2^24 positions × 2 layers × 32 values in f32: 8 GiB.
    const bytes = await variant((c) => c.metadata.set('qwen2.context_length', u32(2 ** 24)));
    const e = await loadError(bytes, { nCtx: 2 ** 24 });
    expect(e).toBeInstanceOf(ModelTooLargeError);
    expect(e.message).toMatch(/KV cache 8\.00 GiB/);
  });

  it('bad token ids and empty inputs are ModelErrors that change nothing', async () => {
    const model = await load(await engines.get('wasm'), syntheticBytes(SYNTHETIC.qwen2));
    try {
      await expect(model.forward([])).rejects.toThrow(ModelError);
      await expect(model.forward([1, 384])).rejects.toThrow(/tokens\[1\] = 384 is outside the vocabulary/);
      await expect(model.forward([1], { position: 3 })).rejects.toThrow(/gap/);
      expect(model.position).toBe(0);
    } finally {
      model.dispose();
    }
  });
});

/** The wasm engine, with tensor creation failing after `failAfter` tensors; counts live tensors. */
function failingEngine(inner: Engine, failAfter: number) {
  const live = new Set<Tensor>();
  let made = 0;
  const engine: Engine = Object.create(inner);
  engine.tensor = (data, shape, type) => {
    if (made++ === failAfter) throw new ModelError('injected allocation failure');
    const t = inner.tensor(data, shape, type);
    live.add(t);
    const dispose = t.dispose.bind(t);
    t.dispose = () => {
      live.delete(t);
      dispose();
    };
    return t;
  };
  return { engine, live };
}

describe('failure part-way through loading', () => {
  it('disposes every tensor already created', async () => {
    const inner = await engines.get('wasm');
    for (const failAfter of [0, 5, 20]) {
      const { engine, live } = failingEngine(inner, failAfter);
      await expect(loadModel(engine, syntheticBytes(SYNTHETIC.qwen2))).rejects.toThrow(
        'injected allocation failure',
      );
      expect(live.size).toBe(0);
    }
    // Loaded whole, then disposed: nothing left either.
    const { engine, live } = failingEngine(inner, -1);
    const model = await loadModel(engine, syntheticBytes(SYNTHETIC.qwen2));
    expect(live.size).toBeGreaterThan(20);
    model.dispose();
    expect(live.size).toBe(0);
  });
});
