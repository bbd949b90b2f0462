/**
 * Unicode helpers with llama.cpp's classification: \p{L}, \p{N}, \p{M}, \p{P},
 * \p{S} by general category and whitespace as Unicode's White_Space property
 * (what llama.cpp's generated tables hold), plus GPT-2's byte-to-unicode map.
 * The tables come from the JS engine's Unicode data, so code points assigned
 * after llama.cpp's table was generated may classify differently.
 */

export const LETTER = 1;
export const NUMBER = 2;
export const WHITESPACE = 4;
export const MARK = 8;
export const PUNCTUATION = 16;
export const SYMBOL = 32;
/** Set for every code point, so a nonzero value means "in range" (llama.cpp's flags.as_uint()). */
const CLASSIFIED = 128;

const CLASSES: readonly [RegExp, number][] = [
  [/^\p{L}$/u, LETTER],
  [/^\p{N}$/u, NUMBER],
  [/^\p{White_Space}$/u, WHITESPACE],
  [/^\p{M}$/u, MARK],
  [/^\p{P}$/u, PUNCTUATION],
  [/^\p{S}$/u, SYMBOL],
];

// Filled on first use: classifying all 1.1M code points up front would cost ~1 s.
const flagTable = new Uint8Array(0x110000);

/** The class bits of one code point (never 0). */
export function cptFlags(cp: number): number {
  const f = flagTable[cp];
  if (f !== 0) return f;
  const s = String.fromCodePoint(cp);
  let bits = CLASSIFIED;
  for (const [re, bit] of CLASSES) if (re.test(s)) bits |= bit;
  flagTable[cp] = bits;
  return bits;
}

/** Replaces lone surrogates with U+FFFD, as UTF-8 encoding does. */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** Code points of a well-formed string. */
export function codePoints(text: string): Uint32Array {
  const out = new Uint32Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        out[n++] = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        continue;
      }
    }
    out[n++] = c;
  }
  return out.subarray(0, n);
}

const encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is text, not a byte-order mark to drop.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** UTF-8 to string; invalid sequences become U+FFFD. */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/**
 * GPT-2's reversible byte-to-unicode map: printable Latin-1 bytes ('!'..'~',
 * '¡'..'¬', '®'..'ÿ') stand for themselves, the other 68 bytes take U+0100,
 * U+0101, ... in byte order (so ' ' is 'Ġ' U+0120 and '\n' is 'Ċ' U+010A).
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const chars: string[] = [];
  let next = 0x100;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars.push(String.fromCharCode(printable ? b : next++));
  }
  return chars;
})();

/** Inverse of BYTE_TO_CHAR, by code point. */
export const CHAR_TO_BYTE: ReadonlyMap<number, number> = new Map(
  BYTE_TO_CHAR.map((c, b) => [c.charCodeAt(0), b] as const),
);

/** Appends the UTF-8 encoding of `cp` to `out`. */
export function pushUtf8(out: number[], cp: number): void {
  if (cp < 0x80) out.push(cp);
  else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
}
