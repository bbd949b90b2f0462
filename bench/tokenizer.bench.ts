/**
 * Tokenizer throughput on ~4 KB of mixed text: encode (MB/s of UTF-8 input,
 * tokens/s) and decode, for the SentencePiece vocabulary of the shared models
 * (skipped when they are absent) and a byte-level BPE vocabulary with merges
 * learned from the text itself (qwen2 pre-tokenizer).
 */
import { existsSync } from 'node:fs';
import { type GgufMetadataValue, readGguf, GgufValueType as T } from '../src/formats/gguf/index.js';
import { Tokenizer } from '../src/model/tokenizer/index.js';
import { QWEN2_REGEX } from '../src/model/tokenizer/pre-tokenizers.js';
import { splitByRegexes } from '../src/model/tokenizer/regex-split.js';
import { BYTE_TO_CHAR, codePoints } from '../src/model/tokenizer/unicode.js';
import { measure, type SuiteResult } from './lib.js';

const SPM_MODEL = new URL('../../shared/models/tiny-q4_k.gguf', import.meta.url).pathname;

const PARAGRAPH =
  'The tokenizer is the first stage of every model: it turns text into the ids that the embedding looks up. ' +
  "Most of it is plain English, with numbers like 1234567 and 3.14159, contractions (it's, we'll, they'd), " +
  'punctuation!? and code: `for (let i = 0; i < n; i++) { sum += x[i]; }`\n\n' +
  'Some of it is not: café, naïve, Ωmega, 你好世界, こんにちは, 😀🎉, and tabs\tand  runs   of spaces.\n';

function benchText(): string {
  let text = '';
  while (new TextEncoder().encode(text).length < 4096) text += PARAGRAPH;
  return text;
}

/** A byte-level BPE vocabulary: the 256 byte characters plus `n` merges learned greedily from `text`. */
function trainBpe(text: string, n: number): Map<string, GgufMetadataValue> {
  const cps = codePoints(text);
  const words: string[][] = [];
  let at = 0;
  for (const len of splitByRegexes(cps, [QWEN2_REGEX])) {
    const bytes = new TextEncoder().encode(String.fromCodePoint(...cps.subarray(at, at + len)));
    words.push([...bytes].map((b) => BYTE_TO_CHAR[b]));
    at += len;
  }
  const tokens = [...BYTE_TO_CHAR];
  const merges: string[] = [];
  for (let m = 0; m < n; m++) {
    const counts = new Map<string, number>();
    for (const w of words)
      for (let i = 0; i + 1 < w.length; i++) {
        const k = `${w[i]} ${w[i + 1]}`;
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
    let best = '';
    for (const [k, c] of counts) if (c > (counts.get(best) ?? 1)) best = k;
    if (!best) break;
    merges.push(best);
    const [a, b] = best.split(' ');
    tokens.push(a + b);
    for (const w of words)
      for (let i = 0; i + 1 < w.length; i++) if (w[i] === a && w[i + 1] === b) w.splice(i, 2, a + b);
  }
  return new Map<string, GgufMetadataValue>([
    ['tokenizer.ggml.model', { type: T.STRING, value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: T.STRING, value: 'qwen2' }],
    ['tokenizer.ggml.tokens', { type: T.ARRAY, itemType: T.STRING, value: tokens }],
    ['tokenizer.ggml.merges', { type: T.ARRAY, itemType: T.STRING, value: merges }],
  ]);
}

export async function tokenizerBench(): Promise<SuiteResult> {
  const text = benchText();
  const bytes = new TextEncoder().encode(text).length;
  const bpeMetadata = trainBpe(text, 400);
  const tokenizers: [string, () => Tokenizer][] = [
    ['bpe qwen2 (learned, 400 merges)', () => Tokenizer.fromMetadata(bpeMetadata)],
  ];
  if (existsSync(SPM_MODEL)) {
    const file = await readGguf(SPM_MODEL);
    const metadata = file.metadata;
    await file.close();
    tokenizers.unshift(['spm tiny-q4_k (512)', () => Tokenizer.fromMetadata(metadata)]);
  }
  const rows: (string | number)[][] = [];
  for (const [name, make] of tokenizers) {
    const tok = make();
    const ids = tok.encode(text);
    // "cold": a new tokenizer per call (BPE pieces uncached), less the cost of making one.
    const [enc, cold, load, dec] = await measure([
      { name: 'encode', fn: () => tok.encode(text) },
      { name: 'encode cold', fn: () => make().encode(text) },
      { name: 'load', fn: () => make() },
      { name: 'decode', fn: () => tok.decode(ids) },
    ]);
    const mbps = (s: number) => bytes / s / 1e6;
    rows.push([
      name,
      ids.length,
      mbps(enc.seconds),
      mbps(cold.seconds - load.seconds),
      ids.length / enc.seconds / 1e6,
      mbps(dec.seconds),
    ]);
  }
  return {
    suite: 'tokenizer',
    notes: [
      `${bytes} bytes of mixed text (English, code, CJK, emoji), one thread; cold = BPE piece cache empty.`,
    ],
    header: ['tokenizer', 'tokens', 'encode MB/s', 'cold MB/s', 'encode Mtok/s', 'decode MB/s'],
    rows,
  };
}

if (process.argv[1]?.endsWith('tokenizer.bench.ts')) {
  const { table } = await import('./lib.js');
  const r = await tokenizerBench();
  console.log(`${r.notes.join('\n')}\n\n${table(r.header, r.rows)}`);
}
