/**
 * attention's semantics (design.md trace stages attn_scores, attn_softmax,
 * attention). Every backend implements this; validation lives here.
 *
 *   q [n_q, n_head, head_dim] f32; k, v [n_kv, n_head_kv, head_dim], both f32
 *   or both f16 (kv row j holds kv position j). Grouped-query: n_head is a
 *   multiple of n_head_kv and head h reads kv head h / (n_head / n_head_kv).
 *   scores[h, i, j]  = scale · q[i, h]·k[j, h_kv]                (before the mask)
 *   softmax[h, i, :] = softmax over the kv positions query i sees (0 elsewhere)
 *   out[i, h·head_dim + d] = Σ_j softmax[h, i, j] · v[j, h_kv, d]
 *   Query i at position p sees kv positions j with j ≤ p (causal, the default)
 *   and j > p − window (sliding window); without causal, every j. A query that
 *   sees nothing has a zero output row and a zero softmax row.
 *
 * Numerics: `exact` computes in f32 (f16 K/V widened exactly); `ggml`
 * reproduces ggml's CPU flash attention in its per-row path (Q rounded to K's
 * vec_dot type, online softmax one kv position at a time, the V accumulator
 * kept in f16 when V is f16: assembly/attention/ggml.ts says exactly what).
 */
import { ShapeError, UnsupportedTypeError } from '../errors.js';

export type AttentionNumerics = 'exact' | 'ggml';
export type KvType = 'f32' | 'f16';

export interface AttentionOptions {
  /**
   * Applied as an f32 (rounded with Math.fround). Default: 1/√head_dim as
   * llama.cpp computes it in f32, fround(1 / fround(√head_dim)).
   */
  scale?: number;
  /** Default true. */
  causal?: boolean;
  /**
   * Position of each query: n_q integers in [0, 2^31 − 1). Default: the
   * queries are the last n_q kv positions, n_kv − n_q + i.
   */
  positions?: ArrayLike<number>;
  /** Sliding window (causal only): a query at p sees kv positions > p − window. Default: none. */
  window?: number;
  /** Default 'exact'. */
  numerics?: AttentionNumerics;
  /** Also compute the scores [n_head, n_q, n_kv] (trace stage attn_scores). */
  scores?: boolean;
  /** Also compute the softmax [n_head, n_q, n_kv] (trace stage attn_softmax). */
  softmax?: boolean;
}

export interface AttentionOperand {
  readonly shape: readonly number[];
  readonly type: { readonly name: string };
}

export interface AttentionDims {
  nQ: number;
  nKv: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  /** The f32 scale. */
  scale: number;
  causal: boolean;
  /** 0: no sliding window. */
  window: number;
  numerics: AttentionNumerics;
  kvType: KvType;
  /** The n_q query positions. */
  positions: Int32Array;
  scores: boolean;
  softmax: boolean;
}

const MAX_I32 = 0x7fffffff;

/** llama.cpp's kq_scale: 1.0f / sqrtf(float(head_dim)), in f32. */
export function defaultScale(headDim: number): number {
  return Math.fround(1 / Math.fround(Math.sqrt(headDim)));
}

function dim(name: string, v: number, min: number): number {
  if (!Number.isSafeInteger(v) || v < min || v > MAX_I32)
    throw new ShapeError(`attention: ${name} must be an integer in [${min}, 2^31), got ${v}`);
  return v;
}

/** Checks shapes, types and options before any work; returns the dimensions. */
export function validateAttention(
  q: AttentionOperand,
  k: AttentionOperand,
  v: AttentionOperand,
  opts: AttentionOptions = {},
): AttentionDims {
  const numerics = opts.numerics ?? 'exact';
  if (numerics !== 'exact' && numerics !== 'ggml')
    throw new ShapeError(
      `attention: numerics must be 'exact' or 'ggml', got ${JSON.stringify(opts.numerics)}`,
    );
  if (q.type.name !== 'f32') throw new UnsupportedTypeError(q.type.name, 'attention: q must be f32, got');
  for (const [name, t] of [
    ['k', k],
    ['v', v],
  ] as const) {
    if (t.type.name !== 'f32' && t.type.name !== 'f16')
      throw new UnsupportedTypeError(t.type.name, `attention: ${name} must be f32 or f16, got`);
  }
  if (k.type.name !== v.type.name)
    throw new UnsupportedTypeError(
      `${k.type.name}/${v.type.name}`,
      'attention: k and v must have the same type, got',
    );
  if (q.shape.length !== 3)
    throw new ShapeError(`attention: q must be [n_q, n_head, head_dim], got [${q.shape}]`);
  if (k.shape.length !== 3)
    throw new ShapeError(`attention: k must be [n_kv, n_head_kv, head_dim], got [${k.shape}]`);
  if (v.shape.length !== 3 || v.shape.some((d, i) => d !== k.shape[i]))
    throw new ShapeError(`attention: v must have k's shape [${k.shape}], got [${v.shape}]`);
  const nQ = dim('n_q', q.shape[0], 0);
  const nHead = dim('n_head', q.shape[1], 1);
  const headDim = dim('head_dim', q.shape[2], 1);
  const nKv = dim('n_kv', k.shape[0], 0);
  const nHeadKv = dim('n_head_kv', k.shape[1], 1);
  if (k.shape[2] !== headDim)
    throw new ShapeError(`attention: q has head_dim ${headDim} but k is [${k.shape}]: the head dims differ`);
  if (nHead % nHeadKv !== 0)
    throw new ShapeError(`attention: n_head ${nHead} is not a multiple of n_head_kv ${nHeadKv}`);
  if (nQ * nHead * headDim > MAX_I32 || nKv * nHeadKv * headDim > MAX_I32)
    throw new ShapeError('attention: q, k and v must each hold fewer than 2^31 values');

  const scale = Math.fround(opts.scale ?? defaultScale(headDim));
  if (!Number.isFinite(scale))
    throw new ShapeError(`attention: scale must be a finite f32, got ${opts.scale}`);
  const causal = opts.causal ?? true;
  const window = opts.window ?? 0;
  if (opts.window !== undefined) {
    dim('window', window, 1);
    if (!causal) throw new ShapeError('attention: a sliding window needs causal attention');
  }

  const positions = new Int32Array(nQ);
  if (opts.positions === undefined) {
    for (let i = 0; i < nQ; i++) positions[i] = Math.max(0, nKv - nQ + i);
  } else {
    if (opts.positions.length !== nQ)
      throw new ShapeError(`attention: positions has ${opts.positions.length} entries, n_q is ${nQ}`);
    for (let i = 0; i < nQ; i++) {
      const p = opts.positions[i];
      if (!Number.isSafeInteger(p) || p < 0 || p >= MAX_I32)
        throw new ShapeError(`attention: positions[${i}] must be an integer in [0, 2^31 − 1), got ${p}`);
      positions[i] = p;
    }
  }
  if ((opts.scores || opts.softmax) && nHead * nQ * nKv > MAX_I32)
    throw new ShapeError(`attention: scores [${nHead}, ${nQ}, ${nKv}] hold 2^31 values or more`);
  return {
    nQ,
    nKv,
    nHead,
    nHeadKv,
    headDim,
    scale,
    causal,
    window,
    numerics,
    kvType: k.type.name as KvType,
    positions,
    scores: opts.scores === true,
    softmax: opts.softmax === true,
  };
}

/** The kv positions [lo, hi) a query at position p sees (empty when lo ≥ hi). */
export function visibleRange(dims: AttentionDims, p: number): [number, number] {
  if (!dims.causal) return [0, dims.nKv];
  const hi = Math.min(p + 1, dims.nKv);
  const lo = dims.window > 0 ? Math.max(0, p - dims.window + 1) : 0;
  return [lo, hi];
}

/** The kv head that query head h reads. */
export function kvHeadOf(dims: AttentionDims, h: number): number {
  return Math.floor(h / (dims.nHead / dims.nHeadKv));
}
