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

/** Elements per dequant dispatch of read(): 64 MiB of f32, a multiple of every block size. */
const READ_CHUNK = 1 << 24;

/**
 * Dequantizes `count` elements of a GPU tensor, from block `firstBlock` on, into a new
 * f32 GPU buffer (the caller owns it).
 */
export function gpuDequantBuffer(ctx: GpuContext, t: GpuTensor, firstBlock = 0, count = t.count): GPUBuffer {
  const out = ctx.buffer(count * 4, `${t.type.name} tensor dequantized to f32`);
  ctx.run(dequantKernel(t.type.name, 'all'), [count, 0, firstBlock], [t.binding, out], dequantGroups(count));
  return out;
}

/**
 * A tensor's values as f32 on the CPU (Tensor.read of a non-f32 GPU tensor): dequantized
 * on the GPU in chunks of `chunk` elements (a multiple of 256; the f32 result may be larger
 * than one buffer binds), each read back.
 */
export async function gpuDecode(t: GpuTensor, chunk = READ_CHUNK): Promise<Float32Array> {
  const n = t.count;
  const y = n > chunk ? new Float32Array(n) : undefined;
  for (let e0 = 0; e0 < n; e0 += chunk) {
    const count = Math.min(chunk, n - e0);
    const out = gpuDequantBuffer(t.ctx, t, e0 / t.type.blockSize, count);
    try {
      const b = await t.ctx.read(out, count * 4);
      const part = new Float32Array(b.buffer, b.byteOffset, count);
      if (!y) return part;
      y.set(part, e0);
    } finally {
      out.destroy();
    }
  }
  return y ?? new Float32Array(0);
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
      dequantGroups(n),
    );
    idBuf.destroy();
  }
  host.ran('embedding', 'webgpu');
  return out;
}
