/**
 * A tensor in GPU memory. It stays there between ops; only read() and
 * readBytes() copy it back. Quantized tensors keep ggml's block bytes; read()
 * dequantizes them on the GPU (bit-identical to the CPU).
 */
import type { Tensor } from '../../engine/tensor.js';
import { WasmRuntimeError } from '../../errors.js';
import type { GgmlTypeInfo } from '../../types/ggml-types.js';
import { type GpuContext, paddedSize } from './context.js';

/** How a tensor's values become f32 (the dequant kernels; set by the engine, which owns them). */
export type GpuDecoder = (t: GpuTensor) => Promise<Float32Array>;

export class GpuTensor implements Tensor {
  private live = true;
  /** A copy on the CPU engine, made once for an op that falls back there (the bytes never change). */
  cpuCopy: Tensor | undefined;

  constructor(
    readonly ctx: GpuContext,
    readonly buffer: GPUBuffer,
    /** Bytes of this tensor at the start of the buffer. */
    readonly byteLength: number,
    readonly shape: readonly number[],
    readonly type: GgmlTypeInfo,
    private readonly decoder: GpuDecoder,
    /** False for views (reshape, KV cache): dispose() leaves the buffer to its owner. */
    readonly owns = true,
    /** False when the bytes can change under the tensor (a KV cache view): no CPU copy is kept. */
    readonly immutable = true,
  ) {}

  get count(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** The buffer as a binding of exactly this tensor's bytes (rounded up to 4). */
  get binding(): { buffer: GPUBuffer; size: number } {
    return { buffer: this.buffer, size: paddedSize(this.byteLength) };
  }

  check(): void {
    if (!this.live) throw new WasmRuntimeError('tensor used after dispose()');
  }

  async read(): Promise<Float32Array> {
    this.check();
    if (this.type.name === 'f32') {
      const b = await this.ctx.read(this.buffer, this.byteLength);
      return new Float32Array(b.buffer, b.byteOffset, this.count);
    }
    return this.decoder(this);
  }

  async readBytes(): Promise<Uint8Array> {
    this.check();
    return this.ctx.read(this.buffer, this.byteLength);
  }

  /** The same bytes under another shape, not owning them. */
  view(shape: readonly number[], immutable = this.immutable): GpuTensor {
    this.check();
    return new GpuTensor(
      this.ctx,
      this.buffer,
      this.byteLength,
      [...shape],
      this.type,
      this.decoder,
      false,
      immutable,
    );
  }

  dispose(): void {
    if (!this.live) return;
    this.live = false;
    this.cpuCopy?.dispose();
    this.cpuCopy = undefined;
    if (this.owns) this.buffer.destroy();
  }
}
