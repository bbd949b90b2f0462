/**
 * Obviously-correct versions of the merge loops, for differential tests: scan
 * every adjacent pair, merge the best one (SentencePiece: highest score; BPE:
 * lowest rank; ties: leftmost), repeat. O(n²), but nothing to get wrong.
 */

function mergeLoop(
  symbols: string[],
  cost: (pair: string, left: string, right: string) => number | undefined,
) {
  for (;;) {
    let best = -1;
    let bestCost = Number.POSITIVE_INFINITY;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const c = cost(symbols[i] + symbols[i + 1], symbols[i], symbols[i + 1]);
      if (c !== undefined && c < bestCost) {
        best = i;
        bestCost = c;
      }
    }
    if (best < 0) return symbols;
    symbols.splice(best, 2, symbols[best] + symbols[best + 1]);
  }
}

/** SentencePiece as llama.cpp does it, on already-escaped text; `byteId(b)` is the <0xXX> token. */
export function naiveSpm(
  text: string,
  tokens: readonly string[],
  scores: readonly number[],
  byteId: (b: number) => number,
): number[] {
  const ids = new Map(tokens.map((t, i) => [t, i]));
  const symbols = mergeLoop(Array.from(text), (pair) => {
    const id = ids.get(pair);
    return id === undefined ? undefined : -scores[id];
  });
  const out: number[] = [];
  for (const s of symbols) {
    const id = ids.get(s);
    if (id !== undefined) out.push(id);
    else for (const b of new TextEncoder().encode(s)) out.push(byteId(b));
  }
  return out;
}

/** Byte-level BPE of one pre-token already spelled in byte characters. */
export function naiveBpeWord(word: string, tokens: readonly string[], merges: readonly string[]): number[] {
  const ids = new Map(tokens.map((t, i) => [t, i]));
  const ranks = new Map<string, number>();
  merges.forEach((m, i) => {
    if (!ranks.has(m)) ranks.set(m, i);
  });
  const symbols = mergeLoop(Array.from(word), (_pair, l, r) => ranks.get(`${l} ${r}`));
  const out: number[] = [];
  for (const s of symbols) {
    const id = ids.get(s);
    if (id !== undefined) out.push(id);
    else for (const ch of s) if (ch.charCodeAt(0) < 0x80 && ids.has(ch)) out.push(ids.get(ch)!);
  }
  return out;
}

/** The pre-tokenizer regexes as real Unicode regexes (\s as White_Space, as llama.cpp's tables have it). */
export const ORACLE_REGEXES = {
  gpt2: /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu,
  llama3:
    /(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\p{White_Space}\p{L}\p{N}]+[\r\n]*|\p{White_Space}*[\r\n]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu,
  qwen2:
    /(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\p{White_Space}\p{L}\p{N}]+[\r\n]*|\p{White_Space}*[\r\n]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu,
};

/** Matches and the text between them, in order. */
export function regexSplit(text: string, re: RegExp): string[] {
  const out: string[] = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** mulberry32-driven random text over code points that exercise the classes the tokenizers care about. */
export function randomText(rand: () => number, maxLen: number): string {
  const pools: (() => number)[] = [
    () => 0x61 + Math.floor(rand() * 26),
    () => 0x41 + Math.floor(rand() * 26),
    () => 0x30 + Math.floor(rand() * 10),
    () => [0x20, 0x20, 0x20, 0x0a, 0x0d, 0x09, 0x0b, 0x0c][Math.floor(rand() * 8)],
    () => 0x21 + Math.floor(rand() * 15), // ! " # ... /
    () => 0x27, // apostrophe, for contractions
    () => [0xa0, 0x85, 0x3000, 0x2003, 0x2028, 0xfeff, 0x200b][Math.floor(rand() * 7)],
    () => 0xc0 + Math.floor(rand() * 0x40), // Latin-1 letters
    () => [0x301, 0x308, 0x64b][Math.floor(rand() * 3)], // combining marks
    () => [0x661, 0x2167, 0xb2, 0xff11][Math.floor(rand() * 4)], // other numbers
    () => 0x4e00 + Math.floor(rand() * 0x100), // CJK
    () => 0x1f600 + Math.floor(rand() * 0x40), // emoji (astral)
    () => 0x80 + Math.floor(rand() * 0xff80), // anything in the BMP
    () => 0x10000 + Math.floor(rand() * 0x100000), // anything astral
  ];
  const n = Math.floor(rand() * (maxLen + 1));
  const cps: number[] = [];
  for (let i = 0; i < n; i++) {
    let cp = pools[Math.floor(rand() * pools.length)]();
    if (cp >= 0xd800 && cp < 0xe000) cp = 0xfffd;
    cps.push(cp);
  }
  return String.fromCodePoint(...cps);
}
