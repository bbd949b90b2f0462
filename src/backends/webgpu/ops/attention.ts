/** Attention and the KV cache on the GPU (src/ops/attention.ts, src/ops/kv-cache.ts). */
import type { AttentionResult } from '../../../engine/engine.js';
import type { Tensor } from '../../../engine/tensor.js';
import { type AttentionOptions, validateAttention } from '../../../ops/attention.js';
import { arrayKvMemory, KvCache, type KvCacheOptions } from '../../../ops/kv-cache.js';
import { ggmlType } from '../../../types/ggml-types.js';
import { f32ToF16 } from '../../../types/half.js';
import type { GpuHost } from '../host.js';
import type { GpuTensor } from '../tensor.js';

const WHY = 'no WebGPU kernel yet';

export async function gpuAttention(
  host: GpuHost,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: AttentionOptions = {},
): Promise<AttentionResult> {
  validateAttention(q, k, v, opts);
  const r = await host.onCpu('attention', WHY, [q, k, v], (cpu, [a, b, c]) =>
    cpu.attention(a!, b!, c!, opts),
  );
  return {
    out: await host.fromCpu(r.out, 'attention output'),
    scores: r.scores && (await host.fromCpu(r.scores, 'attention scores')),
    softmax: r.softmax && (await host.fromCpu(r.softmax, 'attention softmax')),
  };
}

/** The views handed out per cache layer, replaced (and freed) by the next kvView of that layer. */
const views = new WeakMap<KvCache, Map<number, GpuTensor[]>>();

export function gpuKvCache(_host: GpuHost, opts: KvCacheOptions): KvCache {
  return new KvCache(arrayKvMemory(), opts);
}

export async function gpuKvWrite(
  host: GpuHost,
  cache: KvCache,
  layer: number,
  pos: number,
  k: Tensor,
  v: Tensor,
) {
  const kv = [host.gpu(k, 'kvWrite'), host.gpu(v, 'kvWrite')];
  cache.write(layer, pos, await kv[0].read(), await kv[1].read());
  host.ran('kvWrite', 'cpu', WHY);
}

export function gpuKvView(host: GpuHost, cache: KvCache, layer: number, n = cache.length(layer)) {
  const { k, v } = cache.read(layer, n);
  const shape = [n, cache.nHeadKv, cache.headDim];
  const type = ggmlType(cache.type);
  const up = (x: Float32Array) =>
    type.name === 'f32'
      ? host.fromValues(x, shape, 'KV cache view')
      : host.upload(f16Bytes(x), shape, type, 'KV cache view');
  const out = { k: up(k), v: up(v) };
  let perLayer = views.get(cache);
  if (!perLayer) views.set(cache, (perLayer = new Map()));
  for (const t of perLayer.get(layer) ?? []) t.dispose();
  perLayer.set(layer, [out.k, out.v]);
  return out;
}

function f16Bytes(x: Float32Array): Uint8Array {
  // The cache holds f16 exactly: widened values narrow back without rounding.
  const h = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) h[i] = f32ToF16(x[i]);
  return new Uint8Array(h.buffer);
}
