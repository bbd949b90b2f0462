/**
 * Byte-level BPE on a small GPT-2-style vocabulary in a GGUF file
 * (bpe-vocab.ts): hand-worked tokenizations for the qwen2, llama3 and gpt2
 * pre-tokenizers, special tokens, decoding (clean-up of spaces, unknown
 * byte characters), and a naive merge loop and round trips on random text.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '../../../src/model/tokenizer/index.js';
import { QWEN2_REGEX } from '../../../src/model/tokenizer/pre-tokenizers.js';
import { splitByRegexes } from '../../../src/model/tokenizer/regex-split.js';
import { BYTE_TO_CHAR, CHAR_TO_BYTE, codePoints, wellFormed } from '../../../src/model/tokenizer/unicode.js';
import { prng } from '../../formats/gguf/helpers.js';
import { bpeVocab, EXTRA, MERGES, readBpeGguf } from './bpe-vocab.js';
import { naiveBpeWord, randomText } from './reference.js';

async function load(extra: Record<string, unknown> = {}): Promise<Tokenizer> {
  const file = await readBpeGguf(extra);
  try {
    return Tokenizer.fromGguf(file);
  } finally {
    await file.close();
  }
}

const { tokens } = bpeVocab();
/** Ids of vocabulary texts, written in byte characters (Ġ = space, Ċ = newline). */
const ids = (...texts: string[]) =>
  texts.map((t) => {
    const i = tokens.indexOf(t);
    if (i < 0) throw new Error(`test vocabulary has no ${JSON.stringify(t)}`);
    return i;
  });
const bytes = (s: string) => [...new TextEncoder().encode(s)];

describe('byte-level BPE', () => {
  let qwen2: Tokenizer;
  beforeAll(async () => {
    qwen2 = await load();
  });

  it("uses GPT-2's byte characters", () => {
    expect([0x20, 0x0a, 0x00, 0x7f, 0xad, 0x41, 0xe9].map((b) => BYTE_TO_CHAR[b])).toEqual([
      'Ġ',
      'Ċ',
      'Ā',
      'ġ',
      'Ń',
      'A',
      'é',
    ]);
    expect(CHAR_TO_BYTE.size).toBe(256);
  });

  it('reads the vocabulary', () => {
    expect(qwen2.model).toBe('gpt2');
    expect(qwen2.pre).toBe('qwen2');
    expect(qwen2.vocabSize).toBe(tokens.length);
    expect(qwen2.vocabSize).toBeGreaterThan(300);
    expect([qwen2.bos, qwen2.eos]).toEqual(ids('<|endoftext|>', '<|endoftext|>'));
    expect(qwen2.addBos).toBe(false);
    expect(qwen2.addSpacePrefix).toBe(false);
    expect(ids('<|endoftext|>', '<|im_end|>').map((i) => qwen2.isEog(i))).toEqual([true, true]);
    expect(qwen2.isEog(ids('<|im_start|>')[0])).toBe(false);
  });

  // Worked by hand from MERGES (lower index merges first, leftmost first on ties).
  it.each([
    // He·ll → Hell → Hello; o·r, Ġ·w, Ġw·or, l·d, Ġwor·ld
    ['Hello world', ['Hello', 'Ġworld']],
    // h·e, then no "t he" merge (only "Ġt he"); e·r is stale once "he" took the e
    ['the other', ['t', 'he', 'Ġ', 'o', 't', 'he', 'r']],
    // c·a (30) beats Ġ·c (34): ca·f, Ã·©, caf·Ã©, then Ġ·cafÃ©
    [' café', ['ĠcafÃ©']],
    ['café', ['cafÃ©']],
    // 你好 is one letter run: ä·½, ä½·ł, å·¥, å¥·½
    ['你好', ['ä½ł', 'å¥½']],
    // qwen2 splits digits one by one
    ['12345', ['1', '2', '3', '4', '5']],
    // "\n\n" is one piece, merged; "   b" splits as "  " + " b"
    ['a\n\nb', ['a', 'ĊĊ', 'b']],
    ['a   b', ['a', 'ĠĠ', 'Ġ', 'b']],
    ['hi!!', ['h', 'i', '!!']],
    // contractions are pieces of their own
    ["I'm it's", ['I', "'m", 'Ġi', 't', "'s"]],
  ])('qwen2 %j', (text, pieces) => {
    expect(qwen2.encode(text)).toEqual(ids(...pieces));
    expect(qwen2.decode(qwen2.encode(text))).toBe(text);
  });

  it('a merged symbol that is not a token falls back to its ASCII bytes; other bytes are dropped (as llama.cpp)', () => {
    expect(qwen2.encode('xy')).toEqual(ids('x', 'y'));
    expect(qwen2.encode('ö')).toEqual([]);
  });

  it('pre-tokenizers change the digits and whole-word handling', async () => {
    // llama3: digits in threes; a whole-word vocabulary entry is taken as is (ignore_merges); BOS by default.
    const llama3 = await load({ 'tokenizer.ggml.pre': 'llama3', 'tokenizer.ggml.add_bos_token': undefined });
    const bos = ids('<|endoftext|>');
    expect(llama3.encode('1234512')).toEqual([...bos, ...ids('123', '45', '1', '2')]);
    expect(llama3.encode('zzz', { addSpecial: false })).toEqual(ids('zzz'));
    expect(qwen2.encode('zzz')).toEqual(ids('z', 'z', 'z'));
    // gpt2: " 1234512" is one piece; 1·2 at 0, 1·2 at 5 (leftmost first), 12·3, 4·5
    const gpt2 = await load({ 'tokenizer.ggml.pre': 'gpt-2' });
    expect(gpt2.encode(' 1234512')).toEqual(ids('Ġ', '123', '45', '12'));
    expect(qwen2.encode(' 1234512')).toEqual(ids('Ġ', '1', '2', '3', '4', '5', '1', '2'));
  });

  it('special tokens: control ones only when parsing them, user-defined ones always', () => {
    const chat = '<|im_start|>user\nHi<|im_end|>';
    expect(qwen2.encode(chat, { parseSpecial: true })).toEqual(
      ids('<|im_start|>', 'u', 's', 'er', 'Ċ', 'H', 'i', '<|im_end|>'),
    );
    const plain = qwen2.encode(chat);
    expect(plain).not.toContain(ids('<|im_start|>')[0]);
    expect(qwen2.decode(plain)).toBe(chat);
    expect(qwen2.encode('a<tool_call>b')).toEqual(ids('a', '<tool_call>', 'b'));
    // Control tokens render only with `special`; user-defined ones always.
    const parsed = qwen2.encode(`${chat}<tool_call>`, { parseSpecial: true });
    expect(qwen2.decode(parsed)).toBe('user\nHi<tool_call>');
    expect(qwen2.decode(parsed, { special: true })).toBe(`${chat}<tool_call>`);
  });

  it('decoding: unknown byte characters, clean-up of spaces for gpt2-style vocabularies', async () => {
    // "€" is not one of the 256 byte characters: llama.cpp's marker with its UTF-8 and the token.
    expect(qwen2.decode(ids('€'))).toBe('[UNK_BYTE_0xe282ac€]');
    const gpt2 = await load({ 'tokenizer.ggml.pre': 'gpt-2' });
    const text = "Hello , world ! it 's a ' b";
    expect(qwen2.decode(qwen2.encode(text))).toBe(text);
    expect(gpt2.decode(gpt2.encode(text))).toBe("Hello, world! it's a'b");
    // add_space_prefix given for a BPE vocabulary only strips the first decoded space.
    const prefixed = await load({ 'tokenizer.ggml.add_space_prefix': true });
    expect(prefixed.decode(prefixed.encode(' the'))).toBe('the');
  });

  it('matches the naive merge loop and round-trips random unicode', () => {
    const rand = prng(2024);
    const words = [...EXTRA, 'Hello', 'world', 'the', 'café', 'jkqz', "it's", '12345', '你好', '\n\n'];
    for (let i = 0; i < 300; i++) {
      let text = '';
      const n = Math.floor(rand() * 8);
      for (let j = 0; j < n; j++) {
        text += rand() < 0.5 ? words[Math.floor(rand() * words.length)] : randomText(rand, 6);
        text += [' ', '', '  ', 'jk'][Math.floor(rand() * 4)];
      }
      const got = qwen2.encode(text);
      const expected: number[] = [];
      const cps = codePoints(wellFormed(text));
      let at = 0;
      for (const len of splitByRegexes(cps, [QWEN2_REGEX])) {
        const piece = String.fromCodePoint(...cps.subarray(at, at + len));
        at += len;
        const word = bytes(piece)
          .map((b) => BYTE_TO_CHAR[b])
          .join('');
        expected.push(...naiveBpeWord(word, tokens, MERGES));
      }
      expect(got, JSON.stringify(text)).toEqual(expected);
      // Every merge result that can occur is a token (but "xy" and "ö"), so whole text round-trips.
      if (!text.includes('xy') && !text.includes('ö')) expect(qwen2.decode(got)).toBe(wellFormed(text));
    }
  });
});
