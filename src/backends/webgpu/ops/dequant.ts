/**
 * Dequantization on the GPU: ggml block bytes → f32, and the embedding
 * lookup (rows of a table of any ggml type). Both are bit-identical to the
 * CPU engine (and so to ggml's to_float) for every type: the decoders
 * (wgsl/blocks.ts) use integer ops for f16/bf16 and only products that are
 * exact in f32, so neither fma contraction nor subnormal flushing can change
 * a bit (the module header of wgsl/blocks.ts gives the argument).
 */
import type { Tensor } from '../../../engine/tensor.js';
import { validateEmbedding } from '../../../ops/embedding.js';
import type { GpuContext } from '../context.js';
import type { GpuHost } from '../host.js';
import type { GpuTensor } from '../tensor.js';
import { dequantGroups, dequantKernel } from '../wgsl/dequant.js';

/** Dequantizes a GPU tensor into a new f32 GPU buffer of t.count elements (the caller owns it). */
export function gpuDequantBuffer(ctx: GpuContext, t: GpuTensor): GPUBuffer {
  const n = t.count;
  const out = ctx.buffer(n * 4, `${t.type.name} tensor dequantized to f32`);
  ctx.run(dequantKernel(t.type.name, 'all'), [n, n], [t.binding, out], dequantGroups(t.type.name, n));
  return out;
}

/** A tensor's values as f32 on the CPU (Tensor.read of a non-f32 GPU tensor): dequantized on the GPU, then read. */
export async function gpuDecode(t: GpuTensor): Promise<Float32Array> {
  if (t.count === 0) return new Float32Array(0);
  const out = gpuDequantBuffer(t.ctx, t);
  try {
    const b = await t.ctx.read(out, t.count * 4);
    return new Float32Array(b.buffer, b.byteOffset, t.count);
  } finally {
    out.destroy();
  }
}

/** Rows `ids` of `table` ([n_vocab, n_embd], any ggml type) → [ids.length, n_embd] f32, on the GPU. */
export async function gpuEmbedding(host: GpuHost, table: Tensor, ids: ArrayLike<number>): Promise<Tensor> {
  const t = host.gpu(table, 'embedding table');
  const d = validateEmbedding(t, ids);
  const out = host.output([d.nTokens, d.nEmbd], 'embedding output');
  const n = d.nTokens * d.nEmbd;
  if (n > 0) {
    const idBuf = host.ctx.upload(
      new Uint8Array(Uint32Array.from(ids, (v) => v >>> 0).buffer),
      'embedding ids',
    );
    host.ctx.run(
      dequantKernel(t.type.name, 'rows'),
      [n, d.nEmbd],
      [t.binding, out.binding, idBuf],
      dequantGroups(t.type.name, n),
    );
    idBuf.destroy();
  }
  host.ran('embedding', 'webgpu');
  return out;
}
