/**
 * The ggml tensor types plumbline understands, spelled as ggml spells them,
 * with ggml's numeric ids and block geometry (ggml.h / ggml.c type traits).
 */

import { SizeError, UnsupportedTypeError } from '../errors.js';

export const GGML_TYPE_NAMES = [
  'f32',
  'f16',
  'bf16',
  'q4_0',
  'q4_1',
  'q5_0',
  'q5_1',
  'q8_0',
  'q8_1',
  'q2_K',
  'q3_K',
  'q4_K',
  'q5_K',
  'q6_K',
  'q8_K',
  'iq4_nl',
  'iq4_xs',
] as const;

export type GgmlTypeName = (typeof GGML_TYPE_NAMES)[number];

export interface GgmlTypeInfo {
  readonly name: GgmlTypeName;
  /** ggml's enum ggml_type value (also the GGUF tensor type id). */
  readonly id: number;
  /** Elements per block. */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
  /** Whether the format is block-quantized (false for f32/f16/bf16). */
  readonly quantized: boolean;
  /** The type ggml's CPU backend converts activations to for dot products with this weight type. */
  readonly vecDotType: GgmlTypeName | null;
  /** Whether ggml_quantize_chunk can produce this type (q8_1/q8_K are activation-only). */
  readonly weightType: boolean;
}

/** QK_K: super-block size of the k-quants. */
export const QK_K = 256;

function info(
  name: GgmlTypeName,
  id: number,
  blockSize: number,
  typeSize: number,
  vecDotType: GgmlTypeName | null,
  weightType = true,
): GgmlTypeInfo {
  return { name, id, blockSize, typeSize, quantized: blockSize > 1, vecDotType, weightType };
}

export const GGML_TYPES: Readonly<Record<GgmlTypeName, GgmlTypeInfo>> = Object.freeze({
  f32: info('f32', 0, 1, 4, 'f32'),
  f16: info('f16', 1, 1, 2, 'f16'),
  bf16: info('bf16', 30, 1, 2, 'bf16'),
  q4_0: info('q4_0', 2, 32, 18, 'q8_0'),
  q4_1: info('q4_1', 3, 32, 20, 'q8_1'),
  q5_0: info('q5_0', 6, 32, 22, 'q8_0'),
  q5_1: info('q5_1', 7, 32, 24, 'q8_1'),
  q8_0: info('q8_0', 8, 32, 34, 'q8_0'),
  q8_1: info('q8_1', 9, 32, 36, null, false),
  q2_K: info('q2_K', 10, QK_K, 84, 'q8_K'),
  q3_K: info('q3_K', 11, QK_K, 110, 'q8_K'),
  q4_K: info('q4_K', 12, QK_K, 144, 'q8_K'),
  q5_K: info('q5_K', 13, QK_K, 176, 'q8_K'),
  q6_K: info('q6_K', 14, QK_K, 210, 'q8_K'),
  q8_K: info('q8_K', 15, QK_K, 292, null, false),
  iq4_nl: info('iq4_nl', 20, 32, 18, 'q8_0'),
  iq4_xs: info('iq4_xs', 23, QK_K, 136, 'q8_K'),
});

const BY_ID = new Map<number, GgmlTypeInfo>(Object.values(GGML_TYPES).map((t) => [t.id, t]));

export function isGgmlTypeName(name: unknown): name is GgmlTypeName {
  return typeof name === 'string' && Object.hasOwn(GGML_TYPES, name);
}

/** Type info by name; throws UnsupportedTypeError for anything else. */
export function ggmlType(name: string): GgmlTypeInfo {
  if (!isGgmlTypeName(name)) throw new UnsupportedTypeError(name);
  return GGML_TYPES[name];
}

/** Type info by ggml/GGUF numeric id, or undefined when plumbline does not know the id. */
export function ggmlTypeById(id: number): GgmlTypeInfo | undefined {
  return BY_ID.get(id);
}

/** Bytes needed for `count` elements of a type; throws SizeError if count is not a whole number of blocks. */
export function byteSizeOf(type: GgmlTypeInfo, count: number): number {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new SizeError(`${type.name}: element count ${count} is not a non-negative integer`);
  }
  if (count % type.blockSize !== 0) {
    throw new SizeError(
      `${type.name}: element count ${count} is not a multiple of the block size ${type.blockSize}`,
    );
  }
  return (count / type.blockSize) * type.typeSize;
}
