/**
 * Error bounds of the wasm nn kernels (assembly/nn) against the float64
 * reference (src/backends/reference/nn.ts): for each output element, how far
 * the f32 result may lie from the exact value given the kernel's documented
 * operation order. Each bound follows the kernel step by step (every f32
 * operation a factor (1 + δ), |δ| ≤ u = 2^-24; f64 sums γ(n, 2^-53);
 * subnormal results an absolute 2^-150 per rounding; exp its measured
 * EXP_REL_ERROR, SiLU and GELU their measured NN_MAX_ULP), so a kernel element outside its bound is a bug,
 * not noise. Elements whose reference is NaN or ±inf are not bounded here:
 * callers compare them exactly.
 */
import { NN_MAX_ULP, NN_SUBNORMAL_ABS } from '../backends/wasm/nn.js';
import type { RopeParams } from '../ops/rope.js';
import { EXP_REL_ERROR } from './arithmetic.js';
import { gamma, UNIT_ROUNDOFF } from './tiers.js';

const u = UNIT_ROUNDOFF.f32;
const uD = 2 ** -53;
/** Absolute error of one rounding into the subnormal range, and the smallest subnormal. */
const SUB = 2 ** -150;
const MIN_SUB = 2 ** -149;

type Vec = ArrayLike<number>;

/** Relative error of 1/√V̂ from a relative error ρ in V (sqrt and division rounded). */
function rsqrtError(rho: number): number {
  return (1 - rho) ** -0.5 * ((1 + u) / (1 - u)) - 1;
}

/**
 * RMSNorm (nn_rms_norm): x² rounded to f32, summed in f64, mean = f32(S/n),
 * V = f32(mean + eps), s = f32(1/f32(√V)), y = f32(f32(x·s)·w).
 */
export function rmsNormBound(
  x: Vec,
  w: Vec | null,
  rows: number,
  dim: number,
  eps: number,
  ref: Vec,
): Float64Array {
  const bound = new Float64Array(rows * dim);
  const gd = gamma(dim, uD);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let S = 0;
    for (let i = 0; i < dim; i++) S += x[o + i] * x[o + i];
    const mean = S / dim;
    const V = mean + eps;
    if (!Number.isFinite(V)) continue; // inf/NaN rows: 0 or NaN exactly, compared exactly
    // Squares rounded (u, or SUB when subnormal), summed in f64, divided in f64, rounded to f32.
    const dS = u * S + dim * SUB + gd * (S * (1 + u) + dim * SUB);
    const pre = (dS / dim) * (1 + uD) + uD * mean;
    const dMean = pre + u * (mean + pre) + SUB;
    const rho = (dMean * (1 + u) + u * V) / V;
    const sigma = rsqrtError(rho);
    for (let i = 0; i < dim; i++) {
      const wi = w ? Math.abs(w[i]) : 1;
      bound[o + i] = Math.abs(ref[o + i]) * ((1 + sigma) * (1 + u) ** 2 - 1) + SUB * (wi + 1);
    }
  }
  return bound;
}

/**
 * LayerNorm (nn_layer_norm): Σx in f64 → f32, mean = f32(sum/n), v = f32(x − mean),
 * Σv² (v² in f32) in f64, var = f32(Σv²/n), s as RMSNorm's, y = f32(f32(f32(v·s)·w) + b).
 */
export function layerNormBound(
  x: Vec,
  w: Vec | null,
  b: Vec | null,
  rows: number,
  dim: number,
  eps: number,
  ref: Vec,
): Float64Array {
  const bound = new Float64Array(rows * dim);
  const gd = gamma(dim + 1, uD);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let sum = 0;
    let abs = 0;
    for (let i = 0; i < dim; i++) {
      sum += x[o + i];
      abs += Math.abs(x[o + i]);
    }
    const mean = sum / dim;
    const dSum = gd * abs;
    const dMean = ((dSum + u * (Math.abs(sum) + dSum) + SUB) / dim) * (1 + u) + u * Math.abs(mean) + SUB;
    let T = 0;
    let dT = 0;
    const E = new Float64Array(dim);
    for (let i = 0; i < dim; i++) {
      const v = x[o + i] - mean;
      E[i] = dMean + u * (Math.abs(v) + dMean) + SUB;
      T += v * v;
      dT += 2 * Math.abs(v) * E[i] + E[i] * E[i];
    }
    const variance = T / dim;
    const A = dT + (u + 2 * gd) * (T + dT) + dim * SUB;
    const dVar = (A / dim) * (1 + u) ** 2 + u * variance + SUB;
    const V = variance + eps;
    const rho = (dVar * (1 + u) + u * V) / V;
    const sigma = rsqrtError(rho);
    const s = 1 / Math.sqrt(V);
    for (let i = 0; i < dim; i++) {
      const v = Math.abs(x[o + i] - mean);
      const wi = w ? Math.abs(w[i]) : 1;
      const p1 = s * (E[i] * (1 + sigma) + v * sigma) * (1 + u) + u * s * v + SUB;
      const p2 = wi * p1 * (1 + u) + u * wi * s * v + SUB;
      bound[o + i] = b ? p2 + u * (Math.abs(ref[o + i]) + p2) + SUB : p2;
    }
  }
  return bound;
}

/**
 * RoPE (ropeCache + nn_rope): θ̂ built in f32 by ggml's iteration carries a
 * relative error η_i ≤ (1 + δ_ts)^i·(1 + u)^(i+3) − 1, δ_ts the error of the
 * f32 step freqBase^f32(−2/nDims) (u, plus |2·ln(base)/nDims|·u from the
 * rounded exponent); cos and sin of θ̂ are rounded, times attnFactor rounded,
 * then y0 = f32(f32(x0·c) − f32(x1·s)):
 *   |y − ŷ| ≤ |m|·(|x0| + |x1|)·(|θ|·η_i + γ2 + γ2·(1 + γ2) + 2^-50) + 2·2^-150
 * (2^-50 covers the host's f64 cos/sin). Pass-through dims: exact.
 */
export function ropeBound(x: Vec, positions: Vec, q: RopeParams): Float64Array {
  const bound = new Float64Array(x.length);
  const half = q.nDims / 2;
  const g2 = gamma(2, u);
  const dts = u + Math.abs((2 * Math.log(q.freqBase)) / q.nDims) * u + 2 ** -50;
  const m = Math.abs(q.attnFactor);
  for (let t = 0; t < q.nTokens; t++) {
    for (let i = 0; i < half; i++) {
      const ff = q.freqFactors ? q.freqFactors[i] : 1;
      const theta = Math.abs((positions[t] * q.freqScale * q.freqBase ** ((-2 * i) / q.nDims)) / ff);
      const eta = (1 + dts) ** i * (1 + u) ** (i + 3) - 1;
      const k = m * (theta * eta + g2 + g2 * (1 + g2) + 2 ** -50);
      const [j0, j1] = q.mode === 'normal' ? [2 * i, 2 * i + 1] : [i, i + half];
      for (let h = 0; h < q.nHead; h++) {
        const o = (t * q.nHead + h) * q.headDim;
        const b = k * (Math.abs(x[o + j0]) + Math.abs(x[o + j1])) + 2 * SUB;
        bound[o + j0] = b;
        bound[o + j1] = b;
      }
    }
  }
  return bound;
}

/**
 * Softmax (nn_softmax): ŵ = f32(f32(x·scale) + mask), d = f32(ŵ − max ŵ),
 * ê = exp(d) (EXP_REL_ERROR; subnormal results ε_e·2^-126 + 2^-150), Σê in f64,
 * y = f32(ê·f32(1/Σ)). Softmax is shift-invariant, so with the computed max
 * as the shift each ê_j is exp(w_j − max)·e^λ with
 *   λ_j ≤ Δw_j + u·|ŵ_j − max| − ln(1 − E_exp),
 * and the normalization sees the y-weighted mean of e^λ:
 *   ŷ_j / y_j ∈ e^(±λ_j)·(1 ± u)²(1 ± 2^-52) / ((1 ± κ)(1 ± γ(n, 2^-53))),
 * κ = Σ_i y_i·(e^λ_i − 1) plus the subnormal terms. Rows whose reference is
 * not finite (NaN rows, all −inf → zeros) are compared exactly by callers.
 */
export function softmaxBound(
  x: Vec,
  mask: Vec | null,
  rows: number,
  n: number,
  maskRows: number,
  scale: number,
): Float64Array {
  const bound = new Float64Array(rows * n);
  const Eexp = EXP_REL_ERROR;
  // exp results below 2^-126: ε_e·2^-126 + 2^-150 absolute (test/assembly/exp.test.ts).
  const alpha = EXP_REL_ERROR * 2 ** -126 + SUB;
  const gd = gamma(n, uD);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    const mo = (r % Math.max(maskRows, 1)) * n;
    const w = new Float64Array(n);
    const dw = new Float64Array(n);
    let M = Number.NEGATIVE_INFINITY;
    let dM = 0;
    for (let i = 0; i < n; i++) {
      const ws = x[o + i] * scale;
      w[i] = ws + (mask ? mask[mo + i] : 0);
      const dScale = scale === 1 ? 0 : u * Math.abs(ws) + SUB;
      dw[i] = mask ? dScale + u * (Math.abs(w[i]) + dScale) + SUB : dScale;
      if (w[i] > M) M = w[i];
      if (Number.isFinite(w[i])) dM = Math.max(dM, dw[i]);
    }
    if (!Number.isFinite(M)) continue;
    // In log space, so that a huge λ on a vanishing y stays 0 instead of 0·∞.
    let A = 0;
    for (let i = 0; i < n; i++) A += Math.exp(w[i] - M);
    const lnA = Math.log(A);
    const lambda = new Float64Array(n);
    let kUp = 0;
    let kDown = 0;
    for (let i = 0; i < n; i++) {
      if (w[i] === Number.NEGATIVE_INFINITY) continue;
      lambda[i] = dw[i] + u * (Math.abs(w[i] - M) + dw[i] + dM) - Math.log(1 - Eexp);
      const ly = w[i] - M - lnA;
      kUp += Math.exp(ly + lambda[i]) - Math.exp(ly);
      kDown += Math.exp(ly) - Math.exp(ly - lambda[i]);
    }
    // A (with the computed max as shift) ≥ e^(−dM)·Σ exp(w − M); subnormal ê add ≤ n·α.
    const Alow = Math.exp(-dM) * A;
    kUp += (n * alpha) / Alow;
    kDown += (n * alpha) / Alow;
    const ops = (1 + u) ** 2 * (1 + 2 ** -52);
    for (let i = 0; i < n; i++) {
      if (w[i] === Number.NEGATIVE_INFINITY) {
        bound[o + i] = (alpha * ops) / (Alow * (1 - kDown) * (1 - gd)) + SUB;
        continue;
      }
      const ly = w[i] - M - lnA;
      const y = Math.exp(ly);
      const up = (Math.exp(ly + lambda[i]) * ops) / ((1 - kDown) * (1 - gd)) - y;
      const down = y - Math.exp(ly - lambda[i]) / (ops * (1 + kUp) * (1 + gd));
      bound[o + i] = Math.max(up, down) + (alpha * ops) / (Alow * (1 - kDown) * (1 - gd)) + SUB;
    }
  }
  return bound;
}

/** Kernels characterized by their measured error: NN_MAX_ULP[kernel] ulps of the result (≤ 2u·k relative). */
export function measuredBound(kernel: keyof typeof NN_MAX_ULP, ref: Vec): Float64Array {
  const rel = 2 * u * NN_MAX_ULP[kernel];
  return Float64Array.from(
    { length: ref.length },
    (_, i) => rel * Math.abs(ref[i]) + NN_SUBNORMAL_ABS * MIN_SUB,
  );
}

/** SwiGLU (nn_swiglu): y = f32(silu(g)·up), silu within NN_MAX_ULP.silu. */
export function swigluBound(up: Vec, ref: Vec): Float64Array {
  const rel = 2 * u * NN_MAX_ULP.silu;
  const alpha = NN_SUBNORMAL_ABS * MIN_SUB;
  return Float64Array.from(
    { length: ref.length },
    (_, i) => Math.abs(ref[i]) * ((1 + rel) * (1 + u) - 1) + Math.abs(up[i]) * alpha * (1 + u) + SUB,
  );
}
