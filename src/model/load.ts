/**
 * loadModel (the design's `engine.load`): a GGUF file (path or bytes) →
 * a Model on the engine. Everything that can be checked is checked before
 * any tensor is read: architecture, hyperparameters, every tensor's
 * presence, type and shape, the context, the memory the model needs. On any
 * failure nothing stays allocated and the file is closed.
 */
import type { Engine } from '../engine/engine.js';
import { ContextOverflowError } from '../errors.js';
import { type GgufFile, readGguf } from '../formats/gguf/index.js';
import { ModelError } from './errors.js';
import { type HParams, readHParams } from './hparams.js';
import { checkFits, estimateModelBytes, type MemoryEstimate, WASM32_MEMORY_BYTES } from './memory.js';
import { Model, type Numerics } from './model.js';
import { checkLayerCount, checkTensors, tensorSpecs } from './tensors.js';
import { Tokenizer } from './tokenizer/index.js';
import { type LoadProgress, loadWeights } from './weights.js';

/** Default context when none is asked for: llama.cpp's long-standing default n_ctx, capped by the model's. */
export const DEFAULT_CONTEXT = 4096;
/** Tokens per forward pass assumed by the memory estimate (generate()'s default prefill chunk). */
export const DEFAULT_BATCH = 512;

export interface LoadModelOptions {
  /** 'exact' (default) or 'ggml' (see Numerics). */
  numerics?: Numerics;
  /** KV cache positions: default min(context_length, 4096); more than context_length is an error. */
  nCtx?: number;
  /** Largest number of tokens one forward pass will see (for the memory estimate; default 512). */
  nBatch?: number;
  /** Name for error messages when loading bytes. */
  name?: string;
  onProgress?: (p: LoadProgress) => void;
}

/** Hyperparameters and memory estimate of a GGUF file, without loading it. */
export interface ModelPlan {
  hparams: HParams;
  nCtx: number;
  memory: MemoryEstimate;
}

export async function loadModel(
  engine: Engine,
  source: string | Uint8Array,
  opts: LoadModelOptions = {},
): Promise<Model> {
  const file = await readGguf(source, { name: opts.name });
  try {
    const { hparams: h, nCtx, specs, infos, numerics } = planFromFile(engine, file, opts);
    const tokenizer = file.metadata.has('tokenizer.ggml.model') ? Tokenizer.fromGguf(file) : undefined;
    if (tokenizer && tokenizer.vocabSize !== h.nVocab)
      throw new ModelError(
        `the tokenizer has ${tokenizer.vocabSize} tokens but token_embd.weight has ${h.nVocab} rows`,
      );
    const weights = await loadWeights(engine, file, h, specs, infos, opts.onProgress);
    let cache: ReturnType<Engine['kvCache']>;
    try {
      cache = engine.kvCache({
        nLayer: h.nLayer,
        nCtx,
        nHeadKv: h.nHeadKv,
        headDim: h.headDim,
        type: numerics === 'ggml' ? 'f16' : 'f32',
      });
    } catch (e) {
      for (const t of weights.all) t.dispose();
      throw e;
    }
    return new Model(engine, h, tokenizer, weights, cache, numerics, nCtx, file.name);
  } finally {
    await file.close();
  }
}

/** Reads a GGUF's header and checks it as loadModel would, without reading tensors. */
export async function planModel(
  engine: Engine,
  source: string | Uint8Array,
  opts: LoadModelOptions = {},
): Promise<ModelPlan> {
  const file = await readGguf(source, { name: opts.name });
  try {
    const { hparams, nCtx, memory } = planFromFile(engine, file, opts);
    return { hparams, nCtx, memory };
  } finally {
    await file.close();
  }
}

function planFromFile(engine: Engine, file: GgufFile, opts: LoadModelOptions) {
  const numerics = opts.numerics ?? 'exact';
  if (numerics !== 'exact' && numerics !== 'ggml')
    throw new ModelError(`numerics must be 'exact' or 'ggml', got ${JSON.stringify(numerics)}`);
  const h = readHParams(file, file.tensor('token_embd.weight')?.shape[0]);
  checkLayerCount(file, h);
  const specs = tensorSpecs(h);
  const infos = checkTensors(file, specs, h.arch.name);
  const nCtx = opts.nCtx ?? Math.min(h.nCtxTrain, DEFAULT_CONTEXT);
  if (!Number.isSafeInteger(nCtx) || nCtx < 1)
    throw new ModelError(`nCtx must be a positive integer, got ${opts.nCtx}`);
  if (nCtx > h.nCtxTrain)
    throw new ContextOverflowError(nCtx - 1, h.nCtxTrain, `${h.arch.name}.context_length`);
  const nBatch = opts.nBatch ?? DEFAULT_BATCH;
  const memory = estimateModelBytes(h, specs, infos, {
    nCtx,
    kvType: numerics === 'ggml' ? 'f16' : 'f32',
    nBatch: Math.min(nBatch, nCtx),
    packsFloatWeights: numerics === 'exact',
  });
  if (engine.backend.startsWith('wasm')) checkFits(memory, WASM32_MEMORY_BYTES);
  return { hparams: h, nCtx, specs, infos, numerics, memory };
}
