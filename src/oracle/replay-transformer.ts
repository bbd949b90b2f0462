/**
 * Replay rules of the transformer's stages (src/model/block.ts): each stage
 * recomputed on the float64 reference (src/backends/reference/) from the
 * candidate's own captured inputs and the model's weights, with the error a
 * correct kernel may make — matmul magnitudes Σ|x||w|, the f32 kernels'
 * derived bounds (nn-bounds.ts, attention-bound.ts), the tier's rounding on
 * top (replay-rules.ts, replayBound).
 *
 * Generic depths K of the elementwise stages (for the tier bound, any order):
 * RMSNorm rounds each square and sums n of them (γ(n) on Σx², halved by the
 * square root), then the mean, +eps, √, 1/·, ·s and ·w: K = n + 6 on |y|. An
 * add is one rounding of |a| + |b|; RoPE's y0 = x0·c − x1·s two products and
 * a difference on |x0| + |x1| (θ's own error: ropeBound); SiLU and SwiGLU one
 * exp, a division and a product on |y|.
 */
import { referenceAttention } from '../backends/reference/attention.js';
import { referenceMatmul } from '../backends/reference/matmul.js';
import {
  referenceEmbedding,
  referenceRmsNorm,
  referenceRope,
  referenceSilu,
  referenceSwiglu,
} from '../backends/reference/nn.js';
import { DECODE_CHUNK, FLASH_BLOCK } from '../backends/wasm/attention.js';
import { GLOBAL_TENSOR_NAMES, layerTensorNames } from '../model/tensors.js';
import { type AttentionDims, validateAttention } from '../ops/attention.js';
import { validateRope } from '../ops/rope.js';
import { parseStageName, residualName, stageName } from '../trace/stages.js';
import { GGML_TYPES, type GgmlTypeName } from '../types/ggml-types.js';
import { f16ToF32, f32ToF16 } from '../types/half.js';
import {
  type AttentionPath,
  attentionOutputBound,
  attentionOutputGpuBound,
  attentionScoresBound,
  attentionScoresGpuBound,
  attentionSoftmaxBound,
  attentionSoftmaxGpuBound,
} from './attention-bound.js';
import { quantizationMagnitude } from './emulate.js';
import { ParityOptionError } from './errors.js';
import { measuredBound, rmsNormBound, rmsNormGpuBound, ropeBound, swigluBound } from './nn-bounds.js';
import {
  kernelBoundFor,
  type ReplayContext,
  type ReplayInputs,
  type ReplayOutput,
  type ReplayRule,
  registerReplayRule,
} from './replay-rules.js';
import { matmulF16OperandsBounds } from './webgpu-matmul-bound.js';
import { ropeGpuBound, siluGpuBound, swigluGpuBound } from './webgpu-nn-bounds.js';

type Vec = Float32Array | Float64Array;
const F32 = GGML_TYPES.f32;

const abs = (y: ArrayLike<number>) => Float64Array.from({ length: y.length }, (_, i) => Math.abs(y[i]));

/** The residual stream after the last layer (the embedding for a model without layers). */
function lastResidual(ctx: ReplayContext): string {
  return residualName(ctx.lastLayer + 1);
}

/**
 * Inputs that forward hooks do not see, formed exactly in f32 from stages
 * they do (Hugging Face traces have no residual sums and no SwiGLU product):
 * the f32 sum or product of two f32 values, correctly rounded, is what any
 * f32 elementwise kernel gives.
 */
const DERIVED: Record<string, { from: (l: number) => string[]; make: (a: Vec, b: Vec) => Float32Array }> = {
  attn_residual: {
    from: (l) => [residualName(l), stageName('attn_out', l)],
    make: (r, a) => Float32Array.from(r, (v, i) => v + a[i]),
  },
  ffn_swiglu: {
    from: (l) => [stageName('ffn_act', l), stageName('ffn_up', l)],
    make: (act, up) => Float32Array.from(act, (v, i) => v * up[i]),
  },
};

function derivation(name: string, ctx: ReplayContext) {
  const ref = parseStageName(name);
  const d = ref && ref.layer !== null ? DERIVED[ref.stage] : undefined;
  if (!d || ctx.captured(name)) return undefined;
  const from = d.from(ref?.layer as number);
  return from.every((n) => ctx.captured(n)) ? { from, make: d.make } : undefined;
}

/** The candidate's stages an input is read from: itself, or what it is derived from when it was not captured. */
function sources(name: string, ctx: ReplayContext): string[] {
  return derivation(name, ctx)?.from ?? [name];
}

function inputValue(name: string, xs: ReplayInputs, ctx: ReplayContext): Vec {
  const d = derivation(name, ctx);
  return d ? d.make(xs.get(d.from[0]), xs.get(d.from[1])) : xs.get(name);
}

function rowsOf(x: Vec, width: number, what: string): number {
  if (x.length % width !== 0)
    throw new ParityOptionError(`replay: ${what} has ${x.length} values, not rows of ${width}`);
  return x.length / width;
}

/** y = x·Wᵀ (+ b) from a candidate input and a GGUF weight, at the weight's tier. */
async function linear(
  ctx: ReplayContext,
  x: Vec,
  weight: string,
  bias: string | undefined,
  what: string,
): Promise<ReplayOutput> {
  const [N, K] = ctx.model.shape(weight);
  const M = rowsOf(x, K, what);
  const w = await ctx.model.tensor(weight);
  const { y, magnitude } = referenceMatmul(x, w, M, N, K);
  const type = ctx.model.type(weight);
  const tier = ctx.tierFor('matmul', type);
  let mag: Float64Array = magnitude;
  if (tier === 'q8') {
    // The activations were quantized per block of the weight's vec_dot type: scale by Σ amax·|w| (emulate.ts).
    const vdt = GGML_TYPES[type].vecDotType as GgmlTypeName;
    mag = quantizationMagnitude(x, w, M, N, K, GGML_TYPES[vdt].blockSize);
  }
  // f16 operands (a q8 matmul keeps its integer dots): the per-element bound derived for them, which
  // also covers f16 subnormal operands (webgpu-matmul-bound.ts).
  const kernelBound =
    ctx.matmulPrecision === 'f16' && tier !== 'q8' ? matmulF16OperandsBounds(x, w, M, N, K) : undefined;
  const b = bias ? await ctx.model.optional(bias) : undefined;
  if (b)
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        y[m * N + n] += b[n];
        mag[m * N + n] += Math.abs(b[n]);
        // The bias is added in f32 after the dot: one more rounding of the sum.
        if (kernelBound)
          kernelBound[m * N + n] += 2 ** -23 * (Math.abs(y[m * N + n]) + kernelBound[m * N + n]);
      }
  return { y, tier, K: b ? K + 1 : K, magnitude: mag, kernelBound };
}

/** y = input·Wᵀ (+ b) with W (and b) a layer tensor by its role in layerTensorNames (other families reuse it). */
export function matmulRule(input: (l: number) => string, weight: string, bias?: string): ReplayRule {
  return {
    inputs: (l, ctx) => sources(input(l as number), ctx),
    async recompute(l, x, ctx) {
      const names = layerTensorNames(l as number) as Record<string, string>;
      const from = input(l as number);
      return linear(ctx, inputValue(from, x, ctx), names[weight], bias && names[bias], from);
    },
  };
}

async function rmsNorm(ctx: ReplayContext, x: Vec, weight: string, width: number): Promise<ReplayOutput> {
  const w = await ctx.model.tensor(weight);
  const rows = rowsOf(x, width, weight);
  const eps = ctx.model.hparams.rmsEps;
  const y = referenceRmsNorm(x, w, rows, width, eps);
  return {
    y,
    tier: ctx.tierFor('elementwise'),
    K: width + 6,
    magnitude: abs(y),
    kernelBound: kernelBoundFor(ctx.kernels, rmsNormBound(x, w, rows, width, eps, y), () =>
      rmsNormGpuBound(x, w, rows, width, eps, y),
    ),
  };
}

function normRule(input: (l: number | null) => string, weight: (l: number | null) => string): ReplayRule {
  return {
    inputs: (l, ctx) => sources(input(l), ctx),
    recompute: (l, x, ctx) => rmsNorm(ctx, inputValue(input(l), x, ctx), weight(l), ctx.model.hparams.nEmbd),
  };
}

function headNormRule(input: 'q_proj' | 'k_proj', weight: 'qNorm' | 'kNorm'): ReplayRule {
  return {
    inputs: (l) => [stageName(input, l)],
    recompute: (l, x, ctx) =>
      rmsNorm(
        ctx,
        x.get(stageName(input, l)),
        layerTensorNames(l as number)[weight],
        ctx.model.hparams.headDim,
      ),
  };
}

type LayerStage = (l: number, ctx: ReplayContext) => string;

function addRule(a: LayerStage, b: LayerStage): ReplayRule {
  return {
    inputs: (l, ctx) => [...sources(a(l as number, ctx), ctx), ...sources(b(l as number, ctx), ctx)],
    async recompute(l, x, ctx) {
      const [an, bn] = [a(l as number, ctx), b(l as number, ctx)];
      const p = inputValue(an, x, ctx);
      const q = inputValue(bn, x, ctx);
      if (p.length !== q.length) throw new ParityOptionError(`replay: ${an} and ${bn} differ in size`);
      const y = Float64Array.from({ length: p.length }, (_, i) => p[i] + q[i]);
      const magnitude = Float64Array.from({ length: p.length }, (_, i) => Math.abs(p[i]) + Math.abs(q[i]));
      return { y, tier: ctx.tierFor('elementwise'), K: 1, magnitude };
    },
  };
}

function ropeRule(which: 'q' | 'k'): ReplayRule {
  const input = (l: number, ctx: ReplayContext) =>
    stageName(ctx.model.hparams.arch.qkNorm ? `${which}_norm` : `${which}_proj`, l);
  return {
    inputs: (l, ctx) => [input(l as number, ctx)],
    async recompute(l, xs, ctx) {
      const h = ctx.model.hparams;
      const x = xs.get(input(l as number, ctx));
      const heads = which === 'q' ? h.nHead : h.nHeadKv;
      const n = rowsOf(x, heads * h.headDim, input(l as number, ctx));
      const freqFactors = await ctx.model.optional(GLOBAL_TENSOR_NAMES.ropeFreqs);
      const q = validateRope({ shape: [n, heads, h.headDim], type: F32 }, ctx.positions.subarray(0, n), {
        mode: h.rope.mode,
        nDims: h.rope.nDims,
        freqBase: h.rope.freqBase,
        freqScale: h.rope.freqScale,
        freqFactors: freqFactors ?? null,
      });
      const y = referenceRope(x, ctx.positions, q);
      // Each element of a rotated pair is a two-term sum over |x0| + |x1| (pass-through dims: |x|).
      const magnitude = abs(x);
      const half = q.nDims / 2;
      for (let o = 0; o < x.length; o += q.headDim)
        for (let i = 0; i < half; i++) {
          const [j0, j1] = q.mode === 'normal' ? [2 * i, 2 * i + 1] : [i, i + half];
          const m = (Math.abs(x[o + j0]) + Math.abs(x[o + j1])) * Math.abs(q.attnFactor);
          magnitude[o + j0] = m;
          magnitude[o + j1] = m;
        }
      return {
        y,
        tier: ctx.tierFor('elementwise'),
        K: 2,
        magnitude,
        kernelBound: kernelBoundFor(ctx.kernels, ropeBound(x, ctx.positions, q), () =>
          ropeGpuBound(x, ctx.positions, q),
        ),
      };
    },
  };
}

/** Rounds to f16 and back (the ggml numerics' f16 KV cache stores k and v so). */
function throughF16(x: Vec): Float32Array {
  return Float32Array.from(x, (v) => f16ToF32(f32ToF16(v)));
}

type AttentionPart = 'attn_scores' | 'attn_softmax' | 'attention';

/**
 * Attention from the candidate's q_post_rope, k_post_rope and v_proj of every
 * token of the pass (a pass from position 0: the cache holds exactly them).
 * ggml numerics keep K and V in an f16 cache, so the replay rounds them as the
 * cache write does; the bound is the largest of the kernel orders plumbline
 * derives (blocked prefill, chunked decode, ggml's per-position online softmax).
 */
interface AttentionReplay {
  model: ReplayContext['model'];
  k: Vec;
  v: Vec;
  numerics: string;
  dims: AttentionDims;
  ref: ReturnType<typeof referenceAttention>;
}

/** One reference attention per set of inputs: scores, softmax and output of a layer share it. */
const attentionMemo = new WeakMap<Vec, AttentionReplay>();

function referenceOf(q: Vec, k32: Vec, v32: Vec, n: number, ctx: ReplayContext): AttentionReplay {
  const hit = attentionMemo.get(q);
  if (hit && hit.model === ctx.model && hit.k === k32 && hit.v === v32 && hit.numerics === ctx.numerics)
    return hit;
  const h = ctx.model.hparams;
  const f16 = ctx.numerics === 'ggml';
  const k = f16 ? throughF16(k32) : k32;
  const v = f16 ? throughF16(v32) : v32;
  const kvType = { name: f16 ? 'f16' : 'f32' };
  const kvShape = [rowsOf(k, h.nHeadKv * h.headDim, 'k_post_rope'), h.nHeadKv, h.headDim];
  const dims = validateAttention(
    { shape: [n, h.nHead, h.headDim], type: F32 },
    { shape: kvShape, type: kvType },
    { shape: kvShape, type: kvType },
    {
      positions: ctx.positions.subarray(0, n),
      causal: true,
      numerics: ctx.numerics,
      scores: true,
      softmax: true,
    },
  );
  const r: AttentionReplay = {
    model: ctx.model,
    k: k32,
    v: v32,
    numerics: ctx.numerics,
    dims,
    ref: referenceAttention(q, k, v, dims),
  };
  attentionMemo.set(q, r);
  return r;
}

function attentionRule(part: AttentionPart): ReplayRule {
  const names = (l: number) =>
    (['q_post_rope', 'k_post_rope', 'v_proj'] as const).map((s) => stageName(s, l));
  return {
    inputs: (l) => names(l as number),
    async recompute(l, xs, ctx) {
      const h = ctx.model.hparams;
      const [qn, kn, vn] = names(l as number);
      const q = xs.get(qn);
      const n = rowsOf(q, h.nHead * h.headDim, qn);
      const { dims, ref } = referenceOf(q, xs.get(kn), xs.get(vn), n, ctx);
      const tier = ctx.tierFor('elementwise');
      if (part === 'attn_scores') {
        const y = ref.scores as Float64Array;
        const m = ref.stats.scoreElementMagnitude as Float64Array;
        const kernelBound = kernelBoundFor(ctx.kernels, attentionScoresBound(ref, dims), () =>
          attentionScoresGpuBound(ref, dims),
        );
        return { y, tier, K: h.headDim + 1, magnitude: m, kernelBound };
      }
      if (part === 'attn_softmax') {
        const y = ref.softmax as Float64Array;
        const kernelBound = kernelBoundFor(ctx.kernels, attentionSoftmaxBound(ref, dims), () =>
          attentionSoftmaxGpuBound(ref, dims),
        );
        return { y, tier, K: n, magnitude: abs(y), kernelBound };
      }
      const paths: AttentionPath[] = ['prefill', 'decode', 'ggml'];
      const bounds = paths.map((path) =>
        attentionOutputBound(ref, dims, { path, blockSize: FLASH_BLOCK, chunkSize: DECODE_CHUNK }),
      );
      if (ctx.kernels === 'webgpu')
        bounds.push(
          attentionOutputGpuBound(ref, dims, 'prefill'),
          attentionOutputGpuBound(ref, dims, 'decode'),
        );
      const kernelBound = bounds[0].map((_, i) => Math.max(...bounds.map((b) => b[i])));
      return { y: ref.out, tier, K: h.headDim + n, magnitude: ref.stats.magnitude, kernelBound };
    },
  };
}

const TRANSFORMER_RULES: Record<string, ReplayRule> = {
  embedding: {
    inputs: () => [],
    async recompute(_l, _x, ctx) {
      const name = GLOBAL_TENSOR_NAMES.tokenEmbd;
      const [nVocab, nEmbd] = ctx.model.shape(name);
      for (const t of ctx.tokens)
        if (!(Number.isInteger(t) && t >= 0 && t < nVocab))
          throw new ParityOptionError(`replay: token ${t} is outside the model's vocabulary [0, ${nVocab})`);
      const table = await ctx.model.tensor(name);
      // The table's values are exact f32; any engine copies them (the f32 "type" of the dequantized table).
      const bytes = new Uint8Array(table.buffer, table.byteOffset, table.byteLength);
      const y = referenceEmbedding(F32, bytes, ctx.tokens, nEmbd);
      return { y, tier: ctx.tierFor('lookup'), K: 1, magnitude: abs(y) };
    },
  },
  attn_norm: normRule(
    (l) => residualName(l as number),
    (l) => layerTensorNames(l as number).attnNorm,
  ),
  q_proj: matmulRule((l) => stageName('attn_norm', l), 'wq', 'bq'),
  k_proj: matmulRule((l) => stageName('attn_norm', l), 'wk', 'bk'),
  v_proj: matmulRule((l) => stageName('attn_norm', l), 'wv', 'bv'),
  q_norm: headNormRule('q_proj', 'qNorm'),
  k_norm: headNormRule('k_proj', 'kNorm'),
  q_post_rope: ropeRule('q'),
  k_post_rope: ropeRule('k'),
  attn_scores: attentionRule('attn_scores'),
  attn_softmax: attentionRule('attn_softmax'),
  attention: attentionRule('attention'),
  attn_out: matmulRule((l) => stageName('attention', l), 'wo', 'bo'),
  attn_residual: addRule(residualName, (l) => stageName('attn_out', l)),
  ffn_norm: normRule(
    (l) => stageName('attn_residual', l),
    (l) => layerTensorNames(l as number).ffnNorm,
  ),
  ffn_gate: matmulRule((l) => stageName('ffn_norm', l), 'wGate'),
  ffn_up: matmulRule((l) => stageName('ffn_norm', l), 'wUp'),
  ffn_act: {
    inputs: (l) => [stageName('ffn_gate', l)],
    async recompute(l, x, ctx) {
      const gate = x.get(stageName('ffn_gate', l));
      const y = referenceSilu(gate);
      return {
        y,
        tier: ctx.tierFor('elementwise'),
        K: 3,
        magnitude: abs(y),
        kernelBound: kernelBoundFor(ctx.kernels, measuredBound('silu', y), () => siluGpuBound(gate, y)),
      };
    },
  },
  // The pass computes silu(gate)·up in one kernel from ffn_gate (ffn_act is a traced side output).
  ffn_swiglu: {
    inputs: (l) => [stageName('ffn_gate', l), stageName('ffn_up', l)],
    async recompute(l, x, ctx) {
      const up = x.get(stageName('ffn_up', l));
      const gate = x.get(stageName('ffn_gate', l));
      const y = referenceSwiglu(gate, up);
      return {
        y,
        tier: ctx.tierFor('elementwise'),
        K: 4,
        magnitude: abs(y),
        kernelBound: kernelBoundFor(ctx.kernels, swigluBound(up, y), () => swigluGpuBound(gate, up, y)),
      };
    },
  },
  ffn_out: matmulRule((l) => stageName('ffn_swiglu', l), 'wDown'),
  // A mixture-of-experts layer (it has a router) adds moe_out where a dense one adds ffn_out.
  layer_output: addRule(
    (l) => stageName('attn_residual', l),
    (l, ctx) => stageName(ctx.model.has(layerTensorNames(l).router) ? 'moe_out' : 'ffn_out', l),
  ),
  // output_norm reads the last layer's output (the embedding for a model without layers).
  output_norm: {
    inputs: (_l, ctx) => [lastResidual(ctx)],
    recompute: (_l, x, ctx) =>
      rmsNorm(ctx, x.get(lastResidual(ctx)), GLOBAL_TENSOR_NAMES.outputNorm, ctx.model.hparams.nEmbd),
  },
  logits: {
    inputs: () => ['output_norm'],
    recompute(_l, x, ctx) {
      const w = ctx.model.has(GLOBAL_TENSOR_NAMES.output)
        ? GLOBAL_TENSOR_NAMES.output
        : GLOBAL_TENSOR_NAMES.tokenEmbd;
      return linear(ctx, x.get('output_norm'), w, undefined, 'output_norm');
    },
  },
};

for (const [stage, rule] of Object.entries(TRANSFORMER_RULES)) registerReplayRule(stage, rule);
