/**
 * WGSL shared by the nn kernels: the row workgroup and its fixed-order tree
 * reductions, and f32 classification in integer ops (WGSL lets a compiler
 * assume no NaN or infinity in float arithmetic, so special values are read
 * from the bits).
 *
 * Row ops run one workgroup of ROW_WG = 64 invocations per row (six tree
 * steps: SwiftShader runs invocations as fibers and pays for every barrier;
 * rows of 4096 still give each invocation only 64 terms): invocation i
 * folds elements i, i + ROW_WG, … in increasing order, then the ROW_WG
 * partial results meet in a halving tree in workgroup memory (pairs (i,
 * i + s) for s = ROW_WG/2, …, 1). The order depends on the row length
 * alone, so the same row gives the same bits; a sum of n terms passes each
 * term through at most ⌈n/ROW_WG⌉ + log2(ROW_WG) roundings (rowSumDepth).
 */

/** Invocations per row workgroup. */
export const ROW_WG = 64;

/** Roundings a term of an n-term row sum passes through at most (sequential part, then the tree). */
export function rowSumDepth(n: number): number {
  return Math.ceil(n / ROW_WG) + Math.log2(ROW_WG);
}

/** Tree reductions over the workgroup (call from uniform control flow; every invocation gets the result;
 * row_or's is uniform, so it may steer control flow). */
export const WGSL_ROW_REDUCE = /* wgsl */ `
const ROW_WG: u32 = ${ROW_WG}u;
var<workgroup> red: array<f32, ${ROW_WG}>;
fn row_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ROW_WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn row_max(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ROW_WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
var<workgroup> flag: array<u32, ${ROW_WG}>;
fn row_or(lid: u32, v: u32) -> u32 {
  flag[lid] = v;
  workgroupBarrier();
  for (var s = ROW_WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { flag[lid] = flag[lid] | flag[lid + s]; }
    workgroupBarrier();
  }
  return workgroupUniformLoad(&flag[0]);
}
`;

/** f32 classification from the bits. */
export const WGSL_F32_BITS = /* wgsl */ `
const NEG_INF_BITS: u32 = 0xff800000u;
const NAN_BITS: u32 = 0x7fc00000u;
fn is_nan_bits(b: u32) -> bool { return (b & 0x7fffffffu) > 0x7f800000u; }
fn is_inf_bits(b: u32) -> bool { return (b & 0x7fffffffu) == 0x7f800000u; }
// A NaN built at run time (a constant NaN is a WGSL error); seed: any runtime u32.
fn f32_nan(seed: u32) -> f32 { return bitcast<f32>(NAN_BITS | (seed & 0u)); }
`;
