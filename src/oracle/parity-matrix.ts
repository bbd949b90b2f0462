/**
 * The parity matrix (issue #5): every op × dtype × a few shapes (ragged
 * included) on one engine, each output compared with the float64 reference
 * under the tier its precision explains — per-element bounds where they are
 * derived (matmul magnitudes, oracle/nn-bounds.ts, oracle/attention-bound.ts),
 * exact where the op is exact (add, embedding). The bounds are those of the
 * kernels that actually ran: on a WebGPU engine, a case that ran on the GPU
 * is held to the WGSL-derived bounds (oracle/webgpu-*-bound.ts: WGSL's exp,
 * division and inverseSqrt accuracy, possible flushing), one that fell back
 * to the CPU to the CPU kernels' bounds; the row says where it ran.
 */

import { referenceAttention } from '../backends/reference/attention.js';
import { referenceMatmul } from '../backends/reference/matmul.js';
import { referenceMoeRoute } from '../backends/reference/moe.js';
import {
  referenceAdd,
  referenceEmbedding,
  referenceGelu,
  referenceLayerNorm,
  referenceRmsNorm,
  referenceRope,
  referenceSilu,
  referenceSoftmax,
  referenceSwiglu,
} from '../backends/reference/nn.js';
import { referenceLinearScan } from '../backends/reference/scan.js';
import { DECODE_CHUNK, FLASH_BLOCK } from '../backends/wasm/attention.js';
import { usesDecodePath } from '../backends/webgpu/ops/attention.js';
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import { type AttentionNumerics, type KvType, validateAttention } from '../ops/attention.js';
import { dequantize } from '../ops/dequantize.js';
import type { MatmulNumerics, MatmulPrecision } from '../ops/matmul.js';
import { type MoeRouteOptions, moeRoutePlan } from '../ops/moe-route.js';
import { quantize } from '../ops/quantize.js';
import { validateRope } from '../ops/rope.js';
import { linearScanBound } from '../ops/scan.js';
import { GGML_TYPES, type GgmlTypeName } from '../types/ggml-types.js';
import { f16ToF32, f32ToF16 } from '../types/half.js';
import { CPU_F32, WGSL_F32 } from './arithmetic.js';
import { type AttentionPath, attentionOutputBound, attentionOutputGpuBound } from './attention-bound.js';
import { type CompareOptions, compare, type ParityTier, type Verdict } from './compare.js';
import { quantizationMagnitude, roundOperands } from './emulate.js';
import { gpuMoeWeightBound, moeWeightBound } from './moe-bound.js';
import {
  layerNormBound,
  layerNormGpuBound,
  measuredBound,
  rmsNormBound,
  rmsNormGpuBound,
  ropeBound,
  softmaxBound,
  swigluBound,
} from './nn-bounds.js';
import { matmulF16OperandsBounds, matmulGpuBound } from './webgpu-matmul-bound.js';
import {
  geluTanhGpuBound,
  ropeGpuBound,
  siluGpuBound,
  softmaxGpuBound,
  swigluGpuBound,
} from './webgpu-nn-bounds.js';

export const PARITY_OPS = [
  'matmul',
  'rms_norm',
  'layer_norm',
  'rope',
  'softmax',
  'silu',
  'gelu',
  'swiglu',
  'add',
  'embedding',
  'attention',
  'scan',
  'moe_route',
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
  /** matmul and attention: 'exact' or 'ggml'; scan: 'sequential' or 'chunked'; moe_route: the scheme. */
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
  /** Where the case ran: 'cpu' (wasm/reference kernels) or 'webgpu'. */
  ranOn: Kernels;
}

/** Which kernels computed a case, so which error bounds explain it. */
export type Kernels = 'cpu' | 'webgpu';

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
  /**
   * The float64 reference and how to compare with it, for the kernels that ran (`precision`: the
   * engine's matmul operands, f16 on a WebGPU engine with matmulPrecision 'f16').
   */
  reference(kernels: Kernels, precision: MatmulPrecision): { y: ArrayLike<number>; opts: CompareOptions };
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
          reference(kernels, precision) {
            const r = referenceMatmul(x, w, M, N, K);
            const vdt = (GGML_TYPES[type].vecDotType ?? 'f32') as GgmlTypeName;
            const f32Kernels = numerics === 'exact' || vdt === 'f32' || vdt === 'f16' || vdt === 'bf16';
            if (kernels === 'webgpu' && precision === 'f16' && f32Kernels)
              return { y: r.y, opts: { tier: 'f16', bound: f16OperandsBound(x, w, M, N, K, numerics, vdt) } };
            if ((numerics === 'exact' || vdt === 'f32') && kernels === 'webgpu') {
              const bound = Float64Array.from(r.magnitude, (m) => matmulGpuBound(K, m));
              return { y: r.y, opts: { tier: 'f32', bound } };
            }
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

/**
 * WebGPU matmul with f16 operands (matmulF16OperandsBounds) against the float64 product of x and w.
 * ggml numerics round x to the half vec_dot type first: f16 is the operands' own rounding; bf16 is
 * a second one, whose error Σ|x̂ − x||w| adds to the bound around x̂'s product.
 */
function f16OperandsBound(
  x: Float32Array,
  w: Float32Array,
  M: number,
  N: number,
  K: number,
  numerics: MatmulNumerics,
  vdt: GgmlTypeName,
): Float64Array {
  if (numerics !== 'ggml' || vdt !== 'bf16') return matmulF16OperandsBounds(x, w, M, N, K);
  const xb = roundOperands(x, 'bf16');
  const bound = matmulF16OperandsBounds(xb, w, M, N, K);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let e = 0;
      for (let k = 0; k < K; k++) e += Math.abs(xb[m * K + k] - x[m * K + k]) * Math.abs(w[n * K + k]);
      bound[m * N + n] += e;
    }
  return bound;
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
        reference(k) {
          const y = referenceRmsNorm(x, w, rows, dim, EPS);
          const f = k === 'webgpu' ? rmsNormGpuBound : rmsNormBound;
          return bound(y, f(x, w, rows, dim, EPS, y));
        },
      },
      {
        ...base,
        op: 'layer_norm',
        run: (e, t) =>
          e.layerNorm(t(x, [rows, dim]), t(w, [dim]), t(up.subarray(0, dim), [dim]), { eps: EPS }),
        reference(k) {
          const b = up.subarray(0, dim);
          const y = referenceLayerNorm(x, w, b, rows, dim, EPS);
          const f = k === 'webgpu' ? layerNormGpuBound : layerNormBound;
          return bound(y, f(x, w, b, rows, dim, EPS, y));
        },
      },
      {
        ...base,
        op: 'softmax',
        run: (e, t) => e.softmax(t(x, [rows, dim])),
        reference: (k) =>
          bound(
            referenceSoftmax(x, null, rows, dim, 0, 1),
            (k === 'webgpu' ? softmaxGpuBound : softmaxBound)(x, null, rows, dim, 0, 1),
          ),
      },
      {
        ...base,
        op: 'silu',
        run: (e, t) => e.silu(t(x, [rows, dim])),
        reference(k) {
          const y = referenceSilu(x);
          return bound(y, k === 'webgpu' ? siluGpuBound(x, y) : measuredBound('silu', y));
        },
      },
      {
        ...base,
        op: 'gelu',
        run: (e, t) => e.gelu(t(x, [rows, dim])),
        reference(k) {
          const y = referenceGelu(x);
          return bound(y, k === 'webgpu' ? geluTanhGpuBound(x, y) : measuredBound('gelu', y));
        },
      },
      {
        ...base,
        op: 'swiglu',
        run: (e, t) => e.swiglu(t(x, [rows, dim]), t(up, [rows, dim])),
        reference(k) {
          const y = referenceSwiglu(x, up);
          return bound(y, k === 'webgpu' ? swigluGpuBound(x, up, y) : swigluBound(up, y));
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
      reference(k) {
        const q = validateRope({ shape: [nTokens, nHead, headDim], type: F32 }, positions, ropeOpts);
        return {
          y: referenceRope(x, positions, q),
          opts: { tier: 'f32', bound: (k === 'webgpu' ? ropeGpuBound : ropeBound)(x, positions, q) },
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

/** f32 values as f16 bytes (round to nearest even) and the f16 values widened back. */
function asF16(x: Float32Array): { bytes: Uint8Array; values: Float32Array } {
  const bits = Uint16Array.from(x, (v) => f32ToF16(v));
  const values = Float32Array.from(bits, (h) => f16ToF32(h));
  return { bytes: new Uint8Array(bits.buffer), values };
}

function attentionCases(): Case[] {
  const cases: Case[] = [];
  // GQA: 8 query heads over 2 kv heads, a ragged kv length.
  const nHead = 8;
  const nHeadKv = 2;
  const hd = 64;
  const nKv = 37;
  const k32 = signal(nKv * nHeadKv * hd, 41, 2);
  const v32 = signal(nKv * nHeadKv * hd, 43);
  for (const kvType of ['f32', 'f16'] as KvType[]) {
    // An f16 cache holds f16 values: the reference reads them widened (exactly).
    const k = kvType === 'f16' ? asF16(k32) : { bytes: k32, values: k32 };
    const v = kvType === 'f16' ? asF16(v32) : { bytes: v32, values: v32 };
    for (const nQ of [1, 5]) {
      const q = signal(nQ * nHead * hd, 47 + nQ, 2);
      for (const numerics of ['exact', 'ggml'] as AttentionNumerics[]) {
        cases.push({
          op: 'attention',
          dtype: kvType,
          shape: `q${nQ}×${nHead}×${hd} kv${nKv}×${nHeadKv}`,
          numerics,
          async run(e, t) {
            const r = await e.attention(
              t(q, [nQ, nHead, hd]),
              t(k.bytes, [nKv, nHeadKv, hd], kvType),
              t(v.bytes, [nKv, nHeadKv, hd], kvType),
              { numerics },
            );
            return r.out;
          },
          reference(kernels) {
            const kv = { type: { name: kvType }, shape: [nKv, nHeadKv, hd] };
            const dims = validateAttention({ type: F32, shape: [nQ, nHead, hd] }, kv, kv, { numerics });
            const ref = referenceAttention(q, k.values, v.values, dims);
            if (kernels === 'webgpu') {
              const gpuPath = usesDecodePath(dims) ? 'decode' : 'prefill';
              return {
                y: ref.out,
                opts: { tier: 'f32', bound: attentionOutputGpuBound(ref, dims, gpuPath) },
              };
            }
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
  }
  return cases;
}

/** [T, D]: a ragged channel count, and T long enough that the chunked scan has several chunks. */
const SCAN_SHAPES: readonly [number, number][] = [
  [37, 67],
  [300, 128],
];

function scanCases(): Case[] {
  const cases: Case[] = [];
  for (const [T, D] of SCAN_SHAPES) {
    // Decays in (0, 1) as a gated recurrence has them, inputs of either sign.
    const a = signal(T * D, T + D + 3).map((v) => 0.5 + 0.45 * v);
    const b = signal(T * D, T + D + 4);
    const h0 = signal(D, D + 5);
    for (const method of ['sequential', 'chunked'] as const) {
      cases.push({
        op: 'scan',
        dtype: 'f32',
        shape: `${T}×${D}`,
        numerics: method,
        run: (e, t) => e.scan(t(a, [T, D]), t(b, [T, D]), t(h0, [D]), { method }),
        reference(k) {
          const r = referenceLinearScan(a, b, h0, T, D);
          const arith = k === 'webgpu' ? WGSL_F32 : CPU_F32;
          const bound = Float64Array.from(r.magnitude, (m, i) =>
            linearScanBound(Math.floor(i / D), m, arith),
          );
          return { y: r.h, opts: { tier: 'f32', bound } };
        },
      });
    }
  }
  return cases;
}

/** [T, E, k] and the schemes whose selection is exact (softmax gating: the top-k of the logits). */
const MOE_SHAPES: readonly [number, number, number][] = [
  [7, 8, 2],
  [5, 60, 4],
];
const MOE_CASES: readonly MoeRouteOptions['scheme'][] = ['mixtral', 'qwen2-moe', 'topk-softmax'];

function moeRouteCases(): Case[] {
  const cases: Case[] = [];
  for (const [T, E, k] of MOE_SHAPES) {
    const logits = signal(T * E, T + E + 9, 4);
    for (const scheme of MOE_CASES) {
      const opts: MoeRouteOptions = { scheme, k };
      cases.push({
        op: 'moe_route',
        dtype: 'f32',
        shape: `${T}×${E} k${k}`,
        numerics: scheme,
        // weights then expert ids, as one row-major [2, T, k] tensor to compare at once.
        async run(e, t) {
          const r = await e.moeRoute(t(logits, [T, E]), opts);
          const w = await r.weights.read();
          const ids = await r.experts.read();
          r.weights.dispose();
          r.experts.dispose();
          const both = new Float32Array(2 * T * k);
          both.set(w);
          both.set(ids, T * k);
          return e.tensor(both, [2, T, k]);
        },
        reference(kernels) {
          const ref = referenceMoeRoute(logits, T, E, opts);
          const weightBound = kernels === 'webgpu' ? gpuMoeWeightBound : moeWeightBound;
          const plan = moeRoutePlan(T, E, opts);
          // Weights within their derived bound; expert ids exact (a bound of 0).
          const bound = new Float64Array(2 * T * k);
          for (let tk = 0; tk < T; tk++) {
            const row = logits.subarray(tk * E, (tk + 1) * E);
            const ids = ref.experts.subarray(tk * k, (tk + 1) * k);
            bound.set(weightBound(row, plan, ids, ref.exact.subarray(tk * k, (tk + 1) * k)), tk * k);
          }
          const y = new Float64Array(2 * T * k);
          y.set(ref.exact);
          y.set(ref.experts, T * k);
          return { y, opts: { tier: 'f32', bound } };
        },
      });
    }
  }
  return cases;
}

function casesFor(op: ParityOp): Case[] {
  if (op === 'matmul') return matmulCases();
  if (op === 'attention') return attentionCases();
  if (op === 'scan') return scanCases();
  if (op === 'moe_route') return moeRouteCases();
  return nnCases().filter((c) => c.op === op);
}

/** Calls that ran on the GPU so far (engines without an op report: none). */
function gpuCalls(engine: Engine): number {
  const report = engine.opReport?.() ?? {};
  return Object.values(report).reduce((n, r) => n + r.webgpu, 0);
}

/** Runs every case of the selected ops on the engine; one row per case. */
export async function parityMatrix(engine: Engine, opts: ParityMatrixOptions = {}): Promise<ParityRow[]> {
  const rows: ParityRow[] = [];
  // A WebGPU engine with f16 matmul operands: its rows are 'webgpu-f16', its matmuls judged at that precision.
  const precision: MatmulPrecision =
    (engine as { device?: { matmulPrecision?: string } }).device?.matmulPrecision === 'f16' ? 'f16' : 'f32';
  for (const op of opts.ops ?? PARITY_OPS) {
    for (const c of casesFor(op)) {
      const made: Tensor[] = [];
      const t: Engine['tensor'] = (data, shape, type) => {
        const x = engine.tensor(data, shape, type);
        made.push(x);
        return x;
      };
      const before = gpuCalls(engine);
      const t0 = performance.now();
      const out = await c.run(engine, t);
      const got = await out.read();
      const ms = performance.now() - t0;
      for (const x of [...made, out]) x.dispose();
      const ranOn: Kernels = gpuCalls(engine) > before ? 'webgpu' : 'cpu';
      const { y, opts: cmp } = c.reference(ranOn, precision);
      const r = compare(got, y, cmp);
      rows.push({
        backend: precision === 'f16' ? `${engine.backend}-f16` : engine.backend,
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
        ranOn,
      });
    }
  }
  return rows;
}
