import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Arena } from '../../../src/backends/wasm/arena.js';
import { compileKernels, WasmRuntime } from '../../../src/backends/wasm/module.js';
import { WasmRuntimeError } from '../../../src/errors.js';

const relaxedValidates = WebAssembly.validate(
  readFileSync(new URL('../../../build/plumbline.relaxed.wasm', import.meta.url)),
);

describe('build selection', () => {
  it('takes relaxed SIMD exactly when the runtime validates it, and says why not', async () => {
    const c = await compileKernels();
    expect(c.build).toBe(relaxedValidates ? 'wasm-relaxed-simd' : 'wasm-simd');
    if (!relaxedValidates) {
      expect(c.rejected).toEqual([
        { build: 'wasm-relaxed-simd', reason: 'the runtime does not validate it' },
      ]);
    }
  });

  it('the instantiated build is the one reported (relaxed_simd export)', async () => {
    const rt = await WasmRuntime.create();
    expect(rt.kernels.relaxed_simd()).toBe(rt.build === 'wasm-relaxed-simd' ? 1 : 0);
  });

  it('Node with --experimental-wasm-relaxed-simd picks the relaxed build; without it, SIMD128', () => {
    const script =
      "import('./src/backends/wasm/module.ts').then((m) => m.WasmRuntime.create()).then((r) => console.log(r.build, r.kernels.relaxed_simd()))";
    const run = (flags: string[]) =>
      execFileSync(process.execPath, [...flags, '--import', 'tsx', '-e', script], {
        encoding: 'utf8',
      }).trim();
    expect(run(['--experimental-wasm-relaxed-simd'])).toBe('wasm-relaxed-simd 1');
    if (process.versions.node.startsWith('20.')) expect(run([])).toBe('wasm-simd 0');
  });

  it('fails with a typed error naming every build when none runs', async () => {
    await expect(compileKernels([])).rejects.toThrow(WasmRuntimeError);
  });
});

describe('Arena', () => {
  const memory = () => new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });

  it('hands out 64-byte-aligned, non-overlapping regions and grows the memory', () => {
    const m = memory();
    const a = new Arena(m, 100, 16 * 65536);
    const p1 = a.alloc(10);
    const p2 = a.alloc(100_000);
    expect(p1 % 64).toBe(0);
    expect(p2).toBeGreaterThanOrEqual(p1 + 64);
    expect(m.buffer.byteLength).toBeGreaterThanOrEqual(p2 + 100_000);
  });

  it('reuses and coalesces freed regions', () => {
    const a = new Arena(memory(), 0, 16 * 65536);
    const p1 = a.alloc(64);
    const p2 = a.alloc(64);
    const p3 = a.alloc(64);
    a.alloc(64);
    a.release(p1);
    a.release(p2);
    expect(a.alloc(128)).toBe(p1); // p1 and p2 merged
    a.release(p3);
    expect(a.alloc(64)).toBe(p3);
  });

  it('refuses more than the memory can hold, and unknown pointers, with typed errors', () => {
    const a = new Arena(memory(), 0, 16 * 65536);
    expect(() => a.alloc(17 * 65536)).toThrow(/wasm memory limit/);
    expect(() => a.release(12345)).toThrow(WasmRuntimeError);
    expect(() => a.alloc(-1)).toThrow(WasmRuntimeError);
  });
});
