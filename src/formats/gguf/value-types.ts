/**
 * GGUF metadata value types. Every metadata value keeps its GGUF type next to
 * its JS value, so a file read and written back has the same bytes (a u32 5 is
 * not an i32 5 to llama.cpp, which checks key types).
 */

/** GGUF's value type ids (gguf.h `enum gguf_type`). */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];

/** Types whose JS value is a `number`. */
export type GgufNumberType =
  | typeof GgufValueType.UINT8
  | typeof GgufValueType.INT8
  | typeof GgufValueType.UINT16
  | typeof GgufValueType.INT16
  | typeof GgufValueType.UINT32
  | typeof GgufValueType.INT32
  | typeof GgufValueType.FLOAT32
  | typeof GgufValueType.FLOAT64;

/** Types whose JS value is a `bigint` (a u64/i64 does not fit a double exactly). */
export type GgufBigIntType = typeof GgufValueType.UINT64 | typeof GgufValueType.INT64;

/** Every type except ARRAY: what an array's items can be besides arrays. */
export type GgufScalarType = Exclude<GgufValueType, typeof GgufValueType.ARRAY>;

export type GgufScalarValue =
  | { readonly type: GgufNumberType; readonly value: number }
  | { readonly type: GgufBigIntType; readonly value: bigint }
  | { readonly type: typeof GgufValueType.BOOL; readonly value: boolean }
  | { readonly type: typeof GgufValueType.STRING; readonly value: string };

/**
 * An array. Items of a scalar array are plain JS values of `itemType`; items
 * of an array of arrays are themselves GgufArrayValues, each with its own
 * itemType (GGUF allows nested arrays of different types and lengths).
 */
export type GgufArrayValue =
  | {
      readonly type: typeof GgufValueType.ARRAY;
      readonly itemType: GgufNumberType;
      readonly value: readonly number[];
    }
  | {
      readonly type: typeof GgufValueType.ARRAY;
      readonly itemType: GgufBigIntType;
      readonly value: readonly bigint[];
    }
  | {
      readonly type: typeof GgufValueType.ARRAY;
      readonly itemType: typeof GgufValueType.BOOL;
      readonly value: readonly boolean[];
    }
  | {
      readonly type: typeof GgufValueType.ARRAY;
      readonly itemType: typeof GgufValueType.STRING;
      readonly value: readonly string[];
    }
  | {
      readonly type: typeof GgufValueType.ARRAY;
      readonly itemType: typeof GgufValueType.ARRAY;
      readonly value: readonly GgufArrayValue[];
    };

export type GgufMetadataValue = GgufScalarValue | GgufArrayValue;

/** A metadata value without its GGUF type: what `GgufFile.get` returns. */
export type GgufPlainValue = number | bigint | boolean | string | GgufPlainValue[];

/** Arrays may contain arrays, but only this deep (a bound on recursion for hostile files). */
export const GGUF_MAX_ARRAY_NESTING = 4;

const NAMES: readonly string[] = [
  'u8',
  'i8',
  'u16',
  'i16',
  'u32',
  'i32',
  'f32',
  'bool',
  'string',
  'array',
  'u64',
  'i64',
  'f64',
];

/** Fixed byte size of a scalar type's encoding; 0 for STRING and ARRAY (variable). */
const FIXED_SIZES: readonly number[] = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];

export function isGgufValueType(t: unknown): t is GgufValueType {
  return typeof t === 'number' && Number.isInteger(t) && t >= 0 && t <= 12;
}

/** Short name of a value type (`u32`, `string`, ...) or `type N` for an unknown id. */
export function ggufValueTypeName(t: number): string {
  return isGgufValueType(t) ? NAMES[t] : `type ${t}`;
}

/** Encoded size of a fixed-size type, 0 for STRING and ARRAY. */
export function fixedSizeOf(t: GgufValueType): number {
  return FIXED_SIZES[t];
}

/**
 * The fewest bytes one item of this type can occupy in a file: used to refuse
 * an array count before allocating anything for it.
 */
export function minEncodedSize(t: GgufValueType): number {
  if (t === GgufValueType.STRING) return 8; // u64 length, empty string
  if (t === GgufValueType.ARRAY) return 12; // u32 item type + u64 count, empty
  return FIXED_SIZES[t];
}

export function isBigIntType(t: GgufValueType): t is GgufBigIntType {
  return t === GgufValueType.UINT64 || t === GgufValueType.INT64;
}

/** The value without its GGUF types (arrays become plain JS arrays, recursively). */
export function toPlainValue(v: GgufMetadataValue): GgufPlainValue {
  if (v.type !== GgufValueType.ARRAY) return v.value;
  if (v.itemType === GgufValueType.ARRAY) return v.value.map(toPlainValue);
  return [...v.value];
}
