/**
 * BPE pre-tokenizers by `tokenizer.ggml.pre`: the regexes llama.cpp splits
 * text with before merging (applied in turn, each splitting the pieces of the
 * one before), and the flags it sets for that pre-tokenizer.
 */
import { TokenizerError } from './errors.js';

/** GPT-2's regex as llama.cpp spells it (its splitter also applies GPT-2's final `|\s+`). */
export const GPT2_REGEX = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`;
/** Llama 3's regex, the case-insensitive contractions spelled out. */
export const LLAMA3_REGEX = String.raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
/** Qwen2's regex: Llama 3's with single digits. */
export const QWEN2_REGEX = String.raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

export interface PreTokenizer {
  /** The family (llama.cpp's LLAMA_VOCAB_PRE_TYPE_*, lower case). */
  readonly type: string;
  readonly regexes: readonly string[];
  /** Detokenize removes spaces before punctuation and some contractions (clean_up_tokenization_spaces). */
  readonly cleanSpaces: boolean;
  /** A pre-token that is a whole vocabulary entry is emitted without merging. */
  readonly ignoreMerges: boolean;
  /** add_bos before tokenizer.ggml.add_bos_token overrides it. */
  readonly addBos: boolean;
  /** The family has no BOS unless the metadata names one. */
  readonly noDefaultBos: boolean;
}

function family(
  type: string,
  regexes: readonly string[],
  opts: Partial<Omit<PreTokenizer, 'type' | 'regexes'>> = {},
): PreTokenizer {
  return {
    type,
    regexes,
    cleanSpaces: true,
    ignoreMerges: false,
    addBos: false,
    noDefaultBos: false,
    ...opts,
  };
}

const DEFAULT = family('default', [
  String.raw`[\p{P}\$\+<=>\^~\|]+`,
  GPT2_REGEX,
  String.raw`\p{N}+`,
  '[0-9][0-9][0-9]',
]);
const LLAMA3 = family('llama3', [LLAMA3_REGEX], { ignoreMerges: true, addBos: true });
const GPT2 = family('gpt2', [GPT2_REGEX]);
const QWEN2 = family('qwen2', [QWEN2_REGEX], { cleanSpaces: false });
const STARCODER = [String.raw`\p{N}`, GPT2_REGEX];

const BY_NAME = new Map<string, PreTokenizer>();
function add(names: readonly string[], pre: PreTokenizer): void {
  for (const n of names) BY_NAME.set(n, pre);
}
add(['default'], DEFAULT);
add(
  ['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2', 'jina-v5-nano'],
  LLAMA3,
);
add(
  ['gpt-2', 'phi-2', 'jina-es', 'jina-de', 'gigachat', 'jina-v2-es', 'jina-v2-de', 'a.x-4.0', 'mellum'],
  GPT2,
);
add(['modern-bert', 'exaone4', 'mpt', 'olmo', 'jais'], GPT2);
add(['trillion', 'granite-docling'], { ...GPT2, cleanSpaces: false });
add(['qwen2', 'deepseek-r1-qwen', 'kormo', 'f2llmv2', 'hunyuan', 'solar-open'], QWEN2);
add(['megrez', 'stablelm2'], { ...QWEN2, cleanSpaces: true });
add(['starcoder', 'refact', 'codeshell', 'exaone', 'minerva-7b', 'mellum2'], family('starcoder', STARCODER));
add(['command-r', 'smollm'], family('starcoder', STARCODER, { cleanSpaces: false }));
add(['falcon'], family('falcon', ['[\\p{P}\\$\\+<=>\\^~\\|`]+', GPT2_REGEX, '[0-9][0-9][0-9]']));
add(['dbrx', 'smaug-bpe'], family('dbrx', [LLAMA3_REGEX]));
add(['glm4', 'chatglm-bpe'], family('chatglm4', [LLAMA3_REGEX], { noDefaultBos: true }));

/** Names this build supports, for error messages and tests. */
export const PRE_TOKENIZER_NAMES: readonly string[] = [...BY_NAME.keys()];

/** The pre-tokenizer for a `tokenizer.ggml.pre` value; a missing value means 'default', as in llama.cpp. */
export function preTokenizerFor(name: string | undefined): PreTokenizer {
  if (name === undefined || name === '') return DEFAULT;
  const pre = BY_NAME.get(name);
  if (!pre) {
    throw new TokenizerError(
      `tokenizer.ggml.pre = ${JSON.stringify(name)} is not a supported pre-tokenizer (supported: ${PRE_TOKENIZER_NAMES.join(', ')})`,
      'tokenizer.ggml.pre',
    );
  }
  return pre;
}
