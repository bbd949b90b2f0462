/**
 * WGSL of one GRU step (semantics: src/ops/gru.ts; the order of
 * assembly/scan/gru.ts), f32. The state lives in S [(T + 1)·H]: row t is
 * h_{t−1} (row 0: h0), the step writes row t + 1. params[1] = H, params[2] = t.
 *
 * Recurrent products gh = U·h_{t−1} [3H], one invocation per output (sums
 * over j ascending, so each output carries the structure's roundings of
 * src/ops/gru.ts: dense H, diagonal 1, Monarch 2β, butterfly 2ℓ):
 * - gruDenseWgsl, gruDiagonalWgsl: one dispatch;
 * - gruMonarchWgsl(stage): stage 1 x[g, iβ + k] = Σ_j b1[g,k,i,j]·h[kβ + j]
 *   (the block product then the transpose), stage 2 gh = B2·x;
 * - gruButterflyWgsl: one dispatch per factor f, one invocation per pair,
 *   in place in gh (factor 0 reads h).
 * gruGatesWgsl: r = σ((gx_r + gh_r) + b_r), z likewise,
 * n = tanh(gx_n + r·(gh_n + b_n)) with tanh = 1 − 2/(e^{2x} + 1),
 * h' = (1 − z)·n + z·h; exp's argument clamped to ±88 (WGSL leaves overflow
 * indeterminate; σ and tanh there are within 2^-126 of 0 or ±1 anyway).
 */
import { WGSL_GRID, wgslBindings } from '../context.js';

export const GRU_WG = 64;

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

/** A Monarch kernel's output (gid < 3H): gate g, block k, row i of the block, and the block row's offset. */
const MONARCH_ROW = `  if (gid >= 3u * H) { return; }
  let B = params[3];
  let g = gid / H; let k = (gid % H) / B; let i = gid % B;
  let row = ((g * B + k) * B + i) * B;`;

/**
 * A butterfly kernel's pair (gid < 3·H/2, one per pair of each gate): factor f
 * of ℓ, gate g, the pair's elements i and i + s; xi, xj its inputs, to set.
 */
const BUTTERFLY_PAIR = `  let half = H / 2u;
  if (gid >= 3u * half) { return; }
  let ell = params[3]; let f = params[4];
  let g = gid / half; let p = gid % half;
  let s = 1u << f;
  let i = ((p >> f) << (f + 1u)) | (p & (s - 1u));
  var xi: f32; var xj: f32;`;

/** params [0, H, t]; u [3H, H], S, gh. */
export function gruDenseWgsl(): string {
  return kernel(
    'dense',
    ['u', 'S', 'out gh'],
    `  if (gid >= 3u * H) { return; }
  var s = 0.0;
  for (var j = 0u; j < H; j++) { s = s + u[gid * H + j] * S[prev + j]; }
  gh[gid] = s;`,
  );
}

/** params [0, H, t]; u [3H], S, gh. */
export function gruDiagonalWgsl(): string {
  return kernel(
    'diagonal',
    ['u', 'S', 'out gh'],
    `  if (gid >= 3u * H) { return; }
  gh[gid] = u[gid] * S[prev + gid % H];`,
  );
}

/** params [0, H, t, β]; stage 1: b1, S, x; stage 2: b2, x, gh (b: [3, β, β, β]). */
export function gruMonarchWgsl(stage: 1 | 2): string {
  const [w, src, dst] = stage === 1 ? ['b1', 'S', 'x'] : ['b2', 'x', 'gh'];
  const from = stage === 1 ? 'prev + k * B' : 'g * H + k * B';
  const to = stage === 1 ? 'g * H + i * B + k' : 'gid';
  return kernel(
    `monarch ${stage}`,
    [w, src, `out ${dst}`],
    `${MONARCH_ROW}
  var s = 0.0;
  for (var j = 0u; j < B; j++) { s = s + ${w}[row + j] * ${src}[${from} + j]; }
  ${dst}[${to}] = s;`,
  );
}

/** params [0, H, t, ℓ, f]; w [3, ℓ, H/2, 4], S, gh (in place after factor 0). */
export function gruButterflyWgsl(): string {
  return kernel(
    'butterfly',
    ['w', 'S', 'out gh'],
    `${BUTTERFLY_PAIR}
  if (f == 0u) { xi = S[prev + i]; xj = S[prev + i + s]; }
  else { xi = gh[g * H + i]; xj = gh[g * H + i + s]; }
  let o = ((g * ell + f) * half + p) * 4u;
  gh[g * H + i] = w[o] * xi + w[o + 1u] * xj;
  gh[g * H + i + s] = w[o + 2u] * xi + w[o + 3u] * xj;`,
  );
}

/**
 * The cell of element i from the previous state h: vec4(r, z, n, h') (reads
 * gx, gh, bh of the kernel; params[3]: has b_h; x: the step's row of gx).
 * NaN propagates as in IEEE arithmetic (the CPU engines'): the clamps would
 * turn a NaN pre-activation into ±88 on GPUs (min/max return the number) and
 * WGSL does not promise NaN propagation, so NaN is found in the
 * pre-activations' bits and selected explicitly (r is in (0, 1], so r·p_n is
 * NaN exactly when p_n is, or ±∞ against gx_n); params[0] is 0, which keeps
 * the NaN a runtime value (a constant NaN is a shader-creation error).
 */
const GRU_CELL = /* wgsl */ `
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
fn gru_cell(i: u32, x: u32, H: u32, h: f32) -> vec4f {
  var br = 0.0; var bz = 0.0; var bn = 0.0;
  if (params[3] != 0u) { br = bh[i]; bz = bh[H + i]; bn = bh[2u * H + i]; }
  let pr = (gx[x + i] + gh[i]) + br;
  let pz = (gx[x + H + i] + gh[H + i]) + bz;
  let pn = gh[2u * H + i] + bn;
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

/** params [0, H, t, hasBias, hasGates]; gx [T, 3H], gh, bh, S (writes row t + 1), gates [T, 3H]. */
export function gruGatesWgsl(): string {
  return kernel(
    'gates',
    ['gx', 'gh', 'bh', 'out S', 'out gates'],
    `  if (gid >= H) { return; }
  let x = params[2] * 3u * H;
  let c = gru_cell(gid, x, H, S[prev + gid]);
  S[prev + H + gid] = c.w;
${STORE_GATES}`,
    GRU_CELL,
  );
}

// ---- The quantized GRU (src/ops/gru.ts "Quantized GRU"; the order of assembly/scan/gru-int8.ts) ----
// State codes Q [(T + 1)·H] i32 (row 0: q(h0)); weight codes int8 packed four to a u32;
// params[5] = s_h's bits. Integer dots are exact (|Σ| ≤ 127²·H).

/** fn q_<name>(j): the j-th int8 code of a packed u32 binding, sign-extended. */
function codeReader(name: string): string {
  return `fn q_${name}(j: u32) -> i32 { return extractBits(bitcast<i32>(${name}[j >> 2u]), (j & 3u) * 8u, 8u); }\n`;
}

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

/** params [0, H, t, 0, 0, s_h bits]; qu (packed int8), su [3H], Q, gh. */
export function gruDenseI8Wgsl(): string {
  return kernel(
    'dense int8',
    ['u32 qu', 'su', 'i32 Q', 'out gh'],
    `  if (gid >= 3u * H) { return; }
  var s = 0;
  for (var j = 0u; j < H; j++) { s = s + q_qu(gid * H + j) * Q[prev + j]; }
  gh[gid] = (su[gid] * bitcast<f32>(params[5])) * f32(s);`,
    codeReader('qu'),
  );
}

/** params [0, H, t, 0, 0, s_h bits]; qu (packed int8), su [3H], Q, gh. */
export function gruDiagonalI8Wgsl(): string {
  return kernel(
    'diagonal int8',
    ['u32 qu', 'su', 'i32 Q', 'out gh'],
    `  if (gid >= 3u * H) { return; }
  gh[gid] = (su[gid] * bitcast<f32>(params[5])) * f32(q_qu(gid) * Q[prev + gid % H]);`,
    codeReader('qu'),
  );
}

/**
 * params [0, H, t, β, 0, s_h bits]. Stage 1: q1, s1, Q, x: x[g, iβ + k] =
 * (s1·s_h)·f32(Σ_j q1·q_h) (exact integer dot); stage 2: q2, s2, x, gh:
 * gh = s2·(Σ_j f32(q2)·x) in f32.
 */
export function gruMonarchI8Wgsl(stage: 1 | 2): string {
  if (stage === 1)
    return kernel(
      'monarch int8 1',
      ['u32 q1', 's1', 'i32 Q', 'out x'],
      `${MONARCH_ROW}
  var s = 0;
  for (var j = 0u; j < B; j++) { s = s + q_q1(row + j) * Q[prev + k * B + j]; }
  x[g * H + i * B + k] = (s1[gid] * bitcast<f32>(params[5])) * f32(s);`,
      codeReader('q1'),
    );
  return kernel(
    'monarch int8 2',
    ['u32 q2', 's2', 'x', 'out gh'],
    `${MONARCH_ROW}
  var s = 0.0;
  for (var j = 0u; j < B; j++) { s = s + f32(q_q2(row + j)) * x[g * H + k * B + j]; }
  gh[gid] = s2[gid] * s;`,
    codeReader('q2'),
  );
}

/**
 * params [0, H, t, ℓ, f, s_h bits]; qw (packed [3, ℓ, H/2, 4]), sw [3, ℓ, H/2, 2], Q, gh.
 * Factor 0 reads h = f32(q_h)·s_h; y_i = s_a·(q0·x_i + q1·x_j), y_j = s_b·(q2·x_i + q3·x_j).
 */
export function gruButterflyI8Wgsl(): string {
  return kernel(
    'butterfly int8',
    ['u32 qw', 'sw', 'i32 Q', 'out gh'],
    `${BUTTERFLY_PAIR}
  if (f == 0u) {
    let sh = bitcast<f32>(params[5]);
    xi = f32(Q[prev + i]) * sh; xj = f32(Q[prev + i + s]) * sh;
  } else { xi = gh[g * H + i]; xj = gh[g * H + i + s]; }
  let pf = (g * ell + f) * half + p;
  gh[g * H + i] = sw[pf * 2u] * (f32(q_qw(pf * 4u)) * xi + f32(q_qw(pf * 4u + 1u)) * xj);
  gh[g * H + i + s] = sw[pf * 2u + 1u] * (f32(q_qw(pf * 4u + 2u)) * xi + f32(q_qw(pf * 4u + 3u)) * xj);`,
    codeReader('qw'),
  );
}

/**
 * params [0, H, t, hasBias, hasGates, s_h bits]; gx, gh, bh, Q (writes row
 * t + 1), gates, h [T, H] (f32(q)·s_h). The cell on h = f32(q_h)·s_h, then
 * the new code by state_code (exact rounding of h'/s_h).
 */
export function gruGatesI8Wgsl(): string {
  return kernel(
    'gates int8',
    ['gx', 'gh', 'bh', 'out i32 Q', 'out gates', 'out hs'],
    `  if (gid >= H) { return; }
  let x = params[2] * 3u * H;
  let sh = bitcast<f32>(params[5]);
  let c = gru_cell(gid, x, H, f32(Q[prev + gid]) * sh);
  let q = state_code(c.w, sh); // NaN: NAN_STATE_CODE
  Q[prev + H + gid] = q;
  hs[prev + gid] = f32(q) * sh;
${STORE_GATES}`,
    GRU_CELL + STATE_CODE,
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
