/**
 * Shared by the model suites: small synthetic models of each architecture,
 * engines created once per file, and the whole-model parity check.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import {
  type GgufMetadataInputValue,
  type GgufTensorInput,
  readGguf,
  writeGguf,
} from '../../src/formats/gguf/index.js';
import { type LoadModelOptions, loadModel } from '../../src/model/load.js';
import type { Model, Numerics } from '../../src/model/model.js';
import { compareLogits } from '../../src/model/parity.js';
import { type SyntheticModelSpec, syntheticModel } from '../../src/model/synthetic.js';
import { formatComparison } from '../../src/oracle/report.js';
import { MODELS_DIR } from '../helpers/conformance.js';

/** Real-model tests run when the shared models exist; under CI their absence is a failure, not a skip. */
export const runSharedModels = existsSync(MODELS_DIR) || Boolean(process.env.CI);
export const sharedModel = (name: string) => join(MODELS_DIR, name);

/** One of each architecture, each exercising what is particular to it. */
export const SYNTHETIC: Record<string, SyntheticModelSpec> = {
  // GQA 4:1, q4_K weights (rows of 256), q6_K output as in the shared files.
  llama: {
    arch: 'llama',
    nEmbd: 256,
    nLayer: 2,
    nHead: 4,
    nHeadKv: 1,
    nFf: 512,
    nVocab: 384,
    type: 'q4_K',
    types: { output: 'q6_K' },
  },
  // Q/K/V biases, q8_0 weights, GQA 2:1.
  qwen2: { arch: 'qwen2', nEmbd: 64, nLayer: 2, nHead: 4, nHeadKv: 2, nFf: 128, nVocab: 384, type: 'q8_0' },
  // q/k RMSNorm per head, head_dim 32 with n_embd 64 and 4 heads (Q is 128 wide), f16 weights, tied output.
  qwen3: {
    arch: 'qwen3',
    nEmbd: 64,
    nLayer: 2,
    nHead: 4,
    nHeadKv: 2,
    headDim: 32,
    nFf: 96,
    nVocab: 384,
    type: 'f16',
    tiedOutput: true,
  },
};

const bytesCache = new Map<string, Uint8Array>();

/** The GGUF bytes of a synthetic spec (written once per test file). */
export function syntheticBytes(spec: SyntheticModelSpec): Uint8Array {
  const key = JSON.stringify(spec);
  let b = bytesCache.get(key);
  if (!b) {
    b = syntheticModel(spec);
    bytesCache.set(key, b);
  }
  return b;
}

/** Engines shared by a file's tests: wasm by thread count, and the reference. */
export class Engines {
  private readonly engines = new Map<string, Promise<Engine>>();

  get(backend: 'wasm' | 'reference', threads = 2): Promise<Engine> {
    const key = `${backend}/${threads}`;
    let e = this.engines.get(key);
    if (!e) {
      e = createEngine({ backend, threads });
      this.engines.set(key, e);
    }
    return e;
  }

  async dispose(): Promise<void> {
    for (const e of this.engines.values()) await (await e).dispose();
    this.engines.clear();
  }
}

export async function load(
  engine: Engine,
  source: string | Uint8Array,
  opts: LoadModelOptions = {},
): Promise<Model> {
  return loadModel(engine, source, { nCtx: 64, ...opts });
}

/** Asserts the candidate logits are explained by the tier of the numerics (src/model/parity.ts). */
export function expectLogitParity(
  candidate: Float32Array,
  reference: Float32Array,
  model: Model,
  nKv: number,
  numerics: Numerics,
): void {
  const c = compareLogits(candidate, reference, model, nKv, numerics);
  expect(c.pass, `${c.reason}\n${formatComparison(c.comparison)}`).toBe(true);
}

/** A GGUF file's metadata and tensors, open to edit. */
export interface GgufContents {
  metadata: Map<string, GgufMetadataInputValue>;
  tensors: GgufTensorInput[];
}

/** `spec`'s synthetic model, changed by `edit`, as GGUF bytes (bad-model tests). */
export async function ggufVariant(
  spec: SyntheticModelSpec,
  edit: (c: GgufContents) => void,
): Promise<Uint8Array> {
  const file = await readGguf(syntheticBytes(spec));
  const tensors: GgufTensorInput[] = [];
  for (const t of file.tensors)
    tensors.push({ name: t.name, type: t.type.name, shape: t.shape, data: await file.tensorData(t) });
  const c: GgufContents = { metadata: new Map(file.metadata), tensors };
  edit(c);
  return writeGguf({ metadata: c.metadata, tensors: c.tensors });
}

/** The error loading `bytes` on the wasm engine raises; a load that succeeds throws 'loaded'. */
export async function loadError(
  engines: Engines,
  bytes: Uint8Array,
  opts: LoadModelOptions = {},
): Promise<Error> {
  const engine = await engines.get('wasm');
  return loadModel(engine, bytes, opts).then(
    (m) => {
      m.dispose();
      throw new Error('loaded');
    },
    (e: Error) => e,
  );
}

/**
 * The logits of a prompt (every row) and then of one decode step, on 1, 2 and
 * 3 wasm threads, for the thread-count determinism tests; `check` sees each
 * loaded model first.
 */
export async function logitsOnThreadCounts(
  engines: Engines,
  bytes: Uint8Array,
  check: (model: Model) => void = () => {},
): Promise<Float32Array[]> {
  const results: Float32Array[] = [];
  for (const threads of [1, 2, 3]) {
    const model = await load(await engines.get('wasm', threads), bytes);
    try {
      check(model);
      const prompt = model.tokenizer!.encode('the of and to in is it that');
      const { logits } = await model.forward(prompt, { logits: 'all' });
      const step = await model.forward([5]);
      results.push(Float32Array.of(...logits, ...step.logits));
    } finally {
      model.dispose();
    }
  }
  return results;
}

export const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);

/**
 * Runs the same prompt (all logit rows) and a short greedy generation on the
 * wasm engine and on the reference: logits within the tier, same tokens.
 */
export async function checkBackendParity(
  engines: Engines,
  source: string | Uint8Array,
  numerics: Numerics,
  text: string,
  maxTokens: number,
): Promise<{ tokens: number[] }> {
  const { generate } = await import('../../src/model/generate.js');
  const wasm = await load(await engines.get('wasm'), source, { numerics });
  const ref = await load(await engines.get('reference'), source, { numerics });
  try {
    const prompt = wasm.tokenizer!.encode(text);
    const a = await wasm.forward(prompt, { logits: 'all' });
    const r = await ref.forward(prompt, { logits: 'all' });
    expect(a.rows).toBe(prompt.length);
    expectLogitParity(a.logits, r.logits, wasm, prompt.length, numerics);
    const ga = await generate(wasm, prompt, { maxTokens });
    const gr = await generate(ref, prompt, { maxTokens });
    expect(ga.tokens).toEqual(gr.tokens);
    expectLogitParity(ga.lastLogits, gr.lastLogits, wasm, prompt.length + maxTokens - 1, numerics);
    return { tokens: ga.tokens };
  } finally {
    wasm.dispose();
    ref.dispose();
  }
}
