/**
 * The GPU device and the few things every WebGPU kernel needs: storage
 * buffers checked against the device's limits, compiled pipelines cached by
 * source, one dispatch helper (parameters, bind group, grid) and readback.
 *
 * Kernel conventions (every WGSL kernel follows them):
 * - binding 0 is `params: array<u32>` (read-only storage; f32 values as
 *   their bits), bindings 1.. are the kernel's buffers in the order given;
 * - buffers are `array<u32>` (bytes of ggml blocks) or `array<f32>`, always
 *   whole: a tensor starts at byte 0 of its buffer (views share it);
 * - grids larger than maxComputeWorkgroupsPerDimension are folded into 2-D:
 *   a kernel computes its flat workgroup index with `group_index()` (WGSL_GRID)
 *   and returns when it is past its work.
 */
import { SizeError } from '../../errors.js';
import { type GpuAdapterFound, WebGpuUnavailableError } from './adapter.js';

export interface GpuFeatures {
  /** `shader-f16`: f16 arithmetic in WGSL (`enable f16;`). */
  f16: boolean;
  /** `subgroups`: subgroupAdd and friends (`enable subgroups;`). */
  subgroups: boolean;
  /** Smallest subgroup size the adapter reports (0 when unknown). */
  subgroupMinSize: number;
}

/** A buffer bound to a kernel: the whole buffer, or its first `size` bytes. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; size: number };

/** Flat workgroup index of a dispatch folded into 2-D (see GpuContext.run). */
export const WGSL_GRID = /* wgsl */ `
fn group_index(wid: vec3u, nwg: vec3u) -> u32 { return wid.x + wid.y * nwg.x; }
`;

const STORAGE = 0x80; // GPUBufferUsage.STORAGE (constants spelled out: Node has no globals until the binding loads)
const COPY_SRC = 0x04;
const COPY_DST = 0x08;
const MAP_READ = 0x01;

export class GpuContext {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private lost: string | undefined;

  private constructor(
    readonly device: GPUDevice,
    readonly features: GpuFeatures,
    readonly description: string,
    readonly software: boolean,
  ) {
    device.lost.then((info) => {
      this.lost = info.message || info.reason || 'device lost';
    });
  }

  static async create(found: GpuAdapterFound): Promise<GpuContext> {
    const { adapter } = found;
    const wanted: GPUFeatureName[] = [];
    for (const f of ['shader-f16', 'subgroups'] as GPUFeatureName[])
      if (adapter.features.has(f)) wanted.push(f);
    // Ask for the adapter's own buffer limits: the defaults (128 MiB bindings) are far below what GPUs offer.
    const l = adapter.limits;
    const device = await adapter.requestDevice({
      requiredFeatures: wanted,
      requiredLimits: {
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxStorageBuffersPerShaderStage: Math.min(l.maxStorageBuffersPerShaderStage, 10),
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      },
    });
    const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number };
    return new GpuContext(
      device,
      {
        f16: device.features.has('shader-f16'),
        subgroups: device.features.has('subgroups'),
        subgroupMinSize: info.subgroupMinSize ?? 0,
      },
      found.description,
      found.software,
    );
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  private checkLive(): void {
    if (this.lost) throw new WebGpuUnavailableError(`the WebGPU device was lost: ${this.lost}`);
  }

  /**
   * A storage buffer of `bytes` (rounded up to 4). Larger than the device can
   * bind → SizeError naming `what`; plumbline never truncates a tensor.
   */
  buffer(bytes: number, what: string): GPUBuffer {
    this.checkLive();
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const max = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    if (size > max)
      throw new SizeError(
        `WebGPU: ${what} needs ${bytes} bytes, more than this device binds in one buffer (${max} bytes: maxStorageBufferBindingSize/maxBufferSize)`,
      );
    return this.device.createBuffer({ size, usage: STORAGE | COPY_SRC | COPY_DST });
  }

  /** A storage buffer holding `bytes` (padded with zeros to a multiple of 4). */
  upload(bytes: Uint8Array, what: string): GPUBuffer {
    const buf = this.buffer(bytes.byteLength, what);
    this.write(buf, 0, bytes);
    return buf;
  }

  /** Writes bytes at a byte offset (a multiple of 4) of a buffer. */
  write(buf: GPUBuffer, offset: number, bytes: Uint8Array): void {
    const whole = bytes.byteLength - (bytes.byteLength % 4);
    if (whole > 0) this.device.queue.writeBuffer(buf, offset, bytes.buffer, bytes.byteOffset, whole);
    if (whole < bytes.byteLength) {
      const tail = new Uint8Array(4);
      tail.set(bytes.subarray(whole));
      this.device.queue.writeBuffer(buf, offset + whole, tail);
    }
  }

  /** The compute pipeline of a WGSL source (entry point `main`), compiled once per source text. */
  pipeline(code: string): GPUComputePipeline {
    let p = this.pipelines.get(code);
    if (!p) {
      const module = this.device.createShaderModule({ code });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(code, p);
    }
    return p;
  }

  /**
   * Encodes one dispatch of `code` over `groups` workgroups (a count, folded
   * into 2-D past the per-dimension limit, or an explicit [x, y, z]) with
   * `params` (u32 words; use f32Bits for floats) at binding 0 and `buffers`
   * at bindings 1.., and submits it. Work is ordered by the queue: a later
   * run or read sees this one's results.
   */
  run(
    code: string,
    params: ArrayLike<number>,
    buffers: Binding[],
    groups: number | [number, number, number],
  ) {
    this.checkLive();
    const pipeline = this.pipeline(code);
    const words = new Uint32Array(Math.max(1, params.length));
    words.set(Array.from(params, (v) => v >>> 0));
    const paramBuf = this.device.createBuffer({ size: words.byteLength, usage: STORAGE | COPY_DST });
    this.device.queue.writeBuffer(paramBuf, 0, words);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: paramBuf } }];
    buffers.forEach((b, i) => {
      entries.push({
        binding: i + 1,
        resource: 'buffer' in b ? { buffer: b.buffer, size: b.size } : { buffer: b },
      });
    });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const [x, y, z] = typeof groups === 'number' ? this.grid(groups) : groups;
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    // Destroying after submit is safe: submitted work keeps what it uses alive.
    paramBuf.destroy();
  }

  /** n workgroups as an [x, y, 1] grid within the per-dimension limit. */
  grid(n: number): [number, number, number] {
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (n <= max) return [n, 1, 1];
    const y = Math.ceil(n / max);
    if (y > max) throw new SizeError(`WebGPU: ${n} workgroups exceed the device's grid (${max}²)`);
    return [Math.ceil(n / y), y, 1];
  }

  /** Copies `bytes` from the start of a buffer back to the CPU (waits for queued work). */
  async read(buf: GPUBuffer, bytes: number): Promise<Uint8Array> {
    this.checkLive();
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.device.createBuffer({ size, usage: MAP_READ | COPY_DST });
    try {
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(buf, 0, staging, 0, size);
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(MAP_READ);
      return new Uint8Array(staging.getMappedRange(0, size)).slice(0, bytes);
    } finally {
      staging.destroy();
    }
  }

  /** Copies `bytes` between buffers (offsets multiples of 4). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, Math.ceil(bytes / 4) * 4);
    this.device.queue.submit([encoder.finish()]);
  }

  /** Resolves when all submitted work is done (for timing). */
  async finish(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
  }

  destroy(): void {
    this.pipelines.clear();
    this.device.destroy();
  }
}

const bits = new DataView(new ArrayBuffer(4));
/** The u32 bits of an f32, for kernel params. */
export function f32Bits(x: number): number {
  bits.setFloat32(0, x, true);
  return bits.getUint32(0, true);
}
