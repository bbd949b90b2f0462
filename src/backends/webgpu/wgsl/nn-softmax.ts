/**
 * WGSL of the row softmax (src/ops/softmax.ts): one workgroup per row
 * (nn-common.ts). w = f32(f32(x·scale) + mask); special values are read from
 * w's bits: a NaN or +inf makes the row NaN, −inf entries are masked (0),
 * a row with no finite w is zeros. Then m = max w (tree, exact), e =
 * exp(f32(w − m)) (3 + 2|w − m| ULP; below −104 it is taken as 0, the true
 * value being under 2^-149), Σe in the row tree, y = e / Σ (2.5 ULP).
 * The derived bound: src/oracle/webgpu-nn-bounds.ts, softmaxGpuBound.
 *
 * Bindings: 0 params [rows, n, mask rows, scale bits], 1 x, (2 mask), last y.
 */
import { WGSL_GRID, wgslBindings } from '../context.js';
import { WGSL_F32_BITS, WGSL_ROW_REDUCE } from './nn-common.js';

/** Below this w − m, exp is taken as 0 (e^-104 < 2^-149). */
export const SOFTMAX_EXP_CUTOFF = -104;

export function softmaxWgsl(mask: boolean): string {
  return /* wgsl */ `// softmax mask=${mask}
${wgslBindings(['x', ...(mask ? ['mask'] : []), 'out y'])}
${WGSL_GRID}
${WGSL_ROW_REDUCE}
${WGSL_F32_BITS}
var<private> o: u32;
var<private> mo: u32;
var<private> scale: f32;
fn w_at(i: u32) -> f32 { return x[o + i] * scale${mask ? ' + mask[mo + i]' : ''}; }
fn exp_at(i: u32, m: f32) -> f32 {
  let w = w_at(i);
  if (bitcast<u32>(w) == NEG_INF_BITS) { return 0.0; }
  let d = w - m;
  return select(exp(d), 0.0, d < ${SOFTMAX_EXP_CUTOFF}.0);
}
@compute @workgroup_size(ROW_WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nwg);
  if (row >= params[0]) { return; }
  let n = params[1];
  o = row * n;
  mo = (row % max(params[2], 1u)) * n;
  scale = bitcast<f32>(params[3]);
  var m = bitcast<f32>(0xff7fffffu); // −FLT_MAX
  var flags = 0u; // 1: NaN or +inf, 2: a finite entry
  for (var i = lid; i < n; i += ROW_WG) {
    let w = w_at(i);
    let b = bitcast<u32>(w);
    if (is_nan_bits(b) || b == 0x7f800000u) { flags = flags | 1u; }
    else if (b != NEG_INF_BITS) { flags = flags | 2u; m = max(m, w); }
  }
  let all = row_or(lid, flags);
  m = row_max(lid, m);
  if ((all & 1u) != 0u) {
    for (var i = lid; i < n; i += ROW_WG) { y[o + i] = f32_nan(n); }
    return;
  }
  if (all == 0u) {
    for (var i = lid; i < n; i += ROW_WG) { y[o + i] = 0.0; }
    return;
  }
  var acc = 0.0;
  for (var i = lid; i < n; i += ROW_WG) { acc = acc + exp_at(i, m); }
  let total = row_sum(lid, acc);
  for (var i = lid; i < n; i += ROW_WG) { y[o + i] = exp_at(i, m) / total; }
}
`;
}
