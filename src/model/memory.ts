/**
 * How much engine memory a model needs, estimated from the tensor infos and
 * hyperparameters before anything is read, so that a model the wasm
 * backend's 32-bit memory cannot hold fails up front with a typed error.
 */
import type { GgufTensorInfo } from '../formats/gguf/index.js';
import type { KvType } from '../ops/attention.js';
import { ModelTooLargeError } from './errors.js';
import type { HParams } from './hparams.js';
import type { TensorSpec } from './tensors.js';

/** A 32-bit wasm memory addresses 2^32 bytes (65536 pages of 64 KiB). */
export const WASM32_MEMORY_BYTES = 2 ** 32;

/** The f32 GEMM packs f32/f16/bf16 weights into f32 panels of this many rows (src/backends/wasm/matmul-f32.ts). */
const PANEL_ROWS = 8;

export interface MemoryEstimate {
  /** Tensor data as loaded (vectors widened to f32). */
  weights: number;
  /** f32 panels the f32 GEMM makes of f32/f16/bf16 matmul weights (exact numerics). */
  packed: number;
  kvCache: number;
  /** Activations of one forward pass of `nBatch` tokens. */
  workspace: number;
  total: number;
}

export interface MemoryEstimateOptions {
  nCtx: number;
  kvType: KvType;
  /** Most tokens one forward pass processes. */
  nBatch: number;
  /** Whether f32/f16/bf16 weights get packed (exact numerics; ggml numerics dots f16/bf16 directly). */
  packsFloatWeights: boolean;
}

export function estimateModelBytes(
  h: HParams,
  specs: readonly TensorSpec[],
  infos: ReadonlyMap<string, GgufTensorInfo>,
  opts: MemoryEstimateOptions,
): MemoryEstimate {
  let weights = 0;
  let packed = 0;
  const pack = (info: GgufTensorInfo) => {
    const float = info.type.name === 'f32' || info.type.name === 'f16' || info.type.name === 'bf16';
    if (info.shape.length !== 2) return; // 3-D expert tensors are used in place
    const [N, K] = info.shape;
    if (float && (opts.packsFloatWeights || info.type.name === 'f32'))
      packed += Math.ceil(N / PANEL_ROWS) * PANEL_ROWS * K * 4;
  };
  for (const spec of specs) {
    const info = infos.get(spec.name);
    if (!info) continue;
    weights += spec.kind === 'vector' ? info.count * 4 : info.byteSize;
    if (spec.kind === 'matrix' && spec.name !== 'token_embd.weight') pack(info);
  }
  // A tied output head multiplies by token_embd.
  const embd = infos.get('token_embd.weight');
  if (embd && !infos.has('output.weight')) pack(embd);

  const kvCache = 2 * h.nLayer * opts.nCtx * h.nHeadKv * h.headDim * (opts.kvType === 'f16' ? 2 : 4);
  const qDim = h.nHead * h.headDim;
  const kvDim = h.nHeadKv * h.headDim;
  // Live at once in a layer: the residual stream and its norm, q/k/v and their
  // roped copies, attention out and projection, gate/up/swiglu, plus logits.
  // MoE: router logits, and per routed slot gate/up, the gathered input and the expert output.
  const m = h.moe;
  const ffn = m ? m.nExpert + m.nExpertUsed * (2 * m.nFfExp + 2 * h.nEmbd) + 3 * m.nFfShexp : 3 * h.nFf;
  const perToken = 6 * h.nEmbd + 2 * (qDim + 2 * kvDim) + 2 * qDim + ffn + h.nVocab;
  const workspace = opts.nBatch * perToken * 4;
  return { weights, packed, kvCache, workspace, total: weights + packed + kvCache + workspace };
}

/** Throws ModelTooLargeError when the estimate exceeds `limit`. */
export function checkFits(e: MemoryEstimate, limit: number): void {
  if (e.total <= limit) return;
  const gib = (x: number) => `${(x / 2 ** 30).toFixed(2)} GiB`;
  throw new ModelTooLargeError(
    e.total,
    limit,
    `weights ${gib(e.weights)}, packed weights ${gib(e.packed)}, KV cache ${gib(e.kvCache)}, work buffers ${gib(e.workspace)}`,
  );
}
