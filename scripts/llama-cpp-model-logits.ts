/**
 * Writes test/model/fixtures/llama-cpp-logits.json: the logits llama.cpp
 * itself (node-llama-cpp's prebuilt CPU binding, flash attention on, as
 * plumbline's ggml numerics reproduce it) computes at every position of a
 * short token sequence, for the tiny shared models and the synthetic llama,
 * qwen2 and qwen3 models of the test suite. The model tests compare the
 * forward pass against them. node-llama-cpp is not a dependency of this
 * package; install it anywhere and point NODE_LLAMA_CPP at it:
 *
 *   npm install --prefix /tmp/oracle node-llama-cpp@3.22.1
 *   NODE_LLAMA_CPP=/tmp/oracle/node_modules/node-llama-cpp npx tsx scripts/llama-cpp-model-logits.ts
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { syntheticModel } from '../src/model/synthetic.js';
import { SYNTHETIC } from '../test/model/helpers.js';
import { LLAMA_CPP_TOKENS } from '../test/model/llama-cpp-cases.js';

const MODELS = new URL('../../shared/models/', import.meta.url).pathname;
const OUT = new URL('../test/model/fixtures/llama-cpp-logits.json', import.meta.url).pathname;

const binding = process.env.NODE_LLAMA_CPP;
if (!binding) throw new Error('set NODE_LLAMA_CPP to an installed node-llama-cpp package directory');
const { getLlama } = await import(pathToFileURL(join(binding, 'dist/index.js')).href);
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });

/** Logits [tokens, n_vocab] at every position, as base64 of little-endian f32. */
async function logitsOf(path: string): Promise<{ nVocab: number; logits: string }> {
  const model = await llama.loadModel({ modelPath: path });
  const context = await model.createContext({ contextSize: 64, flashAttention: true, threads: 1 });
  const out = await context
    .getSequence()
    .controlledEvaluate(LLAMA_CPP_TOKENS.map((t) => [t, { generateNext: { logits: true } }]));
  const nVocab: number = out[0].next.logits.size;
  const logits = new Float32Array(LLAMA_CPP_TOKENS.length * nVocab);
  out.forEach((o: { next: { logits: Map<number, number> } }, i: number) => {
    for (const [id, v] of o.next.logits) logits[i * nVocab + id] = v;
  });
  await context.dispose();
  await model.dispose();
  return { nVocab, logits: Buffer.from(logits.buffer).toString('base64') };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const fixtures: Record<string, unknown> = { llamaCpp: llama._llamaCppRelease, tokens: LLAMA_CPP_TOKENS };
for (const name of ['tiny-f32', 'tiny-q8_0', 'tiny-q4_k']) {
  const path = join(MODELS, `${name}.gguf`);
  fixtures[name] = { sha256: sha256(readFileSync(path)), ...(await logitsOf(path)) };
}
for (const [name, spec] of Object.entries(SYNTHETIC)) {
  const bytes = syntheticModel(spec);
  const path = `/tmp/plumbline-synthetic-${name}.gguf`;
  writeFileSync(path, bytes);
  fixtures[`synthetic:${name}`] = { sha256: sha256(bytes), ...(await logitsOf(path)) };
}
writeFileSync(OUT, `${JSON.stringify(fixtures, null, 1)}\n`);
console.log(`wrote ${OUT}`);
