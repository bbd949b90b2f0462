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
 *
 * The int8 kernels (assembly/scan/gru-int8.ts) compute the dense and diagonal
 * products as exact integer dots scaled once; Monarch's first block-diagonal
 * factor likewise, its second on the f32 intermediate (int8 weights, row
 * scale applied after the sum); butterfly from h = f32(q_h)·s_h, every factor
 * in f32 with int8 weights. Their f32 roundings per term
 * (int8ProductRoundings): dense 3, diagonal 2, Monarch β + 3, butterfly 3ℓ + 1.
 *
 * engine.gru(gx, U, opts) takes these as tensors: gx [T, 3H], U's arrays in
 * the shapes of gruShapes, b_h [3H] and h0 [H] (optional), and for the
 * quantized GRU a frozen per-tensor state quantizer (and optionally frozen
 * per-channel weight quantizers; by default each array is quantized with
 * max-abs scales calibrated on itself). It returns every h_t, [T, H], and
 * when asked the gates r, z, n of every step, [T, 3H].
 */
import { ShapeError } from '../errors.js';
import { gamma, UNIT_ROUNDOFF } from '../oracle/tiers.js';
import { Int8Quantizer, QuantizerInputError, QuantizerStateError } from './int8-quantizer.js';
import { f32Rows, type OpOperand } from './operand.js';

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

/** Roundings per term of the int8 kernels' product (see the file comment; their integer dots are exact). */
export function int8ProductRoundings(kind: GruStructure, H: number): number {
  switch (kind) {
    case 'dense':
      return 3;
    case 'diagonal':
      return 2;
    case 'monarch':
      return monarchBlock(H) + 3;
    case 'butterfly':
      return 3 * butterflyFactors(H) + 1;
  }
}

/**
 * Floating-point operations of one recurrent product U·h: dense 6H²,
 * diagonal 6H, Monarch 12Hβ (multiply-adds ×2), butterfly 9H·ℓ (per factor
 * and gate, H/2 pairs of 4 multiplies and 2 adds).
 */
export function recurrenceFlops(kind: GruStructure, H: number): number {
  switch (kind) {
    case 'dense':
      return 6 * H * H;
    case 'diagonal':
      return 6 * H;
    case 'monarch':
      return 12 * H * monarchBlock(H);
    case 'butterfly':
      return 9 * H * butterflyFactors(H);
  }
}

export interface QuantizedRecurrence {
  /** The structure with its dequantized parameters (q·s per output channel). */
  rec: GruRecurrence;
  /** int8 codes and f32 scales of each parameter array. */
  codes: Record<string, Int8Array>;
  scales: Record<string, Float32Array>;
}

/**
 * int8 parameters, one scale per output channel (a fan-in row): from the
 * given frozen per-channel quantizers (one per array, by name), else max-abs
 * scales calibrated on the array itself.
 */
export function quantizeRecurrence(
  rec: GruRecurrence,
  weights?: Readonly<Record<string, Int8Quantizer>>,
): QuantizedRecurrence {
  validateRecurrence(rec);
  const { sizes, fanIn } = recurrenceLayout(rec.kind, rec.H);
  const out: Record<string, Float64Array> = {};
  const codes: Record<string, Int8Array> = {};
  const scales: Record<string, Float32Array> = {};
  for (const [name, n] of Object.entries(sizes)) {
    const p = (rec as unknown as Record<string, Vec>)[name];
    let q = weights?.[name];
    if (q) checkWeightQuantizer(rec.kind, name, q, n / fanIn);
    else {
      q = new Int8Quantizer({
        granularity: 'per-channel',
        channels: n / fanIn,
        axis: 0,
        calibration: { method: 'max-abs' },
      });
      q.observe(p);
      q.freeze();
    }
    scales[name] = q.scales();
    codes[name] = q.quantize(p);
    out[name] = q.dequantize(codes[name]);
  }
  return { rec: { ...rec, ...out } as GruRecurrence, codes, scales };
}

function checkWeightQuantizer(kind: GruStructure, name: string, q: Int8Quantizer, channels: number): void {
  const c = q.config;
  if (c.granularity !== 'per-channel' || c.axis !== 0 || c.channels !== channels)
    throw new ShapeError(
      `gru: the ${kind} ${name} quantizer must be per-channel over axis 0 with ${channels} channels (one per output row)`,
    );
  if (!q.frozen) throw new QuantizerStateError(`gru: the ${kind} ${name} quantizer must be frozen`);
}

/** A NaN reaching the quantized GRU's state after step t: int8 has no code for it (every engine's error). */
export function gruNanStateError(step: number): QuantizerInputError {
  return new QuantizerInputError(`gru: int8 quantization of NaN (the state after step ${step})`);
}

/** The state quantizer of the quantized GRU: frozen, per-tensor, narrow range (the kernels clamp at ±127). */
export function checkStateQuantizer(q: Int8Quantizer): number {
  if (!(q instanceof Int8Quantizer)) throw new ShapeError('gru: int8.state must be an Int8Quantizer');
  if (q.config.granularity !== 'per-tensor')
    throw new ShapeError('gru: int8.state must be a per-tensor quantizer');
  if (q.config.range !== 'narrow') throw new ShapeError("gru: int8.state must have range 'narrow' (±127)");
  if (!q.frozen) throw new QuantizerStateError('gru: int8.state must be frozen before the scan');
  return q.scales()[0];
}

/** U as tensors (engine.gru), one per parameter array, in the shapes of gruShapes. */
export type GruWeights<T = OpOperand> =
  | { kind: 'dense'; u: T }
  | { kind: 'diagonal'; u: T }
  | { kind: 'monarch'; b1: T; b2: T }
  | { kind: 'butterfly'; w: T };

export interface GruInt8Options {
  /** The state's frozen per-tensor quantizer (narrow range): h0 and every h_t are fake-quantized with it. */
  state: Int8Quantizer;
  /** Frozen per-channel quantizers for U's arrays by name (u; b1, b2; w); default: max-abs on each array. */
  weights?: Readonly<Record<string, Int8Quantizer>>;
}

export interface GruOptions<T = OpOperand> {
  /** b_h [3H] (zeros when absent). */
  bh?: T | null;
  /** h0 [H] (zeros when absent). */
  h0?: T | null;
  /** The quantized GRU. */
  int8?: GruInt8Options;
  /** Also return each step's gates r, z, n, [T, 3H]. */
  gates?: boolean;
}

/** The shape of each parameter array of a structure: dense [3H, H], diagonal [3H], Monarch [3, β, β, β], butterfly [3, ℓ, H/2, 4]. */
export function gruShapes(kind: GruStructure, H: number): Record<string, number[]> {
  switch (kind) {
    case 'dense':
      return { u: [3 * H, H] };
    case 'diagonal':
      return { u: [3 * H] };
    case 'monarch': {
      const b = monarchBlock(H);
      return { b1: [3, b, b, b], b2: [3, b, b, b] };
    }
    case 'butterfly':
      return { w: [3, butterflyFactors(H), H / 2, 4] };
  }
}

/** The parameter tensors of U by array name. */
export function gruArrays<T>(U: GruWeights<T>): Record<string, T> {
  const { kind: _, ...arrays } = U as GruWeights<T> & Record<string, T>;
  return arrays as Record<string, T>;
}

/** Checks engine.gru's operands; returns T and H. */
export function validateGruOp(gx: OpOperand, U: GruWeights, opts: GruOptions = {}): { T: number; H: number } {
  if (gx.shape.length !== 2) throw new ShapeError(`gru: gx must be [T, 3H], got [${gx.shape}]`);
  const { rows: T, dim } = f32Rows('gru', 'gx', gx);
  if (dim % 3 !== 0) throw new ShapeError(`gru: gx must be [T, 3H], got [${gx.shape}]`);
  const H = dim / 3;
  if (!U || !(GRU_STRUCTURES as readonly string[]).includes(U.kind))
    throw new ShapeError(`gru: U.kind must be one of ${GRU_STRUCTURES.join(', ')}, got ${U?.kind}`);
  const arrays = gruArrays(U);
  for (const [name, shape] of Object.entries(gruShapes(U.kind, H))) {
    const t = arrays[name];
    if (!t) throw new ShapeError(`gru: ${U.kind} U needs ${name} [${shape}]`);
    f32Rows('gru', `U.${name}`, t);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new ShapeError(`gru: ${U.kind} U.${name} must be [${shape}] for H = ${H}, got [${t.shape}]`);
  }
  for (const [name, n] of [
    ['bh', 3 * H],
    ['h0', H],
  ] as const) {
    const t = opts[name];
    if (!t) continue;
    f32Rows('gru', name, t);
    if (t.shape.length !== 1 || t.shape[0] !== n)
      throw new ShapeError(`gru: ${name} must be [${n}], got [${t.shape}]`);
  }
  if (opts.int8) checkStateQuantizer(opts.int8.state);
  return { T, H };
}

/** The structure with its arrays read from tensors (`read` gives an array's f32 values). */
export function recurrenceFrom<T>(U: GruWeights<T>, H: number, read: (t: T) => Vec): GruRecurrence {
  const arrays = gruArrays(U);
  const out: Record<string, Vec> = {};
  for (const name of Object.keys(arrays)) out[name] = read(arrays[name]);
  return { kind: U.kind, H, ...out } as GruRecurrence;
}
