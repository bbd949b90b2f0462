/**
 * createEngine: one API, backends behind it (style.md, "ONNX Runtime Web").
 * `engine.backend` says what runs.
 */
import {
  BUILD_PREFERENCE,
  type CompiledKernels,
  compileKernels,
  type WasmBuild,
} from '../backends/wasm/module.js';
import { PlumblineError, ShapeError, SizeError } from '../errors.js';
import type { LoadModelOptions } from '../model/load.js';
import type { Model } from '../model/model.js';
import type { AttentionOptions } from '../ops/attention.js';
import type { GeluOptions } from '../ops/gelu.js';
import type { GruOptions, GruWeights } from '../ops/gru.js';
import type { KvCache, KvCacheOptions } from '../ops/kv-cache.js';
import type { LayerNormOptions } from '../ops/layer-norm.js';
import type { MatmulOptions, MatmulPrecision } from '../ops/matmul.js';
import type { MoeFfnOptions, MoeFfnResult, MoeFfnWeights } from '../ops/moe-ffn.js';
import type { MoeRouteOptions } from '../ops/moe-route.js';
import type { RmsNormOptions } from '../ops/rms-norm.js';
import type { RopeOptions } from '../ops/rope.js';
import type { SoftmaxOptions } from '../ops/softmax.js';
import { byteSizeOf, type GgmlTypeName, ggmlType } from '../types/ggml-types.js';
import type { Tensor } from './tensor.js';

export type BackendChoice = 'auto' | 'wasm' | 'webgpu' | 'reference';

export interface EngineOptions {
  /**
   * Default 'auto': WebGPU when a hardware adapter exists (ops without a
   * WebGPU kernel run on wasm), else wasm when a build runs here, else the
   * reference. 'webgpu' takes any adapter, software ones included.
   */
  backend?: BackendChoice;
  /** auto: also take a software GPU adapter (SwiftShader, llvmpipe). Default false: wasm is faster there. */
  softwareGpu?: boolean;
  /** Threads for the wasm backend, the calling thread included (default: available parallelism). */
  threads?: number;
  /**
   * The wasm build to run (default: the fastest this runtime validates). Pinning
   * 'wasm-simd' gives the same bits in every runtime; relaxed SIMD may round
   * differently from one CPU or engine to another.
   */
  wasmBuild?: WasmBuild;
  /**
   * WebGPU only: 'f16' rounds the f32 matmul kernels' operands to f16 (exact
   * products, f32 sums: the f16 tier; WebGpuEngineOptions.matmulPrecision).
   * With backend 'wasm' or 'reference' it is refused; 'auto' applies it when it picks WebGPU.
   */
  matmulPrecision?: MatmulPrecision;
}

export interface Engine {
  /** What runs: 'webgpu', 'wasm-relaxed-simd', 'wasm-simd' or 'reference'. */
  readonly backend: string;
  /** Threads an op is split over (1 where shared memory is unavailable; see threadsReason). */
  readonly threads: number;
  readonly threadsReason?: string;
  /**
   * A tensor in engine memory: f32 values, or a ggml type's bytes (`type`
   * given). It stays there between calls until disposed.
   */
  tensor(data: Float32Array | Uint8Array, shape: readonly number[], type?: GgmlTypeName | string): Tensor;
  /** Loads a GGUF model (path, read by range, or bytes) into this engine: llama, qwen2, qwen3 (src/model/). */
  load(source: string | Uint8Array, opts?: LoadModelOptions): Promise<Model>;
  /** The same storage under another shape with the same element count (no copy; the view does not own it). */
  reshape(t: Tensor, shape: readonly number[]): Tensor;
  /** y = x · wᵀ: x [M, K] f32, w [N, K] any ggml type → y [M, N] f32. */
  matmul(x: Tensor, w: Tensor, opts?: MatmulOptions): Promise<Tensor>;
  /** Per row: x / √(mean(x²) + eps) · weight (src/ops/rms-norm.ts). */
  rmsNorm(x: Tensor, weight: Tensor | null, opts: RmsNormOptions): Promise<Tensor>;
  layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, opts: LayerNormOptions): Promise<Tensor>;
  /** x [n_tokens, n_head, head_dim], one position per token (src/ops/rope.ts). */
  rope(x: Tensor, positions: ArrayLike<number>, opts: RopeOptions): Promise<Tensor>;
  softmax(x: Tensor, opts?: SoftmaxOptions): Promise<Tensor>;
  silu(x: Tensor): Promise<Tensor>;
  gelu(x: Tensor, opts?: GeluOptions): Promise<Tensor>;
  /** silu(gate) ⊙ up. */
  swiglu(gate: Tensor, up: Tensor): Promise<Tensor>;
  /** a + b, b broadcast over a's rows when it has fewer (src/ops/add.ts). */
  add(a: Tensor, b: Tensor): Promise<Tensor>;
  /** Rows `ids` of a [n_vocab, n_embd] table of any ggml type → [n_tokens, n_embd] f32. */
  embedding(table: Tensor, ids: ArrayLike<number>): Promise<Tensor>;
  /** src/ops/attention.ts: q [n_q, n_head, head_dim], k/v [n_kv, n_head_kv, head_dim]. */
  attention(q: Tensor, k: Tensor, v: Tensor, opts?: AttentionOptions): Promise<AttentionResult>;
  /**
   * Linear recurrence h_t = a_t ⊙ h_{t−1} + b_t over a, b [T, D] from h0 [D]
   * (zeros when absent) → every h_t, [T, D] (src/ops/scan.ts). 'sequential'
   * splits channels over threads; 'chunked' also splits time (within the f32
   * bound of the sequential scan, not bit-identical to it); 'auto' picks.
   */
  scan(
    a: Tensor,
    b: Tensor,
    h0?: Tensor | null,
    opts?: { method?: 'auto' | 'sequential' | 'chunked' },
  ): Promise<Tensor>;
  /**
   * GRU scan (src/ops/gru.ts, PyTorch's gate convention) from precomputed
   * input projections gx [T, 3H] and a recurrent U in one of four structures
   * (dense, diagonal, Monarch, butterfly): every h_t, [T, H], and with
   * opts.gates each step's r, z, n, [T, 3H]. opts.int8: int8 weights per
   * output channel and the state fake-quantized by a frozen quantizer.
   * Optional (the reference, wasm and WebGPU engines have it).
   */
  gru?(gx: Tensor, U: GruWeights<Tensor>, opts?: GruOptions<Tensor>): Promise<GruResult>;
  /**
   * MoE routing of router logits [T, E] by a named scheme (src/ops/moe-route.ts):
   * weights and expert ids, each [T, k] (ids as exact f32 integers).
   */
  moeRoute(logits: Tensor, opts: MoeRouteOptions): Promise<MoeRouteTensors>;
  /**
   * The MoE feed-forward of x [T, D] for a routing result (src/ops/moe-ffn.ts):
   * each token's k experts' gated FFNs over 3-D expert tensors, weighted and
   * summed in slot order, plus an optional (sigmoid-gated) shared expert.
   * Optional: a backend without it cannot run MoE models.
   */
  moeFfn?(
    x: Tensor,
    route: MoeRouteTensors,
    weights: MoeFfnWeights,
    opts?: MoeFfnOptions,
  ): Promise<MoeFfnResult>;
  /** A KV cache in this engine's memory (src/ops/kv-cache.ts). */
  kvCache(opts: KvCacheOptions): KvCache;
  /** Writes k, v ([n, n_head_kv, head_dim] f32) at positions [pos, pos + n) of a layer. */
  kvWrite(cache: KvCache, layer: number, pos: number, k: Tensor, v: Tensor): Promise<void>;
  /** The first n positions of a layer as k, v tensors (views of the cache, valid until its next write). */
  kvView(cache: KvCache, layer: number, n?: number): { k: Tensor; v: Tensor };
  /** Per op, calls that ran on the GPU and calls that fell back to the CPU (WebGPU engines only). */
  opReport?(): OpReport;
  dispose(): Promise<void>;
}

/** Per op: how many calls ran on the GPU, how many fell back to the CPU engine, and why the last one did. */
export type OpReport = Record<string, { webgpu: number; cpu: number; why?: string }>;

export interface MoeRouteTensors {
  weights: Tensor;
  experts: Tensor;
  /** switch: 1 for each token dropped past capacity (reported, never silent); null otherwise. */
  dropped: Uint8Array | null;
  droppedCount: number;
}

export interface GruResult {
  /** Every h_t, [T, H] (quantized GRU: the fake-quantized states q·s_h). */
  h: Tensor;
  /** r, z, n of every step, [T, 3H] (opts.gates). */
  gates?: Tensor;
}

export interface AttentionResult {
  /** [n_q, n_head·head_dim]. */
  out: Tensor;
  /** [n_head, n_q, n_kv] (opts.scores). */
  scores?: Tensor;
  /** [n_head, n_q, n_kv] (opts.softmax). */
  softmax?: Tensor;
}

/** engine.load for every backend (imported lazily: the model code is only needed when a model is loaded). */
export async function loadModelOn(
  engine: Engine,
  source: string | Uint8Array,
  opts?: LoadModelOptions,
): Promise<Model> {
  const { loadModel } = await import('../model/load.js');
  return loadModel(engine, source, opts);
}

/** Checks a reshape keeps the element count. */
export function checkReshape(from: readonly number[], to: readonly number[]): void {
  const count = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  if (!to.every((d) => Number.isSafeInteger(d) && d >= 0) || count(from) !== count(to)) {
    throw new ShapeError(`reshape: [${from}] cannot become [${to}]`);
  }
}

/** A backend the engine cannot provide here (e.g. WebGPU before its issue lands, or no wasm build). */
export class BackendUnavailableError extends PlumblineError {}

/** Validates engine.tensor's arguments; returns the byte view to store. */
export function tensorBytes(
  data: Float32Array | Uint8Array,
  shape: readonly number[],
  type: GgmlTypeName | string,
): { bytes: Uint8Array; count: number } {
  const info = ggmlType(type);
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ShapeError(`tensor: shape must be non-negative integers, got [${shape}]`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count)) throw new ShapeError(`tensor: shape [${shape}] has too many elements`);
  if (info.quantized && shape[shape.length - 1] % info.blockSize !== 0) {
    throw new ShapeError(
      `tensor: the last dimension of a ${info.name} tensor must be a multiple of ${info.blockSize}, got [${shape}]`,
    );
  }
  if (data instanceof Float32Array && info.name !== 'f32') {
    throw new SizeError(`tensor: ${info.name} data must be given as its ggml bytes (a Uint8Array)`);
  }
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const need = byteSizeOf(info, count);
  if (bytes.byteLength !== need) {
    throw new SizeError(`tensor: ${info.name} [${shape}] needs ${need} bytes, got ${bytes.byteLength}`);
  }
  return { bytes, count };
}

export async function createEngine(opts: EngineOptions = {}): Promise<Engine> {
  const backend = opts.backend ?? 'auto';
  const webgpu = () => import('../backends/webgpu/engine.js');
  const { matmulPrecision } = opts;
  if (backend === 'webgpu')
    return (await webgpu()).WebGpuEngine.create({ threads: opts.threads, matmulPrecision });
  if ((backend === 'wasm' || backend === 'reference') && (matmulPrecision ?? 'f32') !== 'f32')
    throw new BackendUnavailableError(
      `matmulPrecision ${JSON.stringify(matmulPrecision)} is a WebGPU option; the ${backend} engine multiplies f32 operands`,
    );
  if (backend === 'auto') {
    const { findGpuAdapter } = await import('../backends/webgpu/adapter.js');
    const found = await findGpuAdapter();
    // A software adapter (SwiftShader, llvmpipe) computes on the CPU, slower than wasm: auto takes it only when asked.
    // The WebGPU engine's modules load only then: without a GPU, auto goes straight to the CPU engines.
    if (found && (!found.software || opts.softwareGpu))
      return (await webgpu()).WebGpuEngine.create({ adapter: found, threads: opts.threads, matmulPrecision });
  }
  return createCpuEngine(backend, opts.threads, opts.wasmBuild);
}

/** The CPU engines: wasm when a build runs here ('auto' falls back to the reference), or the reference. */
export async function createCpuEngine(
  backend: 'auto' | 'wasm' | 'reference',
  threads?: number,
  wasmBuild?: WasmBuild,
): Promise<Engine> {
  if (backend === 'reference')
    return (await import('../backends/reference/engine.js')).ReferenceEngine.create();
  if (wasmBuild !== undefined && !BUILD_PREFERENCE.includes(wasmBuild))
    throw new BackendUnavailableError(
      `wasmBuild must be one of ${BUILD_PREFERENCE.join(', ')}, got ${JSON.stringify(wasmBuild)}`,
    );
  let compiled: CompiledKernels;
  try {
    compiled = await compileKernels(wasmBuild ? [wasmBuild] : BUILD_PREFERENCE);
  } catch (e) {
    if (backend === 'wasm') throw new BackendUnavailableError((e as Error).message);
    return (await import('../backends/reference/engine.js')).ReferenceEngine.create();
  }
  return (await import('../backends/wasm/engine.js')).WasmEngine.create(compiled, threads);
}
