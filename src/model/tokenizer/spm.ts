/**
 * llama.cpp's SentencePiece-style tokenizer (llm_tokenizer_spm): start from
 * one symbol per code point, repeatedly merge the adjacent pair whose
 * concatenation is the highest-scoring vocabulary entry (ties: the leftmost
 * pair), then emit each symbol's id, or its UTF-8 bytes as byte tokens.
 *
 * llama.cpp also records which pair built each merged text, to re-split a
 * symbol that is not a vocabulary entry. A merged symbol always is one (pairs
 * are only queued when their text is), so only single code points ever fall
 * back, and they fall back to bytes; that record is not kept here.
 */
import { TokenizerError } from './errors.js';
import { Heap } from './heap.js';
import { Symbols } from './symbols.js';
import { utf8 } from './unicode.js';

export interface SpmVocab {
  readonly ids: ReadonlyMap<string, number>;
  readonly scores: Float32Array;
  /** Token id of each byte value (`<0xXX>`, else the one-byte text), -1 if none. */
  readonly byteTokens: Int32Array;
}

interface Bigram {
  left: number;
  right: number;
  score: number;
  /** Combined length when queued; a different length later means the entry is stale. */
  size: number;
}

const higherScoreFirst = (a: Bigram, b: Bigram) =>
  a.score > b.score || (a.score === b.score && a.left < b.left);

/** Tokenizes `text` (spaces already escaped to ▁) and appends the ids to `out`. */
export function spmTokenize(text: string, vocab: SpmVocab, out: number[]): void {
  const sym = new Symbols().load(text);
  const queue = new Heap<Bigram>(higherScoreFirst);
  const tryPair = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const id = vocab.ids.get(sym.pairText(left, right));
    if (id === undefined) return;
    queue.push({ left, right, score: vocab.scores[id], size: sym.len[left] + sym.len[right] });
  };

  for (let i = 1; i < sym.count; i++) tryPair(i - 1, i);
  for (let b = queue.pop(); b !== undefined; b = queue.pop()) {
    const { left, right } = b;
    if (sym.len[left] === 0 || sym.len[right] === 0 || sym.len[left] + sym.len[right] !== b.size) continue;
    sym.merge(left, right);
    tryPair(sym.prev[left], left);
    tryPair(left, sym.next[left]);
  }

  for (let i = sym.first; i !== -1; i = sym.next[i]) {
    const piece = sym.textOf(i);
    const id = vocab.ids.get(piece);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    for (const byte of utf8(piece)) {
      const t = vocab.byteTokens[byte];
      if (t < 0) {
        throw new TokenizerError(
          `cannot encode ${JSON.stringify(piece)}: tokenizer.ggml.tokens has no byte token <0x${hex2(byte)}>`,
          'tokenizer.ggml.tokens',
        );
      }
      out.push(t);
    }
  }
}

export function hex2(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, '0');
}
