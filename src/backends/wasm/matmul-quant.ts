/**
 * Fused quantized matmul on the wasm kernels, `exact` numerics
 * (assembly/matmul/quant-exact.ts): y = x · Wᵀ with x f32 [M, K] and W the
 * ggml rows [N, K] in their GGUF block layout, used in place. Weights are
 * decoded to f32 inside the product, bit-identical to dequantize(W), and
 * accumulated in f32 in an order that depends only on K, so any split of
 * [0, N) into ranges, and any M, gives bit-identical elements.
 *
 *   matmulQuantExact(rt, 'q4_K', xPtr, wPtr, yPtr, M, N, K);          // all of y
 *   matmulQuantExact(rt, 'q4_K', xPtr, wPtr, yPtr, M, N, K, n0, n1);  // columns [n0, n1) only
 */
import { ShapeError, UnsupportedTypeError } from '../../errors.js';
import { GGML_TYPE_NAMES, GGML_TYPES, type GgmlTypeName, ggmlType } from '../../types/ggml-types.js';
import type { WasmRuntime } from './module.js';

/** Every block-quantized ggml type has an exact-mode kernel. */
export type QuantExactType = Exclude<GgmlTypeName, 'f32' | 'f16' | 'bf16'>;

/** Weight types with an exact-mode kernel, in the type table's order. */
export const QUANT_EXACT_TYPES: readonly QuantExactType[] = GGML_TYPE_NAMES.filter(
  (t): t is QuantExactType => GGML_TYPES[t].quantized,
);

export function isQuantExactType(type: string): type is QuantExactType {
  return (QUANT_EXACT_TYPES as readonly string[]).includes(type);
}

/** Scratch bytes one matmulQuantExact call with M rows of x needs (per worker; 16-byte aligned). */
export function matmulQuantExactScratchBytes(rt: WasmRuntime, M: number): number {
  return rt.kernel('matmul_exact_scratch_bytes')(M) as number;
}

function checkCount(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0 || v > 0x7fffffff)
    throw new ShapeError(`matmul: ${name} = ${v} is not a non-negative 32-bit integer`);
}

/**
 * y[m, n] for every m < M and n in [n0, n1). Pointers are byte offsets in
 * rt's memory: x holds M·K f32, w holds N rows of K/blockSize blocks, y holds
 * M·N f32. Without `scratch` (a region of matmulQuantExactScratchBytes(M)
 * bytes), one is taken from the arena for the call.
 */
export function matmulQuantExact(
  rt: WasmRuntime,
  type: GgmlTypeName | string,
  xPtr: number,
  wPtr: number,
  yPtr: number,
  M: number,
  N: number,
  K: number,
  n0 = 0,
  n1 = N,
  scratch?: number,
): void {
  const info = ggmlType(type);
  if (!isQuantExactType(info.name))
    throw new UnsupportedTypeError(info.name, 'matmul (exact): not a block-quantized weight type');
  for (const [name, v] of Object.entries({ M, N, K, n0, n1 })) checkCount(name, v);
  if (K % info.blockSize !== 0)
    throw new ShapeError(
      `matmul ${info.name}: K = ${K} is not a multiple of the block size ${info.blockSize}`,
    );
  if (n0 > n1 || n1 > N) throw new ShapeError(`matmul: column range [${n0}, ${n1}) is not inside [0, ${N})`);
  if (scratch !== undefined && scratch % 16 !== 0)
    throw new ShapeError(`matmul: scratch pointer ${scratch} is not 16-byte aligned`);
  const kernel = rt.kernel(`matmul_exact_${info.name}`);
  if (scratch !== undefined) {
    kernel(xPtr, wPtr, yPtr, M, N, K, n0, n1, scratch);
    return;
  }
  const s = rt.arena.alloc(matmulQuantExactScratchBytes(rt, M));
  try {
    kernel(xPtr, wPtr, yPtr, M, N, K, n0, n1, s);
  } finally {
    rt.arena.release(s);
  }
}
