/**
 * Ids to bytes, as llama.cpp's token_to_piece and detokenize do it.
 *
 * A piece is: for control and unknown tokens their text, or nothing unless
 * special tokens are rendered; for user-defined tokens their text; for normal
 * tokens the text with ▁ as space (SentencePiece) or decoded from GPT-2's
 * byte characters (BPE); for byte tokens `<0xXX>` that byte. Detokenize joins
 * pieces, dropping one leading space of the first when the vocabulary adds a
 * space prefix, and for some BPE vocabularies "cleans" spaces afterwards.
 */
import { ATTR_BYTE, ATTR_CONTROL, ATTR_NORMAL, ATTR_UNKNOWN, ATTR_USER_DEFINED } from './token-attrs.js';
import { CHAR_TO_BYTE, codePoints, pushUtf8, utf8 } from './unicode.js';
import type { Vocab } from './vocab.js';

const SPACE = 0x20;

/** The piece of every token with special tokens rendered; built on first use. */
export function pieceTable(vocab: Vocab): (id: number) => Uint8Array {
  const cache: (Uint8Array | undefined)[] = new Array(vocab.texts.length);
  return (id) => {
    let p = cache[id];
    if (p === undefined) cache[id] = p = renderPiece(vocab, id);
    return p;
  };
}

function renderPiece(vocab: Vocab, id: number): Uint8Array {
  const attr = vocab.attrs[id];
  const text = vocab.texts[id];
  if (attr & (ATTR_UNKNOWN | ATTR_CONTROL | ATTR_USER_DEFINED)) return utf8(text);
  if (attr & ATTR_NORMAL)
    return vocab.model === 'llama' ? utf8(text.replaceAll('▁', ' ')) : byteLevelDecode(text);
  // llama.cpp reads the two characters after "<0x" with strtol (0 if they are not hex).
  if (attr & ATTR_BYTE) return new Uint8Array([Number.parseInt(text.slice(3, 5), 16) || 0]);
  return new Uint8Array(0);
}

/** GPT-2 byte characters back to bytes; a character outside the map becomes llama.cpp's [UNK_BYTE_..] marker. */
function byteLevelDecode(text: string): Uint8Array {
  const out: number[] = [];
  for (const cp of codePoints(text)) {
    const b = CHAR_TO_BYTE.get(cp);
    if (b !== undefined) {
      out.push(b);
      continue;
    }
    const bytes: number[] = [];
    pushUtf8(bytes, cp);
    const hex = bytes.map((x) => x.toString(16).padStart(2, '0')).join('');
    out.push(...utf8(`[UNK_BYTE_0x${hex}${text}]`));
  }
  return new Uint8Array(out);
}

export interface DetokenizeOptions {
  /** Drop a leading BOS and trailing EOS when the vocabulary adds them (default false). */
  removeSpecial?: boolean;
  /** Render control and unknown tokens as their text (default false). */
  special?: boolean;
}

export function detokenize(
  vocab: Vocab,
  piece: (id: number) => Uint8Array,
  ids: readonly number[],
  opts: DetokenizeOptions = {},
): Uint8Array {
  let first = 0;
  let end = ids.length;
  let stripSpace = vocab.addSpacePrefix;
  if (opts.removeSpecial && vocab.addBos && end > 0 && ids[0] === vocab.special.bos) {
    // llama.cpp keeps the space after a removed BOS.
    stripSpace = false;
    first = 1;
  }
  if (opts.removeSpecial && vocab.addEos && end > first && ids[end - 1] === vocab.special.eos) end--;

  const out: number[] = [];
  for (let i = first; i < end; i++) {
    const id = ids[i];
    const p = !opts.special && vocab.attrs[id] & (ATTR_UNKNOWN | ATTR_CONTROL) ? EMPTY : piece(id);
    // Only the first token may lose its leading space, whether or not it had one.
    const skip = stripSpace && p.length > 0 && p[0] === SPACE ? 1 : 0;
    stripSpace = false;
    for (let j = skip; j < p.length; j++) out.push(p[j]);
  }
  return new Uint8Array(vocab.cleanSpaces ? cleanSpaces(out) : out);
}

const EMPTY = new Uint8Array(0);
const ch = (s: string) => s.charCodeAt(0);

/**
 * clean_up_tokenization_spaces, in llama.cpp's three passes: drop a space
 * before ? ! . , — collapse " ' " to "'" — drop the space before 's 'm 're 've.
 * Each pass rewrites the buffer in place, reading behind its write position.
 */
export function cleanSpaces(text: number[]): number[] {
  const t = text.slice();
  let total = t.length;

  let n = total;
  total = n ? 1 : 0;
  for (let i = 1; i < n; i++) {
    const x = t[i];
    if (t[i - 1] === SPACE && (x === ch('?') || x === ch('!') || x === ch('.') || x === ch(','))) total--;
    t[total++] = x;
  }

  n = total;
  total = n ? 1 : 0;
  for (let i = 1; i < n; i++) {
    const x = t[i];
    if (x === ch("'") && i + 1 < n && t[i - 1] === SPACE && t[i + 1] === SPACE) {
      total--;
      t[++i] = 0;
    }
    t[total++] = x;
  }

  n = total;
  total = n ? 1 : 0;
  for (let i = 1; i < n; i++) {
    const x = t[i];
    if (t[i - 1] === SPACE && x === ch("'") && i + 1 < n) {
      const x1 = t[i + 1];
      if (x1 === ch('s') || x1 === ch('m')) total--;
      else if (i + 2 < n) {
        const x2 = t[i + 2];
        if ((x1 === ch('r') || x1 === ch('v')) && x2 === ch('e')) total--;
      }
    }
    t[total++] = x;
  }
  return t.slice(0, total);
}
