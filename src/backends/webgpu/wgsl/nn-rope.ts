/**
 * WGSL of RoPE (src/ops/rope.ts), one source for both modes and the optional
 * freq_factors, one invocation per element of x.
 *
 * The angle follows ggml's f32 order exactly as the CPU's ropeCache does:
 * θ = f32(p) (positions uploaded as f32, rounded on the host), multiplied
 * i times by f32(freqBase^f32(−2/n_dims)) (host-rounded), then
 * f32(freqScale·f32(θ/ff)) (the division, 2.5 ULP in WGSL, only with
 * freq_factors). WGSL's sin/cos promise only 2^-11 absolute on [−π, π], so
 * the kernel has its own (wgslSinCos): Cody–Waite reduction by π/2 split
 * into P1 + P2 + P3 (P1, P2 of 12 significant bits: k·P1, k·P2 exact for
 * |k| < 2^12), then Cephes' sinf/cosf minimax polynomials on the reduced
 * argument (|r| ≲ π/4) and the quadrant from k mod 4 (exact in f32).
 * Error (src/oracle/webgpu-nn-bounds.ts, ropeGpuBound): reduction
 * δr ≤ [|k| ≥ 2^12]·u·|k|(P1 + P2) + u(|t2| + |k·P3| + |r|) + |k|·|π/2 − ΣP|,
 * polynomial SINCOS_APPROX_ERROR (measured in f64 on |r| ≤ SINCOS_R_MAX,
 * checked by the test) plus SINCOS_EVAL_ULPS·u for the f32 evaluation. The
 * reduced argument is clamped to ±SINCOS_R_MAX so that angles whose reduction
 * is meaningless (|θ| ≳ 2^17, where f32 θ itself is off by more than u·|θ|)
 * still give |cos|, |sin| ≤ 1 + ε.
 *
 * Bindings: 0 params [n_tokens, n_head, head_dim, n_dims, θscale, freqScale,
 * attnFactor bits], 1 x, 2 pos (f32), (3 ff), last y.
 */
import { WGSL_GRID, wgslBindings } from '../context.js';

/** Invocations per workgroup of the rope kernel. */
export const ROPE_WG = 256;

/** π/2 = P1 + P2 + P3 (+ ~1e-16): P1, P2 with 12 significant bits. */
export const HALF_PI_PARTS = (() => {
  const split = (v: number) => {
    const e = Math.floor(Math.log2(Math.abs(v)));
    const q = 2 ** (e - 11);
    return Math.round(v / q) * q; // 12 significant bits
  };
  const p1 = split(Math.PI / 2);
  const p2 = split(Math.PI / 2 - p1);
  const p3 = Math.fround(Math.PI / 2 - p1 - p2);
  return [p1, p2, p3] as const;
})();

/** Cephes sinf: sin r ≈ r + r³(S1 + r²(S2 + r²·S3)); cosf: cos r ≈ 1 − r²/2 + r⁴(C1 + r²(C2 + r²·C3)). */
export const SIN_COEFFS = [-1.6666654611e-1, 8.3321608736e-3, -1.9515295891e-4].map(Math.fround);
export const COS_COEFFS = [4.166664568298827e-2, -1.388731625493765e-3, 2.443315711809948e-5].map(
  Math.fround,
);

/** Largest |r| the polynomials see (the clamp); the approximation error is measured up to it. */
export const SINCOS_R_MAX = 0.8;

/** max |poly − sin|, |poly − cos| over |r| ≤ SINCOS_R_MAX in exact arithmetic (test/backends/webgpu/nn.test.ts re-measures it). */
export const SINCOS_APPROX_ERROR = 1.2e-8;

/**
 * f32 evaluation error of either polynomial, in units of u = 2^-24 absolute:
 * sin: r² (u), Horner (≤ 4 roundings on |P| ≤ 0.17), r·r²·P (2), the final
 * add (u·|sin| ≤ 0.72u): ≤ 0.72u + 0.085·γ8 < 1.5u; cos: r²/2 carries
 * u·0.32, 1 − r²/2 (u), r⁴·Q (|r⁴Q| ≤ 0.018, γ8), the final add (u):
 * < 2.5u. Taken as 3u for both (a fused multiply-add only removes roundings).
 */
export const SINCOS_EVAL_ULPS = 3;

const lit = (v: number) => {
  const s = Math.fround(v).toPrecision(9);
  return s.includes('.') || s.includes('e') ? s : `${s}.0`;
};

/** fn sincos(a) -> vec2f (cos a, sin a). */
export function wgslSinCos(): string {
  const [p1, p2, p3] = HALF_PI_PARTS;
  const [s1, s2, s3] = SIN_COEFFS;
  const [c1, c2, c3] = COS_COEFFS;
  return /* wgsl */ `
fn sincos(a: f32) -> vec2f {
  let k = round(a * ${lit(2 / Math.PI)});
  var r = a - k * ${lit(p1)};
  r = r - k * ${lit(p2)};
  r = r - k * ${lit(p3)};
  r = clamp(r, -${lit(SINCOS_R_MAX)}, ${lit(SINCOS_R_MAX)});
  let r2 = r * r;
  let s = r + r * r2 * (${lit(s1)} + r2 * (${lit(s2)} + r2 * ${lit(s3)}));
  let c = (1.0 - 0.5 * r2) + r2 * r2 * (${lit(c1)} + r2 * (${lit(c2)} + r2 * ${lit(c3)}));
  let q = u32(k - 4.0 * floor(k * 0.25));
  switch q {
    case 0u: { return vec2f(c, s); }
    case 1u: { return vec2f(-s, c); }
    case 2u: { return vec2f(-c, -s); }
    default: { return vec2f(s, -c); }
  }
}
`;
}

export function ropeWgsl(mode: 'normal' | 'neox', freqFactors: boolean): string {
  // Pair i of element d, and whether d is its first element.
  const pair =
    mode === 'normal'
      ? 'let i = d / 2u; let first = (d & 1u) == 0u; let other = select(e - 1u, e + 1u, first);'
      : 'let half = n_dims / 2u; let first = d < half; let i = select(d - half, d, first); let other = select(e - half, e + half, first);';
  return /* wgsl */ `// rope ${mode} ff=${freqFactors}
${wgslBindings(['x', 'pos', ...(freqFactors ? ['ff'] : []), 'out y'])}
${WGSL_GRID}
${wgslSinCos()}
@compute @workgroup_size(${ROPE_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let e = group_index(wid, nwg) * ${ROPE_WG}u + lid;
  let n_tokens = params[0];
  let n_head = params[1];
  let head_dim = params[2];
  let n_dims = params[3];
  if (e >= n_tokens * n_head * head_dim) { return; }
  let d = e % head_dim;
  if (d >= n_dims) { y[e] = x[e]; return; }
  let t = e / (n_head * head_dim);
  ${pair}
  var theta = pos[t];
  let theta_scale = bitcast<f32>(params[4]);
  for (var j = 0u; j < i; j++) { theta = theta * theta_scale; }
  let angle = bitcast<f32>(params[5]) * ${freqFactors ? '(theta / ff[i])' : 'theta'};
  let cs = sincos(angle);
  let m = bitcast<f32>(params[6]);
  let c = cs.x * m;
  let s = cs.y * m;
  if (first) { y[e] = x[e] * c - x[other] * s; } else { y[e] = x[other] * s + x[e] * c; }
}
`;
}
