/**
 * WGSL of the f32-accumulating matmul y = x · Wᵀ (x [M, K] f32, W [N, K] of
 * any type a WeightCode decodes to exact f32 values), generated from one
 * source per weight type:
 *
 * - tiledWgsl: workgroup tiles of TILE × TILE outputs; x and W tiles of
 *   TILE × BK staged in workgroup memory; each of the 256 invocations owns
 *   a 4 × 4 block of outputs. Every y[m, n] is one sequential f32 chain over
 *   k = 0, 1, …, K − 1 (then + 0 for the zero padding of the last K tile).
 * - matvecWgsl: small M. One workgroup per weight row n (all M ≤ MATVEC_MAX_M
 *   activation rows at once): split-K, invocation i sums the runs of R
 *   consecutive k (R = 16 for block types: one scale decoded per run) at
 *   k = R·i + R·WG·j in increasing j, then the WG partial sums are reduced
 *   in a fixed tree (subgroupAdd, then the subgroups' sums in order, when the device has
 *   subgroups; two levels of √WG in-order sums in workgroup memory without).
 *
 * Numerics: products and sums are f32 operations within one ULP (WGSL fixes
 * no rounding mode; a product may be fused into the following sum); a sum of
 * K products in any fixed tree is within γ(K, 2^-23)·Σ|x||w| of the exact dot (Higham), so
 * both kernels are held to the f32 tier with that magnitude bound (plus
 * 2K·2^-126: WGSL lets a device flush each subnormal product or sum to
 * zero). The order is fixed by the shapes alone: the same inputs give the
 * same bits.
 *
 * f16 operands (MatmulOperands, the engine's matmulPrecision 'f16'): x and W
 * values rounded to f16 — nearest even, ±inf from 65520 on, f16 subnormals,
 * in integer ops (src/types/half.ts f32ToF16: the same halves on every
 * device) — their products formed in f32 (exact: 11-bit significands) and
 * summed as above: llama.cpp's WebGPU matmul stages its tiles so. With
 * shader-f16 (halfStorage) the rounded operands are stored as f16 (the
 * tiles; the matvec's x, rounded once by roundXWgsl) and widened by the
 * device when read, which WGSL lets flush an f16 subnormal to zero; without
 * it they are stored as the f32 values of those halves.
 *
 * Bindings: 0 params [M, N, K, tilesN], 1 x: array<f32> (array<f16>: the
 * matvec's rounded x with halfStorage), 2 w: array<u32> (the weight bytes),
 * 3 y: array<f32>.
 */
import { WGSL_GRID } from '../context.js';
import { WGSL_F32_TO_HALF } from './attention-kv.js';
import { WGSL_F16_TO_F32 } from './blocks.js';

/** How a weight type's bytes become f32 values inside a kernel. */
export interface WeightCode {
  /** Names the variant (pipelines are cached by source; this keeps sources distinct and readable). */
  name: string;
  /**
   * WGSL declarations defining `fn w_at(n: u32, k: u32, K: u32) -> f32` (the
   * exact value of W[n, k] read from `w`, binding 2, array<u32>) and
   * `fn w4(n: u32, k: u32, K: u32) -> vec4<f32>` (W[n, k .. k + 3], for
   * k % 4 == 0 and k + 4 ≤ K) and `fn w_run(n: u32, k: u32, K: u32) ->
   * array<vec4<f32>, run / 4>` (W[n, k .. k + run − 1], k % run == 0, k + run ≤ K).
   */
  decls: string;
  /** Values w_run decodes at once (4, or 16 for the block types: one scale per run). */
  run: number;
}

/** Outputs per tile side (rows of x and rows of W per workgroup). */
export const TILE = 64;
/** K values staged per step. */
const BK = 16;
/** Invocations of the matvec workgroup (the split of K). */
export const MATVEC_WG = 64;
/** Most activation rows one matvec workgroup takes (its accumulators per invocation). */
export const MATVEC_MAX_M = 8;

/** How the kernels take their operands (see the module header). */
export interface MatmulOperands {
  precision: 'f32' | 'f16';
  /** f16 operands stored as f16 (needs shader-f16); false: as the f32 values of the halves. */
  halfStorage: boolean;
}

export const F32_OPERANDS: MatmulOperands = { precision: 'f32', halfStorage: false };

function bindings(xType: 'f32' | 'f16'): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<${xType}>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
`;
}

/**
 * The operand code of a variant: \`enable f16;\` where halves are stored, the rounding helpers
 * (round_h, round_h4: an f32 to the f32 value of its nearest-even half; half_of: to that half),
 * `stage(e)` (the expression a value e is kept as) and `load(e)` (a kept value as f32).
 */
function operandCode(ops: MatmulOperands): {
  enable: string;
  decls: string;
  stage: (e: string) => string;
  load: (e: string) => string;
  type: 'f32' | 'f16';
} {
  if (ops.precision === 'f32') return { enable: '', decls: '', stage: (e) => e, load: (e) => e, type: 'f32' };
  const decls = /* wgsl */ `${WGSL_F32_TO_HALF}
fn round_h(v: f32) -> f32 { return f16_bits_to_f32(f32_to_half(bitcast<u32>(v))); }
fn round_h4(v: vec4f) -> vec4f { return vec4f(round_h(v.x), round_h(v.y), round_h(v.z), round_h(v.w)); }
${ops.halfStorage ? 'fn half_of(v: f32) -> f16 { return bitcast<vec2<f16>>(f32_to_half(bitcast<u32>(v))).x; }' : ''}
`;
  return ops.halfStorage
    ? { enable: 'enable f16;', decls, stage: (e) => `half_of(${e})`, load: (e) => `f32(${e})`, type: 'f16' }
    : { enable: '', decls, stage: (e) => `round_h(${e})`, load: (e) => e, type: 'f32' };
}

function variantName(weight: WeightCode, ops: MatmulOperands): string {
  return ops.precision === 'f32'
    ? weight.name
    : `${weight.name} f16 operands${ops.halfStorage ? ' (f16 storage)' : ''}`;
}

/** x[m, k .. k + 3], zeros past K. */
const X4 = /* wgsl */ `
fn x4(m: u32, k: u32, K: u32) -> vec4f {
  var v = vec4f(0.0);
  for (var j = 0u; j < 4u; j++) { if (k + j < K) { v[j] = x[m * K + k + j]; } }
  return v;
}
`;

/** Tiled GEMM: ceil(M/TILE)·ceil(N/TILE) workgroups (params[3] = ceil(N/TILE)). */
export function tiledWgsl(weight: WeightCode, ops: MatmulOperands = F32_OPERANDS): string {
  const THREADS = (TILE / 4) ** 2;
  const STAGE = (TILE * BK) / 4 / THREADS;
  const op = operandCode(ops);
  const tile = (t: string, i: string) =>
    [0, 1, 2, 3].map((d) => op.load(`${t}[kk * ${TILE}u + ${i}${d ? ` + ${d}u` : ''}]`)).join(', ');
  return /* wgsl */ `${op.enable}
// matmul tiled ${variantName(weight, ops)}
${bindings('f32')}
${WGSL_GRID}
${weight.decls}
${op.decls}
${X4}
var<workgroup> xs: array<${op.type}, ${BK * TILE}>; // [k][m]
var<workgroup> ws: array<${op.type}, ${BK * TILE}>; // [k][n]

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let M = params[0];
  let N = params[1];
  let K = params[2];
  let tilesN = params[3];
  let g = group_index(wid, nwg);
  if (g >= tilesN * ((M + ${TILE - 1}u) / ${TILE}u)) { return; }
  let m0 = (g / tilesN) * ${TILE}u;
  let n0 = (g % tilesN) * ${TILE}u;
  let tm = (li / ${TILE / 4}u) * 4u;
  let tn = (li % ${TILE / 4}u) * 4u;
  var acc: array<vec4f, 4>; // acc[i][j]: y[m0 + tm + i, n0 + tn + j]
  for (var k0 = 0u; k0 < K; k0 += ${BK}u) {
    // Invocation li stages x[m0 + r, k .. k + 3] and W[n0 + r, k .. k + 3] for ${STAGE} groups (zeros past M, N, K).
    for (var s = 0u; s < ${STAGE}u; s++) {
      let q = li + s * ${THREADS}u;
      let r = q / ${BK / 4}u;
      let kq = (q % ${BK / 4}u) * 4u;
      let k = k0 + kq;
      var xv = vec4f(0.0);
      var wv = vec4f(0.0);
      if (m0 + r < M) { xv = x4(m0 + r, k, K); }
      if (n0 + r < N) {
        if (k + 4u <= K) { wv = w4(n0 + r, k, K); }
        else { for (var j = 0u; j < 4u; j++) { if (k + j < K) { wv[j] = w_at(n0 + r, k + j, K); } } }
      }
      for (var j = 0u; j < 4u; j++) {
        xs[(kq + j) * ${TILE}u + r] = ${op.stage('xv[j]')};
        ws[(kq + j) * ${TILE}u + r] = ${op.stage('wv[j]')};
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${BK}u; kk++) {
      let a = vec4f(${tile('xs', 'tm')});
      let b = vec4f(${tile('ws', 'tn')});
      for (var i = 0u; i < 4u; i++) { acc[i] += a[i] * b; }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      let m = m0 + tm + i;
      let n = n0 + tn + j;
      if (m < M && n < N) { y[m * N + n] = acc[i][j]; }
    }
  }
}
`;
}

/**
 * The fixed-order sum of one f32 per invocation of a WG-wide workgroup, in
 * `fn wg_sum(v: f32, li: u32, sg_id: u32) -> f32` (the total is
 * valid in invocation 0). Must be called in uniform control flow.
 */
export function workgroupSumWgsl(wg: number, subgroups: boolean): string {
  if (subgroups)
    return /* wgsl */ `
var<workgroup> partial: array<f32, ${wg}>;
fn wg_sum(v: f32, li: u32, sg_id: u32) -> f32 {
  // subgroupAdd within each subgroup (the device's fixed order); each subgroup's first invocation
  // leaves the sum at its own index, the others zero (WGSL does not say which invocations form a
  // subgroup); invocation 0 adds them in index order (adding a zero is exact).
  let s = subgroupAdd(v);
  partial[li] = select(0.0, s, sg_id == 0u);
  workgroupBarrier();
  var t = 0.0;
  if (li == 0u) {
    for (var i = 0u; i < ${wg}u; i++) { t += partial[i]; }
  }
  workgroupBarrier();
  return t;
}
`;
  const side = Math.round(Math.sqrt(wg));
  if (side * side !== wg) throw new Error(`workgroupSumWgsl: ${wg} is not a square`);
  return /* wgsl */ `
var<workgroup> partial: array<f32, ${wg}>;
fn wg_sum(v: f32, li: u32, sg_id: u32) -> f32 {
  // Two levels of ${side}: invocation i < ${side} adds partial[${side}i ..] in order into partial[${side}i]
  // (it alone reads and writes that run), then invocation 0 adds those ${side} sums in order.
  // Three barriers instead of a halving tree's ${Math.log2(wg) + 1} (barriers are what software drivers pay for).
  partial[li] = v;
  workgroupBarrier();
  if (li < ${side}u) {
    var s = partial[${side}u * li];
    for (var j = 1u; j < ${side}u; j++) { s += partial[${side}u * li + j]; }
    partial[${side}u * li] = s;
  }
  workgroupBarrier();
  var t = 0.0;
  if (li == 0u) {
    t = partial[0];
    for (var i = 1u; i < ${side}u; i++) { t += partial[${side}u * i]; }
  }
  workgroupBarrier();
  return t;
}
`;
}

/** The subgroup builtins of a kernel's entry point (none without subgroups). */
export function subgroupArgs(subgroups: boolean): { enable: string; args: string; pass: string } {
  return subgroups
    ? {
        enable: 'enable subgroups;',
        args: ', @builtin(subgroup_invocation_id) sg_id: u32',
        pass: 'sg_id',
      }
    : { enable: '', args: '', pass: '0u' };
}

/**
 * Matvec: N workgroups (folded into 2-D past the grid limit), M ≤ MATVEC_MAX_M. f16 operands: x comes
 * rounded (roundXWgsl, once per call), W values are rounded as they are decoded.
 */
export function matvecWgsl(
  weight: WeightCode,
  subgroups: boolean,
  ops: MatmulOperands = F32_OPERANDS,
): string {
  const sg = subgroupArgs(subgroups);
  const R = weight.run;
  const op = operandCode(ops);
  const f16 = ops.precision === 'f16';
  const xAt = (e: string) => op.load(`x[${e}]`);
  return /* wgsl */ `${sg.enable}${op.enable}
// matmul matvec ${variantName(weight, ops)}
${bindings(op.type)}
${WGSL_GRID}
${weight.decls}
${op.decls}
${workgroupSumWgsl(MATVEC_WG, subgroups)}
@compute @workgroup_size(${MATVEC_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32${sg.args}) {
  let M = params[0];
  let N = params[1];
  let K = params[2];
  let n = group_index(wid, nwg);
  if (n >= N) { return; }
  var acc: array<f32, ${MATVEC_MAX_M}>;
  // Invocation li takes the runs of ${R} k = ${R}·li + ${R * MATVEC_WG}·j in increasing j (consecutive
  // invocations read consecutive weight bytes), then one k of the K % ${R} tail.
  let KR = K - K % ${R}u;
  for (var k = ${R}u * li; k < KR; k += ${R * MATVEC_WG}u) {
    ${f16 ? 'var' : 'let'} wv = w_run(n, k, K);
    ${f16 ? `for (var j = 0u; j < ${R / 4}u; j++) { wv[j] = round_h4(wv[j]); }` : ''}
    for (var m = 0u; m < M; m++) {
      for (var j = 0u; j < ${R / 4}u; j++) {
        let o = m * K + k + 4u * j;
        acc[m] += dot(vec4f(${xAt('o')}, ${xAt('o + 1u')}, ${xAt('o + 2u')}, ${xAt('o + 3u')}), wv[j]);
      }
    }
  }
  if (KR + li < K) {
    let wv = ${f16 ? 'round_h(w_at(n, KR + li, K))' : 'w_at(n, KR + li, K)'};
    for (var m = 0u; m < M; m++) { acc[m] += ${xAt('m * K + KR + li')} * wv; }
  }
  for (var m = 0u; m < M; m++) {
    let t = wg_sum(acc[m], li, ${sg.pass});
    if (li == 0u) { y[m * N + n] = t; }
  }
}
`;
}

/** Elements per invocation group of roundXWgsl. */
export const ROUND_X_WG = 256;

/**
 * The matvec's x rounded to f16 once per call (params [count]; bindings 1 x as f32 bits, 2 out):
 * halfStorage, out holds the halves, two per u32 word; otherwise the f32 bits of the halves' values.
 * Integer ops only: the same halves as src/types/half.ts f32ToF16 on every device.
 */
export function roundXWgsl(halfStorage: boolean): string {
  const body = halfStorage
    ? `let e = 2u * i;
  if (e >= count) { return; }
  var hi = 0u;
  if (e + 1u < count) { hi = f32_to_half(x[e + 1u]); }
  out[i] = f32_to_half(x[e]) | (hi << 16u);`
    : `if (i >= count) { return; }
  out[i] = f16_bits_to_f32_bits(f32_to_half(x[i]));`;
  return /* wgsl */ `// matmul round x f16${halfStorage ? ' (f16 storage)' : ''}
@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
${WGSL_GRID}
${WGSL_F16_TO_F32}
${WGSL_F32_TO_HALF}
@compute @workgroup_size(${ROUND_X_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let count = params[0];
  let i = group_index(wid, nwg) * ${ROUND_X_WG}u + li;
  ${body}
}
`;
}
