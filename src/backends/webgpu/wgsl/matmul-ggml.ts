/**
 * WGSL of the ggml-numerics quantized matmul for the fused weight types
 * (q4_0, q8_0 against q8_0 activations; q4_K, q5_K, q6_K against q8_K),
 * reading activations as matmul-ggml-quantize.ts writes them. The f32
 * operations of every y[m, n] are those of the wasm kernel
 * (assembly/matmul/quant-ggml.ts), in its order:
 *
 *   acc = +0; for each block b in increasing b:
 *     I = Σ sc·(code − zero)·q     (and J = Σ_s min_s·Σ_{i∈s} q for q4_K / q5_K) exact in i32
 *     t = (d_w·d_x)·f32(I)  [− (dmin_w·d_x)·f32(J)]
 *     acc = acc + t
 *
 * each one correctly rounded f32 operation, never fused: the products pass
 * through opaque() before a subtraction, and t reaches the running sum
 * through workgroup memory; f32(I) is rounded to nearest even by
 * i32_to_f32_rn. So the result is bit-identical to the wasm engine's,
 * except where WGSL flushes a subnormal (d_w·d_x or t below 2^-126).
 *
 * Work: a workgroup per (WEIGHT_ROWS weight rows, group of ROWS activation
 * rows); each weight row gets WG / WEIGHT_ROWS invocations, which take its
 * blocks b ≡ slot (mod SLOTS), each computing t for every activation row of
 * the group (the weight block decoded once); one invocation per (weight row,
 * activation row) then adds its t values in increasing b. So the integer work is split over the
 * workgroup and only the running sum, which must be sequential to match
 * ggml's order, is per row.
 *
 * Bindings: 0 params [M, N, K, 0 (the opaque zero), rowGroups], 1 xq: array<u32>,
 * 2 w: array<u32> (ggml blocks), 3 y: array<f32>.
 */

import { GGML_TYPES } from '../../../types/ggml-types.js';
import { WGSL_GRID } from '../context.js';
import { wgslBlocks } from './blocks.js';
import {
  ACT_BLOCK_SIZE,
  ACT_BLOCK_WORDS,
  type ActivationType,
  exactF32Wgsl,
} from './matmul-ggml-quantize.js';

/** The weight types with an integer-dot kernel, and their activation type (ggml's vec_dot_type). */
export const GGML_FUSED: Record<GgmlFusedType, ActivationType> = {
  q4_0: 'q8_0',
  q8_0: 'q8_0',
  q4_K: 'q8_K',
  q5_K: 'q8_K',
  q6_K: 'q8_K',
};
export type GgmlFusedType = 'q4_0' | 'q8_0' | 'q4_K' | 'q5_K' | 'q6_K';

/** Invocations per workgroup (blocks in flight per row group). */
export const GGML_WG = 64;
/**
 * Weight rows per workgroup: its invocations are split evenly over them. The q8_K types have few
 * blocks per row (16 at K = 4096), so four rows keep the invocations busy.
 */
export const GGML_WEIGHT_ROWS: Record<GgmlFusedType, number> = {
  q4_0: 1,
  q8_0: 1,
  q4_K: 4,
  q5_K: 4,
  q6_K: 4,
};
/** Activation rows per workgroup. */
export const GGML_ROWS = 8;

/** Per type: the block's integer sums into I[r] (and J[r]) for r < rows, then t into T. */
const BLOCK_DOT: Record<GgmlFusedType, string> = {
  // 32-element blocks against q8_0: Σ (code − zero)·q, then (d_w·d_x)·f32(I).
  q4_0: legacyDot('q4_0'),
  q8_0: legacyDot('q8_0'),
  q4_K: kDot('q4_K'),
  q5_K: kDot('q5_K'),
  // 16 groups of 16 with signed int8 scales: I = Σ_g sc_g·Σ (code − 32)·q.
  q6_K: /* wgsl */ `
fn block_dot(b: u32, xb: u32, rows: u32, tb: u32) {
  for (var r = 0u; r < rows; r++) { I[r] = 0; }
  for (var g = 0u; g < 256u; g += 16u) {
    let sc = ld_i8(b + 192u + 8u * (g >> 7u) + ((g & 31u) >> 4u) + 2u * ((g >> 5u) & 3u));
    let c0 = codes4_q6_K(b, g);
    let c1 = codes4_q6_K(b, g + 4u);
    let c2 = codes4_q6_K(b, g + 8u);
    let c3 = codes4_q6_K(b, g + 12u);
    for (var r = 0u; r < rows; r++) {
      let q = xb + r * XS + 1u + g / 4u;
      I[r] += sc * (dot(c0, sbytes4(xq[q])) + dot(c1, sbytes4(xq[q + 1u])) +
                    dot(c2, sbytes4(xq[q + 2u])) + dot(c3, sbytes4(xq[q + 3u])));
    }
  }
  let dw = ld_f16(b + 208u);
  for (var r = 0u; r < rows; r++) {
    let dx = bitcast<f32>(xq[xb + r * XS]);
    T[tb + r * SLOTS] = (dw * dx) * i32_to_f32_rn(I[r]);
  }
}
`,
};

function legacyDot(type: 'q4_0' | 'q8_0'): string {
  return /* wgsl */ `
fn block_dot(b: u32, xb: u32, rows: u32, tb: u32) {
  for (var r = 0u; r < rows; r++) { I[r] = 0; }
  for (var i = 0u; i < 32u; i += 4u) {
    let c = codes4_${type}(b, i);
    for (var r = 0u; r < rows; r++) { I[r] += dot(c, sbytes4(xq[xb + r * XS + 1u + i / 4u])); }
  }
  let dw = ld_f16(b);
  for (var r = 0u; r < rows; r++) {
    let dx = f16_bits_to_f32(xq[xb + r * XS]);
    T[tb + r * SLOTS] = (dw * dx) * i32_to_f32_rn(I[r]);
  }
}
`;
}

/** q4_K / q5_K: 8 sub-blocks of 32 with 6-bit scale and min (ggml's get_scale_min_k4). */
function kDot(type: 'q4_K' | 'q5_K'): string {
  return /* wgsl */ `
fn scale_min_k4(b: u32, s: u32) -> vec2<i32> {
  if (s < 4u) { return vec2<i32>(i32(ld_u8(b + 4u + s) & 63u), i32(ld_u8(b + 8u + s) & 63u)); }
  let packed = ld_u8(b + 8u + s);
  return vec2<i32>(i32((packed & 15u) | ((ld_u8(b + s) >> 6u) << 4u)),
                   i32((packed >> 4u) | ((ld_u8(b + 4u + s) >> 6u) << 4u)));
}

fn block_dot(b: u32, xb: u32, rows: u32, tb: u32) {
  for (var r = 0u; r < rows; r++) { I[r] = 0; J[r] = 0; }
  for (var s = 0u; s < 8u; s++) {
    let sm = scale_min_k4(b, s);
    for (var r = 0u; r < rows; r++) { S[r] = 0; }
    for (var i = 32u * s; i < 32u * s + 32u; i += 4u) {
      let c = codes4_${type}(b, i);
      for (var r = 0u; r < rows; r++) { S[r] += dot(c, sbytes4(xq[xb + r * XS + 1u + i / 4u])); }
    }
    for (var r = 0u; r < rows; r++) {
      let bs = xb + r * XS + 65u + 2u * s; // q8_K's bsums of the two 16-groups of sub-block s
      I[r] += sm.x * S[r];
      J[r] += sm.y * (bitcast<i32>(xq[bs]) + bitcast<i32>(xq[bs + 1u]));
    }
  }
  let dw = ld_f16(b);
  let dmin = ld_f16(b + 2u);
  for (var r = 0u; r < rows; r++) {
    let dx = bitcast<f32>(xq[xb + r * XS]);
    T[tb + r * SLOTS] = opaque((dw * dx) * i32_to_f32_rn(I[r])) - opaque((dmin * dx) * i32_to_f32_rn(J[r]));
  }
}
`;
}

/** The integer-dot kernel of one fused type: N·rowGroups workgroups (folded into 2-D past the grid limit). */
export function ggmlDotWgsl(type: GgmlFusedType): string {
  const act = GGML_FUSED[type];
  const nr = GGML_WEIGHT_ROWS[type];
  const slots = GGML_WG / nr;
  const words = ACT_BLOCK_WORDS[act];
  return /* wgsl */ `// matmul ggml ${type} · ${act}
@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> xq: array<u32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${WGSL_GRID}
${wgslBlocks([type], { buffer: 'w' })}
${exactF32Wgsl('params[3]')}
var<private> XS: u32; // u32 words of one activation row
var<private> I: array<i32, ${GGML_ROWS}>;
var<private> J: array<i32, ${GGML_ROWS}>;
var<private> S: array<i32, ${GGML_ROWS}>;
var<workgroup> T: array<f32, ${GGML_ROWS * GGML_WG}>; // [weight row][activation row][slot]
const SLOTS = ${slots}u; // blocks in flight per weight row
${BLOCK_DOT[type]}
@compute @workgroup_size(${GGML_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let M = params[0];
  let N = params[1];
  let K = params[2];
  let groups = params[4];
  let g = group_index(wid, nwg);
  if (g >= ((N + ${nr - 1}u) / ${nr}u) * groups) { return; }
  let n0 = (g / groups) * ${nr}u;
  let m0 = (g % groups) * ${GGML_ROWS}u;
  let rows = min(${GGML_ROWS}u, M - m0);
  let nb = K / ${ACT_BLOCK_SIZE[act]}u;
  XS = nb * ${words}u;
  // Integer work: invocation li takes weight row n0 + li / SLOTS, blocks ≡ li (mod SLOTS).
  let n = n0 + li / SLOTS;
  let slot = li % SLOTS;
  // Running sums: invocation li < ${nr}·ROWS owns (weight row n0 + li / ROWS, activation row m0 + li % ROWS).
  let sn = n0 + li / ${GGML_ROWS}u;
  let sr = li % ${GGML_ROWS}u;
  let summing = li < ${nr * GGML_ROWS}u && sn < N && sr < rows;
  var acc = 0.0;
  for (var c0 = 0u; c0 < nb; c0 += SLOTS) {
    let b = c0 + slot;
    if (n < N && b < nb) {
      block_dot((n * nb + b) * ${GGML_TYPES[type].typeSize}u, m0 * XS + b * ${words}u, rows,
                (li / SLOTS) * ${GGML_ROWS}u * SLOTS + slot);
    }
    workgroupBarrier();
    if (summing) {
      let end = min(SLOTS, nb - c0);
      let t0 = li * SLOTS; // (li / ROWS)·ROWS·SLOTS + (li % ROWS)·SLOTS
      for (var j = 0u; j < end; j++) { acc = acc + T[t0 + j]; }
    }
    workgroupBarrier();
  }
  if (summing) { y[(m0 + sr) * N + sn] = acc; }
}
`;
}
