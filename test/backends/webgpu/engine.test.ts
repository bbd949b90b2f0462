import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../src/engine/engine.js';
import { ShapeError, SizeError } from '../../../src/errors.js';
import { quantize } from '../../../src/ops/quantize.js';
import { webgpuEngine } from '../../helpers/webgpu.js';

const gpu = await webgpuEngine();

describe.skipIf(!gpu)('WebGPU engine', () => {
  const e = gpu!;
  afterAll(() => e.dispose());

  it('keeps tensors on the GPU and reads them back exactly', async () => {
    const x = new Float32Array([1.5, -2, 3.25, Number.MIN_VALUE, -0, 7e30]);
    const t = e.tensor(x, [2, 3]);
    expect(await t.read()).toEqual(x);
    const r = e.reshape(t, [3, 2]);
    expect(r.shape).toEqual([3, 2]);
    expect(await r.read()).toEqual(x);
    t.dispose();
  });

  it('keeps ggml bytes as given (odd byte counts included)', async () => {
    const v = new Float32Array(32).map((_, i) => Math.sin(i));
    const bytes = quantize('q4_0', v); // 18 bytes: not a multiple of 4
    const t = e.tensor(bytes, [1, 32], 'q4_0');
    expect(await t.readBytes()).toEqual(bytes);
  });

  it('says which device it runs on and what ran where', async () => {
    expect(e.backend).toBe('webgpu');
    expect(e.device.description.length).toBeGreaterThan(0);
    const a = e.tensor(new Float32Array([1, 2, 3, 4]), [2, 2]);
    const s = await e.add(a, a);
    expect(await s.read()).toEqual(new Float32Array([2, 4, 6, 8]));
    const report = e.opReport();
    expect(report.add.webgpu + report.add.cpu).toBeGreaterThan(0);
  });

  it('refuses a tensor of another engine with a typed error', async () => {
    const cpu = await createEngine({ backend: 'reference' });
    const t = cpu.tensor(new Float32Array(4), [2, 2]);
    await expect(e.add(t, t)).rejects.toThrow(ShapeError);
  });

  it('refuses a buffer larger than the device binds, naming it', () => {
    const max = e.host.ctx.limits.maxStorageBufferBindingSize;
    expect(() => e.host.ctx.buffer(max + 4, 'weights blk.0')).toThrow(SizeError);
    expect(() => e.host.ctx.buffer(max + 4, 'weights blk.0')).toThrow(/weights blk\.0/);
  });
});

describe('backend selection', () => {
  it('auto takes a hardware adapter, never a software one unless asked', async () => {
    const e = await createEngine({ threads: 1 });
    try {
      if (gpu?.device.software) expect(e.backend).not.toBe('webgpu');
    } finally {
      await e.dispose();
    }
  });
});

describe('no adapter', () => {
  it("backend 'webgpu' without a Vulkan driver is a typed error saying why; auto runs on wasm", () => {
    // A child process whose Vulkan loader finds no driver (this one already has an adapter).
    const script = `
      import { createEngine } from './src/engine/engine.ts';
      try { await createEngine({ backend: 'webgpu' }); console.log('created'); }
      catch (e) { console.log(e.name + ': ' + e.message); }
      const auto = await createEngine({ threads: 1 });
      console.log('auto: ' + auto.backend);
      await auto.dispose();`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json' },
      encoding: 'utf8',
    });
    expect(r.stdout).toMatch(/^WebGpuUnavailableError: requestAdapter\(\) found no WebGPU adapter/m);
    expect(r.stdout).toMatch(/^auto: wasm-/m);
  }, 60_000);
});
