/**
 * Error bounds of the wasm nn kernels (assembly/nn) against the float64
 * reference (src/backends/reference/nn.ts): for each output element, how far
 * the f32 result may lie from the exact value given the kernel's documented
 * operation order. Each bound follows the kernel step by step (every f32
 * operation a factor (1 + δ), |δ| ≤ u = 2^-24; f64 sums γ(n, 2^-53);
 * subnormal results an absolute 2^-150 per rounding; exp its measured
 * EXP_REL_ERROR, SiLU and GELU their measured NN_MAX_ULP), so a kernel element outside its bound is a bug,
 * not noise. Elements whose reference is NaN or ±inf are not bounded here:
 * callers compare them exactly. The norms take the arithmetic
 * (./arithmetic.ts) and the kernel's sum order, so the WebGPU kernels'
 * bounds (webgpu-nn-bounds.ts for the rest) are the same derivations.
 */

import { NN_MAX_ULP, NN_SUBNORMAL_ABS } from '../backends/wasm/nn.js';
import { rowSumDepth } from '../backends/webgpu/wgsl/nn-common.js';
import type { RopeParams } from '../ops/rope.js';
import { CPU_F32, EXP_REL_ERROR, type F32Arithmetic, WGSL_F32 } from './arithmetic.js';
import { gamma } from './tiers.js';

const u = CPU_F32.u;
const uD = 2 ** -53;
/** Absolute error of one rounding into the subnormal range, and the smallest subnormal. */
const SUB = CPU_F32.tiny;
const MIN_SUB = 2 ** -149;

type Vec = ArrayLike<number>;

/** Relative error of 1/√V̂ from a relative error ρ in V. */
function rsqrtError(a: F32Arithmetic, rho: number): number {
  return (1 - rho) ** -0.5 * (1 + a.rsqrt) - 1;
}

/**
 * How a norm kernel sums and averages a row — where the wasm kernels (x² or
 * x summed in f64, the f64 quotient rounded to f32 once) and the WebGPU
 * kernels (f32 row trees, γ(rowSumDepth(n), u); times f32(1/n): two
 * roundings; subnormals may flush) differ. Each returns an absolute error.
 */
interface NormKernel {
  arith: F32Arithmetic;
  /** RMSNorm's mean = Σ f32(x²)/n, from S = Σx² and the exact mean. */
  meanSquareError(S: number, mean: number, dim: number): number;
  /** LayerNorm's μ, from Σx, Σ|x| and the exact mean. */
  meanError(sum: number, abs: number, mean: number, dim: number): number;
  /** LayerNorm's variance, from T = Σv², the bound dT on Σ|v̂² − v²| and the exact variance. */
  varianceError(T: number, dT: number, variance: number, dim: number): number;
  /** f32 sums: a row whose Σx² may reach 2^128 can overflow to inf and give zeros (bound |ref|). */
  f32Sums: boolean;
  /** Absolute error counted on V = f32(mean + eps). */
  vAbs: number;
  /** LayerNorm rows with a non-finite V (non-finite x) still get a (NaN) bound; callers compare them exactly. */
  boundsNonFiniteRows: boolean;
}

const WASM_NORM: NormKernel = {
  arith: CPU_F32,
  meanSquareError(S, mean, dim) {
    // Squares rounded (u, or SUB when subnormal), summed in f64, divided in f64, rounded to f32.
    const dS = u * S + dim * SUB + gamma(dim, uD) * (S * (1 + u) + dim * SUB);
    const pre = (dS / dim) * (1 + uD) + uD * mean;
    return pre + u * (mean + pre) + SUB;
  },
  meanError(sum, abs, mean, dim) {
    const dSum = gamma(dim + 1, uD) * abs;
    return ((dSum + u * (Math.abs(sum) + dSum) + SUB) / dim) * (1 + u) + u * Math.abs(mean) + SUB;
  },
  varianceError(T, dT, variance, dim) {
    const A = dT + (u + 2 * gamma(dim + 1, uD)) * (T + dT) + dim * SUB;
    return (A / dim) * (1 + u) ** 2 + u * variance + SUB;
  },
  f32Sums: false,
  vAbs: 0,
  boundsNonFiniteRows: true,
};

const W = WGSL_F32;
const GPU_NORM: NormKernel = {
  arith: W,
  meanSquareError(S, mean, dim) {
    const dS = W.u * S + gamma(rowSumDepth(dim), W.u) * (S * (1 + W.u) + dim * W.tiny) + 2 * dim * W.tiny;
    return (dS / dim) * (1 + W.u) ** 2 + mean * ((1 + W.u) ** 2 - 1) + W.tiny;
  },
  meanError(_sum, abs, mean, dim) {
    const dSum = gamma(rowSumDepth(dim), W.u) * abs + dim * W.tiny;
    return (dSum / dim) * (1 + W.u) ** 2 + Math.abs(mean) * ((1 + W.u) ** 2 - 1) + W.tiny;
  },
  varianceError(T, dT, variance, dim) {
    const A = dT + (W.u + gamma(rowSumDepth(dim), W.u) * (1 + W.u)) * (T + dT) + 2 * dim * W.tiny;
    return (A / dim) * (1 + W.u) ** 2 + variance * ((1 + W.u) ** 2 - 1) + W.tiny;
  },
  f32Sums: true,
  vAbs: W.tiny,
  boundsNonFiniteRows: false,
};

/** RMSNorm: mean of x² (NormKernel), V = f32(mean + eps), s = 1/√V, y = f32(f32(x·s)·w). */
function rmsNorm(k: NormKernel, x: Vec, w: Vec | null, rows: number, dim: number, eps: number, ref: Vec) {
  const { u, tiny } = k.arith;
  const bound = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let S = 0;
    for (let i = 0; i < dim; i++) S += x[o + i] * x[o + i];
    const mean = S / dim;
    const V = mean + eps;
    if (!Number.isFinite(V)) continue; // inf/NaN rows: 0 or NaN exactly, compared exactly
    if (k.f32Sums && S >= 2 ** 127) {
      for (let i = 0; i < dim; i++) bound[o + i] = Math.abs(ref[o + i]) * (1 + 8 * u) + tiny;
      continue;
    }
    const dMean = k.meanSquareError(S, mean, dim);
    const rho = (dMean * (1 + u) + u * V + k.vAbs) / V;
    const sigma = rsqrtError(k.arith, rho);
    for (let i = 0; i < dim; i++) {
      const wi = w ? Math.abs(w[i]) : 1;
      bound[o + i] = Math.abs(ref[o + i]) * ((1 + sigma) * (1 + u) ** 2 - 1) + tiny * (wi + 1);
    }
  }
  return bound;
}

/**
 * LayerNorm: μ (NormKernel), v = f32(x − μ), variance of f32(v²) (NormKernel),
 * s as RMSNorm's, y = f32(f32(f32(v·s)·w) + b).
 */
function layerNorm(
  k: NormKernel,
  x: Vec,
  w: Vec | null,
  b: Vec | null,
  rows: number,
  dim: number,
  eps: number,
  ref: Vec,
) {
  const { u, tiny } = k.arith;
  const bound = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let sum = 0;
    let abs = 0;
    for (let i = 0; i < dim; i++) {
      sum += x[o + i];
      abs += Math.abs(x[o + i]);
    }
    const mean = sum / dim;
    const dMean = k.meanError(sum, abs, mean, dim);
    let T = 0;
    let dT = 0;
    const E = new Float64Array(dim);
    for (let i = 0; i < dim; i++) {
      const v = x[o + i] - mean;
      E[i] = dMean + u * (Math.abs(v) + dMean) + tiny;
      T += v * v;
      dT += 2 * Math.abs(v) * E[i] + E[i] * E[i];
    }
    const variance = T / dim;
    const dVar = k.varianceError(T, dT, variance, dim);
    const V = variance + eps;
    if (!k.boundsNonFiniteRows && !Number.isFinite(V)) continue;
    const rho = (dVar * (1 + u) + u * V + k.vAbs) / V;
    const sigma = rsqrtError(k.arith, rho);
    const s = 1 / Math.sqrt(V);
    for (let i = 0; i < dim; i++) {
      const v = Math.abs(x[o + i] - mean);
      const wi = w ? Math.abs(w[i]) : 1;
      const p1 = s * (E[i] * (1 + sigma) + v * sigma) * (1 + u) + u * s * v + tiny;
      const p2 = wi * p1 * (1 + u) + u * wi * s * v + tiny;
      bound[o + i] = b ? p2 + u * (Math.abs(ref[o + i]) + p2) + tiny : p2;
    }
  }
  return bound;
}

/** RMSNorm (nn_rms_norm): x² rounded to f32, summed in f64, mean = f32(S/n), then as rmsNorm. */
export function rmsNormBound(x: Vec, w: Vec | null, rows: number, dim: number, eps: number, ref: Vec) {
  return rmsNorm(WASM_NORM, x, w, rows, dim, eps, ref);
}

/** RMSNorm on WebGPU: S = Σ f32(x²) (tree), mean = f32(S·f32(1/n)), s = inverseSqrt(V). */
export function rmsNormGpuBound(...args: Parameters<typeof rmsNormBound>) {
  return rmsNorm(GPU_NORM, ...args);
}

/** layerNorm's arguments after the kernel: x, w, b, rows, dim, eps, ref. */
type LayerNormArgs = Parameters<typeof layerNorm> extends [NormKernel, ...infer A] ? A : never;

/** LayerNorm (nn_layer_norm): Σx in f64 → f32, mean = f32(sum/n); Σv² (v² in f32) in f64, var = f32(Σv²/n). */
export function layerNormBound(...args: LayerNormArgs) {
  return layerNorm(WASM_NORM, ...args);
}

/** LayerNorm on WebGPU: μ = f32(Σx·f32(1/n)), var = f32(Σ f32(v²)·f32(1/n)) (trees). */
export function layerNormGpuBound(...args: LayerNormArgs) {
  return layerNorm(GPU_NORM, ...args);
}

/**
 * RoPE (ropeCache + nn_rope; ropeGpuBound shares the pair layout, not the
 * angle: WGSL divides θ/ff and evaluates its own sin/cos): θ̂ built in f32 by ggml's iteration carries a
 * relative error η_i ≤ (1 + δ_ts)^i·(1 + u)^(i+3) − 1, δ_ts the error of the
 * f32 step freqBase^f32(−2/nDims) (u, plus |2·ln(base)/nDims|·u from the
 * rounded exponent); cos and sin of θ̂ are rounded, times attnFactor rounded,
 * then y0 = f32(f32(x0·c) − f32(x1·s)):
 *   |y − ŷ| ≤ |m|·(|x0| + |x1|)·(|θ|·η_i + γ2 + γ2·(1 + γ2) + 2^-50) + 2·2^-150
 * (2^-50 covers the host's f64 cos/sin). Pass-through dims: exact.
 */
export function ropeBound(x: Vec, positions: Vec, q: RopeParams): Float64Array {
  const g2 = gamma(2, u);
  const dts = ropeStepError(q, u);
  const m = Math.abs(q.attnFactor);
  return ropePairsBound(x, q, 2 * SUB, (t, i) => {
    const eta = (1 + dts) ** i * (1 + u) ** (i + 3) - 1;
    return m * (ropeTheta(q, positions, t, i) * eta + g2 + g2 * (1 + g2) + 2 ** -50);
  });
}

/** |θ| of pair i at token t, exactly. */
export function ropeTheta(q: RopeParams, positions: Vec, t: number, i: number): number {
  const ff = q.freqFactors ? q.freqFactors[i] : 1;
  return Math.abs((positions[t] * q.freqScale * q.freqBase ** ((-2 * i) / q.nDims)) / ff);
}

/** δ_ts: the error of the f32 step freqBase^f32(−2/nDims) with unit roundoff u (2^-50: the host's pow). */
export function ropeStepError(q: RopeParams, u: number): number {
  return u + Math.abs((2 * Math.log(q.freqBase)) / q.nDims) * u + 2 ** -50;
}

/**
 * Both elements of each rotated pair: factor(t, i)·(|x0| + |x1|) + abs, with
 * factor called token by token, pair by pair (so it may carry state along i).
 * Pass-through dims: exact (0).
 */
export function ropePairsBound(
  x: Vec,
  q: RopeParams,
  abs: number,
  factor: (t: number, i: number) => number,
): Float64Array {
  const bound = new Float64Array(x.length);
  const half = q.nDims / 2;
  for (let t = 0; t < q.nTokens; t++) {
    for (let i = 0; i < half; i++) {
      const k = factor(t, i);
      const [j0, j1] = q.mode === 'normal' ? [2 * i, 2 * i + 1] : [i, i + half];
      for (let h = 0; h < q.nHead; h++) {
        const o = (t * q.nHead + h) * q.headDim;
        const b = k * (Math.abs(x[o + j0]) + Math.abs(x[o + j1])) + abs;
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
 * (softmaxGpuBound shares the row and the deviation, not λ: WGSL's exp error grows with |d|.)
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
    const { w, dw, M, dM, A, lnA } = softmaxRow(CPU_F32, x, mask, r, n, maskRows, scale);
    if (!Number.isFinite(M)) continue;
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
      const dev = softmaxDeviation(w[i] - M - lnA, lambda[i], ops, kUp, kDown, gd);
      bound[o + i] = dev + (alpha * ops) / (Alow * (1 - kDown) * (1 - gd)) + SUB;
    }
  }
  return bound;
}

/**
 * Softmax row r (mask row r % maskRows) as the kernels see it: ŵ = f32(f32(x·scale) + mask), its
 * error |δŵ|, the max M, the largest finite |δŵ| dM, and A = Σ exp(ŵ − M)
 * with its log (the normalization in log space, so that a huge λ on a
 * vanishing y stays 0 instead of 0·∞).
 */
export function softmaxRow(
  a: F32Arithmetic,
  x: Vec,
  mask: Vec | null,
  r: number,
  n: number,
  maskRows: number,
  scale: number,
) {
  const o = r * n;
  const mo = (r % Math.max(maskRows, 1)) * n;
  const w = new Float64Array(n);
  const dw = new Float64Array(n);
  let M = Number.NEGATIVE_INFINITY;
  let dM = 0;
  for (let i = 0; i < n; i++) {
    const ws = x[o + i] * scale;
    w[i] = ws + (mask ? mask[mo + i] : 0);
    const dScale = scale === 1 ? a.exactAbs(ws) : a.u * Math.abs(ws) + a.roundingAbs(ws);
    dw[i] = mask ? dScale + a.u * (Math.abs(w[i]) + dScale) + a.roundingAbs(w[i]) : dScale;
    if (w[i] > M) M = w[i];
    if (Number.isFinite(w[i])) dM = Math.max(dM, dw[i]);
  }
  let A = 0;
  if (Number.isFinite(M)) for (let i = 0; i < n; i++) A += Math.exp(w[i] - M);
  return { w, dw, M, dM, A, lnA: Math.log(A) };
}

/**
 * How far ŷ_j may lie from y_j = e^ly when ê_j = exp(w_j − M)·e^(±λ), the
 * final roundings within ops, the normalization's mean of e^λ within
 * (1 + kUp, 1 − kDown) and its sum within γ = gd.
 */
export function softmaxDeviation(
  ly: number,
  lambda: number,
  ops: number,
  kUp: number,
  kDown: number,
  gd: number,
): number {
  const y = Math.exp(ly);
  const up = (Math.exp(ly + lambda) * ops) / ((1 - kDown) * (1 - gd)) - y;
  const down = y - Math.exp(ly - lambda) / (ops * (1 + kUp) * (1 + gd));
  return Math.max(up, down);
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
