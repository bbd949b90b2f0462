/**
 * `plumbline demo` (npm start) where WebGPU has no adapter: run as npm start
 * runs it, in a child process whose Vulkan loader finds no driver (this
 * machine may have one), so stdout is the demo's own output and Dawn's
 * warnings stay on stderr.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

function demo(...args: string[]) {
  return spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--skip-model', '--size', '256', ...args],
    {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json' },
      encoding: 'utf8',
    },
  );
}

describe('plumbline demo without a WebGPU adapter', () => {
  it('prints why there is none, keeps the parity summary on wasm, and exits 0', () => {
    const r = demo();
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.filter((l) => l.startsWith('webgpu:'))).toEqual([
      'webgpu: no adapter — requestAdapter() found no WebGPU adapter',
    ]);
    expect(r.stdout).not.toMatch(/vkCreateInstance|Warning/);
    const head = lines.findIndex((l) => l.startsWith('parity matrix on '));
    expect(lines[head]).toMatch(/^parity matrix on wasm-[a-z-]+ against the float64 reference/);
    expect(lines[head + 1].split(/\s{2,}/)).toEqual([
      'op',
      'tiers',
      expect.stringMatching(/ passed$/),
      'worst ratio',
    ]);
    // Thirteen ops, every case passed (n/n).
    const ops = lines.slice(head + 3, head + 16).map((l) => l.split(/\s{2,}/));
    expect(ops.map((c) => c[0])).toContain('moe_route');
    for (const c of ops) expect(c[2]).toMatch(/^(\d+)\/\1$/);
  }, 60_000);

  it('--json: adapter null with the reason, parity rows on wasm only', () => {
    const r = demo('--json');
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      webgpu: { adapter: unknown; reason: string };
      parity: { backend: string; pass: boolean }[];
    };
    expect(out.webgpu).toEqual({ adapter: null, reason: 'requestAdapter() found no WebGPU adapter' });
    expect(out.parity.length).toBe(70);
    expect(out.parity.every((p) => p.backend.startsWith('wasm-') && p.pass)).toBe(true);
  }, 60_000);
});
