/**
 * Pre-tokenizer splitting: hand-worked splits for GPT-2, Llama 3 and Qwen2
 * (digits, contractions, unicode letters, whitespace), and on random unicode
 * the hand-written scanners against the same regexes run by V8's Unicode
 * regex engine, and against llama.cpp's collapsed-text regex fallback.
 */
import { describe, expect, it } from 'vitest';
import { GPT2_REGEX, LLAMA3_REGEX, QWEN2_REGEX } from '../../../src/model/tokenizer/pre-tokenizers.js';
import { splitByRegexes } from '../../../src/model/tokenizer/regex-split.js';
import { codePoints } from '../../../src/model/tokenizer/unicode.js';
import { prng } from '../../formats/gguf/helpers.js';
import { ORACLE_REGEXES, randomText, regexSplit } from './reference.js';

const REGEX = { gpt2: GPT2_REGEX, llama3: LLAMA3_REGEX, qwen2: QWEN2_REGEX };
type Family = keyof typeof REGEX;

function split(text: string, regexes: readonly string[], generic = false): string[] {
  const cps = codePoints(text);
  const out: string[] = [];
  let at = 0;
  for (const len of splitByRegexes(cps, regexes, generic)) {
    out.push(String.fromCodePoint(...cps.subarray(at, at + len)));
    at += len;
  }
  return out;
}

const pre = (family: Family, text: string) => split(text, [REGEX[family]]);

describe('pre-tokenizer splits', () => {
  const text = "I'm 12345 cafés!!\n\n  x";
  it('qwen2: one digit per piece, newlines kept with the punctuation before them', () => {
    expect(pre('qwen2', text)).toEqual([
      'I',
      "'m",
      ' ',
      '1',
      '2',
      '3',
      '4',
      '5',
      ' cafés',
      '!!\n\n',
      ' ',
      ' x',
    ]);
  });
  it('llama3: digits in threes', () => {
    expect(pre('llama3', text)).toEqual(['I', "'m", ' ', '123', '45', ' cafés', '!!\n\n', ' ', ' x']);
  });
  it('gpt2: a space joins the digits; a whitespace run leaves its last space to the next word', () => {
    expect(pre('gpt2', text)).toEqual(['I', "'m", ' 12345', ' cafés', '!!', '\n\n ', ' x']);
  });

  it('contractions: case-insensitive for llama3/qwen2, not for gpt2', () => {
    const t = "DON'T we'RE it's y'all'd";
    expect(pre('qwen2', t)).toEqual(['DON', "'T", ' we', "'RE", ' it', "'s", ' y', "'all", "'d"]);
    expect(pre('llama3', t)).toEqual(pre('qwen2', t));
    expect(pre('gpt2', t)).toEqual(['DON', "'", 'T', ' we', "'", 'RE', ' it', "'s", ' y', "'", 'all', "'d"]);
  });

  it('unicode letters, marks and numbers', () => {
    expect(pre('qwen2', 'naïve Ωmega 中文')).toEqual(['naïve', ' Ωmega', ' 中文']);
    // A combining mark is not a letter: it leads the next letter run.
    expect(pre('qwen2', 'cafe\u0301s')).toEqual(['cafe', '\u0301s']);
    // \p{N} covers other scripts' digits, letter-like numerals and superscripts.
    expect(pre('qwen2', '٣٤Ⅻ²')).toEqual(['٣', '٤', 'Ⅻ', '²']);
    expect(pre('llama3', '٣٤Ⅻ²')).toEqual(['٣٤Ⅻ', '²']);
    // Any single non-letter, non-digit (not CR/LF) can lead a letter run.
    expect(pre('qwen2', '😀ab\tcd')).toEqual(['😀ab', '\tcd']);
  });

  it('whitespace: U+00A0 and U+3000 are whitespace, U+FEFF and U+200B are not', () => {
    expect(pre('qwen2', 'a\u00a0\u3000b')).toEqual(['a', '\u00a0', '\u3000b']);
    expect(pre('qwen2', 'a\ufeffb')).toEqual(['a', '\ufeffb']);
    expect(pre('qwen2', 'a \u200b')).toEqual(['a', ' \u200b']);
    expect(pre('qwen2', 'x \r\n \n y ')).toEqual(['x', ' \r\n \n', ' y', ' ']);
  });

  it("the 'default' chain splits punctuation runs and digits in threes around GPT-2's regex", () => {
    const chain = [String.raw`[\p{P}\$\+<=>\^~\|]+`, GPT2_REGEX, String.raw`\p{N}+`, '[0-9][0-9][0-9]'];
    expect(split('hello, world!! 1234567 $+x', chain)).toEqual([
      'hello',
      ',',
      ' world',
      '!!',
      ' ',
      '123',
      '456',
      '7',
      ' ',
      '$+',
      'x',
    ]);
  });
});

describe('pre-tokenizer scanners on random unicode', () => {
  for (const family of ['gpt2', 'llama3', 'qwen2'] as const) {
    it(`${family}: same pieces as the regex in V8 and as llama.cpp's std::regex fallback`, () => {
      const rand = prng(family.length * 7919);
      for (let i = 0; i < 1500; i++) {
        const text = randomText(rand, 24);
        const pieces = pre(family, text);
        expect(pieces.join('')).toBe(text);
        expect(pieces, JSON.stringify(text)).toEqual(regexSplit(text, ORACLE_REGEXES[family]));
        expect(split(text, [REGEX[family]], true), JSON.stringify(text)).toEqual(pieces);
      }
    });
  }
});
