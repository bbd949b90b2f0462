/**
 * Token attributes as llama.cpp keeps them (llama_token_attr bits), derived
 * from GGUF's tokenizer.ggml.token_type values.
 */

export const ATTR_UNKNOWN = 1 << 0;
export const ATTR_UNUSED = 1 << 1;
export const ATTR_NORMAL = 1 << 2;
export const ATTR_CONTROL = 1 << 3;
export const ATTR_USER_DEFINED = 1 << 4;
export const ATTR_BYTE = 1 << 5;

/** GGUF token types (llama_token_type). */
export const TokenType = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

const ATTR_BY_TYPE: readonly number[] = [
  0,
  ATTR_NORMAL,
  ATTR_UNKNOWN,
  ATTR_CONTROL,
  ATTR_USER_DEFINED,
  ATTR_UNUSED,
  ATTR_BYTE,
];

/** A token type's attribute; unknown types are UNDEFINED (0), as in llama.cpp. */
export function attrOfType(type: number): number {
  return ATTR_BY_TYPE[type] ?? 0;
}

/**
 * Texts llama.cpp treats as end-of-generation whatever the metadata says, and
 * forces to CONTROL if the file typed them otherwise (its auto-detection of
 * EOT/EOM/EOG tokens by text; the EOT list is a subset of this one).
 */
export const EOG_TEXTS: ReadonlySet<string> = new Set([
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<|return|>',
  '<|call|>',
  '<|flush|>',
  '<|calls|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '</s>',
  '<|eom_id|>',
  '<EOT>',
  '_<EOT>',
  '[EOT]',
  '[EOS]',
  '<|end_of_text|>',
  '<end_of_utterance>',
  '<eos>',
  '<turn|>',
  '<|tool_response>',
  '<｜end▁of▁sentence｜>',
  '[e~[',
]);

/** Texts llama.cpp takes for the end-of-turn token when the metadata names none. */
export const EOT_TEXTS: ReadonlySet<string> = new Set([
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '<|end_of_text|>',
  '<EOT>',
  '_<EOT>',
  '[EOT]',
  '<｜end▁of▁sentence｜>',
  '<end_of_utterance>',
]);

export interface FimKind {
  /** Its id key, after `tokenizer.ggml.`. */
  readonly key: string;
  /** Texts that identify it when the key is absent (the token is then made CONTROL). */
  readonly texts: ReadonlySet<string>;
  /** Whether it ends generation. */
  readonly eog: boolean;
}

/** Fill-in-the-middle tokens, as llama.cpp detects them. */
export const FIM_KINDS: readonly FimKind[] = [
  {
    key: 'fim_pre_token_id',
    texts: new Set([
      '<|fim_prefix|>',
      '<fim-prefix>',
      '<fim_prefix>',
      '<｜fim▁begin｜>',
      '<PRE>',
      '▁<PRE>',
      '<|code_prefix|>',
      '<|prefix|>',
    ]),
    eog: false,
  },
  {
    key: 'fim_suf_token_id',
    texts: new Set([
      '<|fim_suffix|>',
      '<fim-suffix>',
      '<fim_suffix>',
      '<｜fim▁hole｜>',
      '<SUF>',
      '▁<SUF>',
      '<|code_suffix|>',
      '<|suffix|>',
    ]),
    eog: false,
  },
  {
    key: 'fim_mid_token_id',
    texts: new Set([
      '<|fim_middle|>',
      '<fim-middle>',
      '<fim_middle>',
      '<｜fim▁end｜>',
      '<MID>',
      '▁<MID>',
      '<|code_middle|>',
      '<|middle|>',
    ]),
    eog: false,
  },
  {
    key: 'fim_pad_token_id',
    texts: new Set(['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]']),
    eog: true,
  },
  {
    key: 'fim_rep_token_id',
    texts: new Set(['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>']),
    eog: true,
  },
  { key: 'fim_sep_token_id', texts: new Set(['<|file_sep|>']), eog: true },
];
