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
import { WGSL_GRID } from '../context.js';

export const GRU_WG = 64;

function kernel(name: string, buffers: string[], body: string): string {
  const decls = buffers
    .map((b, i) => {
      const [access, id] = b.startsWith('out ') ? ['read_write', b.slice(4)] : ['read', b];
      return `@group(0) @binding(${i + 1}) var<storage, ${access}> ${id}: array<f32>;`;
    })
    .join('\n');
  return /* wgsl */ `// gru ${name}
@group(0) @binding(0) var<storage, read> params: array<u32>;
${decls}
${WGSL_GRID}
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
    `  if (gid >= 3u * H) { return; }
  let B = params[3];
  let g = gid / H; let k = (gid % H) / B; let i = gid % B;
  let row = ((g * B + k) * B + i) * B;
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
    `  let half = H / 2u;
  if (gid >= 3u * half) { return; }
  let ell = params[3]; let f = params[4];
  let g = gid / half; let p = gid % half;
  let s = 1u << f;
  let i = ((p >> f) << (f + 1u)) | (p & (s - 1u));
  var xi: f32; var xj: f32;
  if (f == 0u) { xi = S[prev + i]; xj = S[prev + i + s]; }
  else { xi = gh[g * H + i]; xj = gh[g * H + i + s]; }
  let o = ((g * ell + f) * half + p) * 4u;
  gh[g * H + i] = w[o] * xi + w[o + 1u] * xj;
  gh[g * H + i + s] = w[o + 2u] * xi + w[o + 3u] * xj;`,
  );
}

/** params [0, H, t, hasBias, hasGates]; gx [T, 3H], gh, bh, S (writes row t + 1), gates [T, 3H]. */
export function gruGatesWgsl(): string {
  return kernel(
    'gates',
    ['gx', 'gh', 'bh', 'out S', 'out gates'],
    `  if (gid >= H) { return; }
  let x = params[2] * 3u * H;
  var br = 0.0; var bz = 0.0; var bn = 0.0;
  if (params[3] != 0u) { br = bh[gid]; bz = bh[H + gid]; bn = bh[2u * H + gid]; }
  let r = 1.0 / (1.0 + exp(clamp(-((gx[x + gid] + gh[gid]) + br), -88.0, 88.0)));
  let z = 1.0 / (1.0 + exp(clamp(-((gx[x + H + gid] + gh[H + gid]) + bz), -88.0, 88.0)));
  let a = gx[x + 2u * H + gid] + r * (gh[2u * H + gid] + bn);
  let n = 1.0 - 2.0 / (exp(clamp(a + a, -88.0, 88.0)) + 1.0);
  S[prev + H + gid] = (1.0 - z) * n + z * S[prev + gid];
  if (params[4] != 0u) {
    gates[x + gid] = r;
    gates[x + H + gid] = z;
    gates[x + 2u * H + gid] = n;
  }`,
  );
}
