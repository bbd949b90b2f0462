/** Missing, mistyped and inconsistent tokenizer metadata: typed errors that name the key, or llama.cpp's warnings. */
import { describe, expect, it } from 'vitest';
import { type GgufMetadataValue, GgufValueType as T } from '../../../src/formats/gguf/index.js';
import { Tokenizer, TokenizerError } from '../../../src/model/tokenizer/index.js';

const str = (value: string): GgufMetadataValue => ({ type: T.STRING, value });
const u32 = (value: number): GgufMetadataValue => ({ type: T.UINT32, value });
const bool = (value: boolean): GgufMetadataValue => ({ type: T.BOOL, value });
const strs = (value: string[]): GgufMetadataValue => ({ type: T.ARRAY, itemType: T.STRING, value });
const nums = (itemType: 4 | 5 | 6, value: number[]): GgufMetadataValue => ({
  type: T.ARRAY,
  itemType,
  value,
});

/** A minimal SentencePiece vocabulary: <unk> <s> </s>, ▁, a, ▁a. */
function spm(changes: Record<string, GgufMetadataValue | undefined> = {}): Map<string, GgufMetadataValue> {
  const md = new Map<string, GgufMetadataValue>([
    ['tokenizer.ggml.model', str('llama')],
    ['tokenizer.ggml.tokens', strs(['<unk>', '<s>', '</s>', '▁', 'a', '▁a'])],
    ['tokenizer.ggml.scores', nums(T.FLOAT32, [0, 0, 0, -1, -2, -3])],
    ['tokenizer.ggml.token_type', nums(T.INT32, [2, 3, 3, 1, 1, 1])],
  ]);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) md.delete(k);
    else md.set(k, v);
  }
  return md;
}

function expectError(md: Map<string, GgufMetadataValue>, message: RegExp, key: string): void {
  let err: unknown;
  try {
    Tokenizer.fromMetadata(md);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TokenizerError);
  expect((err as TokenizerError).message).toMatch(message);
  expect((err as TokenizerError).key).toBe(key);
}

describe('tokenizer metadata errors', () => {
  it('a minimal vocabulary loads, with llama defaults', () => {
    const t = Tokenizer.fromMetadata(spm());
    expect(t.encode('a a')).toEqual([1, 5, 5]);
    expect([t.bos, t.eos, t.specialIds.unk]).toEqual([1, 2, 0]);
  });

  it('missing keys', () => {
    expectError(
      spm({ 'tokenizer.ggml.model': undefined }),
      /tokenizer\.ggml\.model is missing/,
      'tokenizer.ggml.model',
    );
    expectError(
      spm({ 'tokenizer.ggml.tokens': undefined }),
      /tokenizer\.ggml\.tokens is missing/,
      'tokenizer.ggml.tokens',
    );
    expectError(
      spm({ 'tokenizer.ggml.model': str('gpt2'), 'tokenizer.ggml.pre': str('qwen2') }),
      /tokenizer\.ggml\.merges is missing/,
      'tokenizer.ggml.merges',
    );
  });

  it('wrong types', () => {
    expectError(
      spm({ 'tokenizer.ggml.tokens': nums(T.UINT32, [1, 2]) }),
      /tokenizer\.ggml\.tokens must be a string\[\] but is a u32\[\]/,
      'tokenizer.ggml.tokens',
    );
    expectError(
      spm({ 'tokenizer.ggml.token_type': nums(T.UINT32, [2, 3, 3, 1, 1, 1]) }),
      /token_type must be a i32\[\] but is a u32\[\]/,
      'tokenizer.ggml.token_type',
    );
    expectError(
      spm({ 'tokenizer.ggml.bos_token_id': { type: T.INT32, value: 1 } }),
      /bos_token_id must be a u32 but is a i32/,
      'tokenizer.ggml.bos_token_id',
    );
    expectError(
      spm({ 'tokenizer.ggml.add_space_prefix': str('yes') }),
      /add_space_prefix must be a bool but is a string/,
      'tokenizer.ggml.add_space_prefix',
    );
    expectError(
      spm({ 'tokenizer.ggml.model': u32(1) }),
      /model must be a string but is a u32/,
      'tokenizer.ggml.model',
    );
  });

  it('inconsistent values', () => {
    expectError(
      spm({ 'tokenizer.ggml.scores': nums(T.FLOAT32, [0, 0, 0]) }),
      /tokenizer\.ggml\.scores has 3 entries but tokenizer\.ggml\.tokens has 6/,
      'tokenizer.ggml.scores',
    );
    expectError(
      spm({ 'tokenizer.ggml.tokens': strs(['<unk>', '<s>', '</s>', 'a', 'b', 'a']) }),
      /duplicate token in tokenizer\.ggml\.tokens: "a" has ids 3 and 5/,
      'tokenizer.ggml.tokens',
    );
    expectError(
      spm({ 'tokenizer.ggml.model': str('bert') }),
      /"bert" is not supported/,
      'tokenizer.ggml.model',
    );
    expectError(
      spm({
        'tokenizer.ggml.model': str('gpt2'),
        'tokenizer.ggml.pre': str('nope'),
        'tokenizer.ggml.merges': strs([]),
      }),
      /tokenizer\.ggml\.pre = "nope" is not a supported pre-tokenizer/,
      'tokenizer.ggml.pre',
    );
    // chatglm has no default BOS; asking to add one without naming it is an error, as in llama.cpp.
    expectError(
      spm({
        'tokenizer.ggml.model': str('gpt2'),
        'tokenizer.ggml.pre': str('chatglm-bpe'),
        'tokenizer.ggml.merges': strs([]),
        'tokenizer.ggml.add_bos_token': bool(true),
      }),
      /add_bos_token is true, but tokenizer\.ggml\.bos_token_id is not set/,
      'tokenizer.ggml.bos_token_id',
    );
  });

  it('what llama.cpp only warns about loads, with the warning kept', () => {
    // An out-of-range special id keeps the default; an empty token gets a placeholder text.
    const t = Tokenizer.fromMetadata(
      spm({
        'tokenizer.ggml.eos_token_id': u32(99),
        'tokenizer.ggml.tokens': strs(['<unk>', '<s>', '</s>', '▁', '', '▁a']),
      }),
    );
    expect(t.eos).toBe(2);
    expect(t.tokenText(4)).toBe('[EMPTY_4]');
    expect(t.warnings).toEqual([
      'empty token at index 4',
      'tokenizer.ggml.eos_token_id = 99 is outside the vocabulary (6 tokens); ignored',
    ]);
    // gpt2 without a pre-tokenizer uses 'default'; its default BOS/EOS id 11 is outside this vocabulary.
    const bpe = Tokenizer.fromMetadata(
      spm({ 'tokenizer.ggml.model': str('gpt2'), 'tokenizer.ggml.merges': strs([]) }),
    );
    expect(bpe.bos).toBeUndefined();
    expect(bpe.warnings[0]).toMatch(/tokenizer\.ggml\.pre is missing/);
  });

  it('a character with no byte token cannot be encoded', () => {
    const t = Tokenizer.fromMetadata(spm());
    expect(() => t.encode('é')).toThrow(
      /cannot encode "é": tokenizer\.ggml\.tokens has no byte token <0xC3>/,
    );
    // Without token types every token is normal: <s> then renders as text.
    const untyped = Tokenizer.fromMetadata(spm({ 'tokenizer.ggml.token_type': undefined }));
    expect(untyped.decode([1, 5])).toBe('<s> a');
  });
});
