import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('relaxed SIMD build', () => {
  it('the scan and GRU kernels (f32 and int8) give the same bits as in the SIMD128 build (they use no relaxed instruction)', () => {
    // Node 20 validates the relaxed build only behind a flag: compare both builds in a child process.
    const out = execFileSync(
      process.execPath,
      ['--experimental-wasm-relaxed-simd', '--import', 'tsx', 'test/backends/wasm/scan-builds.mts'],
      { encoding: 'utf8' },
    );
    const report = JSON.parse(out) as { kernel: string; same: boolean; relaxed: string }[];
    expect(report.length).toBe(10);
    for (const r of report) {
      expect(r.relaxed).toBe('wasm-relaxed-simd');
      expect(r.same, r.kernel).toBe(true);
    }
  });
});
