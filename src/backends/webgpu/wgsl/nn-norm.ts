/**
 * WGSL of RMSNorm and LayerNorm (src/ops/rms-norm.ts, layer-norm.ts): one
 * workgroup per row (nn-common.ts), one source with the optional weight and
 * bias as template switches.
 *
 * RMSNorm: S = Σ f32(x²) (row tree), mean = f32(S·f32(1/dim)), V = f32(mean
 * + eps), s = inverseSqrt(V) (2 ULP), y = f32(f32(x·s)·w).
 * LayerNorm: μ = f32(Σx·f32(1/dim)), v = f32(x − μ), var = f32(Σ f32(v²)·
 * f32(1/dim)), s = inverseSqrt(var + eps), y = f32(f32(v·s)·w) + b.
 * Multiplying by f32(1/dim) (host-rounded) instead of dividing keeps
 * WGSL's 2.5-ULP division out. The derived bounds: src/oracle/nn-bounds.ts
 * (rmsNormGpuBound, layerNormGpuBound).
 *
 * Bindings: 0 params [rows, dim, eps bits, 1/dim bits], 1 x, (2 w), (3 b), last y.
 */
import { WGSL_GRID, wgslBindings } from '../context.js';
import { WGSL_ROW_REDUCE } from './nn-common.js';

const HEAD = /* wgsl */ `
  let row = group_index(wid, nwg);
  let rows = params[0];
  if (row >= rows) { return; }
  let dim = params[1];
  let eps = bitcast<f32>(params[2]);
  let inv_dim = bitcast<f32>(params[3]);
  let o = row * dim;`;

/** One workgroup per row: the bindings, the row reduction, the row's params, then `body` (the norm's steps). */
function rowKernel(tag: string, names: string[], body: string): string {
  return /* wgsl */ `// ${tag}
${wgslBindings(names)}
${WGSL_GRID}
${WGSL_ROW_REDUCE}
@compute @workgroup_size(ROW_WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${HEAD}
${body}
}
`;
}

/** RMSNorm; `weight`: multiply by w[i]. */
export function rmsNormWgsl(weight: boolean): string {
  return rowKernel(
    `rmsNorm w=${weight}`,
    weight ? ['x', 'w', 'out y'] : ['x', 'out y'],
    /* wgsl */ `  var acc = 0.0;
  for (var i = lid; i < dim; i += ROW_WG) { let v = x[o + i]; acc = acc + v * v; }
  let total = row_sum(lid, acc);
  let mean = total * inv_dim;
  let s = inverseSqrt(mean + eps);
  for (var i = lid; i < dim; i += ROW_WG) {
    y[o + i] = (x[o + i] * s)${weight ? ' * w[i]' : ''};
  }`,
  );
}

/** LayerNorm; `weight`, `bias`: the optional affine terms. */
export function layerNormWgsl(weight: boolean, bias: boolean): string {
  return rowKernel(
    `layerNorm w=${weight} b=${bias}`,
    ['x', ...(weight ? ['w'] : []), ...(bias ? ['b'] : []), 'out y'],
    /* wgsl */ `  var acc = 0.0;
  for (var i = lid; i < dim; i += ROW_WG) { acc = acc + x[o + i]; }
  let mean = row_sum(lid, acc) * inv_dim;
  var acc2 = 0.0;
  for (var i = lid; i < dim; i += ROW_WG) { let v = x[o + i] - mean; acc2 = acc2 + v * v; }
  let variance = row_sum(lid, acc2) * inv_dim;
  let s = inverseSqrt(variance + eps);
  for (var i = lid; i < dim; i += ROW_WG) {
    y[o + i] = ((x[o + i] - mean) * s)${weight ? ' * w[i]' : ''}${bias ? ' + b[i]' : ''};
  }`,
  );
}
