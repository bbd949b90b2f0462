/**
 * The SentencePiece-style tokenizer on the shared models' vocabulary (ggml's
 * writer; README in ../shared/models): the README's example, hand-worked
 * tokenizations, a naive merge loop over random unicode, and round trips.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readGguf } from '../../../src/formats/gguf/index.js';
import { Tokenizer } from '../../../src/model/tokenizer/index.js';
import { wellFormed } from '../../../src/model/tokenizer/unicode.js';
import { modelPath, prng, runModelTests } from '../../formats/gguf/helpers.js';
import { naiveSpm, randomText } from './reference.js';

// Ids in tiny.vocab.tsv: 259 ▁, 260.. a-z, 312.. 0-9, 333.. ▁a-▁z, then ▁+word prefix chains.
const BYTE = (b: number) => 3 + b;

describe.skipIf(!runModelTests)('SentencePiece tokenizer on tiny-q4_k.gguf', () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    const file = await readGguf(modelPath('tiny-q4_k.gguf'));
    try {
      tok = Tokenizer.fromGguf(file);
    } finally {
      await file.close();
    }
  });

  it('reads the vocabulary and its settings', () => {
    expect(tok.model).toBe('llama');
    expect(tok.vocabSize).toBe(512);
    expect([tok.bos, tok.eos, tok.specialIds.unk]).toEqual([1, 2, 0]);
    expect([tok.addBos, tok.addEos, tok.addSpacePrefix]).toEqual([true, false, true]);
    expect(tok.isEog(2)).toBe(true);
    expect(tok.isEog(1)).toBe(false);
    expect(tok.warnings).toEqual([]);
  });

  // Worked by hand from tiny.vocab.tsv (score = -id, so lower ids merge first).
  it.each([
    // ▁c (-335) before ▁t (-352); ▁t→▁th→▁the; ▁ca; "▁cat" is not a token
    ['the cat', [386, 431, 279]],
    // a run of spaces: ▁a, a lone ▁, ▁b
    ['a  b', [333, 259, 334]],
    ['a   b', [333, 259, 259, 334]],
    // "\n" and "\t" are not pieces: byte fallback
    ['a\nb', [333, BYTE(0x0a), 261]],
    ['x\n', [356, BYTE(0x0a)]],
    ['\t', [259, BYTE(0x09)]],
    // leading and trailing spaces
    [' a', [259, 333]],
    ['a ', [333, 259]],
    // no "▁He" or "▁Wo" piece
    ['Hello, World!', [366, 264, 271, 271, 274, 323, 381, 274, 277, 271, 263, 324]],
    // digits are single pieces; there is no ▁+digit
    ['2024', [259, 314, 312, 314, 316]],
    // multi-byte characters fall back to their UTF-8 bytes
    ['é', [259, BYTE(0xc3), BYTE(0xa9)]],
    ['😀', [259, BYTE(0xf0), BYTE(0x9f), BYTE(0x98), BYTE(0x80)]],
    ['中a', [259, BYTE(0xe4), BYTE(0xb8), BYTE(0xad), 260]],
  ])('%j', (text, ids) => {
    expect(tok.encode(text, { addSpecial: false })).toEqual(ids);
    expect(tok.encode(text)).toEqual([1, ...ids]);
  });

  it('empty text: BOS alone with special tokens, nothing without', () => {
    expect(tok.encode('')).toEqual([1]);
    expect(tok.encode('', { addSpecial: false })).toEqual([]);
    expect(tok.decode([])).toBe('');
  });

  it('special tokens: matched only when parsing them, and a space prefix after each', () => {
    expect(tok.encode('<s>hello</s>', { parseSpecial: true })).toEqual([1, 1, 407, 271, 271, 274, 2]);
    // Without parsing, "<", "/" and ">" are bytes.
    expect(tok.encode('<s>hello</s>')).toEqual([
      1,
      259,
      BYTE(0x3c),
      278,
      BYTE(0x3e),
      267,
      264,
      271,
      271,
      274,
      BYTE(0x3c),
      BYTE(0x2f),
      278,
      BYTE(0x3e),
    ]);
    // <unk> is an UNKNOWN-type token: special too.
    expect(tok.encode('a<unk>b', { parseSpecial: true, addSpecial: false })).toEqual([333, 0, 334]);
  });

  it('decodes as llama_detokenize: ▁ → space, the first space dropped, bytes joined across tokens', () => {
    expect(tok.decode([386, 431, 279])).toBe('the cat');
    expect(tok.decode([259, BYTE(0xf0), BYTE(0x9f), BYTE(0x98), BYTE(0x80)])).toBe('😀');
    // BOS is not rendered, but it counts as the first token, so the space stays (llama.cpp does this).
    expect(tok.decode([1, 386])).toBe(' the');
    expect(tok.decode([1, 386], { removeSpecial: true })).toBe(' the');
    expect(tok.decode([1, 386], { special: true })).toBe('<s> the');
    expect(tok.decode([1, 1, 407, 271, 271, 274, 2], { special: true })).toBe('<s><s> hello</s>');
    // A cut character decodes to U+FFFD; the bytes are exact.
    expect(tok.decode([BYTE(0xf0), BYTE(0x9f)])).toBe('\ufffd');
    expect([...tok.decodeBytes([BYTE(0xf0), BYTE(0x9f)])]).toEqual([0xf0, 0x9f]);
  });

  it('pieces and streaming', () => {
    expect(new TextDecoder().decode(tok.tokenToPiece(386))).toBe(' the');
    expect([...tok.tokenToPiece(BYTE(0x0a))]).toEqual([0x0a]);
    expect(new TextDecoder().decode(tok.tokenToPiece(1))).toBe('<s>');
    expect(tok.tokenToPiece(1, false).length).toBe(0);
    expect(tok.tokenText(386)).toBe('▁the');
    expect(tok.tokenId('▁the')).toBe(386);
    const stream = tok.streamDecoder();
    const parts = [259, BYTE(0xf0), BYTE(0x9f), BYTE(0x98), BYTE(0x80), 386].map((id) => stream.push(id));
    expect(parts).toEqual([' ', '', '', '', '😀', ' the']);
    expect(stream.flush()).toBe('');
  });

  it('rejects ids outside the vocabulary', () => {
    expect(() => tok.decode([512])).toThrow(/token id 512 is outside the vocabulary \(512 tokens\)/);
    expect(() => tok.tokenToPiece(-1)).toThrow(/outside the vocabulary/);
  });

  it('lone surrogates encode as U+FFFD, as UTF-8 encoding makes them', () => {
    expect(tok.encode('\ud800', { addSpecial: false })).toEqual(tok.encode('\ufffd', { addSpecial: false }));
  });
});

describe.skipIf(!runModelTests).each(['tiny-q4_k.gguf', 'big-q4_k.gguf'])(
  'SentencePiece tokenizer on %s',
  (file) => {
    let tok: Tokenizer;
    let tokens: string[];
    let scores: number[];
    beforeAll(async () => {
      const g = await readGguf(modelPath(file));
      try {
        tok = Tokenizer.fromGguf(g);
        tokens = g.get('tokenizer.ggml.tokens') as string[];
        scores = g.get('tokenizer.ggml.scores') as number[];
      } finally {
        await g.close();
      }
    });

    it("tokenizes the README's example", () => {
      expect(tok.encode('the of and to in is it that was for')).toEqual([
        1, 386, 387, 389, 390, 391, 392, 393, 395, 397, 399,
      ]);
    });

    it('matches the naive merge loop and round-trips random unicode', () => {
      const rand = prng(file.length);
      const byteId = (b: number) => tokens.indexOf(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      const words = tokens.filter((t) => t.startsWith('▁') && t.length > 2).map((t) => t.slice(1));
      for (let i = 0; i < 400; i++) {
        // Mix vocabulary words (long merges) with random unicode.
        const parts: string[] = [];
        const n = Math.floor(rand() * 8);
        for (let j = 0; j < n; j++) {
          parts.push(rand() < 0.6 ? words[Math.floor(rand() * words.length)] : randomText(rand, 6));
          parts.push([' ', '  ', '', '\n', ' \t'][Math.floor(rand() * 5)]);
        }
        const text = parts.join('');
        const ids = tok.encode(text, { addSpecial: false });
        if (text !== '')
          expect(ids).toEqual(naiveSpm(` ${text}`.replaceAll(' ', '▁'), tokens, scores, byteId));
        expect(tok.decode(ids)).toBe(wellFormed(text));
      }
    });
  },
);
