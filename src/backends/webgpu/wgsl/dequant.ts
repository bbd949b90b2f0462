/**
 * Dequantization kernels: ggml bytes of any type → f32 bits, written as u32
 * so no value passes through a float register on the way out (NaN payloads
 * of f16/bf16/f32 survive). One source for both jobs:
 * - 'all': element e of the tensor, e < n;
 * - 'rows': embedding lookup, element e = (r, c) of the output [n / rowLen, rowLen]
 *   is element c of the table's row ids[r].
 * Quantized types: one invocation per 16 elements (one scale_T, four dq4s_T);
 * float types: 16 per invocation too, by quads (rows may be odd: then element by element).
 *
 * Bindings: 0 params, 1 src bytes, 2 out (u32 = f32 bits), 3 ids ('rows').
 * Params: 'all' [n, 0, first block] (a chunk of n elements from that block);
 * 'rows' [n, rowLen] (rowLen a multiple of the block size).
 */
import { GGML_TYPES, type GgmlTypeInfo, type GgmlTypeName } from '../../../types/ggml-types.js';
import { WGSL_GRID } from '../context.js';
import { wgslBlocks } from './blocks.js';

export const DEQUANT_WORKGROUP = 256;

export type DequantMode = 'all' | 'rows';

export function dequantKernel(typeName: GgmlTypeName, mode: DequantMode): string {
  const type: GgmlTypeInfo = GGML_TYPES[typeName];
  const bs = type.blockSize;
  const ts = type.typeSize;
  // Block index and element-in-block of element e: blocks never straddle rows (rowLen % bs == 0),
  // so a row's blocks are consecutive from row·(rowLen/bs); no flat source element index (it could pass 2^32).
  const locate =
    mode === 'all'
      ? `let blk = params[2] + e / ${bs}u;
  let i = e % ${bs}u;`
      : `let r = e / params[1];
  let c = e - r * params[1];
  let blk = ids[r] * (params[1] / ${bs}u) + c / ${bs}u;
  let i = c % ${bs}u;`;
  // 16 elements per invocation. Quantized: one scale, four dq4s. Float types: four vector loads
  // when each quad is whole and in one row, else element by element (odd row lengths, the tail).
  const body = type.quantized
    ? `let e = t * 16u;
  if (e >= params[0]) { return; }
  ${locate}
  let b = blk * ${ts}u;
  let s = scale_${typeName}(b, i);
  for (var k = 0u; k < 16u; k += 4u) {
    let v = bitcast<vec4<u32>>(dq4s_${typeName}(b, i + k, s));
    out[e + k] = v.x;
    out[e + k + 1u] = v.y;
    out[e + k + 2u] = v.z;
    out[e + k + 3u] = v.w;
  }`
    : `for (var g = 0u; g < 16u; g += 4u) {
    let e0 = t * 16u + g;
    if (e0 + 3u < params[0] && (params[1] & 3u) == 0u) {
      let e = e0;
      ${locate.replaceAll('\n', '\n    ')}
      let v = dq4bits_${typeName}(blk * ${ts}u, i);
      out[e] = v.x;
      out[e + 1u] = v.y;
      out[e + 2u] = v.z;
      out[e + 3u] = v.w;
      continue;
    }
    for (var k = 0u; k < 4u; k++) {
      let e = e0 + k;
      if (e >= params[0]) { return; }
      ${locate.replaceAll('\n', '\n      ')}
      out[e] = dqbits_${typeName}(blk * ${ts}u, i);
    }
  }`;
  // The leading comment names the dispatch in GPU profiles (GpuContext.gpuTimes): 'rows' is the embedding op.
  return /* wgsl */ `// ${mode === 'rows' ? 'embedding' : 'dequant'} ${typeName}
@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
${mode === 'rows' ? '@group(0) @binding(3) var<storage, read> ids: array<u32>;' : ''}
${WGSL_GRID}
${wgslBlocks([typeName])}
@compute @workgroup_size(${DEQUANT_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = group_index(wid, nwg) * ${DEQUANT_WORKGROUP}u + lid;
  ${body}
}
`;
}

/** Workgroups for n output elements (16 per invocation). */
export function dequantGroups(n: number): number {
  return Math.ceil(n / (DEQUANT_WORKGROUP * 16));
}
