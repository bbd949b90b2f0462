/**
 * Error bounds of the WebGPU nn kernels (src/backends/webgpu/wgsl/nn-*.ts)
 * that are not the wasm kernels' derivations with WGSL's arithmetic (those,
 * the norms, are in nn-bounds.ts: rmsNormGpuBound, layerNormGpuBound)
 * against the float64 reference, derived from what WGSL guarantees — never
 * tuned: + − × f32 within one ULP (WGSL fixes no rounding mode, a result
 * may round up or down: u = 2^-23 relative, not round-to-nearest's 2^-24; a
 * fused multiply-add only drops roundings), division 2.5 ULP and
 * inverseSqrt 2 ULP (an ULP of the result is ≤ 2^-23 of it), exp
 * 3 + 2|x| ULP, and subnormals that may be flushed
 * (an absolute FTZ = 2^-125 per operation whose operand or result is below
 * 2^-126). Row sums are f32 trees (nn-common.ts): γ(rowSumDepth(n), u) of the
 * magnitude. Each bound follows the kernel's operation order, as
 * src/oracle/nn-bounds.ts does for the wasm kernels; elements whose
 * reference is NaN or ±inf are compared exactly by callers.
 */
import { rowSumDepth } from '../backends/webgpu/wgsl/nn-common.js';
import { ERFC_COEFFS, ERFC_FIT_ERROR } from '../backends/webgpu/wgsl/nn-elementwise.js';
import {
  HALF_PI_PARTS,
  SINCOS_APPROX_ERROR,
  SINCOS_EVAL_ULPS,
  SINCOS_R_MAX,
} from '../backends/webgpu/wgsl/nn-rope.js';
import type { RopeParams } from '../ops/rope.js';
import { WGSL_F32 } from './arithmetic.js';
import { ropePairsBound, ropeStepError, ropeTheta, softmaxDeviation, softmaxRow } from './nn-bounds.js';
import { gamma } from './tiers.js';

/** One + − × (rounded up or down: one ULP, relative). */
const u = WGSL_F32.u;
/** Absolute error of one operation touching the subnormal range (flushed or not). */
const FTZ = WGSL_F32.tiny;
/** exp's relative error at argument x. */
const gpuExpError = WGSL_F32.expError;
const DIV = WGSL_F32.div;
/** Below this argument exp's result is under 2^-126: an absolute error (≤ 2^-124 with the ULPs) instead. */
const EXP_TINY = -86;

type Vec = ArrayLike<number>;

/** |π/2 − (P1 + P2 + P3)|: P3 rounded to f32 (half an ULP of it) plus f64's own π/2. */
const HALF_PI_SPLIT_ERROR = 2 ** -50;

/**
 * Absolute error of the kernel's cos and sin of an f32 angle a (wgslSinCos),
 * or null where the reduced argument may leave |r| ≤ SINCOS_R_MAX (huge
 * angles): reduction error δr plus the polynomial's fit and evaluation.
 */
export function sinCosGpuError(a: number): number | null {
  const [p1, p2, p3] = HALF_PI_PARTS;
  const k = Math.abs(Math.round(a * (2 / Math.PI))) + 1;
  const products = k >= 4096 ? u * k * (Math.abs(p1) + Math.abs(p2)) : 0;
  const dr = products + u * (2 * SINCOS_R_MAX + 2 * k * Math.abs(p3)) + k * HALF_PI_SPLIT_ERROR;
  // k itself comes from a rounded a·f32(2/π): off by one at most near a half-multiple, widening |r| by |a|·2.1u·π/2.
  if (Math.PI / 4 + Math.abs(a) * 2.1 * u * (Math.PI / 2) + dr > SINCOS_R_MAX) return null;
  return dr + SINCOS_APPROX_ERROR + SINCOS_EVAL_ULPS * u;
}

/**
 * RoPE: the angle is the CPU's (ggml's f32 iteration, src/oracle/nn-bounds.ts
 * ropeBound's η_i) except that θ/ff is WGSL's division (5u instead of u); cos
 * and sin within sinCosGpuError; c = f32(cos·m), then y0 = f32(f32(x0·c) −
 * f32(x1·s)). Per pair: (|x0| + |x1|)·m·((|θ|η′_i + T + u)(1 + γ2) + γ2·1.01)
 * + 4·FTZ; where T is unbounded (huge angles) the trivial 2.02·m(|x0| + |x1|).
 */
export function ropeGpuBound(x: Vec, positions: Vec, q: RopeParams): Float64Array {
  const g2 = gamma(2, u);
  const dts = ropeStepError(q, u);
  const m = Math.abs(q.attnFactor);
  const fr = Math.fround;
  const thetaScale = fr(q.freqBase ** fr(-2 / q.nDims));
  let th = 0;
  return ropePairsBound(x, q, 4 * FTZ, (t, i) => {
    if (i === 0) th = fr(positions[t]);
    const ff = q.freqFactors ? q.freqFactors[i] : 1;
    // (1 + u)^(i+2)·(1 + u or DIV), not the CPU's (1 + u)^(i+3): θ/ff is WGSL's division.
    const eta = (1 + dts) ** i * (1 + u) ** (i + 2) * (1 + (q.freqFactors ? DIV : u)) - 1;
    // The kernel's angle, to size its reduction (its own error is in θ·η).
    const angle = q.freqScale * (th / ff);
    th = fr(th * thetaScale);
    const T = sinCosGpuError(angle);
    if (T === null) return 2.02 * m * (1 + g2);
    return m * ((ropeTheta(q, positions, t, i) * eta + T + u) * (1 + g2) + g2 * 1.01);
  });
}

/**
 * Softmax (wgsl/nn-softmax.ts) — its own derivation, not softmaxBound's with
 * WGSL numbers: exp's error grows with |d|, so λ_j bounds the argument itself
 * (dM included) and entries exp may cut off carry an absolute error instead.
 * ŵ = f32(f32(x·scale) + mask), d = f32(ŵ −
 * max), ê = exp(d) (relative (3 + 2|d|)·2u; d below the cutoff: 0), Σê in
 * the row tree (γ(depth)), y = ê/Σ (5u). As nn-bounds' softmaxBound: each
 * ê_j is exp(w_j − max)·e^λ_j, and the normalization sees the y-weighted
 * mean of e^λ; entries that may be cut off or land below 2^-126 carry an
 * absolute FTZ instead (and may be 0: y_j itself).
 */
export function softmaxGpuBound(
  x: Vec,
  mask: Vec | null,
  rows: number,
  n: number,
  maskRows: number,
  scale: number,
): Float64Array {
  const bound = new Float64Array(rows * n);
  const gd = gamma(rowSumDepth(n), u);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    const { w, dw, M, dM, A, lnA } = softmaxRow(WGSL_F32, x, mask, r, n, maskRows, scale);
    if (!Number.isFinite(M)) continue;
    const lambda = new Float64Array(n);
    // Entries whose ê may be cut off to 0 or fall below 2^-126: absolute error.
    const small = new Uint8Array(n);
    let kUp = 0;
    let kDown = 0;
    let nSmall = 0;
    for (let i = 0; i < n; i++) {
      if (w[i] === Number.NEGATIVE_INFINITY) continue;
      const d = w[i] - M;
      const slack = dw[i] + dM + u * Math.abs(d);
      const ly = d - lnA;
      if (d - slack < EXP_TINY) {
        small[i] = 1;
        nSmall++;
        kDown += Math.exp(ly);
        continue;
      }
      const E = gpuExpError(Math.abs(d) + slack);
      lambda[i] = slack + u * (Math.abs(d) + slack) - Math.log(1 - E);
      kUp += Math.exp(ly + lambda[i]) - Math.exp(ly);
      kDown += Math.exp(ly) - Math.exp(ly - lambda[i]);
    }
    const Alow = Math.exp(-dM) * A;
    kUp += (nSmall * FTZ) / Alow;
    const ops = 1 + DIV + u;
    const absTerm = (FTZ * ops) / (Alow * (1 - kDown) * (1 - gd)) + FTZ;
    for (let i = 0; i < n; i++) {
      if (w[i] === Number.NEGATIVE_INFINITY) continue; // exactly 0
      const ly = w[i] - M - lnA;
      bound[o + i] =
        (small[i] ? Math.exp(ly) : softmaxDeviation(ly, lambda[i], ops, kUp, kDown, gd)) + absTerm;
    }
  }
  return bound;
}

/** x·σ(q) as the kernel computes it, q within δq of the exact argument: relative error, or null when q < EXP_TINY. */
function timesSigmoidError(q: number, dq: number): number | null {
  if (q - dq < EXP_TINY) return null;
  const e = gpuExpError(Math.abs(q) + dq) + Math.expm1(dq) * (1 + gpuExpError(Math.abs(q) + dq));
  const damp = Math.exp(-Math.abs(q)) / (1 + Math.exp(-Math.abs(q)));
  // q ≥ 0: x/(1 + ê); q < 0: f32(x·ê)/(1 + ê).
  return q >= 0 ? e * damp + u + DIV : e + u + e * damp + u + DIV;
}

const withSecondOrder = (r: number) => r * (1 + 2 * r);

/** SiLU: per element |ref|·R(x) (timesSigmoidError with q = x), or |ref| + |x|·2^-124 below e^-86. */
export function siluGpuBound(x: Vec, ref: Vec): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => {
    const r = timesSigmoidError(x[i], 0);
    return r === null
      ? Math.abs(ref[i]) + Math.abs(x[i]) * 2 ** -124 + FTZ
      : Math.abs(ref[i]) * withSecondOrder(r) + FTZ;
  });
}

/** GELU (tanh): q = x·(C1 + C2·x²) = 2z within γ6·|q| (constants rounded, four operations). */
export function geluTanhGpuBound(x: Vec, ref: Vec): Float64Array {
  const g6 = gamma(6, u);
  return Float64Array.from({ length: x.length }, (_, i) => {
    const v = x[i];
    const q = 2 * Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v);
    const r = timesSigmoidError(q, g6 * Math.abs(q));
    return r === null
      ? Math.abs(ref[i]) + Math.abs(v) * 2 ** -124 + FTZ
      : Math.abs(ref[i]) * withSecondOrder(r) + FTZ;
  });
}

/** Σ|c_i| and Σ i·|c_i| of the erfc fit's polynomial (t ≤ 1). */
const ERFC_ABS = ERFC_COEFFS.reduce((a, c) => a + Math.abs(c), 0);
const ERFC_SLOPE = ERFC_COEFFS.reduce((a, c, i) => a + i * Math.abs(c), 0);

/**
 * GELU (erf) = 0.5·x·erfc(−x/√2) with the kernel's erfc_pos(z), z = f32(|x|·f32(1/√2)):
 * t = 1/(1 + z/2) within 7u; the exponent A = −z² + P(t) within δA = 5u·z²
 * + γ18·Σ|c_i| + 7u·Σi|c_i| + u|A|; erfc within ERFC_FIT_ERROR + 8u +
 * (3 + 2|A|)·2u + (e^δA − 1). x < 0: one more rounding; x ≥ 0: 2 − ĉ
 * (absolute E·erfc(z) on a value ≥ 1) and two roundings. Where A < −86,
 * erfc is absolute (2^-124).
 */
export function geluErfGpuBound(x: Vec, ref: Vec, erfcOf: (z: number) => number): Float64Array {
  const g18 = gamma(18, u);
  return Float64Array.from({ length: x.length }, (_, i) => {
    const v = x[i];
    const z = Math.abs(v) * Math.SQRT1_2;
    const t = 1 / (1 + 0.5 * z);
    const A = -z * z + Math.log(erfcOf(z) / t);
    const dA = 5 * u * z * z + g18 * ERFC_ABS + 7 * u * ERFC_SLOPE + u * Math.abs(A);
    const c = erfcOf(z);
    let absC: number;
    if (A - dA < EXP_TINY || !Number.isFinite(A)) absC = c + 2 ** -124;
    else absC = c * (ERFC_FIT_ERROR + 8 * u + gpuExpError(Math.abs(A) + dA) + Math.expm1(dA) * 1.01);
    const h = 0.5 * Math.abs(v);
    if (v < 0) return h * absC * (1 + u) + u * Math.abs(ref[i]) + FTZ;
    return h * (absC + u * (2 - c)) * (1 + u) + u * Math.abs(ref[i]) + FTZ;
  });
}

/** SwiGLU: silu(g) within its bound, times up rounded once. */
export function swigluGpuBound(gate: Vec, up: Vec, ref: Vec): Float64Array {
  return Float64Array.from({ length: gate.length }, (_, i) => {
    const r = timesSigmoidError(gate[i], 0);
    const silu = up[i] === 0 ? 0 : Math.abs(ref[i] / up[i]);
    const ds = r === null ? silu + Math.abs(gate[i]) * 2 ** -124 + FTZ : silu * withSecondOrder(r) + FTZ;
    return Math.abs(up[i]) * ds * (1 + u) + u * Math.abs(ref[i]) + FTZ;
  });
}
