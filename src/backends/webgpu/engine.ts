/**
 * The WebGPU engine: tensors live in GPU buffers between ops and come back
 * only on read(). Each op runs its WGSL kernel (src/backends/webgpu/ops/)
 * when there is one for the case, otherwise it falls back to the CPU engine
 * (wasm) — inputs moved there, the result moved back — and opReport() says
 * which ran where, and why.
 */
import type { AttentionResult, Engine, GruResult, MoeRouteTensors, OpReport } from '../../engine/engine.js';
import {
  BackendUnavailableError,
  checkReshape,
  createCpuEngine,
  loadModelOn,
  tensorBytes,
} from '../../engine/engine.js';
import type { Tensor } from '../../engine/tensor.js';
import type { LoadModelOptions } from '../../model/load.js';
import type { Model } from '../../model/model.js';
import type { AttentionOptions } from '../../ops/attention.js';
import type { GeluOptions } from '../../ops/gelu.js';
import type { GruOptions, GruWeights } from '../../ops/gru.js';
import type { KvCache, KvCacheOptions } from '../../ops/kv-cache.js';
import type { LayerNormOptions } from '../../ops/layer-norm.js';
import type { MatmulOptions, MatmulPrecision } from '../../ops/matmul.js';
import type { MoeFfnOptions, MoeFfnResult, MoeFfnWeights } from '../../ops/moe-ffn.js';
import type { MoeRouteOptions } from '../../ops/moe-route.js';
import type { RmsNormOptions } from '../../ops/rms-norm.js';
import type { RopeOptions } from '../../ops/rope.js';
import type { SoftmaxOptions } from '../../ops/softmax.js';
import { type GgmlTypeName, ggmlType } from '../../types/ggml-types.js';
import { type GpuAdapterFound, requestGpuAdapter } from './adapter.js';
import { GpuContext, type GpuFeatureUse } from './context.js';
import { GpuHost } from './host.js';
import { gpuAttention } from './ops/attention.js';
import { gpuDecode, gpuEmbedding } from './ops/dequant.js';
import { gpuGru } from './ops/gru.js';
import { gpuKvCache, gpuKvView, gpuKvWrite } from './ops/kv-cache.js';
import { gpuMatmul } from './ops/matmul.js';
import { gpuMoeRoute } from './ops/moe.js';
import { gpuMoeFfn } from './ops/moe-ffn.js';
import {
  gpuAdd,
  gpuGelu,
  gpuLayerNorm,
  gpuRmsNorm,
  gpuRope,
  gpuSilu,
  gpuSoftmax,
  gpuSwiglu,
} from './ops/nn.js';
import { gpuScan } from './ops/scan.js';

export interface WebGpuEngineOptions {
  /** The adapter to use (default: requestGpuAdapter()). */
  adapter?: GpuAdapterFound;
  /** The engine ops without a WebGPU kernel fall back to (default: a wasm engine, created on first use). */
  cpu?: () => Promise<Engine>;
  /** Threads of the default CPU fallback engine. */
  threads?: number;
  /**
   * Operands of the f32 matmul kernels (every exact-numerics matmul; ggml
   * numerics with f32/f16/bf16 weights): 'f32' (default) as given, 'f16'
   * rounded to f16 with exact products and f32 sums — the f16 tier. Halves
   * are stored as f16 where the adapter has shader-f16, else as f32 values.
   */
  matmulPrecision?: MatmulPrecision;
  /** Leave adapter features unused (e.g. `{ shaderF16: false }`: the path without shader-f16). */
  features?: GpuFeatureUse;
}

export class WebGpuEngine implements Engine {
  readonly backend = 'webgpu';
  /** Ops run on the GPU's queue; `threads` sizes the CPU engine fallbacks run on. */
  readonly threads = 1;
  readonly threadsReason =
    'WebGPU: ops run on the GPU queue; the threads option sizes the CPU fallback engine';

  private constructor(
    readonly host: GpuHost,
    readonly adapter: GpuAdapterFound,
  ) {}

  static async create(opts: WebGpuEngineOptions = {}): Promise<WebGpuEngine> {
    const adapter = opts.adapter ?? (await requestGpuAdapter());
    const precision = opts.matmulPrecision ?? 'f32';
    if (precision !== 'f32' && precision !== 'f16')
      throw new BackendUnavailableError(
        `matmulPrecision must be 'f32' or 'f16', got ${JSON.stringify(precision)}`,
      );
    const ctx = await GpuContext.create(adapter, opts.features);
    const cpu = opts.cpu ?? (() => createCpuEngine('auto', opts.threads));
    return new WebGpuEngine(new GpuHost(ctx, cpu, gpuDecode, precision), adapter);
  }

  /** The adapter (vendor, architecture, description) and whether it is a software one. */
  get device(): {
    description: string;
    software: boolean;
    f16: boolean;
    subgroups: boolean;
    matmulPrecision: MatmulPrecision;
  } {
    const { features } = this.host.ctx;
    return {
      description: this.adapter.description,
      software: this.adapter.software,
      f16: features.f16,
      subgroups: features.subgroups,
      matmulPrecision: this.host.matmulPrecision,
    };
  }

  /** Per op: calls that ran on the GPU and calls that fell back to the CPU engine (with the reason). */
  opReport(): OpReport {
    return this.host.report();
  }

  tensor(
    data: Float32Array | Uint8Array,
    shape: readonly number[],
    type: GgmlTypeName | string = 'f32',
  ): Tensor {
    const info = ggmlType(type);
    const { bytes } = tensorBytes(data, shape, info.name);
    return this.host.upload(bytes, shape, info, `tensor [${shape}] ${info.name}`);
  }

  load(source: string | Uint8Array, opts?: LoadModelOptions): Promise<Model> {
    return loadModelOn(this, source, opts);
  }

  reshape(t: Tensor, shape: readonly number[]): Tensor {
    const g = this.host.gpu(t, 'reshape');
    checkReshape(g.shape, shape);
    return g.view(shape);
  }

  matmul(x: Tensor, w: Tensor, opts?: MatmulOptions): Promise<Tensor> {
    return gpuMatmul(this.host, x, w, opts);
  }
  rmsNorm(x: Tensor, weight: Tensor | null, opts: RmsNormOptions): Promise<Tensor> {
    return gpuRmsNorm(this.host, x, weight, opts);
  }
  layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, opts: LayerNormOptions): Promise<Tensor> {
    return gpuLayerNorm(this.host, x, weight, bias, opts);
  }
  rope(x: Tensor, positions: ArrayLike<number>, opts: RopeOptions): Promise<Tensor> {
    return gpuRope(this.host, x, positions, opts);
  }
  softmax(x: Tensor, opts?: SoftmaxOptions): Promise<Tensor> {
    return gpuSoftmax(this.host, x, opts);
  }
  silu(x: Tensor): Promise<Tensor> {
    return gpuSilu(this.host, x);
  }
  gelu(x: Tensor, opts?: GeluOptions): Promise<Tensor> {
    return gpuGelu(this.host, x, opts);
  }
  swiglu(gate: Tensor, up: Tensor): Promise<Tensor> {
    return gpuSwiglu(this.host, gate, up);
  }
  add(a: Tensor, b: Tensor): Promise<Tensor> {
    return gpuAdd(this.host, a, b);
  }
  embedding(table: Tensor, ids: ArrayLike<number>): Promise<Tensor> {
    return gpuEmbedding(this.host, table, ids);
  }
  attention(q: Tensor, k: Tensor, v: Tensor, opts?: AttentionOptions): Promise<AttentionResult> {
    return gpuAttention(this.host, q, k, v, opts);
  }
  scan(
    a: Tensor,
    b: Tensor,
    h0?: Tensor | null,
    opts?: { method?: 'auto' | 'sequential' | 'chunked' },
  ): Promise<Tensor> {
    return gpuScan(this.host, a, b, h0, opts);
  }
  gru(gx: Tensor, U: GruWeights<Tensor>, opts?: GruOptions<Tensor>): Promise<GruResult> {
    return gpuGru(this.host, gx, U, opts);
  }
  moeRoute(logits: Tensor, opts: MoeRouteOptions): Promise<MoeRouteTensors> {
    return gpuMoeRoute(this.host, logits, opts);
  }
  moeFfn(
    x: Tensor,
    route: MoeRouteTensors,
    weights: MoeFfnWeights,
    opts?: MoeFfnOptions,
  ): Promise<MoeFfnResult> {
    return gpuMoeFfn(this.host, this, x, route, weights, opts);
  }
  kvCache(opts: KvCacheOptions): KvCache {
    return gpuKvCache(this.host, opts);
  }
  kvWrite(cache: KvCache, layer: number, pos: number, k: Tensor, v: Tensor): Promise<void> {
    return gpuKvWrite(this.host, cache, layer, pos, k, v);
  }
  kvView(cache: KvCache, layer: number, n?: number): { k: Tensor; v: Tensor } {
    return gpuKvView(cache, layer, n);
  }

  async dispose(): Promise<void> {
    await this.host.disposeCpu();
    this.host.ctx.destroy();
  }
}
