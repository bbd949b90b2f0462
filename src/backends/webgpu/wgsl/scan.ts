/**
 * WGSL of the linear scan h_t = a_t ⊙ h_{t−1} + b_t (semantics: src/ops/scan.ts),
 * the same arithmetic as assembly/scan/linear.ts, step for step:
 *
 * - scanSequentialWgsl: one invocation per channel, over time.
 * - chunked (chunk length L, C chunks; per (chunk, channel) invocations):
 *   scanReduceWgsl: the chunk's scan from a zero state (E_c) and the product
 *   of its a's left to right (P_c); scanCarryWgsl: H_c = P_c·H_{c−1} + E_c in
 *   place in E, one invocation per channel over the chunks; scanApplyWgsl:
 *   each chunk re-runs the recurrence from H_{c−1} (h0 for chunk 0).
 *
 * Every multiply-add goes through madd(): the product's bits pass an XOR
 * with params[0] (always 0, unknown to the compiler), so it is rounded to
 * f32 before the add and never fused into an fma — two roundings per step,
 * as on the CPU. What is left to the device is the rounding itself (WGSL
 * fixes no rounding mode) and subnormal flushing: where it rounds to nearest
 * even and keeps subnormals (SwiftShader on x86 does), the results are the
 * wasm kernels' bits; in general they are within the bound of src/ops/scan.ts
 * with one ULP per rounding (linearScanBound(t, m, WGSL_F32), src/ops/scan.ts).
 */
import { WGSL_GRID, wgslBindings } from '../context.js';

export const SCAN_WG = 64;

function kernel(name: string, buffers: string[], body: string): string {
  return /* wgsl */ `// scan ${name}
${wgslBindings(buffers)}
${WGSL_GRID}
// x·y rounded to f32, then + z: the XOR with params[0] (0) keeps the compiler from fusing.
fn madd(x: f32, y: f32, z: f32) -> f32 { return bitcast<f32>(bitcast<u32>(x * y) ^ params[0]) + z; }
@compute @workgroup_size(${SCAN_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let gid = group_index(wid, nwg) * ${SCAN_WG}u + lid;
${body}
}
`;
}

/** params [0, T, D, hasH0]; a, b, h0, h. */
export function scanSequentialWgsl(): string {
  return kernel(
    'sequential',
    ['a', 'b', 'h0', 'out h'],
    `  let T = params[1]; let D = params[2];
  let d = gid;
  if (d >= D) { return; }
  var s = 0.0;
  if (params[3] != 0u) { s = h0[d]; }
  for (var t = 0u; t < T; t++) {
    let i = t * D + d;
    s = madd(a[i], s, b[i]);
    h[i] = s;
  }`,
  );
}

/** params [0, T, D, L, C]; a, b, P [C, D], E [C, D]. */
export function scanReduceWgsl(): string {
  return kernel(
    'chunk reduce',
    ['a', 'b', 'out P', 'out E'],
    `  let T = params[1]; let D = params[2]; let L = params[3];
  if (gid >= params[4] * D) { return; }
  let c = gid / D; let d = gid % D;
  let t0 = c * L;
  let t1 = min(T, t0 + L);
  var e = madd(a[t0 * D + d], 0.0, b[t0 * D + d]);
  var p = a[t0 * D + d];
  for (var t = t0 + 1u; t < t1; t++) {
    let i = t * D + d;
    e = madd(a[i], e, b[i]);
    p = p * a[i];
  }
  E[gid] = e;
  P[gid] = p;`,
  );
}

/** params [0, C, D, hasH0]; P, E (carries written in place), h0. */
export function scanCarryWgsl(): string {
  return kernel(
    'chunk carry',
    ['P', 'out E', 'h0'],
    `  let C = params[1]; let D = params[2];
  let d = gid;
  if (d >= D) { return; }
  var s = 0.0;
  if (params[3] != 0u) { s = h0[d]; }
  for (var c = 0u; c < C; c++) {
    let i = c * D + d;
    s = madd(P[i], s, E[i]);
    E[i] = s;
  }`,
  );
}

/** params [0, T, D, L, C, hasH0]; a, b, h0, E (carries), h. */
export function scanApplyWgsl(): string {
  return kernel(
    'chunk apply',
    ['a', 'b', 'h0', 'E', 'out h'],
    `  let T = params[1]; let D = params[2]; let L = params[3];
  if (gid >= params[4] * D) { return; }
  let c = gid / D; let d = gid % D;
  var s = 0.0;
  if (c > 0u) { s = E[(c - 1u) * D + d]; } else if (params[5] != 0u) { s = h0[d]; }
  for (var t = c * L; t < min(T, c * L + L); t++) {
    let i = t * D + d;
    s = madd(a[i], s, b[i]);
    h[i] = s;
  }`,
  );
}
