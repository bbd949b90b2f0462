/**
 * A tensor in GPU memory. It stays there between ops; only read() and
 * readBytes() copy it back. Quantized tensors keep ggml's block bytes; read()
 * dequantizes them on the GPU (bit-identical to the CPU).
 *
 * A tensor starts at byte 0 of its buffer, except a slice view (slice()),
 * which starts at byteOffset: kernels see it through .binding (which carries
 * the offset), never through .buffer alone.
 */
import type { Tensor } from '../../engine/tensor.js';
import { ShapeError, WasmRuntimeError } from '../../errors.js';
import type { GgmlTypeInfo } from '../../types/ggml-types.js';
import { type GpuContext, paddedSize } from './context.js';

/** How a tensor's values become f32 (the dequant kernels; set by the engine, which owns them). */
export type GpuDecoder = (t: GpuTensor) => Promise<Float32Array>;

export class GpuTensor implements Tensor {
  private live = true;
  /** Tensors made from this one's bytes, kept until it is disposed (derived()). */
  private derivedTensors: Map<string, GpuTensor> | undefined;
  /** A copy on the CPU engine, made once for an op that falls back there (the bytes never change). */
  cpuCopy: Tensor | undefined;

  constructor(
    readonly ctx: GpuContext,
    readonly buffer: GPUBuffer,
    /** Bytes of this tensor, from byteOffset in the buffer. */
    readonly byteLength: number,
    readonly shape: readonly number[],
    readonly type: GgmlTypeInfo,
    private readonly decoder: GpuDecoder,
    /** False for views (reshape, KV cache): dispose() leaves the buffer to its owner. */
    readonly owns = true,
    /** False when the bytes can change under the tensor (a KV cache view): no CPU copy is kept. */
    readonly immutable = true,
    /** Where the tensor starts in the buffer: 0 but for slice views. */
    readonly byteOffset = 0,
    /** The tensor a view was made from (its root owner): checked for liveness, holds derived(). */
    private readonly root?: GpuTensor,
  ) {}

  get count(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** The buffer as a binding of exactly this tensor's bytes (rounded up to 4), from its offset. */
  get binding(): { buffer: GPUBuffer; size: number; offset?: number } {
    return { buffer: this.buffer, offset: this.byteOffset, size: paddedSize(this.byteLength) };
  }

  /** Throws once this tensor, or the tensor a view was made from, has been disposed. */
  check(): void {
    if (!this.live || (this.root && !this.root.live))
      throw new WasmRuntimeError('tensor used after dispose()');
  }

  async read(): Promise<Float32Array> {
    this.check();
    if (this.type.name === 'f32') {
      const b = await this.ctx.read(this.buffer, this.byteLength, this.byteOffset);
      return new Float32Array(b.buffer, b.byteOffset, this.count);
    }
    return this.decoder(this);
  }

  async readBytes(): Promise<Uint8Array> {
    this.check();
    return this.ctx.read(this.buffer, this.byteLength, this.byteOffset);
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
      this.byteOffset,
      this.root ?? this,
    );
  }

  /**
   * Bytes [offset, offset + byteLength) of this tensor as a tensor of `shape` and `type`, sharing
   * the buffer (no copy), not owning it. Its start in the buffer must be a multiple of the device's
   * minStorageBufferOffsetAlignment (kernels bind it there): check with sliceable() first.
   */
  slice(offset: number, byteLength: number, shape: readonly number[], type = this.type): GpuTensor {
    this.check();
    if (!Number.isInteger(offset) || offset < 0 || byteLength < 0 || offset + byteLength > this.byteLength)
      throw new ShapeError(
        `GPU tensor slice [${offset}, ${offset + byteLength}) is outside the tensor's ${this.byteLength} bytes`,
      );
    if (!this.sliceable(offset))
      throw new ShapeError(
        `GPU tensor slice at byte ${this.byteOffset + offset} of its buffer: kernels bind only multiples of ${this.ctx.limits.minStorageBufferOffsetAlignment} bytes`,
      );
    return new GpuTensor(
      this.ctx,
      this.buffer,
      byteLength,
      [...shape],
      type,
      this.decoder,
      false,
      this.immutable,
      this.byteOffset + offset,
      this.root ?? this,
    );
  }

  /** Whether a slice from byte `offset` of this tensor can be bound in place (its buffer offset is aligned). */
  sliceable(offset: number): boolean {
    return (this.byteOffset + offset) % this.ctx.limits.minStorageBufferOffsetAlignment === 0;
  }

  /**
   * The tensor `make` builds from this one's bytes (e.g. an op's repacked copy of a slice), built
   * on the first call for `key` and kept until this tensor's root owner is disposed, which
   * disposes it. Only for immutable tensors (the bytes must not change under the copy). Views
   * share their root's store, so a key must name the bytes it derives from (their buffer offset).
   * The caller must not dispose the result.
   */
  /** The tensor derived() keeps for `key`, if one was made (for makers that must first await the bytes). */
  keptDerived(key: string): GpuTensor | undefined {
    this.check();
    return (this.root ?? this).derivedTensors?.get(key);
  }

  derived(key: string, make: () => GpuTensor): GpuTensor {
    this.check();
    if (!this.immutable) throw new WasmRuntimeError(`derived(${key}): the tensor's bytes may change`);
    const owner = this.root ?? this;
    owner.derivedTensors ??= new Map();
    let d = owner.derivedTensors.get(key);
    if (!d) {
      d = make();
      owner.derivedTensors.set(key, d);
    }
    return d;
  }

  dispose(): void {
    if (!this.live) return;
    this.live = false;
    this.cpuCopy?.dispose();
    this.cpuCopy = undefined;
    for (const d of this.derivedTensors?.values() ?? []) d.dispose();
    this.derivedTensors = undefined;
    if (this.owns) this.buffer.destroy();
  }
}
