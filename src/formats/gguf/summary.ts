/**
 * What a GGUF file holds, at a glance: architecture, hyperparameters,
 * tokenizer (counts and special ids, never the vocabulary itself), tensors and
 * their totals. Used by `plumbline inspect`; plain data, no formatting.
 */

import type { GgufTensorInfo } from './read-tensor-infos.js';
import type { GgufFile } from './reader.js';
import { isSupportedTensorType } from './tensor-types.js';
import { type GgufMetadataValue, GgufValueType } from './value-types.js';

export interface GgufTokenizerSummary {
  /** tokenizer.ggml.model: `llama` (SentencePiece), `gpt2` (BPE), ... */
  model?: string;
  /** tokenizer.ggml.pre: the pre-tokenizer llama.cpp applies. */
  pre?: string;
  vocabSize?: number;
  mergesCount?: number;
  bosTokenId?: number | bigint;
  eosTokenId?: number | bigint;
  unknownTokenId?: number | bigint;
  paddingTokenId?: number | bigint;
  hasScores: boolean;
  hasTokenTypes: boolean;
  /** Length of tokenizer.chat_template in characters, if present. */
  chatTemplateLength?: number;
}

export interface GgufTypeTotal {
  type: string;
  supported: boolean;
  tensors: number;
  elements: number;
  bytes: number;
}

export interface GgufSummary {
  name: string;
  fileSize: number;
  version: number;
  alignment: number;
  dataOffset: number;
  metadataCount: number;
  architecture?: string;
  /** `general.*` keys, in file order. */
  general: [string, GgufMetadataValue][];
  /** `<architecture>.*` keys, in file order. */
  hyperparameters: [string, GgufMetadataValue][];
  tokenizer?: GgufTokenizerSummary;
  tensors: readonly GgufTensorInfo[];
  totals: { tensors: number; elements: number; bytes: number; byType: GgufTypeTotal[] };
}

export function summarizeGguf(file: GgufFile): GgufSummary {
  const arch = file.metadata.get('general.architecture');
  const architecture = arch?.type === GgufValueType.STRING ? arch.value : undefined;
  const entries = [...file.metadata];
  return {
    name: file.name,
    fileSize: file.fileSize,
    version: file.version,
    alignment: file.alignment,
    dataOffset: file.dataOffset,
    metadataCount: file.metadata.size,
    architecture,
    general: entries.filter(([k]) => k.startsWith('general.')),
    hyperparameters: architecture ? entries.filter(([k]) => k.startsWith(`${architecture}.`)) : [],
    tokenizer: summarizeTokenizer(file.metadata),
    tensors: file.tensors,
    totals: tensorTotals(file.tensors),
  };
}

function summarizeTokenizer(md: Map<string, GgufMetadataValue>): GgufTokenizerSummary | undefined {
  if (![...md.keys()].some((k) => k.startsWith('tokenizer.'))) return undefined;
  const str = (key: string) => {
    const v = md.get(key);
    return v?.type === GgufValueType.STRING ? v.value : undefined;
  };
  const int = (key: string) => {
    const v = md.get(key);
    return typeof v?.value === 'number' || typeof v?.value === 'bigint' ? v.value : undefined;
  };
  const length = (key: string) => {
    const v = md.get(key);
    return v?.type === GgufValueType.ARRAY ? v.value.length : undefined;
  };
  return {
    model: str('tokenizer.ggml.model'),
    pre: str('tokenizer.ggml.pre'),
    vocabSize: length('tokenizer.ggml.tokens'),
    mergesCount: length('tokenizer.ggml.merges'),
    bosTokenId: int('tokenizer.ggml.bos_token_id'),
    eosTokenId: int('tokenizer.ggml.eos_token_id'),
    unknownTokenId: int('tokenizer.ggml.unknown_token_id'),
    paddingTokenId: int('tokenizer.ggml.padding_token_id'),
    hasScores: md.has('tokenizer.ggml.scores'),
    hasTokenTypes: md.has('tokenizer.ggml.token_type'),
    chatTemplateLength: str('tokenizer.chat_template')?.length,
  };
}

function tensorTotals(tensors: readonly GgufTensorInfo[]): GgufSummary['totals'] {
  const byType = new Map<string, GgufTypeTotal>();
  let elements = 0;
  let bytes = 0;
  for (const t of tensors) {
    elements += t.count;
    bytes += t.byteSize;
    let total = byType.get(t.type.name);
    if (!total) {
      total = {
        type: t.type.name,
        supported: isSupportedTensorType(t.type),
        tensors: 0,
        elements: 0,
        bytes: 0,
      };
      byType.set(t.type.name, total);
    }
    total.tensors++;
    total.elements += t.count;
    total.bytes += t.byteSize;
  }
  return { tensors: tensors.length, elements, bytes, byType: [...byType.values()] };
}
