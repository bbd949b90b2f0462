/**
 * The GPU device and the few things every WebGPU kernel needs: storage
 * buffers checked against the device's limits, compiled pipelines cached by
 * source, one dispatch helper (parameters, bind group, grid) and readback.
 *
 * Kernel conventions (every WGSL kernel follows them):
 * - binding 0 is `params: array<u32>` (read-only storage; f32 values as
 *   their bits), bindings 1.. are the kernel's buffers in the order given;
 * - buffers are `array<u32>` (bytes of ggml blocks) or `array<f32>`, always
 *   a whole tensor: its array starts at the tensor's first byte (byte 0 of the
 *   buffer, or a slice view's aligned offset: Binding.offset);
 * - grids larger than maxComputeWorkgroupsPerDimension are folded into 2-D:
 *   a kernel computes its flat workgroup index with `group_index()` (WGSL_GRID)
 *   and returns when it is past its work.
 *
 * Profiling (profile(true), where the adapter has `timestamp-query`): each
 * dispatch's compute pass writes begin/end timestamps into a query set, which
 * gpuTimes() resolves and reads back. Off (the default), run() encodes no
 * query set and no extra commands.
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

/** Optional features a context may leave unused though the adapter offers them (default: use each). */
export interface GpuFeatureUse {
  shaderF16?: boolean;
  subgroups?: boolean;
}

/** The size of a buffer or binding holding `bytes`: whole u32 words, at least one. */
export function paddedSize(bytes: number): number {
  return Math.max(4, Math.ceil(bytes / 4) * 4);
}

/**
 * A buffer bound to a kernel: the whole buffer, or `size` bytes from byte `offset` (default 0;
 * a multiple of the device's minStorageBufferOffsetAlignment). The kernel's array starts there.
 */
export type Binding = GPUBuffer | { buffer: GPUBuffer; size: number; offset?: number };

/** Flat workgroup index of a dispatch folded into 2-D (see GpuContext.run). */
export const WGSL_GRID = /* wgsl */ `
fn group_index(wid: vec3u, nwg: vec3u) -> u32 { return wid.x + wid.y * nwg.x; }
`;

/**
 * Binding 0 (`params`) and the kernel's buffers at 1.., each given as '[out] [type] name':
 * `out` makes it read_write, `type` (default f32) is the array's element type.
 */
export function wgslBindings(buffers: readonly string[]): string {
  const decls = buffers.map((b, i) => {
    const words = b.split(' ');
    const out = words[0] === 'out';
    const type = words.length > (out ? 2 : 1) ? words[words.length - 2] : 'f32';
    const access = out ? 'read_write' : 'read';
    return `@group(0) @binding(${i + 1}) var<storage, ${access}> ${words[words.length - 1]}: array<${type}>;`;
  });
  return ['@group(0) @binding(0) var<storage, read> params: array<u32>;', ...decls].join('\n');
}

const STORAGE = 0x80; // GPUBufferUsage.STORAGE (constants spelled out: Node has no globals until the binding loads)
const COPY_SRC = 0x04;
const COPY_DST = 0x08;
const MAP_READ = 0x01;
const QUERY_RESOLVE = 0x200;

/** One dispatch's GPU time: its compute pass's end timestamp minus its begin timestamp. */
export interface GpuTime {
  /** The `label` given to run(), else the kernel's leading `// ...` comment, else its entry point. */
  label: string;
  ns: number;
}

/** Timestamp pairs per query set: a new set (and resolve buffer) is made when one fills before gpuTimes(). */
const PROFILE_PAIRS = 256;

interface QueryChunk {
  set: GPUQuerySet;
  resolved: GPUBuffer;
  labels: string[];
}

export class GpuContext {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private lost: string | undefined;
  private profiling = false;
  private chunks: QueryChunk[] = [];

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

  /** `use` turns optional features off (to run the paths without them on an adapter that has them). */
  static async create(found: GpuAdapterFound, use: GpuFeatureUse = {}): Promise<GpuContext> {
    const { adapter } = found;
    const wanted: GPUFeatureName[] = [];
    const off = new Set<string>();
    if (use.shaderF16 === false) off.add('shader-f16');
    if (use.subgroups === false) off.add('subgroups');
    // timestamp-query only serves profile(); asked for when offered so profiling needs no second device.
    for (const f of ['shader-f16', 'subgroups', 'timestamp-query'] as GPUFeatureName[])
      if (adapter.features.has(f) && !off.has(f)) wanted.push(f);
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
    const size = paddedSize(bytes);
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
    label?: string,
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
        resource: 'buffer' in b ? { buffer: b.buffer, offset: b.offset ?? 0, size: b.size } : { buffer: b },
      });
    });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const encoder = this.device.createCommandEncoder();
    const timestampWrites = this.profiling ? this.timestampSlot(label ?? kernelLabel(code)) : undefined;
    const pass = encoder.beginComputePass(timestampWrites && { timestampWrites });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const [x, y, z] = typeof groups === 'number' ? this.grid(groups) : groups;
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    // Destroying after submit is safe: submitted work keeps what it uses alive.
    paramBuf.destroy();
  }

  /** Whether this device can profile (the adapter offered `timestamp-query`). */
  get canProfile(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /**
   * Turns per-dispatch GPU timestamps on or off; returns whether they are on
   * (false where the device has no `timestamp-query`: asking is harmless).
   * Turning off drops intervals not yet read.
   */
  profile(on: boolean): boolean {
    this.profiling = on && this.canProfile;
    if (!this.profiling) this.dropChunks();
    return this.profiling;
  }

  /**
   * The GPU time of each dispatch run() encoded since profiling was turned on
   * or since the last call, in order, and forgets them; waits for queued
   * work. null where the device cannot profile (never throws for that).
   */
  async gpuTimes(): Promise<GpuTime[] | null> {
    if (!this.canProfile) return null;
    this.checkLive();
    const chunks = this.chunks;
    this.chunks = [];
    const times: GpuTime[] = [];
    try {
      for (const c of chunks) {
        if (c.labels.length === 0) continue;
        // Resolved here, not per dispatch: resolveQuerySet wants 256-byte destination offsets.
        const encoder = this.device.createCommandEncoder();
        encoder.resolveQuerySet(c.set, 0, 2 * c.labels.length, c.resolved, 0);
        this.device.queue.submit([encoder.finish()]);
        const stamps = new BigUint64Array((await this.read(c.resolved, c.labels.length * 16)).buffer);
        c.labels.forEach((label, i) => {
          times.push({ label, ns: Number(stamps[2 * i + 1] - stamps[2 * i]) });
        });
      }
    } finally {
      for (const c of chunks) destroyChunk(c);
    }
    return times;
  }

  /** The query set slots of the next profiled dispatch (a new chunk when the last is full). */
  private timestampSlot(label: string): GPUComputePassTimestampWrites {
    let chunk = this.chunks.at(-1);
    if (!chunk || chunk.labels.length === PROFILE_PAIRS) {
      chunk = {
        set: this.device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_PAIRS }),
        resolved: this.device.createBuffer({ size: 16 * PROFILE_PAIRS, usage: QUERY_RESOLVE | COPY_SRC }),
        labels: [],
      };
      this.chunks.push(chunk);
    }
    const i = 2 * chunk.labels.length;
    chunk.labels.push(label);
    return { querySet: chunk.set, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 };
  }

  private dropChunks(): void {
    for (const c of this.chunks) destroyChunk(c);
    this.chunks = [];
  }

  /** n workgroups as an [x, y, 1] grid within the per-dimension limit. */
  grid(n: number): [number, number, number] {
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (n <= max) return [n, 1, 1];
    const y = Math.ceil(n / max);
    if (y > max) throw new SizeError(`WebGPU: ${n} workgroups exceed the device's grid (${max}²)`);
    return [Math.ceil(n / y), y, 1];
  }

  /** Copies `bytes` from byte `offset` (a multiple of 4) of a buffer back to the CPU (waits for queued work). */
  async read(buf: GPUBuffer, bytes: number, offset = 0): Promise<Uint8Array> {
    this.checkLive();
    const size = paddedSize(bytes);
    const staging = this.device.createBuffer({ size, usage: MAP_READ | COPY_DST });
    try {
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(buf, offset, staging, 0, size);
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
    this.dropChunks();
    this.device.destroy();
  }
}

function destroyChunk(c: QueryChunk): void {
  c.set.destroy();
  c.resolved.destroy();
}

/**
 * A kernel's name for profiles: its leading `// ...` comment line (the kernels' convention; blank lines
 * and `enable` directives before it skipped), else its entry point `main`.
 */
function kernelLabel(code: string): string {
  for (const raw of code.split('\n', 8)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('enable ')) continue;
    return (line.startsWith('//') && line.slice(2).trim()) || 'main';
  }
  return 'main';
}

const bits = new DataView(new ArrayBuffer(4));
/** The u32 bits of an f32, for kernel params. */
export function f32Bits(x: number): number {
  bits.setFloat32(0, x, true);
  return bits.getUint32(0, true);
}
