/**
 * Float64 reference of the GRU scan and its recurrent structures
 * (semantics: src/ops/gru.ts): structured products straight from their
 * definitions, the dense equivalent built by explicit matrix products (not
 * by the structured product, so one checks the other), the GRU and minGRU
 * scans, and the quantized GRU (int8 weights per output channel, int8 state
 * fake-quantized each step with the same round-half-to-even as the quantizer).
 */
import {
  butterflyFactors,
  checkStateQuantizer,
  type GruRecurrence,
  gruNanStateError,
  monarchBlock,
  type QuantizedRecurrence,
  recurrenceRoundings,
  validateGru,
  validateRecurrence,
} from '../../ops/gru.js';
import { type Int8Quantizer, QuantizerInputError } from '../../ops/int8-quantizer.js';
import { EXP_REL_ERROR } from '../../oracle/arithmetic.js';
import { gamma, UNIT_ROUNDOFF } from '../../oracle/tiers.js';

type Vec = ArrayLike<number>;

const id = (v: number) => v;

/** y = U·h ([3H]); abs: |U|·|h|, the magnitude of the f32 bound. */
export function recurrenceMatvec(rec: GruRecurrence, h: Vec, abs = false): Float64Array {
  const H = rec.H;
  const f = abs ? Math.abs : id;
  const y = new Float64Array(3 * H);
  if (rec.kind === 'dense') {
    for (let o = 0; o < 3 * H; o++) {
      let s = 0;
      for (let j = 0; j < H; j++) s += f(rec.u[o * H + j]) * f(h[j]);
      y[o] = s;
    }
  } else if (rec.kind === 'diagonal') {
    for (let o = 0; o < 3 * H; o++) y[o] = f(rec.u[o]) * f(h[o % H]);
  } else if (rec.kind === 'monarch') {
    const b = monarchBlock(H);
    const x1 = new Float64Array(H);
    const x2 = new Float64Array(H);
    for (let g = 0; g < 3; g++) {
      const base = g * b * b * b;
      for (let k = 0; k < b; k++)
        for (let i = 0; i < b; i++) {
          let s = 0;
          for (let j = 0; j < b; j++) s += f(rec.b1[base + (k * b + i) * b + j]) * f(h[k * b + j]);
          x1[k * b + i] = s;
        }
      for (let k = 0; k < b; k++) for (let i = 0; i < b; i++) x2[i * b + k] = x1[k * b + i];
      for (let k = 0; k < b; k++)
        for (let i = 0; i < b; i++) {
          let s = 0;
          for (let j = 0; j < b; j++) s += f(rec.b2[base + (k * b + i) * b + j]) * x2[k * b + j];
          y[g * H + k * b + i] = s;
        }
    }
  } else {
    const l = butterflyFactors(H);
    for (let g = 0; g < 3; g++) {
      const x = Float64Array.from({ length: H }, (_, i) => f(h[i]));
      for (let fi = 0; fi < l; fi++) {
        const s = 1 << fi;
        for (let p = 0; p < H / 2; p++) {
          const i = ((p >> fi) << (fi + 1)) | (p & (s - 1));
          const w = ((g * l + fi) * (H / 2) + p) * 4;
          const [xi, xj] = [x[i], x[i + s]];
          x[i] = f(rec.w[w]) * xi + f(rec.w[w + 1]) * xj;
          x[i + s] = f(rec.w[w + 2]) * xi + f(rec.w[w + 3]) * xj;
        }
      }
      y.set(x, g * H);
    }
  }
  return y;
}

/** C = A·B for n×n row-major matrices. */
function matmul(A: Float64Array, B: Float64Array, n: number): Float64Array {
  const C = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const a = A[i * n + k];
      if (a !== 0) for (let j = 0; j < n; j++) C[i * n + j] += a * B[k * n + j];
    }
  return C;
}

/** The dense [3H, H] matrix of a structure, from explicit factor matrices. */
export function denseEquivalent(rec: GruRecurrence): Float64Array {
  validateRecurrence(rec);
  const H = rec.H;
  if (rec.kind === 'dense') return Float64Array.from(rec.u);
  const U = new Float64Array(3 * H * H);
  for (let g = 0; g < 3; g++) {
    let G: Float64Array;
    if (rec.kind === 'diagonal') {
      G = new Float64Array(H * H);
      for (let i = 0; i < H; i++) G[i * H + i] = rec.u[g * H + i];
    } else if (rec.kind === 'monarch') {
      const b = monarchBlock(H);
      const blockDiag = (p: Vec) => {
        const M = new Float64Array(H * H);
        for (let k = 0; k < b; k++)
          for (let i = 0; i < b; i++)
            for (let j = 0; j < b; j++) M[(k * b + i) * H + k * b + j] = p[((g * b + k) * b + i) * b + j];
        return M;
      };
      const Pi = new Float64Array(H * H); // x2 = Π·x1: x2[iβ + k] = x1[kβ + i]
      for (let k = 0; k < b; k++) for (let i = 0; i < b; i++) Pi[(i * b + k) * H + k * b + i] = 1;
      G = matmul(blockDiag(rec.b2), matmul(Pi, blockDiag(rec.b1), H), H);
    } else {
      const l = butterflyFactors(H);
      G = new Float64Array(H * H);
      for (let i = 0; i < H; i++) G[i * H + i] = 1;
      for (let fi = 0; fi < l; fi++) {
        const s = 1 << fi;
        const F = new Float64Array(H * H);
        for (let p = 0; p < H / 2; p++) {
          const i = ((p >> fi) << (fi + 1)) | (p & (s - 1));
          const w = ((g * l + fi) * (H / 2) + p) * 4;
          F[i * H + i] = rec.w[w];
          F[i * H + i + s] = rec.w[w + 1];
          F[(i + s) * H + i] = rec.w[w + 2];
          F[(i + s) * H + i + s] = rec.w[w + 3];
        }
        G = matmul(F, G, H);
      }
    }
    U.set(G, g * H * H);
  }
  return U;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/**
 * One GRU step from h (PyTorch's convention); gx: the step's [3H] input
 * projections. `gates` ([3H], optional) receives r, z, n.
 */
export function referenceGruStep(
  rec: GruRecurrence,
  gx: Vec,
  bh: Vec | null,
  h: Vec,
  gates?: Float64Array,
): Float64Array {
  const H = rec.H;
  const gh = recurrenceMatvec(rec, h);
  const out = new Float64Array(H);
  for (let i = 0; i < H; i++) {
    const r = sigmoid(gx[i] + gh[i] + (bh ? bh[i] : 0));
    const z = sigmoid(gx[H + i] + gh[H + i] + (bh ? bh[H + i] : 0));
    const n = Math.tanh(gx[2 * H + i] + r * (gh[2 * H + i] + (bh ? bh[2 * H + i] : 0)));
    out[i] = (1 - z) * n + z * h[i];
    if (gates) [gates[i], gates[H + i], gates[2 * H + i]] = [r, z, n];
  }
  return out;
}

/** Every h_t ([T, H]); `state` maps each new state (identity, or fake quantization); gates [T, 3H] gets r, z, n. */
function gruScan(
  rec: GruRecurrence,
  gx: Vec,
  bh: Vec | null,
  h0: Vec | null,
  state: (h: Float64Array) => Float64Array,
  gates?: Float64Array,
): Float64Array {
  validateRecurrence(rec);
  const H = rec.H;
  const T = validateGru(gx, bh, h0, H);
  const out = new Float64Array(T * H);
  let h = state(h0 ? Float64Array.from(h0) : new Float64Array(H));
  for (let t = 0; t < T; t++) {
    const g = gates?.subarray(t * 3 * H, (t + 1) * 3 * H);
    h = state(referenceGruStep(rec, Array.prototype.slice.call(gx, t * 3 * H, (t + 1) * 3 * H), bh, h, g));
    out.set(h, t * H);
  }
  return out;
}

/** The GRU scan in float64: every h_t, [T, H]; gates ([T, 3H], optional) gets each step's r, z, n. */
export function referenceGruScan(
  rec: GruRecurrence,
  gx: Vec,
  bh: Vec | null,
  h0: Vec | null,
  gates?: Float64Array,
): Float64Array {
  return gruScan(rec, gx, bh, h0, (h) => h, gates);
}

/** minGRU, sequentially: h_t = (1 − σ(k_t))·h_{t−1} + σ(k_t)·h̃_t ([T, H] each). */
export function referenceMinGru(k: Vec, hTilde: Vec, h0: Vec | null, T: number, H: number): Float64Array {
  const out = new Float64Array(T * H);
  for (let i = 0; i < H; i++) {
    let h = h0 ? h0[i] : 0;
    for (let t = 0; t < T; t++) {
      const z = sigmoid(k[t * H + i]);
      h = (1 - z) * h + z * hTilde[t * H + i];
      out[t * H + i] = h;
    }
  }
  return out;
}

/** minGRU's scan coefficients: a_t = 1 − σ(k_t), b_t = σ(k_t)·h̃_t (float64). */
export function minGruCoefficients(k: Vec, hTilde: Vec): { a: Float64Array; b: Float64Array } {
  const a = new Float64Array(k.length);
  const b = new Float64Array(k.length);
  for (let i = 0; i < k.length; i++) {
    const z = sigmoid(k[i]);
    a[i] = 1 - z;
    b[i] = z * hTilde[i];
  }
  return { a, b };
}

/**
 * The quantized GRU in float64: dequantized int8 weights, the state
 * fake-quantized by `stateQuantizer` (frozen, per-tensor) at h0 and after
 * every step; returns every (fake-quantized) h_t (gates: as referenceGruScan).
 */
export function referenceQuantizedGruScan(
  q: QuantizedRecurrence,
  gx: Vec,
  bh: Vec | null,
  h0: Vec | null,
  stateQuantizer: Int8Quantizer,
  gates?: Float64Array,
): Float64Array {
  checkStateQuantizer(stateQuantizer);
  let step = -1; // the first call quantizes h0
  const state = (h: Float64Array) => {
    try {
      return stateQuantizer.fakeQuantize(h);
    } catch (e) {
      throw step >= 0 && e instanceof QuantizerInputError ? gruNanStateError(step) : e;
    } finally {
      step++;
    }
  };
  return gruScan(q.rec, gx, bh, h0, state, gates);
}

/**
 * One GRU step in float64 with the per-element bound an f32 kernel
 * (assembly/scan/gru.ts) meets from the same f32 inputs. First order, per
 * element, with u = 2^−24, ε_e = EXP_REL_ERROR (the kernels' exp), n the
 * structure's roundings and m_g = (|U|·|h|) of gate g:
 * - r, z pre-activations (gx + gh) + b: every term ≤ n + 2 roundings,
 *   δ = γ(n + 2)·(|gx| + m + |b|); σ' ≤ ¼ and σ = 1/(1 + e^−x) adds a relative
 *   θ = ε_e + 2u: |Δr| ≤ δ_r/4 + θ·(r + δ_r/4), |Δz| likewise;
 * - c = gh_n + b_n: δ_c = γ(n + 1)·(m_n + |b_n|); p = r·c:
 *   |Δp| ≤ |Δr|·(|c| + δ_c) + r·δ_c + u·(r + |Δr|)(|c| + δ_c);
 *   pre_n = gx_n + p: δ_n = |Δp| + u·(|gx_n| + |p| + |Δp|);
 * - tanh = 1 − 2/(e^{2x} + 1): tanh' ≤ 1, and the quotient (≤ 2) carries
 *   ε_e + 2u relative, the subtraction u: |Δn| ≤ δ_n + 2(ε_e + 2u) + u;
 * - h' = (1 − z)·n + z·h, three roundings:
 *   |Δh'| ≤ |Δz|·(|n| + |h| + |Δn|) + (1 − z + |Δz|)·|Δn| + γ(3)·((1 − z)|n| + z|h|).
 * The sum is scaled by 1 + γ(n + 10) for the second-order terms left out,
 * plus (n + 10)·2^−149 for roundings in the subnormal range.
 *
 * Also returned: the gates r, z, n and their bounds |Δr|, |Δz|, |Δn| (same
 * scaling). `u` replaces the unit roundoff for a kernel computing in another
 * precision, `expRelError` the relative error of its exp.
 *
 * Options for the int8 kernels (assembly/scan/gru-int8.ts): `productRoundings`
 * replaces n (int8ProductRoundings in src/ops/gru.ts), and `stateRelError`
 * is the relative error of the kernel's h (q_h·s_h rounded to f32: u), which
 * reaches h' through z·h: + z·|h|·ε.
 */
export function referenceGruStepBound(
  rec: GruRecurrence,
  gx: Vec,
  bh: Vec | null,
  h: Vec,
  opts: { productRoundings?: number; stateRelError?: number; u?: number; expRelError?: number } = {},
): { h: Float64Array; bound: Float64Array; gates: Float64Array; gateBound: Float64Array } {
  const H = rec.H;
  const u = opts.u ?? UNIT_ROUNDOFF.f32;
  const nr = opts.productRoundings ?? recurrenceRoundings(rec.kind, H);
  const eh = opts.stateRelError ?? 0;
  const gh = recurrenceMatvec(rec, h);
  const m = recurrenceMatvec(rec, h, true);
  const b = (g: number) => (bh ? bh[g] : 0);
  const theta = (opts.expRelError ?? EXP_REL_ERROR) + 2 * u;
  const out = new Float64Array(H);
  const bound = new Float64Array(H);
  const gates = new Float64Array(3 * H);
  const gateBound = new Float64Array(3 * H);
  for (let i = 0; i < H; i++) {
    const [ir, iz, inn] = [i, H + i, 2 * H + i];
    const r = sigmoid(gx[ir] + gh[ir] + b(ir));
    const z = sigmoid(gx[iz] + gh[iz] + b(iz));
    const c = gh[inn] + b(inn);
    const p = r * c;
    const n = Math.tanh(gx[inn] + p);
    out[i] = (1 - z) * n + z * h[i];
    const dr0 = gamma(nr + 2, u) * (Math.abs(gx[ir]) + m[ir] + Math.abs(b(ir)));
    const dz0 = gamma(nr + 2, u) * (Math.abs(gx[iz]) + m[iz] + Math.abs(b(iz)));
    const dr = dr0 / 4 + theta * (r + dr0 / 4);
    const dz = dz0 / 4 + theta * (z + dz0 / 4);
    const dc = gamma(nr + 1, u) * (m[inn] + Math.abs(b(inn)));
    const ac = Math.abs(c) + dc;
    const dp = dr * ac + r * dc + u * (r + dr) * ac;
    const dn0 = dp + u * (Math.abs(gx[inn]) + Math.abs(p) + dp);
    const dn = dn0 + 2 * theta + u;
    const ah = Math.abs(h[i]);
    const first =
      dz * (Math.abs(n) + ah + dn) +
      (1 - z + dz) * dn +
      gamma(3, u) * ((1 - z) * Math.abs(n) + z * ah) +
      z * ah * eh;
    const grow = 1 + gamma(nr + 10, u);
    const tiny = (nr + 10) * 2 ** -149;
    bound[i] = first * grow + tiny;
    [gates[ir], gates[iz], gates[inn]] = [r, z, n];
    [gateBound[ir], gateBound[iz], gateBound[inn]] = [dr * grow + tiny, dz * grow + tiny, dn * grow + tiny];
  }
  return { h: out, bound, gates, gateBound };
}
