import { afterAll, describe, expect, it, vi } from 'vitest';
import { requestGpuAdapter } from '../../../src/backends/webgpu/adapter.js';
import { GpuContext } from '../../../src/backends/webgpu/context.js';
import type { WebGpuEngine } from '../../../src/backends/webgpu/engine.js';
import { webgpuEngine } from '../../helpers/webgpu.js';

const gpu = await webgpuEngine();

/** x [8, 64], w [32, 64] and an rmsNorm weight [32]: small deterministic operands. */
function operands(e: WebGpuEngine) {
  const values = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
  return {
    x: e.tensor(
      values(8 * 64, (i) => Math.sin(i * 0.37)),
      [8, 64],
    ),
    w: e.tensor(
      values(32 * 64, (i) => Math.cos(i * 0.11)),
      [32, 64],
    ),
    g: e.tensor(
      values(32, (i) => 1 + i / 32),
      [32],
    ),
  };
}

/** The output bytes of matmul then rmsNorm of the product. */
async function matmulThenNorm(e: WebGpuEngine): Promise<Uint8Array[]> {
  const { x, w, g } = operands(e);
  const y = await e.matmul(x, w);
  const n = await e.rmsNorm(y, g, { eps: 1e-5 });
  const bytes = [await y.readBytes(), await n.readBytes()];
  for (const t of [x, w, g, y, n]) t.dispose();
  return bytes;
}

describe.skipIf(!gpu)('WebGPU timestamp profiling', () => {
  const e = gpu!;
  const ctx = e.host.ctx;
  afterAll(() => e.dispose());

  it('times each dispatch of matmul and rmsNorm within the wall time of its op', async () => {
    expect(ctx.canProfile).toBe(true); // SwiftShader (CI) offers timestamp-query
    expect(ctx.profile(true)).toBe(true);
    // One op at a time, so each op's intervals can be held against its own wall time.
    const { x, w, g } = operands(e);
    await ctx.finish();
    await ctx.gpuTimes(); // nothing recorded before this point counts
    let t0 = performance.now();
    const y = await e.matmul(x, w);
    await ctx.finish();
    const matmulNs = (performance.now() - t0) * 1e6;
    const matmulTimes = (await ctx.gpuTimes())!;
    t0 = performance.now();
    const n = await e.rmsNorm(y, g, { eps: 1e-5 });
    await ctx.finish();
    const normNs = (performance.now() - t0) * 1e6;
    const normTimes = (await ctx.gpuTimes())!;
    ctx.profile(false);
    expect(matmulTimes.length).toBeGreaterThanOrEqual(1);
    expect(normTimes.length).toBeGreaterThanOrEqual(1);
    expect(matmulTimes.length + normTimes.length).toBeGreaterThanOrEqual(2);
    for (const [times, wallNs] of [
      [matmulTimes, matmulNs],
      [normTimes, normNs],
    ] as const) {
      let sum = 0;
      for (const t of times) {
        expect(Number.isFinite(t.ns)).toBe(true);
        expect(t.ns).toBeGreaterThanOrEqual(0);
        expect(t.ns).toBeLessThanOrEqual(wallNs);
        sum += t.ns;
      }
      expect(sum).toBeLessThanOrEqual(wallNs); // one op's dispatches run one after another on the queue
    }
    // Labels: the kernels' leading `// name` comments.
    expect(matmulTimes.map((t) => t.label).join()).toMatch(/matmul/);
    expect(normTimes.map((t) => t.label).join()).toMatch(/rms/);
    for (const t of [...matmulTimes, ...normTimes]) expect(t.label.length).toBeGreaterThan(0);
    for (const t of [x, w, g, y, n]) t.dispose();
  });

  it('takes an explicit label and reads each interval once', async () => {
    ctx.profile(true);
    const out = ctx.buffer(16, 'profile test output');
    const code = `@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(4) fn main(@builtin(local_invocation_index) i: u32) { out[i] = params[0] + i; }`;
    ctx.run(code, [7], [out], 1, 'fill');
    ctx.run(code, [9], [out], 1);
    const times = (await ctx.gpuTimes())!;
    expect(times.map((t) => t.label)).toEqual(['fill', 'main']); // no leading comment: the entry point
    expect(await ctx.gpuTimes()).toEqual([]);
    ctx.profile(false);
    expect(new Uint32Array((await ctx.read(out, 16)).buffer)).toEqual(new Uint32Array([9, 10, 11, 12]));
    out.destroy();
  });

  it('keeps more dispatches than one query set holds', async () => {
    ctx.profile(true);
    const out = ctx.buffer(4, 'profile test output');
    const code = `// count
@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(1) fn main() { out[0] = out[0] + params[0]; }`;
    for (let i = 0; i < 300; i++) ctx.run(code, [1], [out], 1);
    const times = (await ctx.gpuTimes())!;
    ctx.profile(false);
    expect(times.length).toBe(300);
    expect(times.every((t) => t.label === 'count' && t.ns >= 0)).toBe(true);
    expect(new Uint32Array((await ctx.read(out, 4)).buffer)[0]).toBe(300);
    out.destroy();
  });

  it('creates no query set when off, and computes the same bits as with profiling on', async () => {
    const spy = vi.spyOn(ctx.device, 'createQuerySet');
    try {
      expect(ctx.profile(false)).toBe(false);
      const off = await matmulThenNorm(e);
      expect(spy).not.toHaveBeenCalled();
      expect(await ctx.gpuTimes()).toEqual([]); // available, nothing recorded
      ctx.profile(true);
      const on = await matmulThenNorm(e);
      expect(spy).toHaveBeenCalled();
      expect((await ctx.gpuTimes())!.length).toBeGreaterThanOrEqual(2);
      ctx.profile(false);
      expect(on).toEqual(off);
    } finally {
      spy.mockRestore();
    }
  });

  it('says unavailable (null) on a device without timestamp-query, and never throws', async () => {
    // A real adapter that does not offer the feature, as one without it would (the device is real).
    const found = await requestGpuAdapter();
    const { adapter } = found;
    const hidden = {
      features: new Set([...adapter.features].filter((f) => f !== 'timestamp-query')),
      limits: adapter.limits,
      info: adapter.info,
      requestDevice: (d?: GPUDeviceDescriptor) => adapter.requestDevice(d),
    } as unknown as GPUAdapter;
    const bare = await GpuContext.create({ ...found, adapter: hidden });
    try {
      expect(bare.canProfile).toBe(false);
      expect(bare.profile(true)).toBe(false);
      const out = bare.buffer(4, 'profile test output');
      bare.run(
        `@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(1) fn main() { out[0] = params[0]; }`,
        [5],
        [out],
        1,
      );
      expect(await bare.gpuTimes()).toBeNull();
      expect(new Uint32Array((await bare.read(out, 4)).buffer)[0]).toBe(5);
    } finally {
      bare.destroy();
    }
  });
});
