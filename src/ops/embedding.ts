/**
 * Embedding lookup (ggml GET_ROWS): y[t] = table[ids[t]] as f32, table
 * [n_vocab, n_embd] in any ggml type (a row dequantized exactly as
 * dequantize() does), ids int32 in [0, n_vocab), y [n_tokens, n_embd].
 */
import { ShapeError } from '../errors.js';
import type { OpOperand } from './operand.js';
import { MAX_ELEMENTS } from './operand.js';

export interface EmbeddingDims {
  nVocab: number;
  nEmbd: number;
  nTokens: number;
}

/** Checks that every id is an int32 in [0, nVocab); names the first that is not. */
export function validateTokenIds(ids: ArrayLike<number>, nVocab: number): void {
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t];
    if (!Number.isInteger(id) || id < 0 || id >= nVocab)
      throw new ShapeError(`embedding: ids[${t}] = ${id} is outside the vocabulary [0, ${nVocab})`);
  }
}

export function validateEmbedding(table: OpOperand, ids: ArrayLike<number>): EmbeddingDims {
  if (table.shape.length !== 2 || !table.shape.every((d) => Number.isSafeInteger(d) && d >= 1))
    throw new ShapeError(`embedding: table must be [n_vocab, n_embd], got [${table.shape}]`);
  const [nVocab, nEmbd] = table.shape;
  if (nEmbd % table.type.blockSize !== 0)
    throw new ShapeError(
      `embedding: n_embd = ${nEmbd} is not a multiple of ${table.type.name}'s block size ${table.type.blockSize}`,
    );
  if (ids.length * nEmbd > MAX_ELEMENTS)
    throw new ShapeError(`embedding: ${ids.length} tokens × ${nEmbd} is more than ${MAX_ELEMENTS} elements`);
  validateTokenIds(ids, nVocab);
  return { nVocab, nEmbd, nTokens: ids.length };
}
