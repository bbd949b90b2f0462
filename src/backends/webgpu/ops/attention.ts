/**
 * Attention on the GPU (src/ops/attention.ts; kernels: wgsl/attention.ts).
 * numerics 'exact' runs in WGSL: tiled online softmax, one workgroup per
 * query row (prefill), or for n_q = 1 over more than ATTN_CHUNK positions
 * (decode) chunks of the cache in parallel workgroups combined in a fixed
 * order; scores and weights [n_head, n_q, n_kv] only when asked. Tier:
 * src/oracle/attention-bound.ts (the CPU's derivation with WGSL's exp
 * and division). The KV cache lives in GPU buffers (ops/kv-cache.ts).
 */
import type { AttentionResult } from '../../../engine/engine.js';
import type { Tensor } from '../../../engine/tensor.js';
import { type AttentionDims, type AttentionOptions, validateAttention } from '../../../ops/attention.js';
import { f32Bits } from '../context.js';
import type { GpuHost } from '../host.js';
import type { GpuTensor } from '../tensor.js';
import {
  ATTN_CHUNK,
  ATTN_MAX_HEAD_DIM,
  ATTN_WG,
  attnCombineWgsl,
  attnPartialWgsl,
  attnScoresWgsl,
  attnSoftmaxWgsl,
} from '../wgsl/attention.js';

/**
 * Why numerics 'ggml' runs on the CPU: it promises ggml's CPU bits (Q rounded
 * to f16, one kv position per online-softmax step, an f16 V accumulator, and
 * ggml's own exp). WGSL's exp is only within 3 + 2|x| ULP and differs between
 * devices, so no WGSL kernel can reproduce those bits.
 */
export const GGML_ATTENTION_WHY =
  "numerics 'ggml' reproduces ggml's CPU attention bit for bit, including its exp; WGSL's exp (3 + 2|x| ULP, device-dependent) cannot give those bits";

/** The decode path (chunks over the cache, then a combine) applies: one query over more than one chunk. */
export function usesDecodePath(dims: Pick<AttentionDims, 'nQ' | 'nKv'>): boolean {
  return dims.nQ === 1 && dims.nKv > ATTN_CHUNK;
}

function paramsOf(d: AttentionDims, chunkLen: number, nChunks: number): number[] {
  return [
    d.nQ,
    d.nKv,
    d.nHead,
    d.nHeadKv,
    d.headDim,
    f32Bits(d.scale),
    d.causal ? 1 : 0,
    d.window,
    chunkLen,
    nChunks,
  ];
}

export async function gpuAttention(
  host: GpuHost,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: AttentionOptions = {},
): Promise<AttentionResult> {
  const dims = validateAttention(q, k, v, opts);
  if (dims.numerics === 'ggml' || dims.headDim > ATTN_MAX_HEAD_DIM) {
    const why =
      dims.numerics === 'ggml'
        ? GGML_ATTENTION_WHY
        : `head_dim ${dims.headDim} > ${ATTN_MAX_HEAD_DIM}, the most the WGSL kernel holds per workgroup`;
    const r = await host.onCpu('attention', why, [q, k, v], (cpu, [a, b, c]) =>
      cpu.attention(a!, b!, c!, opts),
    );
    return {
      out: await host.fromCpu(r.out, 'attention output'),
      scores: r.scores && (await host.fromCpu(r.scores, 'attention scores')),
      softmax: r.softmax && (await host.fromCpu(r.softmax, 'attention softmax')),
    };
  }
  const [qg, kg, vg] = [host.gpu(q, 'attention'), host.gpu(k, 'attention'), host.gpu(v, 'attention')];
  const f16 = dims.kvType === 'f16';
  const { ctx } = host;
  const pos = ctx.upload(new Uint8Array(new Uint32Array(dims.positions).buffer), 'attention positions');
  const rows = dims.nQ * dims.nHead;
  const out = host.output([dims.nQ, dims.nHead * dims.headDim], 'attention output');
  const temps: GPUBuffer[] = [pos];
  try {
    const io = [qg.binding, kg.binding, vg.binding, pos];
    if (usesDecodePath(dims)) {
      const nChunks = Math.ceil(dims.nKv / ATTN_CHUNK);
      const params = paramsOf(dims, ATTN_CHUNK, nChunks);
      const part = ctx.buffer(rows * nChunks * (dims.headDim + 2) * 4, 'attention partials');
      temps.push(part);
      ctx.run(attnPartialWgsl(f16, false), params, [...io, part], rows * nChunks);
      ctx.run(attnCombineWgsl(), params, [part, out.binding], rows);
    } else if (rows > 0) {
      const params = paramsOf(dims, Math.max(dims.nKv, 1), 1);
      ctx.run(attnPartialWgsl(f16, true), params, [...io, out.binding], rows);
    }
    const side = [dims.nHead, dims.nQ, dims.nKv];
    let scores: GpuTensor | undefined;
    let softmax: GpuTensor | undefined;
    if (dims.scores || dims.softmax) {
      const params = paramsOf(dims, Math.max(dims.nKv, 1), 1);
      scores = host.output(side, 'attention scores');
      const count = dims.nHead * dims.nQ * dims.nKv;
      ctx.run(
        attnScoresWgsl(f16),
        params,
        [qg.binding, kg.binding, scores.binding],
        Math.ceil(count / ATTN_WG),
      );
      if (dims.softmax) {
        softmax = host.output(side, 'attention softmax');
        ctx.run(attnSoftmaxWgsl(), params, [scores.binding, pos, softmax.binding], rows);
      }
      if (!dims.scores) {
        scores.dispose(); // queued work keeps it alive
        scores = undefined;
      }
    }
    host.ran('attention', 'webgpu');
    return { out, scores, softmax };
  } finally {
    for (const b of temps) b.destroy();
  }
}
