import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { haveChromium } from '../../scripts/browser/chromium.js';
import { progressLine } from '../../src/cli/report-output.js';
import { runCli } from '../helpers/cli.js';
import { checkReportPage } from '../helpers/report-page.js';
import { tinyForward, traceBytes } from '../helpers/tiny-trace.js';

const dir = await mkdtemp(join(tmpdir(), 'plumbline-diff-cli-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

const ref = join(dir, 'ref.safetensors');
const noisy = join(dir, 'noisy.safetensors');
const bad = join(dir, 'bad.safetensors');
const stages = tinyForward();
await writeFile(ref, traceBytes(stages));
await writeFile(noisy, traceBytes(stages, { f32: true }));
await writeFile(
  bad,
  traceBytes(
    tinyForward(undefined, undefined, (n, d) => {
      if (n === 'blk.1.attn_out') d[d.length - 1] *= 1.001;
    }),
    { f32: true, drop: ['blk.2.v_proj'] },
  ),
);

const run = (...argv: string[]) => runCli(['diff', ...argv]);

describe('plumbline diff', () => {
  it('prints the table and no divergence for f32 noise (exit 0)', async () => {
    const r = await run(ref, noisy);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ embedding +\[6, 32\] +pass/m);
    expect(r.out).toContain('no divergence');
  });

  it('prints the first divergence with its growth (exit 1)', async () => {
    const r = await run(ref, bad, '--tier', 'f32');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^>blk\.1\.attn_out .* FAIL .* introduced/m);
    expect(r.out).toContain('first divergence: blk.1.attn_out');
    expect(r.out).toMatch(/^ blk\.2\.v_proj +\[6, 16\] +only in reference/m);
  });

  it('--json prints { tier, firstDivergence, stages }', async () => {
    const r = await run(ref, bad, '--json', '--tier', 'tf32');
    const j = JSON.parse(r.out);
    expect(Object.keys(j)).toEqual(['tier', 'firstDivergence', 'stages']);
    expect(j.tier).toBe('tf32');
    expect(j.stages.find((s: { name: string }) => s.name === 'blk.2.v_proj')).toMatchObject({
      verdict: 'only-reference',
      metrics: null,
    });
  });

  it('rejects bad usage with exit 2', async () => {
    expect((await run(ref)).code).toBe(2);
    expect((await run(ref, bad, '--tier', 'fp8')).code).toBe(2);
    expect((await run(ref, bad, '--map', 'nope')).code).toBe(2);
    expect((await run(ref, bad, '--head-dim', '0')).code).toBe(2);
  });

  it('reports a file that is not a trace as a typed error (exit 1)', async () => {
    const r = await run(ref, join(dir, 'missing.safetensors'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/SafetensorsError/);
  });

  it('shows progress only on a terminal, only for a long diff, and clears it', () => {
    const written: string[] = [];
    const tty = { isTTY: true, write: (s: string) => written.push(s) };
    const p = progressLine(tty, 0);
    p.update(3, 10, 'blk.0.q_proj');
    p.clear();
    expect(written).toEqual(['\r\x1b[Kdiff: 3/10 blk.0.q_proj', '\r\x1b[K']);
    const piped: string[] = [];
    const q = progressLine({ isTTY: false, write: (s: string) => piped.push(s) }, 0);
    q.update(1, 2, 'x');
    q.clear();
    const slow = progressLine(tty, 60_000);
    slow.update(1, 2, 'x');
    expect(piped).toEqual([]);
    expect(written).toHaveLength(2);
  });
});

describe.skipIf(!haveChromium && !process.env.CI)('plumbline diff --html in headless Chromium', () => {
  it('renders the heat map, the charts and the first-divergence marker', async () => {
    const html = join(dir, 'report.html');
    const r = await run(ref, bad, '--html', html);
    expect(r.code).toBe(1);
    const text = await readFile(html, 'utf8');
    expect(text).not.toMatch(/(src|href)="https?:/);
    await checkReportPage(html, async (page) => {
      const box = await page.locator('#heatmap').boundingBox();
      expect(box && box.width > 100 && box.height > 50).toBe(true);
      expect(await page.locator('#heatmap rect.cell').count()).toBe(stages.size);
      expect(await page.locator('#heatmap #first-divergence').count()).toBe(1);
      expect(await page.locator('#first-divergence-row td').first().textContent()).toBe('blk.1.attn_out');
      expect(await page.locator('#chart-nmse path').count()).toBeGreaterThan(0);
      expect(await page.locator('#chart-cosine path').count()).toBeGreaterThan(0);
      // The metric selector recolours the cells from colours computed when the report was written.
      const cell = page.locator('#heatmap rect.cell').first();
      const before = await cell.getAttribute('fill');
      await page.selectOption('#metric', 'nmse');
      expect(await cell.getAttribute('fill')).toBe(await cell.getAttribute('data-fill-nmse'));
      expect(before).toBe(await cell.getAttribute('data-fill-ratio'));
    });
  });
});
