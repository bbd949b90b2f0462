/**
 * The parity matrix (issue #5): every op × dtype × a few shapes (ragged
 * included) on one engine, each output compared with the float64 reference
 * under the tier its precision explains — per-element bounds where they are
 * derived (matmul magnitudes, oracle/nn-bounds.ts, oracle/attention-bound.ts),
 * exact where the op is exact (add, embedding).
 */

import { referenceAttention } from '../backends/reference/attention.js';
import { referenceMatmul } from '../backends/reference/matmul.js';
import {
  referenceAdd,
  referenceEmbedding,
  referenceGelu,
  referenceRmsNorm,
  referenceRope,
  referenceSilu,
  referenceSoftmax,
  referenceSwiglu,
} from '../backends/reference/nn.js';
import { DECODE_CHUNK, FLASH_BLOCK } from '../backends/wasm/attention.js';
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import { type AttentionNumerics, validateAttention } from '../ops/attention.js';
import { dequantize } from '../ops/dequantize.js';
import type { MatmulNumerics } from '../ops/matmul.js';
import { quantize } from '../ops/quantize.js';
import { validateRope } from '../ops/rope.js';
import { GGML_TYPES, type GgmlTypeName } from '../types/ggml-types.js';
import { type AttentionPath, attentionOutputBound } from './attention-bound.js';
import { type CompareOptions, compare, type ParityTier, type Verdict } from './compare.js';
import { quantizationMagnitude } from './emulate.js';
import { measuredBound, rmsNormBound, ropeBound, softmaxBound, swigluBound } from './nn-bounds.js';

export const PARITY_OPS = [
  'matmul',
  'rms_norm',
  'rope',
  'softmax',
  'silu',
  'gelu',
  'swiglu',
  'add',
  'embedding',
  'attention',
] as const;
export type ParityOp = (typeof PARITY_OPS)[number];

export const MATMUL_TYPES: readonly GgmlTypeName[] = [
  'f32',
  'f16',
  'bf16',
  'q4_0',
  'q8_0',
  'q4_K',
  'q6_K',
  'iq4_xs',
];
/** [M, N, K]: N ragged against every kernel's tile. */
const MATMUL_SHAPES: readonly [number, number, number][] = [
  [1, 37, 256],
  [5, 33, 512],
];
/** [rows, dim] for the row-wise nn ops: a ragged row length and a model-sized one. */
const NN_SHAPES: readonly [number, number][] = [
  [7, 67],
  [3, 4096],
];
/** [n_tokens, n_head, head_dim]. */
const ROPE_SHAPES: readonly [number, number, number][] = [
  [7, 3, 64],
  [3, 32, 128],
];
const EMBEDDING_TYPES: readonly GgmlTypeName[] = ['f32', 'f16', 'q8_0', 'q4_K'];
const EPS = 1e-6;

export interface ParityRow {
  backend: string;
  op: ParityOp;
  /** Weight / table type (f32 for the activation-only ops). */
  dtype: string;
  shape: string;
  /** matmul and attention: 'exact' or 'ggml'. */
  numerics?: string;
  tier: ParityTier;
  basis: Verdict['basis'];
  pass: boolean;
  /** Worst |a − r| / bound (bound mode), else null. */
  worstRatio: number | null;
  /** Index of the worst (or first failing) element. */
  worstIndex: number;
  reason: string;
  /** The op on the engine, output read back included. */
  ms: number;
}

export interface ParityMatrixOptions {
  ops?: readonly ParityOp[];
}

/** Deterministic values in [−1, 1) (an LCG), a different stream per seed. */
function signal(n: number, seed: number, scale = 1): Float32Array {
  let s = (seed * 2654435761) >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
}

const F32 = GGML_TYPES.f32;

interface Case {
  op: ParityOp;
  dtype: string;
  shape: string;
  numerics?: string;
  /** Runs the op on the engine (inputs made with t, disposed after) and returns its output tensor. */
  run(e: Engine, t: Engine['tensor']): Promise<Tensor>;
  /** The float64 reference and how to compare with it. */
  reference(): { y: ArrayLike<number>; opts: CompareOptions };
}

function matmulCases(): Case[] {
  const cases: Case[] = [];
  for (const [M, N, K] of MATMUL_SHAPES) {
    const x = signal(M * K, M + K).map((v, i) => (i % 97 === 5 ? v * 20 : v));
    for (const type of MATMUL_TYPES) {
      const raw = signal(N * K, N + K + 1);
      const bytes = type === 'f32' ? raw : quantize(type, raw);
      const w = type === 'f32' ? raw : dequantize(type, bytes as Uint8Array, N * K);
      for (const numerics of ['exact', 'ggml'] as MatmulNumerics[]) {
        cases.push({
          op: 'matmul',
          dtype: type,
          shape: `${M}×${N}×${K}`,
          numerics,
          async run(e, t) {
            return e.matmul(t(x, [M, K]), t(bytes, [N, K], type), { numerics });
          },
          reference() {
            const r = referenceMatmul(x, w, M, N, K);
            const vdt = (GGML_TYPES[type].vecDotType ?? 'f32') as GgmlTypeName;
            if (numerics === 'exact' || vdt === 'f32')
              return { y: r.y, opts: { tier: 'f32', magnitude: r.magnitude, K } };
            if (vdt === 'f16' || vdt === 'bf16')
              return { y: r.y, opts: { tier: vdt, magnitude: r.magnitude, K } };
            const block = GGML_TYPES[vdt].blockSize;
            return {
              y: r.y,
              opts: { tier: 'q8', magnitude: quantizationMagnitude(x, w, M, N, K, block), K },
            };
          },
        });
      }
    }
  }
  return cases;
}

function nnCases(): Case[] {
  const cases: Case[] = [];
  for (const [rows, dim] of NN_SHAPES) {
    const shape = `${rows}×${dim}`;
    const x = signal(rows * dim, rows + dim, 3);
    const w = signal(dim, dim + 7);
    const up = signal(rows * dim, rows + dim + 11, 2);
    const bound = (y: Float64Array, b: Float64Array) => ({
      y,
      opts: { tier: 'f32', bound: b } as CompareOptions,
    });
    const base = { dtype: 'f32', shape };
    cases.push(
      {
        ...base,
        op: 'rms_norm',
        run: (e, t) => e.rmsNorm(t(x, [rows, dim]), t(w, [dim]), { eps: EPS }),
        reference() {
          const y = referenceRmsNorm(x, w, rows, dim, EPS);
          return bound(y, rmsNormBound(x, w, rows, dim, EPS, y));
        },
      },
      {
        ...base,
        op: 'softmax',
        run: (e, t) => e.softmax(t(x, [rows, dim])),
        reference: () =>
          bound(referenceSoftmax(x, null, rows, dim, 0, 1), softmaxBound(x, null, rows, dim, 0, 1)),
      },
      {
        ...base,
        op: 'silu',
        run: (e, t) => e.silu(t(x, [rows, dim])),
        reference() {
          const y = referenceSilu(x);
          return bound(y, measuredBound('silu', y));
        },
      },
      {
        ...base,
        op: 'gelu',
        run: (e, t) => e.gelu(t(x, [rows, dim])),
        reference() {
          const y = referenceGelu(x);
          return bound(y, measuredBound('gelu', y));
        },
      },
      {
        ...base,
        op: 'swiglu',
        run: (e, t) => e.swiglu(t(x, [rows, dim]), t(up, [rows, dim])),
        reference() {
          const y = referenceSwiglu(x, up);
          return bound(y, swigluBound(up, y));
        },
      },
      {
        ...base,
        op: 'add',
        // b is one row, broadcast over a's rows.
        run: (e, t) => e.add(t(x, [rows, dim]), t(w, [1, dim])),
        reference: () => ({
          y: Float32Array.from(referenceAdd(x, w, rows, dim, 1)),
          opts: { tier: 'exact' },
        }),
      },
    );
  }
  for (const [nTokens, nHead, headDim] of ROPE_SHAPES) {
    const x = signal(nTokens * nHead * headDim, nTokens + headDim, 2);
    const positions = Array.from({ length: nTokens }, (_, t) => 3 * t + 1);
    const ropeOpts = { mode: 'neox' as const, freqBase: 10000 };
    cases.push({
      op: 'rope',
      dtype: 'f32',
      shape: `${nTokens}×${nHead}×${headDim}`,
      run: (e, t) => e.rope(t(x, [nTokens, nHead, headDim]), positions, ropeOpts),
      reference() {
        const q = validateRope({ shape: [nTokens, nHead, headDim], type: F32 }, positions, ropeOpts);
        return {
          y: referenceRope(x, positions, q),
          opts: { tier: 'f32', bound: ropeBound(x, positions, q) },
        };
      },
    });
  }
  const nVocab = 11;
  const nEmbd = 256;
  const ids = [3, 0, 10, 3, 7];
  for (const type of EMBEDDING_TYPES) {
    const raw = signal(nVocab * nEmbd, nEmbd + 5);
    const bytes = type === 'f32' ? raw : quantize(type, raw);
    cases.push({
      op: 'embedding',
      dtype: type,
      shape: `${nVocab}×${nEmbd}[${ids.length}]`,
      run: (e, t) => e.embedding(t(bytes, [nVocab, nEmbd], type), ids),
      reference() {
        const table = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        return {
          y: Float32Array.from(referenceEmbedding(GGML_TYPES[type], table, ids, nEmbd)),
          opts: { tier: 'exact' },
        };
      },
    });
  }
  return cases;
}

function attentionCases(): Case[] {
  const cases: Case[] = [];
  // GQA: 8 query heads over 2 kv heads, a ragged kv length.
  const nHead = 8;
  const nHeadKv = 2;
  const hd = 64;
  const nKv = 37;
  const k = signal(nKv * nHeadKv * hd, 41, 2);
  const v = signal(nKv * nHeadKv * hd, 43);
  for (const nQ of [1, 5]) {
    const q = signal(nQ * nHead * hd, 47 + nQ, 2);
    for (const numerics of ['exact', 'ggml'] as AttentionNumerics[]) {
      cases.push({
        op: 'attention',
        dtype: 'f32',
        shape: `q${nQ}×${nHead}×${hd} kv${nKv}×${nHeadKv}`,
        numerics,
        async run(e, t) {
          const r = await e.attention(
            t(q, [nQ, nHead, hd]),
            t(k, [nKv, nHeadKv, hd]),
            t(v, [nKv, nHeadKv, hd]),
            { numerics },
          );
          return r.out;
        },
        reference() {
          const f32 = { type: F32 };
          const dims = validateAttention(
            { ...f32, shape: [nQ, nHead, hd] },
            { ...f32, shape: [nKv, nHeadKv, hd] },
            { ...f32, shape: [nKv, nHeadKv, hd] },
            { numerics },
          );
          const ref = referenceAttention(q, k, v, dims);
          // The wasm kernels' path: the f32 reference backend lies within any of them.
          const path: AttentionPath = numerics === 'ggml' ? 'ggml' : nQ === 1 ? 'decode' : 'prefill';
          const b = attentionOutputBound(ref, dims, {
            path,
            blockSize: FLASH_BLOCK,
            chunkSize: DECODE_CHUNK,
          });
          return { y: ref.out, opts: { tier: 'f32', bound: b } };
        },
      });
    }
  }
  return cases;
}

function casesFor(op: ParityOp): Case[] {
  if (op === 'matmul') return matmulCases();
  if (op === 'attention') return attentionCases();
  return nnCases().filter((c) => c.op === op);
}

/** Runs every case of the selected ops on the engine; one row per case. */
export async function parityMatrix(engine: Engine, opts: ParityMatrixOptions = {}): Promise<ParityRow[]> {
  const rows: ParityRow[] = [];
  for (const op of opts.ops ?? PARITY_OPS) {
    for (const c of casesFor(op)) {
      const made: Tensor[] = [];
      const t: Engine['tensor'] = (data, shape, type) => {
        const x = engine.tensor(data, shape, type);
        made.push(x);
        return x;
      };
      const t0 = performance.now();
      const out = await c.run(engine, t);
      const got = await out.read();
      const ms = performance.now() - t0;
      for (const x of [...made, out]) x.dispose();
      const { y, opts: cmp } = c.reference();
      const r = compare(got, y, cmp);
      rows.push({
        backend: engine.backend,
        op: c.op,
        dtype: c.dtype,
        shape: c.shape,
        ...(c.numerics ? { numerics: c.numerics } : {}),
        tier: r.verdict.tier,
        basis: r.verdict.basis,
        pass: r.verdict.pass,
        worstRatio: r.bound ? r.bound.worstRatio : null,
        worstIndex: r.firstExceeding >= 0 ? r.firstExceeding : (r.worst?.index ?? -1),
        reason: r.verdict.reason,
        ms,
      });
    }
  }
  return rows;
}
