/**
 * Dequantization on the GPU: ggml block bytes → f32, and the embedding
 * lookup (rows of a table of any ggml type).
 */
import type { Tensor } from '../../../engine/tensor.js';
import { dequantize } from '../../../ops/dequantize.js';
import { validateEmbedding } from '../../../ops/embedding.js';
import type { GpuHost } from '../host.js';
import type { GpuTensor } from '../tensor.js';

/** A tensor's values as f32 on the CPU (Tensor.read of a non-f32 GPU tensor). */
export async function gpuDecode(t: GpuTensor): Promise<Float32Array> {
  return dequantize(t.type.name, await t.readBytes(), t.count);
}

export async function gpuEmbedding(host: GpuHost, table: Tensor, ids: ArrayLike<number>): Promise<Tensor> {
  validateEmbedding(table, ids);
  return host.fallback('embedding', 'no WebGPU kernel yet', [table], (cpu, [t]) => cpu.embedding(t!, ids));
}
