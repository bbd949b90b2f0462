/** Tokenizers from GGUF metadata: llama.cpp's SentencePiece-style and byte-level BPE. */
export { TokenizerError } from './errors.js';
export { PRE_TOKENIZER_NAMES } from './pre-tokenizers.js';
export {
  ATTR_BYTE,
  ATTR_CONTROL,
  ATTR_NORMAL,
  ATTR_UNKNOWN,
  ATTR_UNUSED,
  ATTR_USER_DEFINED,
  TokenType,
} from './token-attrs.js';
export { type DecodeOptions, type EncodeOptions, Tokenizer } from './tokenizer.js';
export type { SpecialIds, TokenizerModel } from './vocab.js';
