import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium } from '../../scripts/browser/chromium.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { syntheticModel } from '../../src/model/synthetic.js';
import { runCli } from '../helpers/cli.js';
import { capturePass, faultyEngine, scaleAt } from '../helpers/faulty-engine.js';
import { checkReportPage } from '../helpers/report-page.js';

const dir = await mkdtemp(join(tmpdir(), 'plumbline-replay-cli-'));
const model = join(dir, 'model.gguf');
const clean = join(dir, 'clean.safetensors');
const faulty = join(dir, 'faulty.safetensors');
const gguf = syntheticModel({
  arch: 'llama',
  nEmbd: 64,
  nLayer: 2,
  nHead: 4,
  nHeadKv: 2,
  nFf: 96,
  nVocab: 340,
});
const tokens = [4, 8, 15, 16, 23, 42];

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'wasm', threads: 1 });
  await writeFile(model, gguf);
  await writeFile(clean, (await capturePass(engine, gguf, tokens, 'exact')).bytes);
  // swiglu calls: layer 0, layer 1
  const wrong = faultyEngine(engine, 'swiglu', scaleAt(1e-4, 50), [1]);
  await writeFile(faulty, (await capturePass(wrong, gguf, tokens, 'exact')).bytes);
});
afterAll(async () => {
  await engine.dispose();
  await rm(dir, { recursive: true, force: true });
});

const run = (...argv: string[]) => runCli(['replay', ...argv]);

describe('plumbline replay', () => {
  it('a clean trace: no fault (exit 0)', async () => {
    const r = await run(model, clean);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ +blk\.0\.q_proj +ok +f32/m);
    expect(r.out).toContain('no fault');
  });

  it('a planted fault: named, exit 1; --json parses with the documented shape; --html written', async () => {
    const html = join(dir, 'report.html');
    const r = await run(model, faulty, '--json', '--html', html, '--reference-trace', clean);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.tier).toBe('auto');
    expect(j.reference).toEqual({ source: 'trace', file: clean, tier: 'f32' });
    expect(j.firstFault.name).toBe('blk.1.ffn_swiglu');
    expect(j.firstFault.boundRatio).toBeGreaterThan(1);
    const row = (n: string) => j.stages.find((s: { name: string }) => s.name === n);
    expect(row('blk.1.ffn_out')).toMatchObject({ verdict: 'carried', consistent: true });
    expect(row('blk.1.ffn_out').reference.verdict).toBe('fail');
    expect(row('blk.0.ffn_out')).toMatchObject({ verdict: 'ok', consistent: true });
    const page = await readFile(html, 'utf8');
    expect(page).toContain('first fault: blk.1.ffn_swiglu');
  });

  it('prints the fault in words', async () => {
    const r = await run(model, faulty, '--no-reference', '--tier', 'f32');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^> +blk\.1\.ffn_swiglu +FAULT +f32/m);
    expect(r.out).toContain('first fault: blk.1.ffn_swiglu');
    expect(r.out).toContain('reference: none');
  });

  it('bad usage: exit 2 with the reason', async () => {
    expect((await run(model)).code).toBe(2);
    const t = await run(model, clean, '--tier', 'fp8');
    expect(t.code).toBe(2);
    expect(t.err).toContain('unknown tier "fp8"');
    expect((await run(model, clean, '--no-reference', '--reference-trace', clean)).code).toBe(2);
  });
});

describe.skipIf(!haveChromium && !process.env.CI)('plumbline replay --html in headless Chromium', () => {
  it('renders the verdict grid with the first fault outlined, and the table', async () => {
    const html = join(dir, 'render.html');
    expect((await run(model, faulty, '--html', html)).code).toBe(1);
    await checkReportPage(html, async (page) => {
      const box = await page.locator('#replay-grid').boundingBox();
      expect(box && box.width > 100 && box.height > 50).toBe(true);
      // embedding, 2 layers × 18 llama stages, output_norm, logits.
      expect(await page.locator('#replay-grid rect.cell').count()).toBe(39);
      expect(await page.locator('#replay-grid rect.cell.fault').count()).toBe(1);
      expect(await page.locator('#replay-grid rect.cell.carried').count()).toBeGreaterThan(5);
      expect(await page.locator('#first-fault').count()).toBe(1);
      expect(await page.locator('#first-fault-row td').first().textContent()).toBe('blk.1.ffn_swiglu');
    });
  });
});
