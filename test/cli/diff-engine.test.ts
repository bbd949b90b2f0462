/**
 * `plumbline diff` on traces the engine captured (`plumbline trace`) from a
 * shared model: the float64 reference against the wasm engine.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { MODELS_DIR } from '../helpers/conformance.js';

const model = join(MODELS_DIR, 'tiny-q8_0.gguf');
// "the of and to in is it that was for", BOS first.
const TOKENS = '1,386,387,389,390,391,392,393,395,397,399';

const cli = (...argv: string[]) => runCli(argv);

describe.skipIf(!existsSync(MODELS_DIR) && !process.env.CI)('plumbline diff on engine traces', () => {
  let dir: string;
  const ref = () => join(dir, 'reference.safetensors');
  const exact = () => join(dir, 'wasm-exact.safetensors');
  const ggml = () => join(dir, 'wasm-ggml.safetensors');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plumbline-diff-engine-'));
    for (const [out, extra] of [
      [ref(), ['--backend', 'reference']],
      [exact(), ['--backend', 'wasm', '--threads', '1']],
      [ggml(), ['--backend', 'wasm', '--threads', '1', '--numerics', 'ggml']],
    ] as const) {
      const r = await cli('trace', model, '--tokens', TOKENS, ...extra, '--out', out);
      expect(r.code, r.err).toBe(0);
    }
  }, 120_000);
  afterAll(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  it('wasm in exact numerics: no stage introduces error beyond f32 (what goes over the tier is carried)', async () => {
    const r = await cli('diff', ref(), exact(), '--json');
    const j = JSON.parse(r.out);
    expect(j.stages).toHaveLength(3 + 4 * 18); // llama: no q_norm/k_norm
    expect(j.stages.every((s: { verdict: string }) => s.verdict === 'pass' || s.verdict === 'fail')).toBe(
      true,
    );
    const introduced = j.stages.filter(
      (s: { verdict: string; metrics: { growth: { origin: string } } }) =>
        s.verdict === 'fail' && s.metrics.growth.origin === 'introduced',
    );
    expect(introduced.map((s: { name: string }) => s.name)).toEqual([]);
  });

  it('wasm in ggml numerics: clean at the q8 tier; at f32 the first divergence is the first quantized matmul', async () => {
    const q8 = await cli('diff', ref(), ggml(), '--tier', 'q8');
    expect(q8.code, q8.out).toBe(0);
    expect(q8.out).toContain('no divergence');
    const f32 = await cli('diff', ref(), ggml(), '--tier', 'f32', '--json');
    const j = JSON.parse(f32.out);
    expect(j.firstDivergence.name).toBe('blk.0.q_proj');
    expect(j.firstDivergence.metrics.growth.origin).toBe('introduced');
  });
});
