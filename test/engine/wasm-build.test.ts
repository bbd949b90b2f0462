import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, createEngine } from '../../src/engine/engine.js';

describe('createEngine wasmBuild', () => {
  it('runs the pinned build', async () => {
    const e = await createEngine({ backend: 'wasm', threads: 1, wasmBuild: 'wasm-simd' });
    try {
      expect(e.backend).toBe('wasm-simd');
    } finally {
      await e.dispose();
    }
  });

  it('refuses an unknown build by name', async () => {
    await expect(createEngine({ backend: 'wasm', wasmBuild: 'wasm-avx' as never })).rejects.toThrow(
      new BackendUnavailableError('wasmBuild must be one of wasm-relaxed-simd, wasm-simd, got "wasm-avx"'),
    );
  });
});
