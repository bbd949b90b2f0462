/**
 * The parity matrix as HTML (plumbline parity --html): rows from real runs —
 * wasm, WebGPU where an adapter exists, and the reference engine with one
 * op perturbed (a planted failure) — rendered and loaded in headless Chromium.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium } from '../../scripts/browser/chromium.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { renderParityHtml } from '../../src/oracle/parity-html.js';
import { type ParityOp, type ParityRow, parityMatrix } from '../../src/oracle/parity-matrix.js';
import { runCli } from '../helpers/cli.js';
import { checkReportPage } from '../helpers/report-page.js';
import { webgpuEngine } from '../helpers/webgpu.js';

const OPS: ParityOp[] = ['rms_norm', 'add', 'embedding'];
const RED = 'hsl(0, 70%, 50%)';

const dir = await mkdtemp(join(tmpdir(), 'plumbline-parity-html-'));
const rows: ParityRow[] = [];
/** WebGPU where an adapter exists (SwiftShader here and in CI, where its absence is an error). */
const webgpu = await webgpuEngine();

/** The reference engine with rms_norm's element 5 scaled by 1 + 1e-3: every rms_norm case fails there. */
function perturbedReference(ref: Engine): Engine {
  const rmsNorm: Engine['rmsNorm'] = async (x, w, opts) => {
    const out = await ref.rmsNorm(x, w, opts);
    const data = await out.read();
    out.dispose();
    data[5] *= 1 + 1e-3;
    return ref.tensor(data, out.shape);
  };
  return new Proxy(ref, {
    get(target, prop) {
      if (prop === 'rmsNorm') return rmsNorm;
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as Engine;
}

beforeAll(async () => {
  const wasm = await createEngine({ backend: 'wasm' });
  const reference = await createEngine({ backend: 'reference' });
  try {
    rows.push(...(await parityMatrix(wasm, { ops: OPS })));
    rows.push(...(await parityMatrix(perturbedReference(reference), { ops: OPS })));
  } finally {
    await wasm.dispose();
    await reference.dispose();
  }
  if (webgpu) rows.push(...(await parityMatrix(webgpu, { ops: OPS })));
});

afterAll(async () => {
  await webgpu?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('renderParityHtml', () => {
  it('one grid cell per op × dtype and backend; the planted failure red, passing cells not', () => {
    const html = renderParityHtml(rows);
    expect(html).not.toMatch(/(src|href)="https?:/);
    const failing = rows.filter((r) => !r.pass);
    // The planted fault: both rms_norm shapes on the reference engine, nothing else.
    expect(failing.map((r) => `${r.backend} ${r.op}`)).toEqual(['reference rms_norm', 'reference rms_norm']);
    const cells = [
      ...html.matchAll(
        /<rect class="cell (pass|fail)" data-op="([^"]+)" data-dtype="([^"]+)" data-backend="([^"]+)"[^>]* fill="([^"]+)"/g,
      ),
    ];
    const keys = new Set(rows.map((r) => `${r.op} ${r.dtype} ${r.backend}`));
    expect(cells.length).toBe(keys.size);
    const fail = cells.filter((c) => c[1] === 'fail');
    expect(fail.map((c) => [c[2], c[3], c[4], c[5]])).toEqual([['rms_norm', 'f32', 'reference', RED]]);
    expect(cells.filter((c) => c[1] === 'pass').every((c) => c[5] !== RED)).toBe(true);
    // Every row in the table; the failing ones marked.
    expect(html.match(/<tr class="fail">/g)?.length).toBe(failing.length);
    expect(html.match(/<tr[ >]/g)?.length).toBe(rows.length + 1);
    expect(html).toContain('<div class="banner" id="parity-banner"><b>2 of');
  });

  it('colours bound rows by log ratio: far inside green, near the bound yellow-red', () => {
    const row = rows.find((r) => r.backend.startsWith('wasm') && r.op === 'rms_norm') as ParityRow;
    const at = (worstRatio: number) => {
      const html = renderParityHtml([{ ...row, worstRatio }]);
      return html.match(/<rect class="cell pass"[^>]* fill="hsl\((\d+),/)?.[1];
    };
    expect(at(1e-6)).toBe('120');
    expect(at(1e-2)).toBe('60');
    expect(at(1)).toBe('0');
  });

  it.skipIf(!webgpu)('says where webgpu cases ran', () => {
    const html = renderParityHtml(rows);
    const gpuRows = rows.filter((r) => r.backend === 'webgpu');
    expect(gpuRows.every((r) => r.ranOn === 'webgpu')).toBe(true);
    expect(html.match(/>ran on webgpu</g)?.length).toBe(
      new Set(gpuRows.map((r) => `${r.op} ${r.dtype}`)).size,
    );
    expect(html.match(/<td>webgpu<\/td><td>webgpu<\/td>/g)?.length).toBe(gpuRows.length);
  });

  it('plumbline parity --html writes the report', async () => {
    const file = join(dir, 'cli.html');
    const r = await runCli(['parity', '--backends', 'wasm', '--ops', 'add,rms_norm', '--html', file]);
    expect(r.code).toBe(0);
    expect(r.out.split('\n').at(-1)).toBe(`HTML report: ${file}`);
    const html = await readFile(file, 'utf8');
    expect(html.match(/<rect class="cell pass"/g)?.length).toBe(2);
    expect(html).toContain('id="parity-banner">all 4 cases within their tier');
  });
});

describe.skipIf(!haveChromium && !process.env.CI)('parity HTML in headless Chromium', () => {
  it('renders the grid and the bar chart, the failing cell red, with no network requests', async () => {
    const file = join(dir, 'report.html');
    await writeFile(file, renderParityHtml(rows, { devices: { wasm: 'this CPU' } }));
    await checkReportPage(file, async (page) => {
      for (const id of ['#parity-grid', '#parity-bars']) {
        const box = await page.locator(id).boundingBox();
        expect(box && box.width > 300 && box.height > 50, id).toBe(true);
      }
      const bars = page.locator('#parity-bars rect.bar');
      // One bar per bound-mode cell (rms_norm on each backend; add and embedding compare exactly).
      expect(await bars.count()).toBe(webgpu ? 3 : 2);
      const barBox = await bars.first().boundingBox();
      expect(barBox && barBox.width > 1).toBe(true);
      const failCell = page.locator('#parity-grid rect.cell.fail');
      expect(await failCell.count()).toBe(1);
      expect(await failCell.getAttribute('fill')).toBe(RED);
      expect(await page.locator('#parity-bars rect.bar.fail').getAttribute('fill')).toBe(RED);
      // The table's failing rows, in the shared report style's red.
      const failRows = page.locator('#parity-rows tr.fail');
      expect(await failRows.count()).toBe(2);
      expect(
        await failRows
          .first()
          .locator('td')
          .first()
          .evaluate((td) => getComputedStyle(td).color),
      ).toBe('rgb(170, 0, 0)');
    });
  });
});
