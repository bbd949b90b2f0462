/**
 * The parity oracle on its own GPU path: `plumbline trace --backend webgpu`
 * on a shared llama GGUF, then `plumbline diff` against the float64
 * reference's trace of the same tokens.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTrace } from '../../src/trace/trace-file.js';
import { runCli } from '../helpers/cli.js';
import { MODELS_DIR } from '../helpers/conformance.js';
import { webgpuEngine } from '../helpers/webgpu.js';

const model = join(MODELS_DIR, 'tiny-q8_0.gguf');
// "the of and to in is it that was for", BOS first.
const TOKENS = '1,386,387,389,390,391,392,393,395,397,399';

const cli = (...argv: string[]) => runCli(argv);

const gpu = await webgpuEngine();

describe.skipIf(!gpu || (!existsSync(MODELS_DIR) && !process.env.CI))(
  'plumbline trace --backend webgpu',
  () => {
    let dir: string;
    const ref = () => join(dir, 'reference.safetensors');
    const web = () => join(dir, 'webgpu.safetensors');
    const half = () => join(dir, 'webgpu-f16.safetensors');

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'plumbline-diff-webgpu-'));
      for (const [out, backend] of [
        [ref(), 'reference'],
        [web(), 'webgpu'],
      ] as const) {
        const r = await cli('trace', model, '--tokens', TOKENS, '--backend', backend, '--out', out);
        expect(r.code, r.err).toBe(0);
      }
      const r = await cli(
        'trace',
        model,
        '--tokens',
        TOKENS,
        '--backend',
        'webgpu',
        '--matmul-precision',
        'f16',
        '--out',
        half(),
      );
      expect(r.code, r.err).toBe(0);
    }, 180_000);
    afterAll(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

    it('writes a trace that says it came from webgpu, with every stage', async () => {
      const t = await readTrace(web());
      expect(t.metadata.backend).toBe('webgpu');
      expect(t.stages).toHaveLength(3 + 4 * 18);
    });

    it('diffs against the reference with no stage introducing error beyond f32 (what goes over is carried)', async () => {
      const r = await cli('diff', ref(), web(), '--json');
      const j = JSON.parse(r.out);
      expect(j.stages).toHaveLength(3 + 4 * 18);
      const introduced = j.stages.filter(
        (s: { verdict: string; metrics: { growth: { origin: string } } }) =>
          s.verdict === 'fail' && s.metrics.growth.origin === 'introduced',
      );
      expect(introduced.map((s: { name: string }) => s.name)).toEqual([]);
    });

    type DiffStage = { name: string; verdict: string; metrics: { growth: { origin: string } } };
    const introducedFails = (stages: DiffStage[]) =>
      stages
        .filter((s) => s.verdict === 'fail' && s.metrics.growth.origin === 'introduced')
        .map((s) => s.name);

    it('--matmul-precision f16: the trace says so; diff shows the error entering at the first matmul, explained at the f16 tier', async () => {
      const t = await readTrace(half());
      expect(t.metadata.raw.get('matmul_precision')).toBe('f16');
      const f32 = JSON.parse((await cli('diff', ref(), half(), '--tier', 'f32', '--json')).out);
      expect(f32.firstDivergence.name).toBe('blk.0.q_proj');
      expect(introducedFails(f32.stages)).toContain('blk.0.q_proj');
      const f16 = JSON.parse((await cli('diff', ref(), half(), '--tier', 'f16', '--json')).out);
      expect(introducedFails(f16.stages)).toEqual([]);
    });

    it('replay of the f16 trace: no fault at its own precision, a fault at q_proj when held to f32 operands', async () => {
      const ok = await cli('replay', model, half(), '--reference-trace', ref(), '--json');
      expect(ok.code, ok.out.slice(0, 400)).toBe(0);
      expect(JSON.parse(ok.out).firstFault).toBeNull();
      const held = await cli(
        'replay',
        model,
        half(),
        '--no-reference',
        '--matmul-precision',
        'f32',
        '--json',
      );
      expect(held.code).toBe(1);
      expect(JSON.parse(held.out).firstFault.name).toBe('blk.0.q_proj');
    });

    it('--matmul-precision f16 is refused on a CPU backend', async () => {
      const r = await cli(
        'trace',
        model,
        '--tokens',
        TOKENS,
        '--matmul-precision',
        'f16',
        '--out',
        join(dir, 'x.safetensors'),
      );
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/needs --backend webgpu/);
    });
  },
);
