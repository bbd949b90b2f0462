/**
 * llama.cpp's byte-level BPE tokenizer (llm_tokenizer_bpe): split the text
 * with the pre-tokenizer's regexes, spell each piece's UTF-8 bytes with
 * GPT-2's byte-to-unicode characters, then within each piece repeatedly merge
 * the adjacent pair with the lowest merge rank (ties: the leftmost pair).
 * A final symbol that is not a vocabulary entry is emitted byte by byte, each
 * byte only if it is itself an entry (so, as in llama.cpp, non-ASCII bytes of
 * such a symbol are dropped; complete byte-level vocabularies never get here).
 */
import { Heap } from './heap.js';
import type { PreTokenizer } from './pre-tokenizers.js';
import { splitByRegexes } from './regex-split.js';
import { Symbols } from './symbols.js';
import { BYTE_TO_CHAR, codePoints, pushUtf8 } from './unicode.js';

export interface BpeVocab {
  readonly ids: ReadonlyMap<string, number>;
  /** Merge rank by `${left} ${right}` (the merge's own text). */
  readonly ranks: ReadonlyMap<string, number>;
}

interface Bigram {
  left: number;
  right: number;
  rank: number;
  /** The pair's text when queued; a different text later means the entry is stale. */
  text: string;
}

const lowerRankFirst = (a: Bigram, b: Bigram) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left);

/** Tokenizes raw text (no special tokens in it) and appends the ids to `out`. */
export function bpeTokenize(text: string, pre: PreTokenizer, vocab: BpeVocab, out: number[]): void {
  const cps = codePoints(text);
  let start = 0;
  const bytes: number[] = [];
  for (const len of splitByRegexes(cps, pre.regexes)) {
    bytes.length = 0;
    for (let i = start; i < start + len; i++) pushUtf8(bytes, cps[i]);
    start += len;
    let word = '';
    for (const b of bytes) word += BYTE_TO_CHAR[b];
    bpeWord(word, pre.ignoreMerges, vocab, out);
  }
}

/** One pre-token, spelled in byte-level characters. */
export function bpeWord(word: string, ignoreMerges: boolean, vocab: BpeVocab, out: number[]): void {
  if (ignoreMerges) {
    const whole = vocab.ids.get(word);
    if (whole !== undefined) {
      out.push(whole);
      return;
    }
  }
  const sym = new Symbols(word);
  const queue = new Heap<Bigram>(lowerRankFirst);
  const tryPair = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const a = sym.textOf(left);
    const b = sym.textOf(right);
    const rank = vocab.ranks.get(`${a} ${b}`);
    if (rank !== undefined) queue.push({ left, right, rank, text: a + b });
  };

  for (let i = 1; i < sym.count; i++) tryPair(i - 1, i);
  for (let b = queue.pop(); b !== undefined; b = queue.pop()) {
    const { left, right } = b;
    if (sym.len[left] === 0 || sym.len[right] === 0 || sym.pairText(left, right) !== b.text) continue;
    sym.merge(left, right);
    tryPair(sym.prev[left], left);
    tryPair(left, sym.next[left]);
  }

  for (const i of sym.live()) {
    const piece = sym.textOf(i);
    const id = vocab.ids.get(piece);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    for (const ch of piece) {
      const byteId = ch.charCodeAt(0) < 0x80 ? vocab.ids.get(ch) : undefined;
      if (byteId !== undefined) out.push(byteId);
    }
  }
}
