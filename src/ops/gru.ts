/**
 * GRU scan, PyTorch's gate convention (torch.nn.GRU), with the input
 * projections precomputed: gx_t = W_i·x_t + b_i, [T, 3H] in gate order r, z, n.
 * For each step, with gh = U·h_{t−1} + b_h ([3H], same order):
 *
 *   r   = σ(gx_r + gh_r)                    = σ(W_ir x + b_ir + U_hr h + b_hr)
 *   z   = σ(gx_z + gh_z)                    = σ(W_iz x + b_iz + U_hz h + b_hz)
 *   n   = tanh(gx_n + r ⊙ gh_n)             = tanh(W_in x + b_in + r ⊙ (U_hn h + b_hn))
 *   h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
 *
 * (r multiplies U_hn h + b_hn, the recurrent bias included: PyTorch's
 * convention, not the original paper's r ⊙ h inside the product.)
 *
 * The recurrent matrix U ([3H, H]: one H×H block per gate) comes in four
 * structures; every structure is per gate g ∈ {0: r, 1: z, 2: n}:
 * - dense:     u [3H, H], row g·H + i is output i of gate g;
 * - diagonal:  u [3H], gate g's output i is u[g·H + i]·h_i;
 * - monarch:   H = β² (β = √H blocks of β×β), U_g = B2_g · Π · B1_g with
 *              b1, b2 [3, β, β, β] (gate, block k, row i, column j):
 *              x1[kβ + i] = Σ_j b1[g,k,i,j]·h[kβ + j],
 *              x2[iβ + k] = x1[kβ + i]            (Π: the β×β transpose),
 *              y[kβ + i]  = Σ_j b2[g,k,i,j]·x2[kβ + j];
 * - butterfly: H = 2^ℓ, U_g = F_{ℓ−1} ⋯ F_1 · F_0, w [3, ℓ, H/2, 4]: factor f
 *              (stride s = 2^f) mixes pair p's elements i = ((p >> f) << (f + 1)) | (p mod s)
 *              and j = i + s: y_i = w₀·x_i + w₁·x_j, y_j = w₂·x_i + w₃·x_j.
 * Sums run over j ascending. Each structure's product has its own kernel and
 * an exact dense equivalent (denseEquivalent in src/backends/reference/gru.ts).
 *
 * f32 error of one structured product y = U·h: every term of y_i carries at
 * most n roundings — dense H, diagonal 1, monarch 2β (two β-term dots),
 * butterfly 2ℓ (a product and an add per factor) — so
 * |ŷ − y| ≤ γ(n, 2^−24)·(|U|·|h|) + n·2^−149, where |U|·|h| is the same
 * structured product with every parameter and h in absolute value.
 *
 * minGRU (gates independent of h_{t−1}): h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t,
 * z_t = σ(k_t), is the linear scan of src/ops/scan.ts with a_t = 1 − z_t,
 * b_t = z_t ⊙ h̃_t.
 *
 * Quantized GRU: U's parameters in int8, one scale per output channel (a row
 * of fan-in values: dense H, diagonal 1, monarch β, butterfly 2), and the
 * state in int8 with its own frozen per-tensor scale s_h: h0 and every h_t are
 * fake-quantized, h_t ← s_h·q(h_t / s_h) (round half to even, saturating;
 * src/ops/int8-quantizer.ts), and that value is both the output and the next
 * step's state.
 */
import { ShapeError } from '../errors.js';
import { gamma, UNIT_ROUNDOFF } from '../oracle/tiers.js';

type Vec = ArrayLike<number>;

export type GruRecurrence =
  | { kind: 'dense'; H: number; u: Vec }
  | { kind: 'diagonal'; H: number; u: Vec }
  | { kind: 'monarch'; H: number; b1: Vec; b2: Vec }
  | { kind: 'butterfly'; H: number; w: Vec };

export type GruStructure = GruRecurrence['kind'];

export const GRU_STRUCTURES: readonly GruStructure[] = ['dense', 'diagonal', 'monarch', 'butterfly'];

/** β = √H for Monarch (H must be a perfect square). */
export function monarchBlock(H: number): number {
  const b = Math.round(Math.sqrt(H));
  if (b * b !== H) throw new ShapeError(`gru: monarch needs H = β², got H = ${H}`);
  return b;
}

/** ℓ = log₂H for butterfly (H must be a power of two ≥ 2). */
export function butterflyFactors(H: number): number {
  const l = Math.round(Math.log2(H));
  if (H < 2 || 2 ** l !== H) throw new ShapeError(`gru: butterfly needs H = 2^ℓ ≥ 2, got H = ${H}`);
  return l;
}

/** Parameter count of each array of a structure (and the fan-in of one output channel). */
export function recurrenceLayout(
  kind: GruStructure,
  H: number,
): { sizes: Record<string, number>; fanIn: number } {
  switch (kind) {
    case 'dense':
      return { sizes: { u: 3 * H * H }, fanIn: H };
    case 'diagonal':
      return { sizes: { u: 3 * H }, fanIn: 1 };
    case 'monarch': {
      const b = monarchBlock(H);
      return { sizes: { b1: 3 * b * b * b, b2: 3 * b * b * b }, fanIn: b };
    }
    case 'butterfly':
      return { sizes: { w: 3 * butterflyFactors(H) * (H / 2) * 4 }, fanIn: 2 };
  }
}

export function validateRecurrence(rec: GruRecurrence): void {
  if (!Number.isSafeInteger(rec.H) || rec.H < 1) throw new ShapeError(`gru: H must be ≥ 1, got ${rec.H}`);
  const { sizes } = recurrenceLayout(rec.kind, rec.H);
  for (const [name, n] of Object.entries(sizes)) {
    const v = (rec as unknown as Record<string, Vec>)[name];
    if (!v || v.length !== n)
      throw new ShapeError(`gru: ${rec.kind} ${name} must have ${n} values, got ${v?.length}`);
  }
}

/** Roundings per output of the structure's f32 product (see the file comment). */
export function recurrenceRoundings(kind: GruStructure, H: number): number {
  switch (kind) {
    case 'dense':
      return H;
    case 'diagonal':
      return 1;
    case 'monarch':
      return 2 * monarchBlock(H);
    case 'butterfly':
      return 2 * butterflyFactors(H);
  }
}

/** The f32 bound of one output of U·h with magnitude m = (|U|·|h|)_i. */
export function recurrenceBound(kind: GruStructure, H: number, magnitude: number): number {
  const n = recurrenceRoundings(kind, H);
  return gamma(n, UNIT_ROUNDOFF.f32) * magnitude + n * 2 ** -149;
}

/** Checks gx ([T, 3H]), b_h ([3H]) and h0 ([H] or absent); returns T. */
export function validateGru(gx: Vec, bh: Vec | null, h0: Vec | null, H: number): number {
  const T = gx.length / (3 * H);
  if (!Number.isSafeInteger(T))
    throw new ShapeError(`gru: gx must be [T, ${3 * H}], got ${gx.length} values`);
  if (bh && bh.length !== 3 * H) throw new ShapeError(`gru: b_h must be [${3 * H}], got ${bh.length}`);
  if (h0 && h0.length !== H) throw new ShapeError(`gru: h0 must be [${H}], got ${h0.length}`);
  return T;
}
