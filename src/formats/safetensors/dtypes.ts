/**
 * The safetensors element types plumbline reads and writes, with their byte
 * sizes and the typed array each one is exposed as. Names are spelled as the
 * format spells them (upper case).
 */

export const SAFETENSORS_DTYPES = [
  'BOOL',
  'U8',
  'I8',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
] as const;

export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

/** What `tensorData` returns: one typed array per dtype (F16/BF16 as raw bits in a Uint16Array). */
export type SafetensorsTypedArray =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** The typed array name (its `Symbol.toStringTag`) that holds each dtype's elements. */
export type TypedArrayName =
  | 'Uint8Array'
  | 'Int8Array'
  | 'Int16Array'
  | 'Uint16Array'
  | 'Int32Array'
  | 'Uint32Array'
  | 'Float32Array'
  | 'Float64Array'
  | 'BigInt64Array'
  | 'BigUint64Array';

export interface SafetensorsDtypeInfo {
  readonly name: SafetensorsDtype;
  /** Bytes per element. */
  readonly size: number;
  readonly arrayName: TypedArrayName;
}

const INFO: Record<SafetensorsDtype, SafetensorsDtypeInfo> = {
  BOOL: { name: 'BOOL', size: 1, arrayName: 'Uint8Array' },
  U8: { name: 'U8', size: 1, arrayName: 'Uint8Array' },
  I8: { name: 'I8', size: 1, arrayName: 'Int8Array' },
  I16: { name: 'I16', size: 2, arrayName: 'Int16Array' },
  U16: { name: 'U16', size: 2, arrayName: 'Uint16Array' },
  F16: { name: 'F16', size: 2, arrayName: 'Uint16Array' },
  BF16: { name: 'BF16', size: 2, arrayName: 'Uint16Array' },
  I32: { name: 'I32', size: 4, arrayName: 'Int32Array' },
  U32: { name: 'U32', size: 4, arrayName: 'Uint32Array' },
  F32: { name: 'F32', size: 4, arrayName: 'Float32Array' },
  F64: { name: 'F64', size: 8, arrayName: 'Float64Array' },
  I64: { name: 'I64', size: 8, arrayName: 'BigInt64Array' },
  U64: { name: 'U64', size: 8, arrayName: 'BigUint64Array' },
};

/**
 * Dtypes the reference implementation knows but plumbline does not decode
 * (sub-byte and 8-bit floats, complex). Named separately only so that the
 * error says "unsupported" rather than "unknown".
 */
const KNOWN_UNSUPPORTED = new Set([
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'F8_E4M3FNUZ',
  'F8_E5M2FNUZ',
  'C64',
]);

export function isSafetensorsDtype(name: unknown): name is SafetensorsDtype {
  return typeof name === 'string' && Object.hasOwn(INFO, name);
}

export function safetensorsDtypeInfo(dtype: SafetensorsDtype): SafetensorsDtypeInfo {
  return INFO[dtype];
}

/** Why `name` is not a usable dtype, for error messages. */
export function describeBadDtype(name: string): string {
  return KNOWN_UNSUPPORTED.has(name)
    ? `unsupported dtype ${JSON.stringify(name)} (plumbline reads ${SAFETENSORS_DTYPES.join(', ')})`
    : `unknown dtype ${JSON.stringify(name)}`;
}
