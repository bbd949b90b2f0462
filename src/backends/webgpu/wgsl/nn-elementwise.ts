/**
 * WGSL of the element-wise ops (src/ops/silu.ts, gelu.ts, swiglu.ts,
 * add.ts), one invocation per element, one source with the function as the
 * template parameter.
 *
 * SiLU as x/(1 + e^−x) for x ≥ 0 and x·e^x/(1 + e^x) for x < 0 (no overflow
 * of e^−x, and e^{±x} ≤ 1 keeps exp's 3 + 2|x| ULP error where it is
 * damped); GELU (tanh) the same with q = 2z = x·(C1 + C2·x²) in place of x
 * (x/(1 + e^−q), as the reference writes it); GELU (erf) as 0.5·x·erfc(−x/√2)
 * with WGSL_ERFC. add: one correctly rounded f32 sum per element (bit-exact,
 * except that a device may flush subnormal results). −inf inputs to the
 * activations return −0 from the bits. Bounds: src/oracle/webgpu-nn-bounds.ts.
 *
 * Bindings: unary 0 params [n], 1 x, 2 y; swiglu 1 gate, 2 up, 3 y;
 * add 0 params [n, dim, b rows], 1 a, 2 b, 3 y.
 */
import { WGSL_GRID, wgslBindings } from '../context.js';
import { WGSL_F32_BITS } from './nn-common.js';

export const ELEMENTWISE_WG = 256;

/** 2·√(2/π) and 2·√(2/π)·0.044715, as f32: q = x·(GELU_C1 + GELU_C2·x²) = 2z. */
export const GELU_C1 = Math.fround(2 * Math.sqrt(2 / Math.PI));
export const GELU_C2 = Math.fround(2 * Math.sqrt(2 / Math.PI) * 0.044715);
/** f32(1/√2). */
export const INV_SQRT2 = Math.fround(Math.SQRT1_2);

/**
 * Numerical Recipes' erfcc (Chebyshev fit; W. H. Press et al., §6.2):
 * erfc(z) ≈ t·exp(−z² + P(t)), t = 1/(1 + z/2), z ≥ 0, with fractional error
 * below ERFC_FIT_ERROR everywhere (re-measured against the float64 reference
 * by test/backends/webgpu/nn.test.ts). P's coefficients, constant first.
 */
export const ERFC_COEFFS = [
  -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587,
  -0.82215223, 0.17087277,
].map(Math.fround);
export const ERFC_FIT_ERROR = 1.2e-7;

const lit = (v: number) => {
  const s = Math.fround(v).toPrecision(9);
  return s.includes('.') || s.includes('e') ? s : `${s}.0`;
};

function horner(coeffs: readonly number[], t: string): string {
  let s = lit(coeffs[coeffs.length - 1]);
  for (let i = coeffs.length - 2; i >= 0; i--) s = `${lit(coeffs[i])} + ${t} * (${s})`;
  return s;
}

/** fn erfc_pos(z) for z ≥ 0 (NaN in, NaN out). */
export const WGSL_ERFC = /* wgsl */ `
fn erfc_pos(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  return t * exp(-(z * z) + (${horner(ERFC_COEFFS, 't')}));
}
`;

/** x·σ(q) as x/(1 + e^−q) (q ≥ 0) or x·e^q/(1 + e^q) (q < 0). */
const WGSL_SIGMOID_TIMES = /* wgsl */ `
fn times_sigmoid(x: f32, q: f32) -> f32 {
  if (q >= 0.0) { return x / (1.0 + exp(-q)); }
  let e = exp(q);
  return x * e / (1.0 + e);
}
`;

export type UnaryKind = 'silu' | 'gelu' | 'geluErf';

const UNARY_BODY: Record<UnaryKind, string> = {
  silu: 'return times_sigmoid(x, x);',
  gelu: `return times_sigmoid(x, x * (${lit(GELU_C1)} + ${lit(GELU_C2)} * (x * x)));`,
  geluErf: `let z = abs(x) * ${lit(INV_SQRT2)};
  let c = erfc_pos(z);
  if (x >= 0.0) { return (0.5 * x) * (2.0 - c); }
  return (0.5 * x) * c;`,
};

function unaryFn(kind: UnaryKind): string {
  return /* wgsl */ `
${WGSL_F32_BITS}
${WGSL_SIGMOID_TIMES}
${WGSL_ERFC}
fn act(x: f32) -> f32 {
  if (bitcast<u32>(x) == NEG_INF_BITS) { return bitcast<f32>(bitcast<u32>(x) & 0x80000000u); } // −0, built at run time
  ${UNARY_BODY[kind]}
}
`;
}

const ELEMENT_INDEX = /* wgsl */ `
  let e = group_index(wid, nwg) * ${ELEMENTWISE_WG}u + lid;
  if (e >= params[0]) { return; }`;

/** `buffers`: the inputs, then the output. */
function kernel(name: string, buffers: string[], decls: string, body: string): string {
  const out = buffers.length - 1;
  return /* wgsl */ `// ${name}
${wgslBindings(buffers.map((n, i) => (i === out ? `out ${n}` : n)))}
${WGSL_GRID}
${decls}
@compute @workgroup_size(${ELEMENTWISE_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${ELEMENT_INDEX}
  ${body}
}
`;
}

export function unaryWgsl(kind: UnaryKind): string {
  return kernel(kind, ['x', 'y'], unaryFn(kind), 'y[e] = act(x[e]);');
}

export function swigluWgsl(): string {
  return kernel('swiglu', ['gate', 'up', 'y'], unaryFn('silu'), 'y[e] = act(gate[e]) * up[e];');
}

export function addWgsl(): string {
  return kernel(
    'add',
    ['a', 'b', 'y'],
    '',
    'let dim = params[1]; let row = e / dim; y[e] = a[e] + b[(row % params[2]) * dim + e % dim];',
  );
}
