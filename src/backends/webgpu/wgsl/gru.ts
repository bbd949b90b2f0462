/**
 * WGSL of one GRU step (semantics: src/ops/gru.ts; the order of
 * assembly/scan/gru.ts), f32 and int8 (each template's `int8`; below). The
 * state lives in S [(T + 1)·H]: row t is h_{t−1} (row 0: h0), the step writes
 * row t + 1. Params: gruParams.
 *
 * Recurrent products gh = U·h_{t−1} [3H], each output summed over j
 * ascending (so it carries the structure's roundings of src/ops/gru.ts:
 * dense H, diagonal 1, Monarch 2β, butterfly 2ℓ). The step kernel
 * (gruStepWgsl) computes the structure's last product stage for its element
 * i's three outputs (rows i, H + i, 2H + i) itself, then the gates: dense and
 * diagonal are one dispatch per step; Monarch runs stage 1 first
 * (gruMonarchWgsl: mx[g, iβ + k] = Σ_j b1[g,k,i,j]·h[kβ + j], the block
 * product then the transpose; the step kernel does gh = B2·mx); butterfly runs
 * factors 0 … ℓ − 2 first (gruButterflyWgsl: one invocation per pair, in
 * place in gh; factor 0 reads h), the step kernel does factor ℓ − 1. Each
 * output is the same expression as in a kernel of its own, and its bits pass
 * an XOR with a runtime zero before the gates use them, so the compiler cannot
 * fuse the product's last × into the gates' + (a separate dispatch's store and
 * load would not let it either): the bits are those of the unfused kernels.
 * Dispatches per step: dense and diagonal 1, Monarch 2, butterfly ℓ. One
 * invocation per element computes its three outputs in turn (a dense output
 * stays one invocation's sum over j ascending: splitting it would reorder the
 * sum and change the bits). One invocation per output instead, three rows of
 * a workgroup meeting in workgroup memory after a barrier, ran about 2× slower
 * per step on SwiftShader (its barriers are costly), so it is not used; on a
 * GPU at large H it may win back the parallelism (not measured).
 *
 * Gates: r = σ((gx_r + gh_r) + b_r), z likewise,
 * n = tanh(gx_n + r·(gh_n + b_n)) with tanh = 1 − 2/(e^{2x} + 1),
 * h' = (1 − z)·n + z·h; exp's argument clamped to ±88 (WGSL leaves overflow
 * indeterminate; σ and tanh there are within 2^-126 of 0 or ±1 anyway).
 */

import type { GruStructure } from '../../../ops/gru.js';
import { WGSL_GRID, wgslBindings } from '../context.js';

export const GRU_WG = 64;

/** What a step kernel reads from params (every GRU kernel takes this layout; absent fields are 0). */
export interface GruParams {
  H: number;
  /** The step. */
  t: number;
  bias?: boolean;
  gates?: boolean;
  /** The state scale s_h's f32 bits (int8). */
  sh?: number;
  /** Monarch: β; butterfly: ℓ. */
  shape?: number;
  /** Butterfly: the factor. */
  factor?: number;
  /** int8: the word where a packed U array's scales start (after its codes). */
  scalesAt?: number;
}

/** params [0, H, t, hasBias, hasGates, s_h bits, β or ℓ, factor, scales' word]; params[0] is always 0. */
export function gruParams(p: GruParams): number[] {
  return [
    0,
    p.H,
    p.t,
    p.bias ? 1 : 0,
    p.gates ? 1 : 0,
    p.sh ?? 0,
    p.shape ?? 0,
    p.factor ?? 0,
    p.scalesAt ?? 0,
  ];
}

/** Bindings as '[out] [i32|u32] name' (wgslBindings), then the body. */
function kernel(name: string, buffers: string[], body: string, helpers = ''): string {
  return /* wgsl */ `// gru ${name}
${wgslBindings(buffers)}
${WGSL_GRID}
${helpers}
@compute @workgroup_size(${GRU_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let gid = group_index(wid, nwg) * ${GRU_WG}u + lid;
  let H = params[1];
  let prev = params[2] * H;
${body}
}
`;
}

/** A Monarch output o (< 3H): gate g, block k, row i of the block, and the block row's offset. */
const MONARCH_ROW = `  let B = params[6];
  let g = o / H; let k = (o % H) / B; let i = o % B;
  let row = ((g * B + k) * B + i) * B;`;

// ---- int8 (src/ops/gru.ts "Quantized GRU"; the order of assembly/scan/gru-int8.ts): state codes
// Q [(T + 1)·H] i32 (row 0: q(h0)); each U array packed in one u32 buffer, its int8 codes four to a
// word, then its per-row f32 scales from word params[8]; params[5] = s_h's bits. Integer dots are
// exact (|Σ| ≤ 127²·H). The f32 kernels read the state from S [(T + 1)·H] f32 instead.

/** fn q_<name>(j), fn s_<name>(o): the j-th int8 code (sign-extended) and the o-th scale of a packed array. */
function packedReader(name: string): string {
  return `fn q_${name}(j: u32) -> i32 { return extractBits(bitcast<i32>(${name}[j >> 2u]), (j & 3u) * 8u, 8u); }
fn s_${name}(o: u32) -> f32 { return bitcast<f32>(${name}[params[8] + o]); }
`;
}

/** The state binding, and h_{t−1}[j] as f32 (int8: f32(q)·s_h). */
const STATE = (int8: boolean) => (int8 ? 'i32 Q' : 'S');
const stateValue = (int8: boolean, j: string) =>
  int8 ? `f32(Q[${j}]) * bitcast<f32>(params[5])` : `S[${j}]`;

/** A weight binding: f32, or (int8) a packed array of u32 words. */
const weights = (int8: boolean, name: string) => (int8 ? `u32 ${name}` : name);

/**
 * Butterfly helpers: fn pair_in (factor f's inputs for gate g's pair (i, i + s): the state at
 * factor 0, else the previous factor's in gh), fn pair_first (factor f's pair p's first element),
 * fn w_term (the output of side b, 0 first or 1 second, of the pair with index pf:
 * w_a·x_i + w_b·x_j; int8 s·(q_a·x_i + q_b·x_j)).
 */
function butterflyHelpers(int8: boolean): string {
  return `fn pair_in(g: u32, i: u32, s: u32, f: u32, H: u32, prev: u32) -> vec2f {
  if (f == 0u) { return vec2f(${stateValue(int8, 'prev + i')}, ${stateValue(int8, 'prev + i + s')}); }
  return vec2f(gh[g * H + i], gh[g * H + i + s]);
}
fn pair_first(p: u32, f: u32) -> u32 { return ((p >> f) << (f + 1u)) | (p & ((1u << f) - 1u)); }
fn w_term(pf: u32, b: u32, v: vec2f) -> f32 {
  let o = pf * 4u + 2u * b;
${
  int8
    ? '  return s_w(pf * 2u + b) * (f32(q_w(o)) * v.x + f32(q_w(o + 1u)) * v.y);'
    : '  return w[o] * v.x + w[o + 1u] * v.y;'
}
}
${int8 ? packedReader('w') : ''}`;
}

/**
 * fn product(o, H, prev): output o of each structure's last product stage. f32: the sums of
 * src/ops/gru.ts. int8: dense and diagonal (s_o·s_h)·f32(exact integer dot); Monarch stage 2
 * s2·(Σ_j f32(q2)·mx) in f32 on stage 1's mx; butterfly factor ℓ − 1 on factor ℓ − 2's gh (factor 0:
 * the state).
 */
function product(kind: GruStructure, int8: boolean): string {
  const sig = 'fn product(o: u32, H: u32, prev: u32) -> f32';
  const sh = 'bitcast<f32>(params[5])';
  switch (kind) {
    case 'dense':
      return `${sig} {
  var s = ${int8 ? '0' : '0.0'};
  for (var j = 0u; j < H; j++) { s = s + ${int8 ? 'q_u(o * H + j) * Q' : 'u[o * H + j] * S'}[prev + j]; }
  return ${int8 ? `(s_u(o) * ${sh}) * f32(s)` : 's'};
}
${int8 ? packedReader('u') : ''}`;
    case 'diagonal':
      return `${sig} { return ${int8 ? `(s_u(o) * ${sh}) * f32(q_u(o) * Q[prev + o % H])` : 'u[o] * S[prev + o % H]'}; }
${int8 ? packedReader('u') : ''}`;
    case 'monarch':
      return `${sig} {
${MONARCH_ROW}
  var s = 0.0;
  for (var j = 0u; j < B; j++) { s = s + ${int8 ? 'f32(q_b2(row + j))' : 'b2[row + j]'} * mx[g * H + k * B + j]; }
  return ${int8 ? 's_b2(o) * s' : 's'};
}
${int8 ? packedReader('b2') : ''}`;
    case 'butterfly':
      // Output o's pair: its first element i, o's side b, the pair's index pf.
      return `${sig} {
  let ell = params[6]; let f = ell - 1u; let half = H / 2u;
  let g = o / H; let e = o % H; let s = 1u << f;
  let b = (e >> f) & 1u;
  let i = e - b * s;
  let pf = (g * ell + f) * half + (((i >> (f + 1u)) << f) | (i & (s - 1u)));
  return w_term(pf, b, pair_in(g, i, s, f, H, prev));
}
${butterflyHelpers(int8)}`;
  }
}

/** The last stage's weights, and (Monarch, butterfly) the earlier stages' output it reads. */
const LAST_STAGE: Record<GruStructure, [string] | [string, string]> = {
  dense: ['u'],
  diagonal: ['u'],
  monarch: ['b2', 'mx'],
  butterfly: ['w', 'gh'],
};

/**
 * Monarch stage 1, one invocation per output (3H): params gruParams (β; int8: s_h, scales); b1, the
 * state, mx: mx[g, iβ + k] = Σ_j b1[g,k,i,j]·h[kβ + j] (int8: (s1·s_h)·f32(Σ_j q1·q_h), exact dot).
 */
export function gruMonarchWgsl(int8 = false): string {
  return kernel(
    `monarch 1${int8 ? ' int8' : ''}`,
    [weights(int8, 'b1'), STATE(int8), 'out mx'],
    `  let o = gid;
  if (o >= 3u * H) { return; }
${MONARCH_ROW}
  var s = ${int8 ? '0' : '0.0'};
  for (var j = 0u; j < B; j++) { s = s + ${int8 ? 'q_b1(row + j) * Q' : 'b1[row + j] * S'}[prev + k * B + j]; }
  mx[g * H + i * B + k] = ${int8 ? '(s_b1(o) * bitcast<f32>(params[5])) * f32(s)' : 's'};`,
    int8 ? packedReader('b1') : '',
  );
}

/**
 * Butterfly factor f < ℓ − 1, one invocation per pair of each gate (3·H/2): params gruParams (ℓ, f;
 * int8: s_h, scales); w [3, ℓ, H/2, 4] (int8: packed, scales [3, ℓ, H/2, 2]), the state, gh (in place
 * after factor 0).
 */
export function gruButterflyWgsl(int8 = false): string {
  return kernel(
    `butterfly${int8 ? ' int8' : ''}`,
    [weights(int8, 'w'), STATE(int8), 'out gh'],
    `  let half = H / 2u;
  if (gid >= 3u * half) { return; }
  let ell = params[6]; let f = params[7];
  let g = gid / half; let p = gid % half;
  let s = 1u << f;
  let i = pair_first(p, f);
  let v = pair_in(g, i, s, f, H, prev);
  let pf = (g * ell + f) * half + p;
  gh[g * H + i] = w_term(pf, 0u, v);
  gh[g * H + i + s] = w_term(pf, 1u, v);`,
    butterflyHelpers(int8),
  );
}

/**
 * The cell of element i from the previous state h and its products gh (r, z, n rows): vec4(r, z, n, h')
 * (reads gx, bh of the kernel; params[3]: has b_h; x: the step's row of gx).
 * NaN propagates as in IEEE arithmetic (the CPU engines'): the clamps would
 * turn a NaN pre-activation into ±88 on GPUs (min/max return the number) and
 * WGSL does not promise NaN propagation, so NaN is found in the
 * pre-activations' bits and selected explicitly (r is in (0, 1], so r·p_n is
 * NaN exactly when p_n is, or ±∞ against gx_n); params[0] is 0, which keeps
 * the NaN a runtime value (a constant NaN is a shader-creation error).
 */
const GRU_CELL = /* wgsl */ `
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
// v's bits through an XOR with params[0] (a runtime 0): the compiler cannot fuse v's last × into a later +.
fn unfused(v: f32) -> f32 { return bitcast<f32>(bitcast<u32>(v) ^ params[0]); }
// Element i's products (rows i, H + i, 2H + i) from the state row at prev.
fn products(i: u32, H: u32, prev: u32) -> vec3f {
  return vec3f(unfused(product(i, H, prev)), unfused(product(H + i, H, prev)), unfused(product(2u * H + i, H, prev)));
}
fn gru_cell(i: u32, x: u32, H: u32, h: f32, gh: vec3f) -> vec4f {
  var br = 0.0; var bz = 0.0; var bn = 0.0;
  if (params[3] != 0u) { br = bh[i]; bz = bh[H + i]; bn = bh[2u * H + i]; }
  let pr = (gx[x + i] + gh.x) + br;
  let pz = (gx[x + H + i] + gh.y) + bz;
  let pn = gh.z + bn;
  let r = 1.0 / (1.0 + exp(clamp(-pr, -88.0, 88.0)));
  let z = 1.0 / (1.0 + exp(clamp(-pz, -88.0, 88.0)));
  let a = gx[x + 2u * H + i] + r * pn;
  let n = 1.0 - 2.0 / (exp(clamp(a + a, -88.0, 88.0)) + 1.0);
  let nan = bitcast<f32>(0x7fc00000u + params[0]);
  let rNan = is_nan(pr);
  let zNan = is_nan(pz);
  let nNan = rNan || is_nan(gx[x + 2u * H + i] + pn);
  let hNan = rNan || zNan || nNan || is_nan(h);
  return vec4f(select(r, nan, rNan), select(z, nan, zNan), select(n, nan, nNan),
               select((1.0 - z) * n + z * h, nan, hNan));
}
`;

const STORE_GATES = `  if (params[4] != 0u) {
    gates[x + gid] = c.x;
    gates[x + H + gid] = c.y;
    gates[x + 2u * H + gid] = c.z;
  }`;

/**
 * code(h', s_h) = clamp(round-half-to-even(h'/s_h), −127, 127) of the exact
 * quotient, in integers: h' = m_h·2^e_h, s_h = m_s·2^e_s (24-bit mantissas),
 * x = m_h·2^d / m_s with d = e_h − e_s. d ≥ 8: |x| > 128, saturated;
 * 0 ≤ d ≤ 7: N = m_h << d < 2^31, q = N / m_s with the remainder deciding
 * (2·rem vs m_s; equal: to even); d = −1: the same with m_s << 1; d ≤ −2:
 * |x| < 1/2, code 0. No division in floating point, so no 2.5-ULP error can
 * move a code (s_h must be a normal f32: the frozen quantizer's scale).
 */
/** state_code of a NaN: −128, which the narrow range (±127) never gives; ../ops/gru.ts refuses it. */
export const NAN_STATE_CODE = -128;

const STATE_CODE = /* wgsl */ `
// Mantissa and exponent with value = mant·2^expo (subnormals: no implicit bit, exponent −149).
fn mant(b: u32) -> u32 { return select((b & 0x7fffffu) | 0x800000u, b & 0x7fffffu, (b & 0x7f800000u) == 0u); }
fn expo(b: u32) -> i32 { return max(i32((b >> 23u) & 0xffu), 1) - 150; }
fn state_code(h: f32, s: f32) -> i32 {
  let hb = bitcast<u32>(h);
  if ((hb & 0x7fffffffu) > 0x7f800000u) { return ${NAN_STATE_CODE}; } // NaN: no code (the host refuses it)
  let sb = bitcast<u32>(s);
  let mh = mant(hb);
  if (mh == 0u) { return 0; }
  var ms = mant(sb);
  let d = expo(hb) - expo(sb);
  var q: u32;
  if (d >= 8) { q = 128u; }
  else if (d <= -2) { q = 0u; }
  else {
    var num = mh;
    if (d >= 0) { num = mh << u32(d); } else { ms = ms << 1u; }
    q = num / ms;
    let rem2 = (num - q * ms) * 2u;
    if (rem2 > ms || (rem2 == ms && (q & 1u) == 1u)) { q = q + 1u; }
  }
  let v = i32(min(q, 127u));
  return select(v, -v, (hb & 0x80000000u) != 0u);
}
`;

/**
 * One step of a structure, one invocation per element (H): params gruParams; the last stage's
 * inputs (LAST_STAGE), gx [T, 3H], bh, the state (reads row t, writes row t + 1), gates [T, 3H];
 * int8 also h [T, H] (f32(q)·s_h): the cell on h = f32(q_h)·s_h, then the new code by state_code
 * (the exact rounding of h'/s_h).
 */
export function gruStepWgsl(kind: GruStructure, int8 = false): string {
  const [w, ...staged] = LAST_STAGE[kind];
  const io = ['gx', 'bh', `out ${STATE(int8)}`, 'out gates', ...(int8 ? ['out hs'] : [])];
  const store = int8
    ? `  let q = state_code(c.w, bitcast<f32>(params[5])); // NaN: NAN_STATE_CODE
  Q[prev + H + gid] = q;
  hs[prev + gid] = f32(q) * bitcast<f32>(params[5]);`
    : '  S[prev + H + gid] = c.w;';
  return kernel(
    `step ${kind}${int8 ? ' int8' : ''}`,
    [weights(int8, w), ...staged, ...io],
    `  if (gid >= H) { return; }
  let x = params[2] * 3u * H;
  let c = gru_cell(gid, x, H, ${stateValue(int8, 'prev + gid')}, products(gid, H, prev));
${store}
${STORE_GATES}`,
    product(kind, int8) + GRU_CELL + (int8 ? STATE_CODE : ''),
  );
}

/** state_code alone over an array (params [n, s_h bits]; 1 h, 2 codes): checks the rounding on any values. */
export function gruStateCodeWgsl(): string {
  return kernel(
    'state code',
    ['h', 'out i32 codes'],
    `  if (gid >= params[0]) { return; }
  codes[gid] = state_code(h[gid], bitcast<f32>(params[1]));`,
    STATE_CODE,
  );
}
