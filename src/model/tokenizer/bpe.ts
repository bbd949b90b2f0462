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
import { BYTE_TO_CHAR, codePoints, utf8 } from './unicode.js';

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

// A piece always gives the same ids, so they are kept; bounded so a stream of unique pieces cannot grow it forever.
const CACHE_LIMIT = 1 << 16;

/** A piece's UTF-8 bytes spelled with GPT-2's byte characters. */
function byteLevel(piece: string): string {
  let word = '';
  for (const b of utf8(piece)) word += BYTE_TO_CHAR[b];
  return word;
}

/** Tokenizes raw text (no special tokens in it) with reusable scratch state and a cache of pieces. */
export class BpeTokenizer {
  private readonly sym = new Symbols();
  private readonly queue = new Heap<Bigram>(lowerRankFirst);
  private readonly cache = new Map<string, readonly number[]>();

  constructor(
    private readonly pre: PreTokenizer,
    private readonly vocab: BpeVocab,
  ) {}

  /** Appends the ids of `text` (well-formed UTF-16) to `out`. */
  tokenize(text: string, out: number[]): void {
    const cps = codePoints(text);
    let cp = 0;
    let unit = 0;
    for (const len of splitByRegexes(cps, this.pre.regexes)) {
      const from = unit;
      for (const end = cp + len; cp < end; cp++) unit += cps[cp] > 0xffff ? 2 : 1;
      const piece = text.slice(from, unit);
      let ids = this.cache.get(piece);
      if (ids === undefined) {
        const fresh: number[] = [];
        this.word(byteLevel(piece), fresh);
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(piece, (ids = fresh));
      }
      for (const id of ids) out.push(id);
    }
  }

  /** One pre-token, spelled in byte-level characters. */
  private word(word: string, out: number[]): void {
    const { vocab, sym, queue } = this;
    if (this.pre.ignoreMerges) {
      const whole = vocab.ids.get(word);
      if (whole !== undefined) {
        out.push(whole);
        return;
      }
    }
    sym.load(word);
    queue.clear();
    for (let i = 1; i < sym.count; i++) this.tryPair(i - 1, i);
    for (let b = queue.pop(); b !== undefined; b = queue.pop()) {
      const { left, right } = b;
      if (sym.len[left] === 0 || sym.len[right] === 0 || sym.pairText(left, right) !== b.text) continue;
      sym.merge(left, right);
      this.tryPair(sym.prev[left], left);
      this.tryPair(left, sym.next[left]);
    }

    for (let i = sym.first; i !== -1; i = sym.next[i]) {
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

  private tryPair(left: number, right: number): void {
    if (left < 0 || right < 0) return;
    const a = this.sym.textOf(left);
    const b = this.sym.textOf(right);
    const rank = this.vocab.ranks.get(`${a} ${b}`);
    if (rank !== undefined) this.queue.push({ left, right, rank, text: a + b });
  }
}
