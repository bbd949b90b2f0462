/**
 * A byte-exact copy between storage buffers from any source byte offset:
 * WebGPU copies buffers and binds them only at offsets that are multiples of
 * 4 (copyBufferToBuffer) or of minStorageBufferOffsetAlignment (bindings),
 * so a run of ggml block bytes starting mid-word (an expert slice of an
 * 18- or 34-byte-block tensor) is moved by this kernel: each output word is
 * two source words shifted together (integer ops only: bit-exact), the bytes
 * past the end of the run zeroed.
 */
import { WGSL_GRID, wgslBindings } from '../context.js';

export const BYTE_COPY_WG = 64;

/** params [srcByte, bytes]; 1 src (u32 words), 2 dst: dst bytes [0, bytes) = src bytes [srcByte, srcByte + bytes). */
export function byteCopyWgsl(): string {
  return /* wgsl */ `// byte copy
${wgslBindings(['u32 src', 'out u32 dst'])}
${WGSL_GRID}
@compute @workgroup_size(${BYTE_COPY_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = group_index(wid, nwg) * ${BYTE_COPY_WG}u + lid;
  let bytes = params[1];
  if (i >= (bytes + 3u) / 4u) { return; }
  let at = params[0] + 4u * i;
  let w = at / 4u;
  let shift = (at % 4u) * 8u;
  var v = src[w] >> shift;
  if (shift != 0u && w + 1u < arrayLength(&src)) { v = v | (src[w + 1u] << (32u - shift)); }
  let left = bytes - 4u * i;
  if (left < 4u) { v = v & ((1u << (left * 8u)) - 1u); }
  dst[i] = v;
}
`;
}
