/**
 * A small deterministic GPT-2-style vocabulary written as a real GGUF file:
 * the 256 byte characters (id = byte value), tokens made by a list of merges
 * (rank = position), special tokens, and a few tokens placed to test edge
 * cases. Tests read it back with readGguf, as a model file would be.
 */
import { createHash } from 'node:crypto';
import { readGguf, writeGguf } from '../../../src/formats/gguf/index.js';
import { TokenType } from '../../../src/model/tokenizer/index.js';
import { BYTE_TO_CHAR } from '../../../src/model/tokenizer/unicode.js';

export const MERGES: readonly string[] = [
  'Ġ t', // 0
  'h e',
  'Ġt he',
  'i n',
  'Ġ a',
  'o r', // 5
  'e r',
  'Ġ w',
  'Ġw or',
  'l d',
  'Ġwor ld', // 10
  'H e',
  'l l',
  'He ll',
  'Hell o',
  'r e', // 15
  'v e',
  "' s",
  "' t",
  "' re",
  "' ve", // 20
  "' m",
  "' ll",
  "' d",
  'Ġ i',
  'Ġi s', // 25
  'i t',
  '1 2',
  '12 3',
  '4 5',
  'c a', // 30
  'ca f',
  'Ã ©', // é = C3 A9
  'caf Ã©',
  'Ġ c',
  'Ġ cafÃ©', // 35
  'Ċ Ċ',
  'Ġ Ġ',
  '! !',
  'x y', // "xy" is deliberately not a token
  'Ã ¶', // 40: "ö" (C3 B6), deliberately not a token
  'ä ½', // 你 = E4 BD A0 = ä ½ ł
  'ä½ ł',
  'å ¥', // 好 = E5 A5 BD = å ¥ ½
  'å¥ ½',
  // Filler merges over letters the hand-worked cases avoid, for the random tests.
  ...['j', 'k', 'q', 'z'].flatMap((a) => ['j', 'k', 'q', 'z'].filter((b) => b !== a).map((b) => `${a} ${b}`)),
  'jk q',
  'kq z',
  'zq j',
];

const NOT_TOKENS = new Set(['xy', 'Ã¶']);

export const SPECIAL: readonly [string, number][] = [
  ['<|endoftext|>', TokenType.CONTROL],
  ['<|im_start|>', TokenType.CONTROL],
  ['<|im_end|>', TokenType.CONTROL],
  ['<tool_call>', TokenType.USER_DEFINED],
];

/** Normal tokens no merge makes: a whole-word entry (for ignore_merges) and a non-byte character. */
export const EXTRA = ['zzz', '€'];

export function bpeVocab(): { tokens: string[]; types: number[] } {
  const tokens = [...BYTE_TO_CHAR];
  for (const m of MERGES) {
    const t = m.replace(' ', '');
    if (!NOT_TOKENS.has(t) && !tokens.includes(t)) tokens.push(t);
  }
  tokens.push(...EXTRA);
  const types = tokens.map(() => TokenType.NORMAL as number);
  for (const [text, type] of SPECIAL) {
    tokens.push(text);
    types.push(type);
  }
  return { tokens, types };
}

/** The vocabulary's metadata (loadable by llama.cpp, vocabulary only); `changes` replace or add keys, undefined removes one. */
export function bpeMetadata(changes: Record<string, unknown> = {}): Map<string, unknown> {
  const { tokens, types } = bpeVocab();
  const eot = tokens.indexOf('<|endoftext|>');
  const md = new Map<string, unknown>([
    ['general.architecture', 'llama'],
    // What llama.cpp's loader requires of a llama model even when it loads only the vocabulary.
    ['llama.context_length', 64],
    ['llama.embedding_length', 64],
    ['llama.block_count', 1],
    ['llama.feed_forward_length', 128],
    ['llama.attention.head_count', 4],
    ['llama.attention.layer_norm_rms_epsilon', 1e-5],
    ['tokenizer.ggml.model', 'gpt2'],
    ['tokenizer.ggml.pre', 'qwen2'],
    ['tokenizer.ggml.tokens', tokens],
    ['tokenizer.ggml.token_type', types],
    ['tokenizer.ggml.merges', [...MERGES]],
    ['tokenizer.ggml.bos_token_id', eot],
    ['tokenizer.ggml.eos_token_id', eot],
    ['tokenizer.ggml.add_bos_token', false],
  ]);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) md.delete(k);
    else md.set(k, v);
  }
  return md;
}

/** Identifies the vocabulary, so fixtures made from another version of it are caught. */
export function bpeVocabDigest(): string {
  const { tokens, types } = bpeVocab();
  return createHash('sha256')
    .update(JSON.stringify([tokens, types, MERGES]))
    .digest('hex')
    .slice(0, 16);
}

/** The vocabulary as a GGUF file read back with readGguf, as a model file would be. */
export async function readBpeGguf(changes: Record<string, unknown> = {}) {
  const bytes = writeGguf({ metadata: bpeMetadata(changes) as never });
  return readGguf(bytes, { name: 'bpe-test.gguf' });
}
