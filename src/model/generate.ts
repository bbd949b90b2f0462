/**
 * Text generation: prefill the prompt (in chunks of nBatch tokens) into the
 * KV cache, then decode one token per forward pass until an end-of-generation
 * token, maxTokens, or the end of the context. Prompt and generation speeds
 * are measured separately, as llama.cpp reports them.
 */
import { ModelError } from './errors.js';
import type { Model } from './model.js';
import { Sampler, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate at most (default 32). */
  maxTokens?: number;
  /** Prompt tokens per forward pass (default 512). */
  nBatch?: number;
  /** Stop at the tokenizer's end-of-generation tokens (default true). */
  stopAtEog?: boolean;
  /** Called with each generated token as soon as it is chosen. */
  onToken?: (id: number) => void;
}

export interface GenerateResult {
  prompt: number[];
  /** Generated ids (the end-of-generation token included when it stopped there). */
  tokens: number[];
  stop: 'eog' | 'max-tokens' | 'context';
  /** Logits the last generated token was chosen from. */
  lastLogits: Float32Array;
  promptSeconds: number;
  /** Decode passes (each generated token after the first needs one) and their time. */
  decodePasses: number;
  decodeSeconds: number;
  promptTokensPerS: number;
  genTokensPerS: number;
}

/** Generates from `prompt` with a fresh cache (the model's cache is reset first). */
export async function generate(
  model: Model,
  prompt: readonly number[],
  opts: GenerateOptions = {},
): Promise<GenerateResult> {
  const maxTokens = opts.maxTokens ?? 32;
  const nBatch = opts.nBatch ?? 512;
  if (!Number.isSafeInteger(maxTokens) || maxTokens < 0)
    throw new ModelError(`generate: maxTokens must be an integer ≥ 0, got ${opts.maxTokens}`);
  if (!Number.isSafeInteger(nBatch) || nBatch < 1)
    throw new ModelError(`generate: nBatch must be a positive integer, got ${opts.nBatch}`);
  if (prompt.length === 0) throw new ModelError('generate: the prompt has no tokens');
  const sampler = new Sampler(opts);
  const stopAtEog = opts.stopAtEog ?? true;
  const isEog = (id: number) => stopAtEog && (model.tokenizer?.isEog(id) ?? false);

  model.reset();
  const t0 = performance.now();
  let logits: Float32Array = new Float32Array(0);
  for (let at = 0; at < prompt.length; at += nBatch) {
    const chunk = prompt.slice(at, at + nBatch);
    const last = at + nBatch >= prompt.length;
    ({ logits } = await model.forward(chunk, { logits: last ? 'last' : 'none' }));
  }
  const promptSeconds = (performance.now() - t0) / 1000;

  const tokens: number[] = [];
  let stop: GenerateResult['stop'] = 'max-tokens';
  let decodePasses = 0;
  let decodeSeconds = 0;
  while (tokens.length < maxTokens) {
    const id = sampler.sample(logits);
    tokens.push(id);
    opts.onToken?.(id);
    if (isEog(id)) {
      stop = 'eog';
      break;
    }
    if (tokens.length >= maxTokens) break;
    if (model.position >= model.nCtx) {
      stop = 'context';
      break;
    }
    const t = performance.now();
    ({ logits } = await model.forward([id]));
    decodeSeconds += (performance.now() - t) / 1000;
    decodePasses++;
  }
  return {
    prompt: [...prompt],
    tokens,
    stop,
    lastLogits: logits,
    promptSeconds,
    decodePasses,
    decodeSeconds,
    promptTokensPerS: prompt.length / promptSeconds,
    genTokensPerS: decodePasses > 0 ? decodePasses / decodeSeconds : 0,
  };
}
