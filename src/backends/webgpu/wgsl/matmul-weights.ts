/**
 * The weight decoders of the f32 matmul kernels (WeightCode, matmul-f32.ts):
 * W[n, k] as its exact f32 value — the value dequantize() gives — read in
 * place from the weight bytes through the block decoders of blocks.ts.
 */
import { GGML_TYPES, type GgmlTypeName } from '../../../types/ggml-types.js';
import { wgslBlocks } from './blocks.js';
import type { WeightCode } from './matmul-f32.js';

/** Types whose values the f32 kernels decode in place (the fused quantized kernels among them). */
export const IN_PLACE_TYPES = ['f32', 'f16', 'bf16', 'q4_0', 'q8_0', 'q4_K', 'q5_K', 'q6_K'] as const;

const cache = new Map<string, WeightCode>();

/**
 * The decoder of a weight type: `w4(n, k, K)` (elements k..k+3 of row n,
 * k % 4 == 0, k + 4 ≤ K) and `w_at(n, k, K)`, for any type blocks.ts
 * decodes (blocks never straddle rows: K is a multiple of the block size).
 */
export function weightCode(type: GgmlTypeName): WeightCode {
  let code = cache.get(type);
  if (code) return code;
  const info = GGML_TYPES[type];
  const float = !info.quantized;
  // Byte offset of the block holding W[n, k], and k's index in it.
  const at = float
    ? `let b = (n * K + k) * ${info.typeSize}u; let i = 0u;`
    : `let b = (n * (K / ${info.blockSize}u) + k / ${info.blockSize}u) * ${info.typeSize}u; let i = k % ${info.blockSize}u;`;
  code = {
    name: type,
    decls: /* wgsl */ `${wgslBlocks([type], { buffer: 'w' })}
fn w4(n: u32, k: u32, K: u32) -> vec4<f32> { ${at} return dq4_${type}(b, i); }
fn w_at(n: u32, k: u32, K: u32) -> f32 { ${at} return dq_${type}(b, i); }
`,
  };
  cache.set(type, code);
  return code;
}
