/**
 * `plumbline demo` (npm start) with a WebGPU adapter (SwiftShader here and in
 * CI): the adapter line, the WebGPU parity matrix left out on a software
 * adapter unless --webgpu-parity asks for it, then beside the wasm rows.
 */
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/command.js';
import { main } from '../../src/cli/main.js';
import { webgpuEngine } from '../helpers/webgpu.js';

// Sets VK_ICD_FILENAMES to SwiftShader's where none is set, before the demo looks for an adapter.
const engine = await webgpuEngine();
const device = engine?.device;
await engine?.dispose();

async function demo(...args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const io: CliIo = { out: (t) => lines.push(...t.split('\n')), err: (t) => lines.push(t), isTty: false };
  const code = await main(['demo', '--skip-model', '--size', '256', ...args], io);
  return { code, lines };
}

/** The parity summary's rows, split into cells. */
function summary(lines: string[]): { head: string[]; rows: string[][] } {
  const at = lines.findIndex((l) => l.startsWith('parity matrix on '));
  return {
    head: lines[at + 1].split(/\s{2,}/),
    rows: lines.slice(at + 3, at + 16).map((l) => l.trim().split(/\s{2,}/)),
  };
}

describe.skipIf(!device)('plumbline demo with a WebGPU adapter', () => {
  it('names the adapter, software or not, and its features', async () => {
    const d = device as NonNullable<typeof device>;
    const { code, lines } = await demo();
    expect(code).toBe(0);
    const line = lines.find((l) => l.startsWith('webgpu:'));
    const features =
      [d.f16 && 'shader-f16', d.subgroups && 'subgroups'].filter(Boolean).join(', ') ||
      'no shader-f16, no subgroups';
    expect(line).toContain(
      `webgpu: ${d.description} (${d.software ? 'software' : 'hardware'}; ${features}): `,
    );
    const { head } = summary(lines);
    if (d.software) {
      // npm start stays fast: no SwiftShader parity matrix by default.
      expect(line).toMatch(/: parity not run on a software adapter \(--webgpu-parity runs it\)$/);
      expect(head).not.toContain('webgpu passed');
    } else {
      expect(line).toMatch(/: parity below, \d+ of 70 cases on the GPU$/);
      expect(head).toContain('webgpu passed');
    }
  });

  it('--webgpu-parity: the WebGPU rows beside the wasm ones, every case passed, most on the GPU', async () => {
    const { code, lines } = await demo('--webgpu-parity');
    expect(code).toBe(0);
    const line = lines.find((l) => l.startsWith('webgpu:')) as string;
    const [, onGpu, total] = line.match(/parity below, (\d+) of (\d+) cases on the GPU$/) ?? [];
    expect(Number(total)).toBe(70);
    expect(Number(onGpu)).toBeGreaterThan(60);
    const { head, rows } = summary(lines);
    expect(head).toEqual([
      'op',
      'tiers',
      expect.stringMatching(/^wasm-[a-z-]+ passed$/),
      'worst ratio',
      'webgpu passed',
      'on gpu',
      'worst ratio',
    ]);
    for (const [op, , wasm, , gpu, ran] of rows) {
      expect(gpu, op).toBe(wasm); // the same cases, all passed on both
      expect(wasm, op).toMatch(/^(\d+)\/\1$/);
      expect(Number(ran)).toBeLessThanOrEqual(Number(gpu.split('/')[0]));
    }
    expect(rows.reduce((n, r) => n + Number(r[5]), 0)).toBe(Number(onGpu));
  });
});
