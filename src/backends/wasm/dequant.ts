/** Dequantization on the wasm kernels (assembly/dequant). */
import type { GgmlTypeInfo } from '../../types/ggml-types.js';
import type { WasmRuntime } from './module.js';

/** Kernel argument: element count for float rows, block count for block formats. */
export function kernelCount(type: GgmlTypeInfo, count: number): number {
  return type.quantized ? count / type.blockSize : count;
}

/** Dequantizes `bytes` (already validated: exactly count/blockSize blocks) into a new Float32Array. */
export function wasmDequantize(
  rt: WasmRuntime,
  type: GgmlTypeInfo,
  bytes: Uint8Array,
  count: number,
): Float32Array {
  const src = rt.arena.alloc(bytes.byteLength);
  const dst = rt.arena.alloc(count * 4);
  try {
    rt.u8.set(bytes, src);
    rt.kernel(`dequant_${type.name}`)(src, dst, kernelCount(type, count));
    return rt.f32(dst, count).slice();
  } finally {
    rt.arena.release(dst);
    rt.arena.release(src);
  }
}
