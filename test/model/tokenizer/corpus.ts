/**
 * Strings compared against llama.cpp (fixtures/llama-cpp.json): hand-picked
 * edge cases, then seeded random unicode and word salad. Changing this list
 * means regenerating the fixtures (scripts/llama-cpp-tokenizer-fixtures.ts).
 */
import { prng } from '../../formats/gguf/helpers.js';
import { randomText } from './reference.js';

const HAND = [
  '',
  ' ',
  '  ',
  '\n',
  ' \n ',
  '\t\t x',
  'the of and to in is it that was for',
  'Hello world',
  'Hello, World!',
  'the other',
  ' café',
  'cafe\u0301s',
  'naïve Ωmega 中文 你好 こんにちは',
  '😀🎉 emoji 👍🏽',
  '12345',
  '1234512',
  ' 1234512',
  '٣٤Ⅻ² ７８',
  'a\n\nb',
  'a   b',
  'a \r\n \n b  ',
  'hi!!',
  "I'm it's",
  "DON'T we'RE it's y'all'd",
  "Hello , world ! it 's a ' b",
  '<|im_start|>user\nHi<|im_end|>',
  '<|endoftext|><|endoftext|>x',
  'a<tool_call>b',
  '<s>hello</s>',
  'a<unk>b',
  'xy',
  'ö',
  'zzz jkqz',
  'a\u00a0b\u3000c\u0085d\ufeffe\u200bf',
  'for (let i = 0; i < n; i++) { sum += x[i]; }',
  '$+<=>^~| ¡¿ «» — …',
];

const WORDS = [
  'the',
  'that',
  'would',
  'people',
  'Hello',
  'world',
  'café',
  'jkqz',
  "it's",
  '12345',
  '你好',
  'zzz',
];

function corpus(): string[] {
  const rand = prng(4545);
  const out = [...HAND];
  for (let i = 0; i < 80; i++) out.push(randomText(rand, 12));
  for (let i = 0; i < 40; i++) {
    let text = '';
    const n = 1 + Math.floor(rand() * 8);
    for (let j = 0; j < n; j++) {
      text += rand() < 0.7 ? WORDS[Math.floor(rand() * WORDS.length)] : randomText(rand, 4);
      text += [' ', ' ', '  ', '\n', ''][Math.floor(rand() * 5)];
    }
    out.push(text);
  }
  return out;
}

export const FIXTURE_CORPUS: readonly string[] = corpus();
