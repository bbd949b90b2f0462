/**
 * A small SentencePiece-style vocabulary laid out as the shared test models'
 * (../shared/models/README.md): <unk>, <s>, </s>, the 256 byte tokens, then
 * pieces with score −id — `▁`, letters, digits, punctuation, `▁`+letter,
 * prefix chains of common English words (so `▁the` is reachable by merges),
 * then letter pairs to fill any remaining size.
 */

import type { GgufMetadataInputValue } from '../formats/gguf/index.js';
import { TokenType } from './tokenizer/index.js';

const WORDS =
  'the of and to in is it that was for on are with as he be at by this had not but what all were when we there can an your which their said if do will each about how up out them then she many some so these would other into has more her two like him see time could no make than first been'.split(
    ' ',
  );

/** The shortest vocabulary: specials, bytes and single characters. */
export const MIN_SYNTHETIC_VOCAB = 259 + 1 + 26 * 2 + 10 + 13;

function pieces(): string[] {
  const out: string[] = ['▁'];
  const lower = [...'abcdefghijklmnopqrstuvwxyz'];
  const upper = lower.map((c) => c.toUpperCase());
  out.push(...lower, ...upper, ...'0123456789', ...'.,!?\'"-:;()[]');
  out.push(...[...lower, ...upper].map((c) => `▁${c}`));
  const seen = new Set(out);
  for (const w of WORDS)
    for (let i = 2; i <= w.length; i++) {
      const p = `▁${w.slice(0, i)}`;
      if (!seen.has(p)) {
        seen.add(p);
        out.push(p);
      }
    }
  for (const a of lower) for (const b of lower) if (!seen.has(a + b)) out.push(a + b);
  return out;
}

/** tokenizer.ggml.* metadata entries for a vocabulary of `size` tokens; `eos` is the end-of-sequence id (default 2, `</s>`). */
export function syntheticVocab(size: number, eos = 2): [string, GgufMetadataInputValue][] {
  const normal = pieces();
  const max = 259 + normal.length;
  if (!Number.isSafeInteger(size) || size < MIN_SYNTHETIC_VOCAB || size > max)
    throw new RangeError(
      `synthetic vocabulary size must be in [${MIN_SYNTHETIC_VOCAB}, ${max}], got ${size}`,
    );
  const tokens = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TokenType.BYTE);
  }
  for (const p of normal.slice(0, size - 259)) {
    tokens.push(p);
    types.push(TokenType.NORMAL);
  }
  const scores = tokens.map((_, id) => (id < 259 ? 0 : -id));
  return [
    ['tokenizer.ggml.model', 'llama'],
    ['tokenizer.ggml.pre', 'default'],
    ['tokenizer.ggml.tokens', tokens],
    ['tokenizer.ggml.scores', scores],
    ['tokenizer.ggml.token_type', types],
    ['tokenizer.ggml.bos_token_id', 1],
    ['tokenizer.ggml.eos_token_id', eos],
    ['tokenizer.ggml.unknown_token_id', 0],
    ['tokenizer.ggml.add_bos_token', true],
    ['tokenizer.ggml.add_eos_token', false],
  ];
}
