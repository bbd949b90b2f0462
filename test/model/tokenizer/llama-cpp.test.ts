/**
 * Against llama.cpp itself: fixtures/llama-cpp.json holds what llama.cpp
 * (node-llama-cpp's binding; scripts/llama-cpp-tokenizer-fixtures.ts) returned
 * for the strings of corpus.ts — ids with and without parsing special tokens,
 * and the text those ids detokenize to with and without rendering special
 * tokens — on the shared SentencePiece vocabularies and on the test BPE
 * vocabulary under four pre-tokenizers.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readGguf } from '../../../src/formats/gguf/index.js';
import { Tokenizer } from '../../../src/model/tokenizer/index.js';
import { modelPath, runModelTests } from '../../formats/gguf/helpers.js';
import { bpeVocabDigest, readBpeGguf } from './bpe-vocab.js';
import { FIXTURE_CORPUS } from './corpus.js';

interface Case {
  text: string;
  ids: number[];
  idsSpecial: number[];
  text2: string;
  text2Special: string;
}

const fixtures = JSON.parse(readFileSync(new URL('./fixtures/llama-cpp.json', import.meta.url), 'utf8'));

function check(tok: Tokenizer, cases: Case[]): void {
  expect(cases.map((c) => c.text)).toEqual(FIXTURE_CORPUS);
  for (const c of cases) {
    const label = JSON.stringify(c.text);
    expect(tok.encode(c.text, { addSpecial: false }), label).toEqual(c.ids);
    expect(tok.encode(c.text, { addSpecial: false, parseSpecial: true }), label).toEqual(c.idsSpecial);
    expect(tok.decode(c.ids), label).toBe(c.text2);
    expect(tok.decode(c.ids, { special: true }), label).toBe(c.text2Special);
  }
}

describe('tokenizer against llama.cpp', () => {
  it('fixtures were made from this BPE vocabulary', () => {
    expect(fixtures.bpeVocab).toBe(bpeVocabDigest());
  });

  for (const file of ['tiny-q4_k.gguf', 'big-q4_k.gguf']) {
    it.skipIf(!runModelTests)(`${file} (SentencePiece)`, async () => {
      const g = await readGguf(modelPath(file));
      const tok = Tokenizer.fromGguf(g);
      await g.close();
      check(tok, fixtures[file]);
    });
  }

  for (const pre of ['qwen2', 'llama3', 'gpt-2', 'default']) {
    it(`test BPE vocabulary, pre-tokenizer ${pre}`, async () => {
      const g = await readBpeGguf({ 'tokenizer.ggml.pre': pre });
      const tok = Tokenizer.fromGguf(g);
      await g.close();
      check(tok, fixtures[`bpe:${pre}`]);
    });
  }
});
