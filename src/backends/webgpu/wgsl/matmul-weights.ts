/**
 * The weight decoders of the f32 matmul kernels (WeightCode, matmul-f32.ts):
 * W[n, k] as its exact f32 value — the value dequantize() gives — read in
 * place from the weight bytes through the block decoders of blocks.ts.
 */
import { GGML_TYPES, type GgmlTypeName } from '../../../types/ggml-types.js';
import { blockIsAffine, wgslBlocks } from './blocks.js';
import type { WeightCode } from './matmul-f32.js';

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
  // Block types: a run of 16 shares one scale (blocks.ts: one per 16 elements), decoded once; the
  // values are dq4's expression, codes × s.x (+ s.y), so the same bits. q8_K's dq4 is not that
  // product (it rescales tiny scales), so it keeps four dq4 calls.
  const run = float ? 4 : 16;
  const shared = float || type === 'q8_K' ? undefined : blockIsAffine(type) ? ' + s.y' : '';
  const runBody =
    shared === undefined
      ? `var v: array<vec4<f32>, ${run / 4}>;
  for (var j = 0u; j < ${run / 4}u; j++) { v[j] = w4(n, k + 4u * j, K); }
  return v;`
      : `${at}
  let s = scale_${type}(b, i);
  return array<vec4<f32>, 4>(vec4<f32>(codes4_${type}(b, i)) * s.x${shared}, vec4<f32>(codes4_${type}(b, i + 4u)) * s.x${shared},
                             vec4<f32>(codes4_${type}(b, i + 8u)) * s.x${shared}, vec4<f32>(codes4_${type}(b, i + 12u)) * s.x${shared});`;
  code = {
    name: type,
    run,
    decls: /* wgsl */ `${wgslBlocks([type], { buffer: 'w' })}
fn w4(n: u32, k: u32, K: u32) -> vec4<f32> { ${at} return dq4_${type}(b, i); }
fn w_at(n: u32, k: u32, K: u32) -> f32 { ${at} return dq_${type}(b, i); }
fn w_run(n: u32, k: u32, K: u32) -> array<vec4<f32>, ${run / 4}> {
  ${runBody}
}
`,
  };
  cache.set(type, code);
  return code;
}
