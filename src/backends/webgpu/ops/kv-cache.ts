/**
 * The KV cache in GPU memory (src/ops/kv-cache.ts semantics): one buffer per
 * layer for K and one for V, so a layer's first n positions are a GPU tensor
 * starting at byte 0 of its buffer (kvView hands out non-owning views, no
 * copy). The bookkeeping (lengths, gap and ContextOverflowError checks before
 * anything is written) is KvCache's own, through reserve()/commit(); only the
 * storage differs. Writes: f32 caches copy the bytes; f16 caches convert on
 * the GPU with round-to-nearest-even in integer ops (wgsl/attention-kv.ts),
 * bit-identical to the CPU caches' f32ToF16.
 */
import type { Tensor } from '../../../engine/tensor.js';
import { PlumblineError, ShapeError, UnsupportedTypeError } from '../../../errors.js';
import { KvCache, type KvCacheOptions, type KvMemory } from '../../../ops/kv-cache.js';
import { ggmlType } from '../../../types/ggml-types.js';
import type { GpuHost } from '../host.js';
import { GpuTensor } from '../tensor.js';
import { KV_WRITE_WG, kvWriteF16Wgsl } from '../wgsl/attention-kv.js';

/** KvCache bookkeeping needs a memory; the GPU cache stores nothing in CPU memory. */
const NO_CPU_MEMORY: KvMemory = {
  alloc: () => 0,
  release() {},
  bytes() {
    throw new PlumblineError('a WebGPU KV cache holds no CPU bytes: read it through engine.kvView');
  },
};

export class GpuKvCache extends KvCache {
  private readonly kBuffers: GPUBuffer[] = [];
  private readonly vBuffers: GPUBuffer[] = [];

  constructor(
    readonly host: GpuHost,
    opts: KvCacheOptions,
  ) {
    super(NO_CPU_MEMORY, opts);
    for (let l = 0; l < this.nLayer; l++) {
      this.kBuffers.push(host.ctx.buffer(this.layerBytes, `KV cache layer ${l} K`));
      this.vBuffers.push(host.ctx.buffer(this.layerBytes, `KV cache layer ${l} V`));
    }
  }

  override write(): void {
    throw new PlumblineError('a WebGPU KV cache is written through engine.kvWrite (GPU tensors)');
  }

  override read(): { k: Float32Array; v: Float32Array } {
    throw new PlumblineError('a WebGPU KV cache is read through engine.kvView (GPU tensors)');
  }

  /** Stores k and v (GPU f32 [n, n_head_kv, head_dim]) at positions [pos, pos + n). */
  store(layer: number, pos: number, k: GpuTensor, v: GpuTensor): void {
    for (const [name, t] of [
      ['k', k],
      ['v', v],
    ] as const)
      if (t.type.name !== 'f32')
        throw new UnsupportedTypeError(t.type.name, `kvWrite: ${name} must be f32, got`);
    const n = k.count / this.rowValues;
    if (!Number.isInteger(n) || v.count !== k.count)
      throw new ShapeError(
        `KvCache.write: k and v must each be [n, ${this.nHeadKv}, ${this.headDim}], got ${k.count} and ${v.count} values`,
      );
    this.reserve(layer, pos, n);
    const count = n * this.rowValues;
    if (count > 0) {
      const first = pos * this.rowValues;
      for (const [src, dst] of [
        [k, this.kBuffers[layer]],
        [v, this.vBuffers[layer]],
      ] as const) {
        if (this.type === 'f32') this.host.ctx.copy(src.buffer, src.byteOffset, dst, first * 4, count * 4);
        else {
          const words = Math.floor((first + count - 1) / 2) - Math.floor(first / 2) + 1;
          this.host.ctx.run(
            kvWriteF16Wgsl(),
            [first, count],
            [src.binding, dst],
            Math.ceil(words / KV_WRITE_WG),
          );
        }
      }
    }
    this.commit(layer, pos, n);
  }

  /** Positions [0, n) of a layer's K and V as non-owning GPU tensors (the bytes change with later writes). */
  view(layer: number, n: number): { k: GpuTensor; v: GpuTensor } {
    const length = this.length(layer);
    if (!Number.isSafeInteger(n) || n < 0 || n > length)
      throw new ShapeError(`kvView: ${n} positions asked, layer ${layer} holds ${length}`);
    const type = ggmlType(this.type);
    const bytes = n * this.rowValues * type.typeSize;
    const shape = [n, this.nHeadKv, this.headDim];
    const make = (buf: GPUBuffer) =>
      new GpuTensor(this.host.ctx, buf, bytes, shape, type, this.host.decoder, false, false);
    return { k: make(this.kBuffers[layer]), v: make(this.vBuffers[layer]) };
  }

  override dispose(): void {
    for (const b of [...this.kBuffers, ...this.vBuffers]) b.destroy();
    this.kBuffers.length = 0;
    this.vBuffers.length = 0;
    super.dispose();
  }
}

export function gpuKvCache(host: GpuHost, opts: KvCacheOptions): KvCache {
  return new GpuKvCache(host, opts);
}

function gpuCache(cache: KvCache, op: string): GpuKvCache {
  if (!(cache instanceof GpuKvCache)) throw new ShapeError(`${op}: the KV cache belongs to another engine`);
  return cache;
}

export async function gpuKvWrite(
  host: GpuHost,
  cache: KvCache,
  layer: number,
  pos: number,
  k: Tensor,
  v: Tensor,
): Promise<void> {
  gpuCache(cache, 'kvWrite').store(layer, pos, host.gpu(k, 'kvWrite'), host.gpu(v, 'kvWrite'));
  host.ran('kvWrite', 'webgpu');
}

export function gpuKvView(cache: KvCache, layer: number, n?: number) {
  const c = gpuCache(cache, 'kvView');
  return c.view(layer, n ?? c.length(layer));
}
