/**
 * Hand-made traces for diff tests: a tiny transformer (random weights from a
 * seeded generator) run in float64, every canonical stage captured. A
 * `perturb` hook edits a stage's values before later stages read them, so a
 * planted fault propagates downstream as a real one would.
 */
import { createHash } from 'node:crypto';
import { encodeTrace, type TraceTensorInput, type TraceWriteMetadata } from '../../src/trace/trace-file.js';

export interface TinyConfig {
  layers: number;
  dim: number;
  nHead: number;
  nKvHead: number;
  headDim: number;
  nFf: number;
  vocab: number;
  /** qwen3-style RMS norm of each head of Q and K before RoPE. */
  qkNorm: boolean;
  /** 'normal' rotates adjacent pairs (llama in GGUF), 'neox' the two halves (qwen). */
  rope: 'normal' | 'neox';
  seed: number;
}

export const TINY: TinyConfig = {
  layers: 3,
  dim: 32,
  nHead: 4,
  nKvHead: 2,
  headDim: 8,
  nFf: 48,
  vocab: 40,
  qkNorm: false,
  rope: 'normal',
  seed: 7,
};

export const TINY_TOKENS = [3, 17, 5, 29, 11, 2];

export interface Stage {
  shape: number[];
  data: Float64Array;
}

/** Mulberry32: small, seeded, good enough for test weights. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function matrix(next: () => number, rows: number, cols: number, scale: number): Float64Array {
  const m = new Float64Array(rows * cols);
  for (let i = 0; i < m.length; i++) m[i] = (next() * 2 - 1) * scale;
  return m;
}

/** y[t, n] = Σ_k x[t, k]·W[n, k]. */
function linear(x: Float64Array, T: number, K: number, w: Float64Array, N: number): Float64Array {
  const y = new Float64Array(T * N);
  for (let t = 0; t < T; t++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[t * K + k] * w[n * K + k];
      y[t * N + n] = s;
    }
  return y;
}

function rmsNorm(x: Float64Array, width: number, w: Float64Array): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / width; r++) {
    let ss = 0;
    for (let i = 0; i < width; i++) ss += x[r * width + i] ** 2;
    const s = 1 / Math.sqrt(ss / width + 1e-6);
    for (let i = 0; i < width; i++) y[r * width + i] = x[r * width + i] * s * w[i];
  }
  return y;
}

function rope(x: Float64Array, T: number, heads: number, D: number, mode: 'normal' | 'neox'): Float64Array {
  const y = new Float64Array(x.length);
  for (let t = 0; t < T; t++)
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * D;
      for (let i = 0; i < D / 2; i++) {
        const theta = t * 10000 ** ((-2 * i) / D);
        const [a, b] = mode === 'normal' ? [base + 2 * i, base + 2 * i + 1] : [base + i, base + i + D / 2];
        y[a] = x[a] * Math.cos(theta) - x[b] * Math.sin(theta);
        y[b] = x[a] * Math.sin(theta) + x[b] * Math.cos(theta);
      }
    }
  return y;
}

/** Runs the tiny model; returns every canonical stage in computation order. */
export function tinyForward(
  cfg: TinyConfig = TINY,
  tokens: readonly number[] = TINY_TOKENS,
  perturb?: (name: string, data: Float64Array) => void,
): Map<string, Stage> {
  const next = rng(cfg.seed);
  const { dim, nHead, nKvHead, headDim: D, nFf, vocab } = cfg;
  const T = tokens.length;
  const out = new Map<string, Stage>();
  const put = (name: string, shape: number[], data: Float64Array) => {
    perturb?.(name, data);
    out.set(name, { shape, data });
    return data;
  };
  const ones = (n: number) => Float64Array.from({ length: n }, () => 0.8 + 0.4 * next());
  const table = matrix(next, vocab, dim, 1);
  const emb = new Float64Array(T * dim);
  for (let t = 0; t < T; t++) emb.set(table.subarray(tokens[t] * dim, (tokens[t] + 1) * dim), t * dim);
  let x = put('embedding', [T, dim], emb);
  for (let l = 0; l < cfg.layers; l++) {
    const p = (s: string) => `blk.${l}.${s}`;
    const xn = put(p('attn_norm'), [T, dim], rmsNorm(x, dim, ones(dim)));
    let q = put(
      p('q_proj'),
      [T, nHead * D],
      linear(xn, T, dim, matrix(next, nHead * D, dim, dim ** -0.5), nHead * D),
    );
    let k = put(
      p('k_proj'),
      [T, nKvHead * D],
      linear(xn, T, dim, matrix(next, nKvHead * D, dim, dim ** -0.5), nKvHead * D),
    );
    const v = put(
      p('v_proj'),
      [T, nKvHead * D],
      linear(xn, T, dim, matrix(next, nKvHead * D, dim, dim ** -0.5), nKvHead * D),
    );
    if (cfg.qkNorm) {
      q = put(p('q_norm'), [T, nHead, D], rmsNorm(q, D, ones(D)));
      k = put(p('k_norm'), [T, nKvHead, D], rmsNorm(k, D, ones(D)));
    }
    q = put(p('q_post_rope'), [T, nHead * D], rope(q, T, nHead, D, cfg.rope));
    k = put(p('k_post_rope'), [T, nKvHead * D], rope(k, T, nKvHead, D, cfg.rope));
    const scores = new Float64Array(nHead * T * T);
    const group = nHead / nKvHead;
    for (let h = 0; h < nHead; h++)
      for (let i = 0; i < T; i++)
        for (let j = 0; j < T; j++) {
          let s = 0;
          const kh = Math.floor(h / group);
          for (let d = 0; d < D; d++) s += q[(i * nHead + h) * D + d] * k[(j * nKvHead + kh) * D + d];
          scores[(h * T + i) * T + j] = s / Math.sqrt(D);
        }
    put(p('attn_scores'), [nHead, T, T], scores);
    const probs = new Float64Array(scores.length);
    for (let r = 0; r < nHead * T; r++) {
      const i = r % T;
      let m = Number.NEGATIVE_INFINITY;
      for (let j = 0; j <= i; j++) m = Math.max(m, scores[r * T + j]);
      let sum = 0;
      for (let j = 0; j <= i; j++) sum += Math.exp(scores[r * T + j] - m);
      for (let j = 0; j < T; j++) probs[r * T + j] = j <= i ? Math.exp(scores[r * T + j] - m) / sum : 0;
    }
    put(p('attn_softmax'), [nHead, T, T], probs);
    const att = new Float64Array(T * nHead * D);
    for (let h = 0; h < nHead; h++)
      for (let i = 0; i < T; i++)
        for (let d = 0; d < D; d++) {
          let s = 0;
          for (let j = 0; j < T; j++)
            s += probs[(h * T + i) * T + j] * v[(j * nKvHead + Math.floor(h / group)) * D + d];
          att[(i * nHead + h) * D + d] = s;
        }
    put(p('attention'), [T, nHead * D], att);
    const ao = put(
      p('attn_out'),
      [T, dim],
      linear(att, T, nHead * D, matrix(next, dim, nHead * D, (nHead * D) ** -0.5), dim),
    );
    const res = put(
      p('attn_residual'),
      [T, dim],
      x.map((xi, i) => xi + ao[i]),
    );
    const fn = put(p('ffn_norm'), [T, dim], rmsNorm(res, dim, ones(dim)));
    const gate = put(p('ffn_gate'), [T, nFf], linear(fn, T, dim, matrix(next, nFf, dim, dim ** -0.5), nFf));
    const up = put(p('ffn_up'), [T, nFf], linear(fn, T, dim, matrix(next, nFf, dim, dim ** -0.5), nFf));
    const act = put(
      p('ffn_act'),
      [T, nFf],
      gate.map((g) => g / (1 + Math.exp(-g))),
    );
    const sw = put(
      p('ffn_swiglu'),
      [T, nFf],
      act.map((a, i) => a * up[i]),
    );
    const fo = put(p('ffn_out'), [T, dim], linear(sw, T, nFf, matrix(next, dim, nFf, nFf ** -0.5), dim));
    x = put(
      p('layer_output'),
      [T, dim],
      res.map((r, i) => r + fo[i]),
    );
  }
  const on = put('output_norm', [T, dim], rmsNorm(x, dim, ones(dim)));
  put('logits', [T, vocab], linear(on, T, dim, matrix(next, vocab, dim, dim ** -0.5), vocab));
  return out;
}

export const TINY_META: TraceWriteMetadata = {
  producer: 'plumbline test helper',
  backend: 'float64 loops',
  model: createHash('sha256').update('tiny-trace').digest('hex'),
  tokens: TINY_TOKENS,
  numerics: 'exact',
};

/** Stages as a trace file: f64 as computed, or each stage rounded to f32 on its own. */
export function traceBytes(
  stages: Map<string, Stage>,
  opts: { f32?: boolean; drop?: readonly string[]; meta?: Partial<TraceWriteMetadata> } = {},
): Uint8Array {
  const tensors: TraceTensorInput[] = [];
  for (const [name, s] of stages) {
    if (opts.drop?.includes(name)) continue;
    tensors.push({ name, shape: s.shape, data: opts.f32 ? Float32Array.from(s.data) : s.data });
  }
  return encodeTrace(tensors, { ...TINY_META, ...opts.meta });
}
