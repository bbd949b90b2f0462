/**
 * Metadata given to the writer: checked, and plain JS values given their GGUF
 * type where that type is unambiguous.
 *
 * Defaults for plain values:
 * - a string is a STRING, a boolean a BOOL, a string[] or boolean[] an ARRAY of them;
 * - a number (or number[]) has no type of its own — 10000 could be a u32 or an
 *   f32, and llama.cpp rejects a key of the wrong type — so it is accepted only
 *   for a well-known key whose type llama.cpp expects (KNOWN_KEY_TYPES, e.g.
 *   `<arch>.context_length` u32, `<arch>.rope.freq_base` f32,
 *   `tokenizer.ggml.scores` f32[]). Anything else needs `{ type, value }`;
 * - a bigint always needs `{ type, value }` (u64 or i64).
 */
import { GgufError } from '../../errors.js';
import { utf8Length } from './byte-writer.js';
import { GGUF_MAX_ARRAY_LENGTH, GGUF_MAX_STRING_BYTES } from './read-metadata.js';
import {
  GGUF_MAX_ARRAY_NESTING,
  type GgufArrayValue,
  type GgufBigIntType,
  type GgufMetadataValue,
  type GgufScalarType,
  GgufValueType,
  ggufValueTypeName,
  isBigIntType,
  isGgufValueType,
} from './value-types.js';

export type GgufMetadataInputValue =
  | GgufMetadataValue
  /** A u64/i64 given as a safe integer (read back as a bigint). */
  | { readonly type: GgufBigIntType; readonly value: number }
  | string
  | boolean
  | number
  | readonly string[]
  | readonly boolean[]
  | readonly number[];

/** A Map, or entries in the order they are to be written. */
export type GgufMetadataInput =
  | ReadonlyMap<string, GgufMetadataInputValue>
  | Iterable<readonly [string, GgufMetadataInputValue]>;

const T = GgufValueType;

/** `<arch>.` keys whose type llama.cpp fixes, by the part after the architecture. */
const ARCH_KEY_TYPES: ReadonlyMap<string, GgufScalarType> = new Map<string, GgufScalarType>([
  ...[
    'vocab_size',
    'context_length',
    'embedding_length',
    'block_count',
    'feed_forward_length',
    'attention.head_count',
    'attention.head_count_kv',
    'attention.key_length',
    'attention.value_length',
    'rope.dimension_count',
    'rope.scaling.original_context_length',
    'expert_count',
    'expert_used_count',
    'expert_feed_forward_length',
    'expert_shared_feed_forward_length',
    'expert_shared_count',
    'expert_gating_func',
    'expert_group_count',
    'expert_group_used_count',
    'leading_dense_block_count',
  ].map((k) => [k, T.UINT32] as const),
  ...[
    'attention.layer_norm_rms_epsilon',
    'attention.layer_norm_epsilon',
    'rope.freq_base',
    'rope.scaling.factor',
    'expert_weights_scale',
  ].map((k) => [k, T.FLOAT32] as const),
]);

interface KnownKeyType {
  /** Whether the key holds an array of `type`. */
  readonly array: boolean;
  readonly type: GgufScalarType;
}

/** Whole keys whose type llama.cpp fixes. */
const GLOBAL_KEY_TYPES: ReadonlyMap<string, KnownKeyType> = new Map<string, KnownKeyType>([
  ['general.alignment', { array: false, type: T.UINT32 }],
  ['general.file_type', { array: false, type: T.UINT32 }],
  ['general.quantization_version', { array: false, type: T.UINT32 }],
  ...[
    'bos_token_id',
    'eos_token_id',
    'eot_token_id',
    'eom_token_id',
    'unknown_token_id',
    'seperator_token_id',
    'padding_token_id',
    'mask_token_id',
  ].map((k): [string, KnownKeyType] => [`tokenizer.ggml.${k}`, { array: false, type: T.UINT32 }]),
  ['tokenizer.ggml.scores', { array: true, type: T.FLOAT32 }],
  ['tokenizer.ggml.token_type', { array: true, type: T.INT32 }],
]);

/** The GGUF type a well-known key has in llama.cpp, or undefined. */
export function knownKeyType(key: string): KnownKeyType | undefined {
  const global = GLOBAL_KEY_TYPES.get(key);
  if (global) return global;
  const dot = key.indexOf('.');
  const archType = dot > 0 ? ARCH_KEY_TYPES.get(key.slice(dot + 1)) : undefined;
  return archType === undefined ? undefined : { array: false, type: archType };
}

/** Checks every key and value and resolves plain values; the result is what gets written, in order. */
export function normalizeMetadata(input: GgufMetadataInput | undefined): Map<string, GgufMetadataValue> {
  const out = new Map<string, GgufMetadataValue>();
  if (!input) return out;
  for (const [key, value] of input) {
    if (typeof key !== 'string' || key === '')
      throw new GgufError(`metadata key ${String(key)} must be a non-empty string`);
    checkString(key, 'metadata key');
    if (out.has(key)) throw new GgufError(`duplicate metadata key ${JSON.stringify(key)}`);
    const label = `metadata ${JSON.stringify(key)}`;
    const typed = isTypedValue(value) ? value : fromPlain(key, value, label);
    checkValue(typed, label, 0);
    out.set(key, withBigInt(typed));
  }
  return out;
}

function isTypedValue(v: GgufMetadataInputValue): v is GgufMetadataValue {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'type' in v;
}

/** A u64/i64 given as a number becomes the bigint it is read back as. */
function withBigInt(v: GgufMetadataValue): GgufMetadataValue {
  return isBigIntType(v.type) && typeof v.value === 'number' ? { type: v.type, value: BigInt(v.value) } : v;
}

function fromPlain(key: string, v: unknown, label: string): GgufMetadataValue {
  if (typeof v === 'string') return { type: T.STRING, value: v };
  if (typeof v === 'boolean') return { type: T.BOOL, value: v };
  const known = knownKeyType(key);
  if (typeof v === 'number' && known && !known.array)
    return { type: known.type, value: v } as GgufMetadataValue;
  if (Array.isArray(v)) {
    if (v.length > 0 && v.every((x) => typeof x === 'string'))
      return { type: T.ARRAY, itemType: T.STRING, value: v };
    if (v.length > 0 && v.every((x) => typeof x === 'boolean'))
      return { type: T.ARRAY, itemType: T.BOOL, value: v };
    if (known?.array) return { type: T.ARRAY, itemType: known.type, value: v } as GgufArrayValue;
  }
  throw new GgufError(
    `${label}: a plain ${Array.isArray(v) ? 'array' : typeof v} has no unambiguous GGUF type; give it as { type: GgufValueType.X, value }`,
  );
}

const INTEGER_RANGES: Partial<Record<GgufValueType, readonly [number, number]>> = {
  [T.UINT8]: [0, 0xff],
  [T.INT8]: [-0x80, 0x7f],
  [T.UINT16]: [0, 0xffff],
  [T.INT16]: [-0x8000, 0x7fff],
  [T.UINT32]: [0, 0xffffffff],
  [T.INT32]: [-0x80000000, 0x7fffffff],
};

const BIGINT_RANGES: Partial<Record<GgufValueType, readonly [bigint, bigint]>> = {
  [T.UINT64]: [0n, 2n ** 64n - 1n],
  [T.INT64]: [-(2n ** 63n), 2n ** 63n - 1n],
};

function checkValue(v: GgufMetadataValue, label: string, depth: number): void {
  if (!isGgufValueType(v.type)) throw new GgufError(`${label}: unknown GGUF value type ${String(v.type)}`);
  if (v.type === T.ARRAY) {
    checkArray(v, label, depth + 1);
    return;
  }
  checkItem(v.type, v.value, label);
}

function checkArray(v: GgufArrayValue, label: string, depth: number): void {
  if (depth > GGUF_MAX_ARRAY_NESTING)
    throw new GgufError(`${label}: arrays nested more than ${GGUF_MAX_ARRAY_NESTING} deep`);
  if (!isGgufValueType(v.itemType))
    throw new GgufError(`${label}: unknown array item type ${String(v.itemType)}`);
  if (!Array.isArray(v.value)) throw new GgufError(`${label}: an array value must be a JS array`);
  if (v.value.length > GGUF_MAX_ARRAY_LENGTH)
    throw new GgufError(`${label}: more than ${GGUF_MAX_ARRAY_LENGTH} items`);
  v.value.forEach((item: unknown, i: number) => {
    const itemLabel = `${label}[${i}]`;
    if (v.itemType !== T.ARRAY) {
      checkItem(v.itemType, item, itemLabel);
      return;
    }
    const inner = item as GgufArrayValue;
    if (typeof inner !== 'object' || inner === null || (inner.type !== undefined && inner.type !== T.ARRAY)) {
      throw new GgufError(
        `${itemLabel}: items of an array of arrays must be { type: ARRAY, itemType, value }`,
      );
    }
    checkArray(inner, itemLabel, depth + 1);
  });
}

/** One scalar: the JS type and range its GGUF type can hold exactly. */
function checkItem(type: GgufScalarType, x: unknown, label: string): void {
  const want = ggufValueTypeName(type);
  const bad = (why: string): never => {
    throw new GgufError(`${label}: ${why} for a ${want}`);
  };
  if (type === T.STRING) {
    if (typeof x !== 'string') bad(`${typeof x} is not a string`);
    checkString(x as string, label);
  } else if (type === T.BOOL) {
    if (typeof x !== 'boolean') bad(`${typeof x} is not a boolean`);
  } else if (isBigIntType(type)) {
    const [lo, hi] = BIGINT_RANGES[type]!;
    if (typeof x !== 'bigint' && !Number.isSafeInteger(x))
      bad(`${String(x)} is not a bigint or safe integer`);
    const n = BigInt(x as bigint | number);
    if (n < lo || n > hi) bad(`${n} is out of range`);
  } else if (type === T.FLOAT32 || type === T.FLOAT64) {
    if (typeof x !== 'number') bad(`${typeof x} is not a number`);
  } else {
    const [lo, hi] = INTEGER_RANGES[type]!;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < lo || x > hi)
      bad(`${String(x)} is not an integer in [${lo}, ${hi}]`);
  }
}

/** Strings must survive UTF-8 encoding unchanged (a lone surrogate would become U+FFFD). */
function checkString(s: string, label: string): void {
  if (/[\uD800-\uDFFF]/u.test(s)) throw new GgufError(`${label}: string contains a lone UTF-16 surrogate`);
  // UTF-8 needs at most 3 bytes per UTF-16 unit, so only long strings need measuring.
  if (s.length * 3 > GGUF_MAX_STRING_BYTES && utf8Length(s) > GGUF_MAX_STRING_BYTES) {
    throw new GgufError(`${label}: string is longer than ${GGUF_MAX_STRING_BYTES} bytes`);
  }
}
