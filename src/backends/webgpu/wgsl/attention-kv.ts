/**
 * WGSL of the f16 KV cache write: f32 values → f16 bits with IEEE
 * round-to-nearest-even in integer ops only, bit-identical to
 * src/types/half.ts f32ToF16 (overflow to ±inf, every NaN to sign|0x7e00,
 * subnormal halves rounded from the full mantissa, no float flushing since
 * no float arithmetic runs). One invocation per destination u32 word (two
 * halves): a half outside the written range keeps its old bits, so writes
 * that start or end mid-word never race.
 *
 * Bindings: 0 params [first element, element count], 1 src f32 bits
 * (array<u32>), 2 dst half words (array<u32>).
 */
import { WGSL_GRID } from '../context.js';

export const KV_WRITE_WG = 256;

export const WGSL_F32_TO_HALF = /* wgsl */ `
fn f32_to_half(b: u32) -> u32 {
  let sign = (b >> 16u) & 0x8000u;
  let ex = (b >> 23u) & 0xffu;
  let mant = b & 0x7fffffu;
  if (ex == 0xffu) { return select(sign | 0x7c00u, sign | 0x7e00u, mant != 0u); }
  let e16 = i32(ex) - 112;
  if (e16 >= 31) { return sign | 0x7c00u; }
  if (e16 <= 0) {
    if (e16 < -10) { return sign; }
    let full = mant | 0x800000u;
    let shift = u32(14 - e16);
    let q = full >> shift;
    let rem = full & ((1u << shift) - 1u);
    let half = 1u << (shift - 1u);
    return sign | (q + select(0u, 1u, rem > half || (rem == half && (q & 1u) == 1u)));
  }
  let q = (u32(e16) << 10u) | (mant >> 13u);
  let rem = mant & 0x1fffu;
  return sign | (q + select(0u, 1u, rem > 0x1000u || (rem == 0x1000u && (q & 1u) == 1u)));
}
`;

export function kvWriteF16Wgsl(): string {
  return /* wgsl */ `// kv write f16
@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
${WGSL_GRID}
${WGSL_F32_TO_HALF}
@compute @workgroup_size(${KV_WRITE_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let first = params[0];
  let count = params[1];
  let word = first / 2u + group_index(wid, nwg) * ${KV_WRITE_WG}u + lid;
  if (word * 2u >= first + count) { return; }
  var out = dst[word];
  for (var h = 0u; h < 2u; h++) {
    let e = word * 2u + h;
    if (e >= first && e < first + count) {
      let shift = h * 16u;
      out = (out & ~(0xffffu << shift)) | (f32_to_half(src[e - first]) << shift);
    }
  }
  dst[word] = out;
}
`;
}
