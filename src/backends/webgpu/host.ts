/**
 * What the WebGPU op modules share: the context, output tensors, the per-op
 * record of where each op ran, and the fallback that runs an op on the CPU
 * engine (wasm) when the GPU has no kernel for its case — moving the inputs
 * there and the result back, and saying so in the report.
 */
import type { Engine, OpReport } from '../../engine/engine.js';
import type { Tensor } from '../../engine/tensor.js';
import { ShapeError } from '../../errors.js';
import type { MatmulPrecision } from '../../ops/matmul.js';
import { byteSizeOf, type GgmlTypeInfo, ggmlType } from '../../types/ggml-types.js';
import type { GpuContext } from './context.js';
import { type GpuDecoder, GpuTensor } from './tensor.js';
import type { MatmulOperands } from './wgsl/matmul-f32.js';

export type Placement = 'webgpu' | 'cpu';

const f32 = ggmlType('f32');

export class GpuHost {
  private readonly counts: OpReport = {};
  private cpuEngine: Promise<Engine> | undefined;

  constructor(
    readonly ctx: GpuContext,
    private readonly makeCpu: () => Promise<Engine>,
    readonly decoder: GpuDecoder,
    readonly matmulPrecision: MatmulPrecision = 'f32',
  ) {}

  /** How the f32 matmul kernels take their operands: halves stored as f16 where the device has shader-f16. */
  matmulOperands(): MatmulOperands {
    const f16 = this.matmulPrecision === 'f16';
    return { precision: this.matmulPrecision, halfStorage: f16 && this.ctx.features.f16 };
  }

  /** Records that `op` ran on `where` (why: the reason for a CPU fallback). */
  ran(op: string, where: Placement, why?: string): void {
    const c = (this.counts[op] ??= { webgpu: 0, cpu: 0 });
    c[where]++;
    if (why) c.why = why;
  }

  report(): OpReport {
    return structuredClone(this.counts);
  }

  /** The CPU engine fallbacks run on (created on first use). */
  cpu(): Promise<Engine> {
    this.cpuEngine ??= this.makeCpu();
    return this.cpuEngine;
  }

  async disposeCpu(): Promise<void> {
    if (this.cpuEngine) await (await this.cpuEngine).dispose();
  }

  /** A new GPU tensor of `type` (f32 by default) with room for its bytes. */
  output(shape: readonly number[], what: string, type: GgmlTypeInfo = f32): GpuTensor {
    const count = shape.reduce((a, b) => a * b, 1);
    const bytes = byteSizeOf(type, count);
    return new GpuTensor(this.ctx, this.ctx.buffer(bytes, what), bytes, [...shape], type, this.decoder);
  }

  /** Uploads bytes as a GPU tensor. */
  upload(bytes: Uint8Array, shape: readonly number[], type: GgmlTypeInfo, what: string): GpuTensor {
    const buf = this.ctx.upload(bytes, what);
    return new GpuTensor(this.ctx, buf, bytes.byteLength, [...shape], type, this.decoder);
  }

  /** An f32 GPU tensor holding `values`. */
  fromValues(values: Float32Array, shape: readonly number[], what: string): GpuTensor {
    return this.upload(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), shape, f32, what);
  }

  /** The GPU tensor behind a Tensor argument (a tensor of another engine is a typed error, not a crash). */
  gpu(t: Tensor, what: string): GpuTensor {
    if (!(t instanceof GpuTensor)) throw new ShapeError(`${what}: the tensor belongs to another engine`);
    t.check();
    return t;
  }

  /** A CPU-engine copy of a GPU tensor (kept with immutable tensors, so weights move once). */
  private async toCpu(cpu: Engine, t: GpuTensor, temps: Tensor[]): Promise<Tensor> {
    if (t.cpuCopy) return t.cpuCopy;
    const copy = cpu.tensor(
      t.type.name === 'f32' ? await t.read() : await t.readBytes(),
      t.shape,
      t.type.name,
    );
    if (t.immutable) t.cpuCopy = copy;
    else temps.push(copy);
    return copy;
  }

  /** A CPU tensor's values as a new GPU tensor (the CPU tensor is disposed). */
  async fromCpu(t: Tensor, what: string): Promise<GpuTensor> {
    try {
      return t.type.name === 'f32'
        ? this.fromValues(await t.read(), t.shape, what)
        : this.upload(await t.readBytes(), t.shape, t.type, what);
    } finally {
      t.dispose();
    }
  }

  /**
   * Runs `fn` on the CPU engine with CPU copies of `inputs` (nulls pass
   * through), records the fallback with its reason; the caller moves results back.
   */
  async onCpu<R>(
    op: string,
    why: string,
    inputs: readonly (Tensor | null | undefined)[],
    fn: (cpu: Engine, ins: (Tensor | null)[]) => Promise<R>,
  ): Promise<R> {
    const cpu = await this.cpu();
    const temps: Tensor[] = [];
    try {
      const ins: (Tensor | null)[] = [];
      for (const t of inputs) ins.push(t ? await this.toCpu(cpu, this.gpu(t, op), temps) : null);
      const r = await fn(cpu, ins);
      this.ran(op, 'cpu', why);
      return r;
    } finally {
      for (const t of temps) t.dispose();
    }
  }
}
