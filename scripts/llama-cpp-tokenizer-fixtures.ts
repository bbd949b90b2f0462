/**
 * Writes test/model/tokenizer/fixtures/llama-cpp.json: what llama.cpp itself
 * (through node-llama-cpp's prebuilt binding, vocabulary-only load) returns
 * for a corpus of strings, on the shared models' SentencePiece vocabularies
 * and on the test BPE vocabulary under several pre-tokenizers. The tokenizer
 * tests compare against it. node-llama-cpp is not a dependency of this
 * package; install it anywhere and point NODE_LLAMA_CPP at it:
 *
 *   npm install --prefix /tmp/oracle node-llama-cpp@3.22.1
 *   NODE_LLAMA_CPP=/tmp/oracle/node_modules/node-llama-cpp npx tsx scripts/llama-cpp-tokenizer-fixtures.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeGguf } from '../src/formats/gguf/index.js';
import { bpeMetadata, bpeVocabDigest } from '../test/model/tokenizer/bpe-vocab.js';
import { FIXTURE_CORPUS } from '../test/model/tokenizer/corpus.js';

const MODELS = new URL('../../shared/models/', import.meta.url).pathname;
const OUT = new URL('../test/model/tokenizer/fixtures/llama-cpp.json', import.meta.url).pathname;
export const BPE_PRES = ['qwen2', 'llama3', 'gpt-2', 'default'];

interface Case {
  text: string;
  /** tokenize(text, add_special = false, parse_special = false) */
  ids: number[];
  /** tokenize(text, false, parse_special = true) */
  idsSpecial: number[];
  /** detokenize(ids, remove_special = false, unparse_special = false / true) */
  text2: string;
  text2Special: string;
}

const binding = process.env.NODE_LLAMA_CPP;
if (!binding) throw new Error('set NODE_LLAMA_CPP to an installed node-llama-cpp package directory');
const { getLlama } = await import(pathToFileURL(join(binding, 'dist/index.js')).href);
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });

async function run(path: string): Promise<Case[]> {
  const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
  // The native calls, without node-llama-cpp's own leading-space workarounds.
  const native = model._model;
  const cases = FIXTURE_CORPUS.map((text) => {
    const ids = [...native.tokenize(text, false)] as number[];
    const idsSpecial = [...native.tokenize(text, true)] as number[];
    const u32 = new Uint32Array(ids);
    return {
      text,
      ids,
      idsSpecial,
      text2: native.detokenize(u32, false),
      text2Special: native.detokenize(u32, true),
    };
  });
  await model.dispose();
  return cases;
}

const fixtures: Record<string, unknown> = { llamaCpp: llama._llamaCppRelease, bpeVocab: bpeVocabDigest() };
for (const file of ['tiny-q4_k.gguf', 'big-q4_k.gguf']) fixtures[file] = await run(join(MODELS, file));
for (const pre of BPE_PRES) {
  const path = `/tmp/plumbline-bpe-${pre}.gguf`;
  writeFileSync(path, writeGguf({ metadata: bpeMetadata({ 'tokenizer.ggml.pre': pre }) as never }));
  fixtures[`bpe:${pre}`] = await run(path);
}
writeFileSync(OUT, `${JSON.stringify(fixtures)}\n`);
console.log(`wrote ${OUT}`);
