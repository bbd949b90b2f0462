/**
 * The whole-model measurement, shared by Node (model.bench.ts) and the
 * browser bench's page (browser-page/main.ts) so both time the same work:
 * a 128-token prompt in one pass, then 64 greedy decode passes, on
 * ../shared/models/big-q4_k.gguf (n_embd 2048, 2 layers, n_ff 5632, vocab 2048).
 * No Node or DOM API here: the caller owns the clocks.
 */
import { argmax } from '../src/model/sampling.js';

export const PROMPT = 128;
export const DECODE = 64;
/** Timed runs after one warm-up (JIT, worker spin-up); the median is reported. */
export const RUNS = 3;

/** wllama 3.8.1 (llama.cpp in wasm) on this machine, headless Chromium (../shared/models/README.md), by thread count. */
export const WLLAMA: Record<number, { prompt: number; decode: number }> = {
  1: { prompt: 85, decode: 37 },
  2: { prompt: 149, decode: 63 },
};

/** What the phases need of a model (src/model/model.ts's Model). */
export interface RunnableModel {
  reset(): void;
  forward(tokens: number[]): Promise<{ logits: Float32Array }>;
}

/** BOS, then ordinary vocabulary pieces (ids 259…) in turn. */
export function promptTokens(): number[] {
  return [1, ...Array.from({ length: PROMPT - 1 }, (_, i) => 259 + (i % 1500))];
}

/** The prompt in one pass on an empty cache; returns its last logits. */
export async function prefill(model: RunnableModel): Promise<Float32Array> {
  model.reset();
  return (await model.forward(promptTokens())).logits;
}

/** DECODE greedy passes, one token each, after `prefill` (whose logits pick the first). */
export async function decode(model: RunnableModel, logits: Float32Array): Promise<void> {
  for (let i = 0; i < DECODE; i++) ({ logits } = await model.forward([argmax(logits)]));
}
