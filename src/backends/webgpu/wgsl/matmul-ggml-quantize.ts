/**
 * WGSL activation quantizers of the ggml-numerics matmul: x (f32 [M, K]) to
 * q8_0, q8_1 or q8_K blocks, with the codes ggml's reference quantizers
 * (quantize_row_q8_0_ref / _q8_1_ref / _q8_K_ref) give, one invocation per
 * block. Everything that decides a code is done so WGSL's freedoms cannot
 * change it: the divisions amax/127, 1/d, −127/max and 1/iscale are
 * correctly rounded in integer arithmetic (WGSL's `/` is 2.5 ULP); each
 * product that feeds an addition passes through opaque() so it cannot be
 * fused; rounding is C's roundf (halves away from zero) or ggml's
 * nearest_int (the 1.5·2^23 trick), both exact.
 *
 * Not bit-identical (documented limits): NaN or ±inf activations, and
 * blocks whose scale d is subnormal or whose values are (WGSL may flush
 * subnormals to zero).
 *
 * Layout written (u32 words per block, rows of nb blocks back to back):
 *   q8_0: [f16 bits of d] [32 codes, 4 per word, little-endian int8]         9 words
 *   q8_1: [f16 d | f16 s << 16] [32 codes]  (s = f16(f32(Σq)·d), d before rounding) 9 words
 *   q8_K: [f32 bits of d] [256 codes as above] [16 bsums as i32]           81 words
 * Bindings: 0 params [M, K, 0 (the opaque zero)], 1 x: array<f32>, 2 out: array<u32>.
 */
import { WGSL_GRID } from '../context.js';
import { WGSL_F32_TO_HALF } from './attention-kv.js';
import { WGSL_BLOCK_COMMON } from './blocks.js';

export type ActivationType = 'q8_0' | 'q8_1' | 'q8_K';

/** u32 words of one quantized activation block. */
export const ACT_BLOCK_WORDS: Record<ActivationType, number> = { q8_0: 9, q8_1: 9, q8_K: 81 };
/** Values per activation block. */
export const ACT_BLOCK_SIZE: Record<ActivationType, number> = { q8_0: 32, q8_1: 32, q8_K: 256 };
/** Invocations per workgroup of the quantizers. */
export const QUANTIZE_WG = 64;

/**
 * Exact helpers shared by the quantizer and the dot kernels: opaque() (a
 * value the compiler cannot see through, so a product is rounded before the
 * sum it feeds), i32 → f32 conversion rounded to nearest even, and the
 * correctly rounded quotient of two positive normal f32 values.
 * `zero_word` must name a u32 the kernel reads from its params (always 0).
 */
export function exactF32Wgsl(zeroWord: string): string {
  return /* wgsl */ `
fn opaque(v: f32) -> f32 { return bitcast<f32>(bitcast<u32>(v) ^ ${zeroWord}); }

// Both parts are exact in f32 (|hi| < 2^23, 0 ≤ lo < 256), so the one addition rounds I to nearest even.
fn i32_to_f32_rn(i: i32) -> f32 { return f32(i >> 8u) * 256.0 + f32(i & 255); }

// a / b rounded to nearest even, for positive normal a and b with a normal quotient (else WGSL's a / b):
// 25 quotient bits by long division of the mantissas, then the remainder as the sticky bit.
fn div_rn(a: f32, b: f32) -> f32 {
  let ua = bitcast<u32>(a);
  let ub = bitcast<u32>(b);
  let ea = i32(ua >> 23u);
  let eb = i32(ub >> 23u);
  if (ea == 0 || ea == 255 || eb == 0 || eb == 255 || (ua >> 31u) != 0u || (ub >> 31u) != 0u) { return a / b; }
  var ma = (ua & 0x7fffffu) | 0x800000u;
  let mb = (ub & 0x7fffffu) | 0x800000u;
  var e = ea - eb + 127;
  if (ma < mb) { ma <<= 1u; e -= 1; }
  var q = 0u;
  var r = ma;
  for (var i = 0u; i < 25u; i++) {
    q <<= 1u;
    if (r >= mb) { r -= mb; q |= 1u; }
    r <<= 1u;
  }
  var m = q >> 1u;
  if ((q & 1u) != 0u && (r != 0u || (m & 1u) != 0u)) { m += 1u; }
  if (m == 0x1000000u) { m >>= 1u; e += 1; }
  if (e <= 0 || e >= 255) { return a / b; }
  return bitcast<f32>((u32(e) << 23u) | (m & 0x7fffffu));
}
`;
}

const HEADER = /* wgsl */ `
@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
${WGSL_GRID}
`;

/** Four int8 codes (low byte of each i32) packed little-endian into one word. */
const PACK = /* wgsl */ `
fn pack4(a: i32, b: i32, c: i32, d: i32) -> u32 {
  return (u32(a) & 255u) | ((u32(b) & 255u) << 8u) | ((u32(c) & 255u) << 16u) | ((u32(d) & 255u) << 24u);
}
`;

/** q8_0, or q8_1 (withSum: s = f16(f32(Σq)·d) in the high half of the first word). */
const q8_32 = (withSum: boolean) => /* wgsl */ `
// C's (int8_t)roundf(v): halves away from zero (v − trunc(v) is exact; opaque keeps the product
// that v is from being fused into that subtraction).
fn roundf_i32(p: f32) -> i32 {
  let v = opaque(p);
  var t = trunc(v);
  if (abs(v - t) >= 0.5) { t += sign(v); }
  return i32(t);
}

fn quantize_block(src: u32, dst: u32) {
  var amax = 0.0;
  for (var j = 0u; j < 32u; j++) { amax = max(amax, abs(x[src + j])); }
  let d = div_rn(amax, 127.0);
  var id = 0.0;
  if (d != 0.0) { id = div_rn(1.0, d); }
  var sum = 0;
  for (var j = 0u; j < 8u; j++) {
    let s = src + 4u * j;
    let a = roundf_i32(x[s] * id);
    let b = roundf_i32(x[s + 1u] * id);
    let c = roundf_i32(x[s + 2u] * id);
    let e = roundf_i32(x[s + 3u] * id);
    sum += a + b + c + e;
    out[dst + 1u + j] = pack4(a, b, c, e);
  }
  out[dst] = f32_to_half(bitcast<u32>(d))${withSum ? ' | (f32_to_half(bitcast<u32>(f32(sum) * d)) << 16u)' : ''};
}
`;

const Q8_K = /* wgsl */ `
// ggml's nearest_int: v + 1.5·2^23 rounds v to an integer (nearest even) in the low mantissa bits.
fn nearest_int(v: f32) -> i32 {
  let t = opaque(v) + 12582912.0;
  return i32(bitcast<u32>(t) & 0x7fffffu) - 0x400000;
}

fn quantize_block(src: u32, dst: u32) {
  // max: the value of largest |x|, the first one on ties (ggml's scan).
  var amax = 0.0;
  var mx = 0.0;
  for (var j = 0u; j < 256u; j++) {
    let v = x[src + j];
    if (amax < abs(v)) { amax = abs(v); mx = v; }
  }
  if (amax == 0.0) {
    for (var j = 0u; j < 81u; j++) { out[dst + j] = 0u; }
    return;
  }
  // iscale = −127/max; d = 1/iscale: both correctly rounded, signs applied apart.
  let ia = div_rn(127.0, abs(mx));
  let iscale = select(ia, -ia, mx > 0.0);
  let d = select(div_rn(1.0, ia), -div_rn(1.0, ia), mx > 0.0);
  out[dst] = bitcast<u32>(d);
  for (var g = 0u; g < 16u; g++) {
    var bsum = 0;
    for (var j = 0u; j < 4u; j++) {
      let s = src + 16u * g + 4u * j;
      let a = min(127, nearest_int(iscale * x[s]));
      let b = min(127, nearest_int(iscale * x[s + 1u]));
      let c = min(127, nearest_int(iscale * x[s + 2u]));
      let e = min(127, nearest_int(iscale * x[s + 3u]));
      bsum += a + b + c + e;
      out[dst + 1u + 4u * g + j] = pack4(a, b, c, e);
    }
    out[dst + 65u + g] = bitcast<u32>(bsum);
  }
}
`;

/** The quantizer of one activation type: ceil(M·nb / QUANTIZE_WG) workgroups. */
export function quantizeWgsl(type: ActivationType): string {
  const size = ACT_BLOCK_SIZE[type];
  return /* wgsl */ `// quantize ${type} (matmul ggml activations)
${HEADER}
${exactF32Wgsl('params[2]')}
${WGSL_F32_TO_HALF}
${PACK}
${type === 'q8_K' ? Q8_K : q8_32(type === 'q8_1')}
@compute @workgroup_size(${QUANTIZE_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let M = params[0];
  let K = params[1];
  let blocks = M * (K / ${size}u);
  let b = group_index(wid, nwg) * ${QUANTIZE_WG}u + li;
  if (b >= blocks) { return; }
  quantize_block(b * ${size}u, b * ${ACT_BLOCK_WORDS[type]}u);
}
`;
}

/**
 * x rounded to ggml's f16 / bf16 activations (GGML_FP32_TO_FP16: nearest even;
 * ggml_compute_fp32_to_bf16: nearest even, NaN made quiet) and widened back
 * to f32 exactly: the activations the f16 / bf16 weights meet in ggml
 * numerics. Bindings: 0 params [count], 1 x: array<f32>, 2 out: array<f32>;
 * ceil(count / QUANTIZE_WG) workgroups.
 */
export function roundToHalfWgsl(type: 'f16' | 'bf16'): string {
  const convert =
    type === 'f16'
      ? 'f16_bits_to_f32(f32_to_half(u))'
      : `bitcast<f32>(select((u + 0x7fffu + ((u >> 16u) & 1u)) & 0xffff0000u, ((u >> 16u) | 64u) << 16u,
                             (u & 0x7fffffffu) > 0x7f800000u))`;
  return /* wgsl */ `// round to ${type} (matmul ggml activations)
@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${WGSL_GRID}
${WGSL_BLOCK_COMMON}
${WGSL_F32_TO_HALF}
@compute @workgroup_size(${QUANTIZE_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = group_index(wid, nwg) * ${QUANTIZE_WG}u + li;
  if (i >= params[0]) { return; }
  let v = x[i];
  let u = bitcast<u32>(v);
  out[i] = ${convert};
}
`;
}
