/**
 * The wasm engine: tensors in the shared wasm memory, ops split over the
 * worker pool by output columns (each element computed by one thread, so the
 * bits do not depend on the thread count).
 */
import type { Engine } from '../../engine/engine.js';
import { tensorBytes } from '../../engine/engine.js';
import type { Tensor } from '../../engine/tensor.js';
import { WasmRuntimeError } from '../../errors.js';
import { type MatmulOptions, validateMatmul } from '../../ops/matmul.js';
import { WorkerPool } from '../../scheduler/pool.js';
import { type GgmlTypeInfo, type GgmlTypeName, ggmlType } from '../../types/ggml-types.js';
import { kernelCount } from './dequant.js';
import { PANEL_WIDTH, type PackedWeights, packWeightsAt } from './matmul-f32.js';
import {
  activationBytes,
  isGgmlMatmulType,
  quantizeActivations,
  type VecDotType,
  vecDotType,
} from './matmul-ggml.js';
import { matmulQuantExactScratchBytes } from './matmul-quant.js';
import { type CompiledKernels, WasmRuntime } from './module.js';

/** Output columns per scheduling unit for the quantized kernels (several rows per pass). */
const QUANT_GRANULARITY = 8;

class WasmTensor implements Tensor {
  private live = true;
  /** f32/f16/bf16 weights packed into panels on first use as a matmul weight. */
  packed: PackedWeights | undefined;

  constructor(
    private readonly rt: WasmRuntime,
    readonly ptr: number,
    readonly byteLength: number,
    readonly shape: readonly number[],
    readonly type: GgmlTypeInfo,
    readonly count: number,
  ) {}

  check(): void {
    if (!this.live) throw new WasmRuntimeError('tensor used after dispose()');
  }

  async read(): Promise<Float32Array> {
    this.check();
    if (this.type.name === 'f32') return this.rt.f32(this.ptr, this.count).slice();
    const dst = this.rt.arena.alloc(this.count * 4);
    try {
      this.rt.kernel(`dequant_${this.type.name}`)(this.ptr, dst, kernelCount(this.type, this.count));
      return this.rt.f32(dst, this.count).slice();
    } finally {
      this.rt.arena.release(dst);
    }
  }

  async readBytes(): Promise<Uint8Array> {
    this.check();
    return this.rt.u8.slice(this.ptr, this.ptr + this.byteLength);
  }

  dispose(): void {
    if (!this.live) return;
    this.live = false;
    this.packed?.dispose();
    this.rt.arena.release(this.ptr);
  }
}

export class WasmEngine implements Engine {
  private constructor(
    private readonly rt: WasmRuntime,
    private readonly pool: WorkerPool,
  ) {}

  static async create(compiled: CompiledKernels, threads?: number): Promise<WasmEngine> {
    const rt = await WasmRuntime.create(compiled);
    const pool = await WorkerPool.create({ threads, compiled, memory: rt.memory });
    return new WasmEngine(rt, pool);
  }

  get backend(): string {
    return this.rt.build;
  }

  get threads(): number {
    return this.pool.threads;
  }

  get threadsReason(): string | undefined {
    return this.pool.reason;
  }

  tensor(
    data: Float32Array | Uint8Array,
    shape: readonly number[],
    type: GgmlTypeName | string = 'f32',
  ): Tensor {
    const info = ggmlType(type);
    const { bytes, count } = tensorBytes(data, shape, info.name);
    const ptr = this.rt.arena.alloc(bytes.byteLength);
    this.rt.u8.set(bytes, ptr);
    return new WasmTensor(this.rt, ptr, bytes.byteLength, [...shape], info, count);
  }

  private output(M: number, N: number): WasmTensor {
    const bytes = M * N * 4;
    return new WasmTensor(this.rt, this.rt.arena.alloc(bytes), bytes, [M, N], ggmlType('f32'), M * N);
  }

  async matmul(xt: Tensor, wt: Tensor, opts: MatmulOptions = {}): Promise<Tensor> {
    const x = xt as WasmTensor;
    const w = wt as WasmTensor;
    x.check();
    w.check();
    const { M, N, K, numerics } = validateMatmul(x, w, opts);
    const y = this.output(M, N);
    try {
      const t = w.type.name;
      if (numerics === 'ggml' && isGgmlMatmulType(t)) await this.matmulGgml(x, w, y, M, N, K, vecDotType(t));
      else if (t === 'f32' || t === 'f16' || t === 'bf16') await this.matmulPacked(x, w, y, M, N, K);
      else await this.matmulQuantExact(x, w, y, M, N, K);
    } catch (e) {
      y.dispose();
      throw e;
    }
    return y;
  }

  private async matmulPacked(x: WasmTensor, w: WasmTensor, y: WasmTensor, M: number, N: number, K: number) {
    w.packed ??= packWeightsAt(this.rt, w.type.name as 'f32' | 'f16' | 'bf16', w.ptr, N, K);
    const packed = w.packed.ptr;
    const ranges = this.pool.split(N, PANEL_WIDTH);
    await this.pool.run('gemm_f32', (i) => {
      const r = ranges[i];
      return r.start < r.end ? [x.ptr, packed, y.ptr, M, N, K, r.start, r.end] : null;
    });
  }

  private async matmulQuantExact(
    x: WasmTensor,
    w: WasmTensor,
    y: WasmTensor,
    M: number,
    N: number,
    K: number,
  ) {
    const per = matmulQuantExactScratchBytes(this.rt, M);
    const ranges = this.pool.split(N, QUANT_GRANULARITY);
    const scratch = this.rt.arena.alloc(Math.max(per, 16) * ranges.length);
    try {
      await this.pool.run(`matmul_exact_${w.type.name}`, (i) => {
        const r = ranges[i];
        return r.start < r.end ? [x.ptr, w.ptr, y.ptr, M, N, K, r.start, r.end, scratch + i * per] : null;
      });
    } finally {
      this.rt.arena.release(scratch);
    }
  }

  private async matmulGgml(
    x: WasmTensor,
    w: WasmTensor,
    y: WasmTensor,
    M: number,
    N: number,
    K: number,
    vdt: VecDotType,
  ) {
    const xq = this.rt.arena.alloc(activationBytes(vdt, M, K));
    try {
      quantizeActivations(this.rt, vdt, x.ptr, xq, M, K);
      const ranges = this.pool.split(N, QUANT_GRANULARITY);
      await this.pool.run(`matmul_ggml_${w.type.name}`, (i) => {
        const r = ranges[i];
        return r.start < r.end ? [xq, w.ptr, y.ptr, M, N, K, r.start, r.end] : null;
      });
    } finally {
      this.rt.arena.release(xq);
    }
  }

  async dispose(): Promise<void> {
    await this.pool.dispose();
  }
}
