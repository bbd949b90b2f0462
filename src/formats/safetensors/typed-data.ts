/**
 * Between a tensor's little-endian bytes and typed arrays. Views are made
 * without copying when the bytes are aligned for the element size; otherwise
 * (a header whose length is not a multiple of 8, a tensor after an odd-sized
 * one, input bytes at an odd offset) the bytes are copied first.
 */
import { bf16ToF32, f16ToF32 } from '../../types/half.js';
import {
  type SafetensorsDtype,
  type SafetensorsTypedArray,
  safetensorsDtypeInfo,
  type TypedArrayName,
} from './dtypes.js';

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type TypedArrayConstructor = new (
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
) => SafetensorsTypedArray;

const CONSTRUCTORS: Record<TypedArrayName, TypedArrayConstructor> = {
  Uint8Array,
  Int8Array,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
};

/** Reverses the bytes of each `size`-byte element in place (for big-endian hosts). */
function swapBytes(bytes: Uint8Array, size: number): void {
  for (let start = 0; start < bytes.length; start += size) {
    for (let a = start, b = start + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

/** The elements of `bytes` (whose length is a multiple of the dtype size) as the dtype's typed array. */
export function bytesToTypedArray(bytes: Uint8Array, dtype: SafetensorsDtype): SafetensorsTypedArray {
  const { size, arrayName } = safetensorsDtypeInfo(dtype);
  const Constructor = CONSTRUCTORS[arrayName];
  let source = bytes;
  const aligned = bytes.byteOffset % size === 0;
  if (!aligned || (!hostIsLittleEndian && size > 1)) {
    source = bytes.slice();
    if (!hostIsLittleEndian && size > 1) swapBytes(source, size);
  }
  return new Constructor(source.buffer, source.byteOffset, source.byteLength / size);
}

/** Elements converted to f32: F16/BF16 bits decoded, integers and F64 rounded to nearest f32. */
export function typedArrayToF32(data: SafetensorsTypedArray, dtype: SafetensorsDtype): Float32Array {
  if (dtype === 'F32') return data as Float32Array;
  const out = new Float32Array(data.length);
  if (dtype === 'F16' || dtype === 'BF16') {
    const decode = dtype === 'F16' ? f16ToF32 : bf16ToF32;
    for (let i = 0; i < data.length; i++) out[i] = decode((data as Uint16Array)[i]);
  } else if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
  } else {
    out.set(data as Exclude<SafetensorsTypedArray, BigInt64Array | BigUint64Array>);
  }
  return out;
}

/** The little-endian bytes of a typed array's elements (a view when the host is little-endian). */
export function littleEndianBytes(data: ArrayBufferView, elementSize: number): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (hostIsLittleEndian || elementSize === 1) return bytes;
  const copy = bytes.slice();
  swapBytes(copy, elementSize);
  return copy;
}
