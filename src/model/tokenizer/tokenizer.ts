/**
 * Text ↔ token ids for GGUF models, reproducing llama.cpp: `llama`
 * (SentencePiece-style, score-ordered merges, byte fallback) and `gpt2`
 * (byte-level BPE with a pre-tokenizer per `tokenizer.ggml.pre`).
 */
import type { GgufFile } from '../../formats/gguf/index.js';
import { BpeTokenizer } from './bpe.js';
import { type DetokenizeOptions, detokenize, pieceTable } from './detokenize.js';
import { TokenizerError } from './errors.js';
import type { MetadataMap } from './metadata.js';
import { partitionSpecial } from './partition.js';
import { spmTokenize } from './spm.js';
import { ATTR_CONTROL, ATTR_UNKNOWN } from './token-attrs.js';
import { fromUtf8, wellFormed } from './unicode.js';
import { loadVocab, type SpecialIds, type TokenizerModel, type Vocab } from './vocab.js';

export interface EncodeOptions {
  /** Add BOS/EOS as the vocabulary asks (tokenizer.ggml.add_bos_token / add_eos_token). Default true. */
  addSpecial?: boolean;
  /** Match control and unknown tokens (`<s>`, `<|im_end|>`) written in the text. Default false. */
  parseSpecial?: boolean;
}

export type DecodeOptions = DetokenizeOptions;

export class Tokenizer {
  private readonly piece: (id: number) => Uint8Array;
  private readonly bpe?: BpeTokenizer;

  private constructor(private readonly vocab: Vocab) {
    this.piece = pieceTable(vocab);
    if (vocab.pre) this.bpe = new BpeTokenizer(vocab.pre, vocab);
  }

  /** From a GGUF file's metadata (nothing else of the file is read). */
  static fromGguf(file: Pick<GgufFile, 'metadata'>): Tokenizer {
    return new Tokenizer(loadVocab(file.metadata));
  }

  static fromMetadata(metadata: MetadataMap): Tokenizer {
    return new Tokenizer(loadVocab(metadata));
  }

  /** `llama` (SentencePiece) or `gpt2` (byte-level BPE). */
  get model(): TokenizerModel {
    return this.vocab.model;
  }
  /** tokenizer.ggml.pre, as given. */
  get pre(): string | undefined {
    return this.vocab.preName;
  }
  get vocabSize(): number {
    return this.vocab.texts.length;
  }
  get bos(): number | undefined {
    return this.vocab.special.bos;
  }
  get eos(): number | undefined {
    return this.vocab.special.eos;
  }
  /** All special ids (bos, eos, eot, eom, unk, sep, pad, mask) that exist. */
  get specialIds(): Readonly<SpecialIds> {
    return this.vocab.special;
  }
  get addBos(): boolean {
    return this.vocab.addBos;
  }
  get addEos(): boolean {
    return this.vocab.addEos;
  }
  get addSpacePrefix(): boolean {
    return this.vocab.addSpacePrefix;
  }
  /** Things llama.cpp would warn about when loading this vocabulary. */
  get warnings(): readonly string[] {
    return this.vocab.warnings;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const addSpecial = opts.addSpecial ?? true;
    const v = this.vocab;
    const out: number[] = [];
    if (addSpecial && v.addBos) out.push(v.special.bos!);
    const fragments = partitionSpecial(wellFormed(text), v, opts.parseSpecial ?? false);
    // SentencePiece: a space goes before the text at the start and after each special token.
    let afterSpecial = true;
    for (const f of fragments) {
      if (typeof f === 'number') out.push(f);
      else if (v.model === 'llama') {
        const prefixed = v.addSpacePrefix && afterSpecial ? ` ${f}` : f;
        spmTokenize(prefixed.replaceAll(' ', '▁'), v, out);
      } else this.bpe!.tokenize(f, out);
      afterSpecial = typeof f === 'number';
    }
    if (addSpecial && v.addEos) out.push(v.special.eos!);
    return out;
  }

  /** Text of the ids (invalid UTF-8, e.g. a cut multi-byte character, becomes U+FFFD). */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    return fromUtf8(this.decodeBytes(ids, opts));
  }

  /** The bytes of the ids, as llama_detokenize produces them. */
  decodeBytes(ids: readonly number[], opts: DecodeOptions = {}): Uint8Array {
    for (const id of ids) this.check(id);
    return detokenize(this.vocab, this.piece, ids, opts);
  }

  /**
   * One token's bytes (a byte token is a single byte, not always valid UTF-8
   * on its own). Control and unknown tokens render as their text unless
   * `special` is false, as in llama_token_to_piece.
   */
  tokenToPiece(id: number, special = true): Uint8Array {
    this.check(id);
    if (!special && this.vocab.attrs[id] & (ATTR_CONTROL | ATTR_UNKNOWN)) return new Uint8Array(0);
    return this.piece(id);
  }

  /** The vocabulary entry's text (`▁the`, `<0x0A>`, `Ġworld`). */
  tokenText(id: number): string {
    this.check(id);
    return this.vocab.texts[id];
  }

  /** The id whose vocabulary text is exactly `text`, if any. */
  tokenId(text: string): number | undefined {
    return this.vocab.ids.get(text);
  }

  /** The llama_token_attr bits of a token (see token-attrs.ts). */
  tokenAttrs(id: number): number {
    this.check(id);
    return this.vocab.attrs[id];
  }

  /** Whether generation stops at this token (llama_vocab_is_eog). */
  isEog(id: number): boolean {
    return this.vocab.eog.has(id);
  }

  /** Incremental decoding for generation: feed ids, get the text completed so far. */
  streamDecoder(special = true): { push(id: number): string; flush(): string } {
    const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
    return {
      push: (id) => utf8.decode(this.tokenToPiece(id, special), { stream: true }),
      flush: () => utf8.decode(),
    };
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocab.texts.length) {
      throw new TokenizerError(
        `token id ${id} is outside the vocabulary (${this.vocab.texts.length} tokens)`,
      );
    }
  }
}
