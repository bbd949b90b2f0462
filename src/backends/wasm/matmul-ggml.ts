/**
 * Quantized matmul on the wasm kernels, `ggml` numerics
 * (assembly/matmul/quant-ggml.ts): what llama.cpp's CPU backend computes. The
 * activations x (f32 [M, K]) are first quantized to the weight type's
 * vec_dot type (assembly/quantize: byte-identical to ggml's reference
 * quantizers); every block dot product is then an exact integer sum, scaled
 * in f32 in an order that depends only on K, so any split of [0, N) into
 * ranges, and any M, gives bit-identical elements.
 *
 *   const xq = rt.arena.alloc(activationBytes('q8_K', M, K));
 *   quantizeActivations(rt, 'q8_K', xPtr, xq, M, K);
 *   matmulGgml(rt, 'q4_K', xq, wPtr, yPtr, M, N, K);          // all of y
 *   matmulGgml(rt, 'q4_K', xq, wPtr, yPtr, M, N, K, n0, n1);  // columns [n0, n1) only
 */
import { ShapeError, UnsupportedTypeError } from '../../errors.js';
import { GGML_TYPES, type GgmlTypeName, ggmlType } from '../../types/ggml-types.js';
import type { WasmRuntime } from './module.js';

/** Weight types with a ggml-mode kernel: every weight type ggml's CPU mul_mat quantizes activations for. */
export const GGML_MATMUL_TYPES = [
  'f16',
  'bf16',
  'q4_0',
  'q4_1',
  'q5_0',
  'q5_1',
  'q8_0',
  'q2_K',
  'q3_K',
  'q4_K',
  'q5_K',
  'q6_K',
  'iq4_nl',
  'iq4_xs',
] as const satisfies readonly GgmlTypeName[];

export type GgmlMatmulType = (typeof GGML_MATMUL_TYPES)[number];

/** The activation formats (ggml's vec_dot_type of the weight types above). */
export type VecDotType = 'q8_0' | 'q8_1' | 'q8_K' | 'f16' | 'bf16';

export function isGgmlMatmulType(type: string): type is GgmlMatmulType {
  return (GGML_MATMUL_TYPES as readonly string[]).includes(type);
}

/** The activation type ggml's CPU backend quantizes x to for this weight type. */
export function vecDotType(type: GgmlTypeName | string): VecDotType {
  const info = ggmlType(type);
  if (!isGgmlMatmulType(info.name))
    throw new UnsupportedTypeError(type, 'no ggml-numerics matmul for weight type');
  return info.vecDotType as VecDotType;
}

/**
 * One quantized activation row of K values as the kernels read it. For the q8 types: the ggml
 * blocks (byte-identical to ggml's reference quantizer: `ggmlBytes` bytes at offset 0), padding
 * to 16 bytes, the K codes widened to i16 at `wideOffset`, and for q8_0/q8_1 12 bytes per block
 * at `scalarsOffset` (f32 d, f32 s, i32 Σq). f16/bf16: K halves, nothing else.
 */
export interface ActivationLayout {
  rowBytes: number;
  ggmlBytes: number;
  wideOffset: number;
  scalarsOffset: number;
}

export function activationLayout(vdt: VecDotType, K: number): ActivationLayout {
  const info = GGML_TYPES[vdt];
  if (!Number.isSafeInteger(K) || K < 0 || K % info.blockSize !== 0)
    throw new ShapeError(
      `matmul (ggml numerics): K = ${K} is not a multiple of ${vdt}'s block size ${info.blockSize}`,
    );
  const ggmlBytes = (K / info.blockSize) * info.typeSize;
  if (!info.quantized)
    return { rowBytes: ggmlBytes, ggmlBytes, wideOffset: ggmlBytes, scalarsOffset: ggmlBytes };
  const wideOffset = Math.ceil(ggmlBytes / 16) * 16;
  const scalarsOffset = wideOffset + 2 * K;
  const scalars = vdt === 'q8_K' ? 0 : (K / 32) * 12;
  return { rowBytes: scalarsOffset + scalars, ggmlBytes, wideOffset, scalarsOffset };
}

/** Bytes of one quantized activation row (the stride of the xq rows). */
export function activationRowBytes(vdt: VecDotType, K: number): number {
  return activationLayout(vdt, K).rowBytes;
}

/** Bytes of M quantized activation rows (the xq buffer of matmulGgml). */
export function activationBytes(vdt: VecDotType, M: number, K: number): number {
  return M * activationRowBytes(vdt, K);
}

/** Bytes of one weight row of K values. */
export function weightRowBytes(type: GgmlMatmulType, K: number): number {
  const info = GGML_TYPES[type];
  if (K % info.blockSize !== 0)
    throw new ShapeError(`matmul: K = ${K} is not a multiple of ${type}'s block size ${info.blockSize}`);
  return (K / info.blockSize) * info.typeSize;
}

function checkCount(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0 || v > 0x7fffffff)
    throw new ShapeError(`matmul: ${name} = ${v} is not a non-negative 32-bit integer`);
}

/**
 * Quantizes M rows of K f32 values at xPtr into outPtr (activationBytes(vdt, M, K) bytes): each
 * row's ggml blocks are byte-identical to ggml's reference quantizer of vdt (f16/bf16: ggml's
 * row conversions), followed by the extension of ActivationLayout.
 */
export function quantizeActivations(
  rt: WasmRuntime,
  vdt: VecDotType,
  xPtr: number,
  outPtr: number,
  M: number,
  K: number,
): void {
  checkCount('M', M);
  checkCount('K', K);
  activationLayout(vdt, K);
  if (vdt === 'f16' || vdt === 'bf16') rt.kernel(`quantize_${vdt}`)(xPtr, outPtr, M * K);
  else rt.kernel(`quantize_act_${vdt}`)(xPtr, outPtr, M, K);
}

/**
 * y[m, n] for every m < M and n in [n0, n1), from M quantized activation rows at xqPtr (as
 * quantizeActivations writes them for vecDotType(type)) and N weight rows at wPtr (GGUF block
 * layout). y holds M·N f32.
 */
export function matmulGgml(
  rt: WasmRuntime,
  type: GgmlTypeName | string,
  xqPtr: number,
  wPtr: number,
  yPtr: number,
  M: number,
  N: number,
  K: number,
  n0 = 0,
  n1 = N,
): void {
  vecDotType(type); // throws for types without a kernel
  checkCount('M', M);
  checkCount('N', N);
  checkCount('K', K);
  weightRowBytes(type as GgmlMatmulType, K);
  if (!Number.isSafeInteger(n0) || !Number.isSafeInteger(n1) || n0 < 0 || n1 < n0 || n1 > N)
    throw new ShapeError(`matmul: output range [${n0}, ${n1}) is not within [0, ${N})`);
  if (M === 0 || n0 === n1) return;
  rt.kernel(`matmul_ggml_${type}`)(xqPtr, wPtr, yPtr, M, N, K, n0, n1);
}
