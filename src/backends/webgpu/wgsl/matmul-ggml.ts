/**
 * WGSL of the ggml-numerics quantized matmul for every block type ggml's CPU
 * backend quantizes activations for (q4_0, q5_0, q8_0, iq4_nl against q8_0;
 * q4_1, q5_1 against q8_1; q2_K, q3_K, q4_K, q5_K, q6_K, iq4_xs against
 * q8_K), reading activations as matmul-ggml-quantize.ts writes them. The f32
 * operations of every y[m, n] are those of the wasm kernel
 * (assembly/matmul/quant-ggml.ts), in its order:
 *
 *   acc = +0; for each block b in increasing b:
 *     I = Σ sc·(code − zero)·q     (and J = Σ_h min_h·bsum_h for q2_K, q4_K, q5_K) exact in i32
 *     t = (d_w·d_x)·f32(I)  [− (dmin_w·d_x)·f32(J)]  [+ m_w·s_x for q4_1, q5_1]
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

/** How one weight type's block meets its activation block in ggml's dot product. */
interface DotSpec {
  act: ActivationType;
  /** Elements sharing one integer scale. */
  group: number;
  /** WGSL i32 expression of the integer scale of the group starting at element g (block at byte b). */
  scale: string;
  /** Byte offset of the f16 d in the block. */
  d: number;
  /**
   * The second term: 'min' (q2_K, q4_K, q5_K: − (dmin·d_x)·f32(J), J = Σ min·bsum over q8_K's 16-groups,
   * `min` an i32 expression of the 16-group h, dmin the f16 at `m`), 's' (q4_1, q5_1: + m·s_x, m the f16 at
   * `m`, s_x q8_1's f16 s), or none.
   */
  second?: { kind: 'min'; m: number; min: string } | { kind: 's'; m: number };
}

/** get_scale_min_k4 of sub-block s: (scale, min). */
const SCALE_MIN_K4 = /* wgsl */ `
fn scale_min_k4(b: u32, s: u32) -> vec2<i32> {
  if (s < 4u) { return vec2<i32>(i32(ld_u8(b + 4u + s) & 63u), i32(ld_u8(b + 8u + s) & 63u)); }
  let packed = ld_u8(b + 8u + s);
  return vec2<i32>(i32((packed & 15u) | ((ld_u8(b + s) >> 6u) << 4u)),
                   i32((packed >> 4u) | ((ld_u8(b + 4u + s) >> 6u) << 4u)));
}
`;

const LEGACY: DotSpec = { act: 'q8_0', group: 32, scale: '1', d: 0 };
const K4: DotSpec = {
  act: 'q8_K',
  group: 32,
  scale: 'scale_min_k4(b, g >> 5u).x',
  d: 0,
  second: { kind: 'min', m: 2, min: 'scale_min_k4(b, h >> 1u).y' },
};

/**
 * Every weight type ggml's CPU quantizes activations for (but f16/bf16, which take the f32
 * kernels): the integer scales as the wasm kernel applies them (assembly/matmul/quant-ggml.ts),
 * the codes from blocks.ts's codes4 (code − zero point, or the iq4 codebook value).
 */
const DOTS = {
  q4_0: LEGACY,
  q5_0: LEGACY,
  q8_0: LEGACY,
  iq4_nl: LEGACY,
  q4_1: { act: 'q8_1', group: 32, scale: '1', d: 0, second: { kind: 's', m: 2 } },
  q5_1: { act: 'q8_1', group: 32, scale: '1', d: 0, second: { kind: 's', m: 2 } },
  // 84 bytes: scales[16] (4-bit scale | 4-bit min per 16), qs, d at 80, dmin at 82.
  q2_K: {
    act: 'q8_K',
    group: 16,
    scale: 'i32(ld_u8(b + (g >> 4u)) & 15u)',
    d: 80,
    second: { kind: 'min', m: 82, min: 'i32(ld_u8(b + h) >> 4u)' },
  },
  // 110 bytes: 6-bit scales biased by 32 (blocks.ts scale_q3_K's layout), d at 108.
  q3_K: {
    act: 'q8_K',
    group: 16,
    scale: `i32(((ld_u8(b + 96u + 4u * ((g >> 6u) & 1u) + ((g >> 4u) & 3u)) >> (4u * (g >> 7u))) & 15u) |
             (((ld_u8(b + 104u + ((g >> 4u) & 3u)) >> (2u * (g >> 6u))) & 3u) << 4u)) - 32`,
    d: 108,
  },
  q4_K: K4,
  q5_K: K4,
  // 210 bytes: int8 scales per 16 at 192 (i = 128n + 32k + l: scale 8n + l/16 + 2k), d at 208.
  q6_K: {
    act: 'q8_K',
    group: 16,
    scale: 'ld_i8(b + 192u + 8u * (g >> 7u) + ((g & 31u) >> 4u) + 2u * ((g >> 5u) & 3u))',
    d: 208,
  },
  // 136 bytes: 6-bit scales biased by 32 per 32 (4 low bits in scales_l, 2 high in scales_h), d at 0.
  iq4_xs: {
    act: 'q8_K',
    group: 32,
    scale: `i32(((ld_u8(b + 4u + (g >> 6u)) >> (4u * ((g >> 5u) & 1u))) & 15u) |
             (((ld_u16(b + 2u) >> (2u * (g >> 5u))) & 3u) << 4u)) - 32`,
    d: 0,
  },
} as const satisfies Record<string, DotSpec>;

export type GgmlFusedType = keyof typeof DOTS;

/** The weight types with an integer-dot kernel, and their activation type (ggml's vec_dot_type). */
export const GGML_FUSED = Object.fromEntries(Object.entries(DOTS).map(([t, d]) => [t, d.act])) as Record<
  GgmlFusedType,
  ActivationType
>;

/** Invocations per workgroup (blocks in flight per row group). */
export const GGML_WG = 64;
/**
 * Weight rows per workgroup: its invocations are split evenly over them. The q8_K types have few
 * blocks per row (16 at K = 4096), so four rows keep the invocations busy.
 */
export function ggmlWeightRows(type: GgmlFusedType): number {
  return DOTS[type].act === 'q8_K' ? 4 : 1;
}
/** Activation rows per workgroup. */
export const GGML_ROWS = 8;

/** fn block_dot: the block's integer sums for the rows r < rows, then its term t into T[tb + r·SLOTS]. */
function blockDot(type: GgmlFusedType): string {
  const spec: DotSpec = DOTS[type];
  const bs = GGML_TYPES[type].blockSize;
  const sec = spec.second;
  const dx = spec.act === 'q8_K' ? 'bitcast<f32>(xq[x0])' : 'f16_bits_to_f32(xq[x0] & 0xffffu)';
  const unscaled = spec.scale === '1';
  let term = `(dw * dx) * i32_to_f32_rn(I[r])`;
  if (sec?.kind === 'min') term = `opaque(${term}) - opaque((dmin * dx) * i32_to_f32_rn(J[r]))`;
  if (sec?.kind === 's') term = `opaque(${term}) + opaque(mw * f16_bits_to_f32(xq[x0] >> 16u))`;
  return /* wgsl */ `${spec.scale.includes('scale_min_k4') ? SCALE_MIN_K4 : ''}
fn block_dot(b: u32, xb: u32, rows: u32, tb: u32) {
  for (var r = 0u; r < rows; r++) { I[r] = 0; J[r] = 0; }
  for (var g = 0u; g < ${bs}u; g += ${spec.group}u) {
    ${unscaled ? '' : `let sc = ${spec.scale};`}
    for (var r = 0u; r < rows; r++) { S[r] = 0; }
    for (var i = g; i < g + ${spec.group}u; i += 4u) {
      let c = codes4_${type}(b, i);
      for (var r = 0u; r < rows; r++) { S[r] += dot(c, sbytes4(xq[xb + r * XS + 1u + i / 4u])); }
    }
    for (var r = 0u; r < rows; r++) { I[r] += ${unscaled ? 'S[r]' : 'sc * S[r]'}; }
  }${
    sec?.kind === 'min'
      ? `
  for (var h = 0u; h < 16u; h++) {
    let mn = ${sec.min};
    for (var r = 0u; r < rows; r++) { J[r] += mn * bitcast<i32>(xq[xb + r * XS + 65u + h]); } // q8_K bsums
  }
  let dmin = ld_f16(b + ${sec.m}u);`
      : sec?.kind === 's'
        ? `
  let mw = ld_f16(b + ${sec.m}u);`
        : ''
  }
  let dw = ld_f16(b + ${spec.d}u);
  for (var r = 0u; r < rows; r++) {
    let x0 = xb + r * XS;
    let dx = ${dx};
    T[tb + r * SLOTS] = ${term};
  }
}
`;
}

/**
 * The integer-dot kernel of one weight type: ceil(N / ggmlWeightRows)·rowGroups workgroups
 * (folded into 2-D past the grid limit), rowGroups = ceil(M / GGML_ROWS).
 */
export function ggmlDotWgsl(type: GgmlFusedType): string {
  const act = GGML_FUSED[type];
  const nr = ggmlWeightRows(type);
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
${blockDot(type)}
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
