/**
 * WGSL of MoE routing (semantics: src/ops/moe-route.ts; numerics and bound:
 * src/oracle/moe-bound.ts, gpuMoeWeightBound).
 *
 * - moeSigmoidWgsl: deepseek-v3's selection values σ(l) + bias, one per
 *   logit, into a scratch [T, E] (written once, so group scores and the
 *   top-k read the same bits).
 * - moeRouteWgsl: one workgroup per token. Group scores (one invocation per
 *   group: the sum of its top-2), the kept groups, then each eligible
 *   expert's rank: how many eligible experts come before it in the total
 *   order (larger key, then lower index), the key being the f32 bits mapped
 *   to an order-preserving u32 (−0 as +0, NaN lowest). Ranks are distinct
 *   integers, so the experts of rank < k are the selection, listed in order
 *   and distinct, and selection is exact on the values the kernel reads (the
 *   logits for the softmax schemes). One barrier, no per-round reductions.
 *   Then the weights (invocation 0, over the k selected; a full softmax sums
 *   exp over E in a fixed halving tree).
 * - moeCapacityWgsl: switch capacity, one invocation per expert walking the
 *   tokens in order (integer counting: the same census as the CPU's).
 */
import { WGSL_GRID } from '../context.js';

/** Most invocations of the routing workgroup (also the most groups: MOE_MAX_GROUPS). */
export const MOE_WG = 64;

/**
 * The routing workgroup for E experts: the power of two ≥ E, from 4 to
 * MOE_WG (≥ nGroup, which is ≤ E), so small expert counts leave no idle
 * invocations waiting at every barrier. A function of E alone: same bits.
 */
export function moeRouteWorkgroup(E: number): number {
  let wg = 4;
  while (wg < E && wg < MOE_WG) wg *= 2;
  return wg;
}
/** Invocations per workgroup of the elementwise sigmoid kernel and the capacity kernel. */
export const MOE_FLAT_WG = 64;

/** Gating codes of params[3]. */
export const MOE_GATING = { softmax: 0, sigmoid: 1, 'topk-softmax': 2 } as const;

/** params [n, E, hasBias]; 1 logits, 2 bias, 3 sel. */
export function moeSigmoidWgsl(): string {
  return /* wgsl */ `// moe sigmoid selection values
@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> sel: array<f32>;
${WGSL_GRID}
@compute @workgroup_size(${MOE_FLAT_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = group_index(wid, nwg) * ${MOE_FLAT_WG}u + lid;
  if (i >= params[0]) { return; }
  var s = 1.0 / (1.0 + exp(-logits[i]));
  if (params[2] != 0u) { s = s + bias[i % params[1]]; }
  sel[i] = s;
}
`;
}

/**
 * WG: moeRouteWorkgroup(E), a power of two ≥ nGroup.
 * params [T, E, k, gating, normalize, nGroup, topkGroup, scale bits];
 * 1 sel (selection values: the logits or σ + bias), 2 logits, 3 weights
 * [T, k], 4 experts [T, k] (f32 ids), 5 group scores [T, nGroup].
 */
export function moeRouteWgsl(WG: number = MOE_WG): string {
  return /* wgsl */ `// moe route (workgroup ${WG})
@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> sel: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> experts: array<f32>;
@group(0) @binding(5) var<storage, read_write> gscores: array<f32>;
${WGSL_GRID}
const NONE: u32 = 0xffffffffu;
const NORM_MIN: f32 = 6.103515625e-5;
var<workgroup> rsum: array<f32, ${WG}>;
var<workgroup> kept: array<u32, ${WG}>;
var<workgroup> top: u32;

// Order-preserving key of an f32 (integer only: exact, immune to flushing).
fn okey(v: f32) -> u32 {
  var b = bitcast<u32>(v);
  let mag = b & 0x7fffffffu;
  if (mag > 0x7f800000u) { return 0u; }
  if (mag == 0u) { b = 0u; }
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// (ka, ia) ranks before (kb, ib): larger key, then lower index; NONE never.
fn beats(ka: u32, ia: u32, kb: u32, ib: u32) -> bool {
  return ia != NONE && (ib == NONE || ka > kb || (ka == kb && ia < ib));
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = group_index(wid, nwg);
  if (t >= params[0]) { return; }
  let E = params[1];
  let k = params[2];
  let gating = params[3];
  let nGroup = params[5];
  let size = E / nGroup;
  let row = t * E;

  if (nGroup > 1u) {
    if (lid < nGroup) {
      var k1 = 0u; var i1 = NONE; var k2 = 0u; var i2 = NONE;
      for (var i = lid * size; i < (lid + 1u) * size; i++) {
        let kk = okey(sel[row + i]);
        if (beats(kk, i, k1, i1)) { k2 = k1; i2 = i1; k1 = kk; i1 = i; }
        else if (beats(kk, i, k2, i2)) { k2 = kk; i2 = i; }
      }
      var g = sel[row + i1];
      if (size > 1u) { g = g + sel[row + i2]; }
      rsum[lid] = g;
      gscores[t * nGroup + lid] = g;
    }
    workgroupBarrier();
    if (lid == 0u) {
      for (var g = 0u; g < nGroup; g++) { kept[g] = 0u; }
      for (var r = 0u; r < params[6]; r++) {
        var bk = 0u; var bi = NONE;
        for (var g = 0u; g < nGroup; g++) {
          let kk = okey(rsum[g]);
          if (kept[g] == 0u && (bi == NONE || kk > bk)) { bk = kk; bi = g; }
        }
        kept[bi] = 1u;
      }
    }
    workgroupBarrier();
  }

  // Each eligible expert's rank among the eligible ones in the total order (key desc, index asc):
  // ranks are distinct, the k smallest are the selection, in order.
  for (var i = lid; i < E; i += ${WG}u) {
    if (nGroup > 1u && kept[i / size] == 0u) { continue; }
    let ki = okey(sel[row + i]);
    var rank = 0u;
    for (var j = 0u; j < E && rank < k; j++) {
      if (nGroup > 1u && kept[j / size] == 0u) { continue; }
      let kj = okey(sel[row + j]);
      if (kj > ki || (kj == ki && j < i)) { rank++; }
    }
    if (rank < k) { experts[t * k + rank] = f32(i); }
    if (rank == 0u) { top = i; }
  }
  storageBarrier();
  workgroupBarrier();
  let first = top;

  // Full softmax: Σ exp(l − m) over E, m = the top-1 logit (the max: softmax selects on the logits).
  var total = 0.0;
  let m = logits[row + first];
  if (gating == ${MOE_GATING.softmax}u) {
    var part = 0.0;
    for (var i = lid; i < E; i += ${WG}u) { part = part + exp(logits[row + i] - m); }
    rsum[lid] = part;
    workgroupBarrier();
    for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
      if (lid < s) { rsum[lid] = rsum[lid] + rsum[lid + s]; }
      workgroupBarrier();
    }
    total = rsum[0];
  }
  if (lid != 0u) { return; }
  let base = t * k;
  if (gating == ${MOE_GATING['topk-softmax']}u) {
    total = 0.0;
    for (var j = 0u; j < k; j++) {
      let e = exp(logits[row + u32(experts[base + j])] - m);
      weights[base + j] = e;
      total = total + e;
    }
    for (var j = 0u; j < k; j++) { weights[base + j] = weights[base + j] / total; }
  } else if (gating == ${MOE_GATING.softmax}u) {
    for (var j = 0u; j < k; j++) {
      weights[base + j] = exp(logits[row + u32(experts[base + j])] - m) / total;
    }
  } else {
    for (var j = 0u; j < k; j++) {
      weights[base + j] = 1.0 / (1.0 + exp(-logits[row + u32(experts[base + j])]));
    }
  }
  if (params[4] != 0u) {
    var sum = 0.0;
    for (var j = 0u; j < k; j++) { sum = sum + weights[base + j]; }
    let d = max(sum, NORM_MIN);
    for (var j = 0u; j < k; j++) { weights[base + j] = weights[base + j] / d; }
  }
  let scale = bitcast<f32>(params[7]);
  if (scale != 1.0) {
    for (var j = 0u; j < k; j++) { weights[base + j] = weights[base + j] * scale; }
  }
}
`;
}

/** params [T, E, capacity]; 1 experts [T] (f32 ids), 2 weights [T], 3 dropped [T] u32. */
export function moeCapacityWgsl(): string {
  return /* wgsl */ `// moe switch capacity
@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> experts: array<f32>;
@group(0) @binding(2) var<storage, read_write> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> dropped: array<u32>;
${WGSL_GRID}
@compute @workgroup_size(${MOE_FLAT_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let e = group_index(wid, nwg) * ${MOE_FLAT_WG}u + lid;
  if (e >= params[1]) { return; }
  var used = 0u;
  for (var t = 0u; t < params[0]; t++) {
    if (u32(experts[t]) != e) { continue; }
    if (used < params[2]) {
      used++;
      dropped[t] = 0u;
    } else {
      dropped[t] = 1u;
      weights[t] = 0.0;
    }
  }
}
`;
}

/** params [D, first row, rows]; 1 idx [R] (token of each grouped row), 2 x [T, D], 3 xe [rows, D]. */
export function moeGatherWgsl(): string {
  return /* wgsl */ `// moe gather
@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> xe: array<f32>;
${WGSL_GRID}
@compute @workgroup_size(${MOE_FLAT_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let D = params[0];
  let i = group_index(wid, nwg) * ${MOE_FLAT_WG}u + lid;
  if (i >= params[2] * D) { return; }
  xe[i] = x[idx[params[1] + i / D] * D + i % D];
}
`;
}

/**
 * out[t, d] = Σ_j w[t, j]·Y[pos[t, j], d] in slot order (pos < 0: a dropped
 * token, no term), then + S[t, d] (times g_t = σ(z_t) with a shared gate):
 * ggml's order, as assembly/moe/combine.ts. slots[t, j, d] = Y[pos[t, j], d]
 * or 0. params [T, D, k, hasShared, hasGate, hasSlots]; 1 Y, 2 pos (i32),
 * 3 w [T, k], 4 S [T, D], 5 z [T], 6 out [T, D], 7 slots [T, k·D].
 */
export function moeCombineWgsl(): string {
  return /* wgsl */ `// moe combine
@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> Y: array<f32>;
@group(0) @binding(2) var<storage, read> pos: array<i32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> S: array<f32>;
@group(0) @binding(5) var<storage, read> z: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read_write> slots: array<f32>;
${WGSL_GRID}
@compute @workgroup_size(${MOE_FLAT_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let D = params[1];
  let k = params[2];
  let i = group_index(wid, nwg) * ${MOE_FLAT_WG}u + lid;
  if (i >= params[0] * D) { return; }
  let t = i / D;
  let d = i % D;
  var acc = 0.0;
  for (var j = 0u; j < k; j++) {
    let p = pos[t * k + j];
    var y = 0.0;
    if (p >= 0) {
      y = Y[u32(p) * D + d];
      acc = acc + y * w[t * k + j];
    }
    if (params[5] != 0u) { slots[(t * k + j) * D + d] = y; }
  }
  if (params[3] != 0u) {
    var s = S[i];
    if (params[4] != 0u) { s = s * (1.0 / (1.0 + exp(clamp(-z[t], -88.0, 88.0)))); }
    acc = acc + s;
  }
  out[i] = acc;
}
`;
}
