/**
 * dequantize(type, bytes, count): ggml block bytes → f32, bit-identical to
 * ggml's to_float for every type. Validation lives here; the wasm kernels and
 * the reference implement it.
 */
import { referenceDequantize } from '../backends/reference/dequant.js';
import { defaultRuntime } from '../backends/wasm/default-runtime.js';
import { wasmDequantize } from '../backends/wasm/dequant.js';
import { SizeError } from '../errors.js';
import { byteSizeOf, type GgmlTypeInfo, type GgmlTypeName, ggmlType } from '../types/ggml-types.js';

export interface DequantizeOptions {
  /** 'auto' (wasm when it loaded) or 'reference' (the float64/f32-exact TypeScript implementation). */
  backend?: 'auto' | 'wasm' | 'reference';
}

/** Checks that `bytes` holds exactly the blocks for `count` elements of `type`. */
export function validateQuantized(type: GgmlTypeInfo, bytes: Uint8Array, count: number): void {
  if (bytes.byteLength % type.typeSize !== 0) {
    throw new SizeError(
      `${type.name}: ${bytes.byteLength} bytes is not a whole number of ${type.typeSize}-byte blocks`,
    );
  }
  const expected = byteSizeOf(type, count);
  if (expected !== bytes.byteLength) {
    throw new SizeError(
      `${type.name}: ${count} elements need ${expected} bytes (${count / type.blockSize} blocks of ${type.typeSize}), got ${bytes.byteLength} bytes`,
    );
  }
}

export function dequantize(
  type: GgmlTypeName | string,
  bytes: Uint8Array,
  count?: number,
  opts: DequantizeOptions = {},
): Float32Array {
  const info = ggmlType(type);
  const n = count ?? (bytes.byteLength / info.typeSize) * info.blockSize;
  validateQuantized(info, bytes, n);
  const backend = opts.backend ?? 'auto';
  const rt = backend === 'reference' ? undefined : defaultRuntime();
  if (backend === 'wasm' && !rt) throw new SizeError('wasm backend requested but no wasm build loaded');
  return rt ? wasmDequantize(rt, info, bytes, n) : referenceDequantize(info.name, bytes, n, info.blockSize);
}
