/**
 * plumbline in a real browser: the esbuild bundle (scripts/bundle-browser.ts)
 * served from localhost with cross-origin isolation, loaded in headless
 * Chromium through playwright-core. The page (page/main.ts) runs a small model
 * on the wasm engine over Web Workers and compares it with what Node computed
 * here. The wasm kernels are bit-identical for any thread count, and the
 * SIMD128 build has no implementation-defined instruction, so the browser's
 * wasm-simd logits must equal Node's bit for bit.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, launchChromium } from '../../scripts/browser/chromium.js';
import { pageSite, type SiteFiles } from '../../scripts/browser/page-site.js';
import { type StaticSite, serveStatic } from '../../scripts/browser/static-server.js';
import { createEngine } from '../../src/engine/engine.js';
import { generate } from '../../src/model/generate.js';
import { syntheticModel } from '../../src/model/synthetic.js';
import { PARITY_OPS } from '../../src/oracle/parity-matrix.js';
import {
  BROWSER_MODEL,
  base64ToF32,
  f32ToBase64,
  GEN_TOKENS,
  type NodeResult,
  type PageResult,
  PROMPT,
} from './case.js';

const PAGE_DIR = new URL('./page/', import.meta.url);

/** Node's side: the case model on the wasm-simd build (2 threads) and on the float64 reference. */
async function nodeResult(model: Uint8Array): Promise<{ json: NodeResult; wasm: Float32Array }> {
  const logits: Record<'wasm' | 'reference', Float32Array> = {
    wasm: new Float32Array(),
    reference: new Float32Array(),
  };
  let wasmTokens: number[] = [];
  for (const backend of ['wasm', 'reference'] as const) {
    const engine = await createEngine({ backend, threads: 2, wasmBuild: 'wasm-simd' });
    try {
      const m = await engine.load(model, { numerics: 'exact' });
      logits[backend] = (await m.forward(PROMPT, { logits: 'all' })).logits;
      if (backend === 'wasm')
        wasmTokens = (await generate(m, [...PROMPT], { maxTokens: GEN_TOKENS, stopAtEog: false })).tokens;
      m.dispose();
    } finally {
      await engine.dispose();
    }
  }
  return {
    json: {
      wasmLogits: f32ToBase64(logits.wasm),
      referenceLogits: f32ToBase64(logits.reference),
      wasmTokens,
    },
    wasm: logits.wasm,
  };
}

/** The bundle, the page (its script bundled with `plumbline` left to the import map) and the case's data. */
async function siteFiles(dir: string, node: NodeResult, model: Uint8Array): Promise<SiteFiles> {
  const files = await pageSite(dir, {
    script: new URL('main.ts', PAGE_DIR).pathname,
    html: new URL('index.html', PAGE_DIR).pathname,
  });
  files.set('/blank.html', new TextEncoder().encode('<!doctype html><title>blank</title>'));
  files.set('/node.json', new TextEncoder().encode(JSON.stringify(node)));
  files.set('/model.gguf', model);
  return files;
}

/**
 * Generous limits: alone here the wasm page takes ~2 s and the WebGPU one ~13 s, but `npm test` runs
 * other files beside this one on the same cores, and SwiftShader computes on them too.
 */
const PAGE_TIMEOUT = 100_000;
const TEST_TIMEOUT = 120_000;

/** Waits for the page's window.plumbline; an error there fails with its message. */
async function pageResult(page: Page): Promise<PageResult> {
  await page.waitForFunction(() => window.plumbline !== undefined, null, { timeout: PAGE_TIMEOUT });
  const r = await page.evaluate(() => window.plumbline!);
  if ('error' in r) throw new Error(`the page failed: ${r.error}`);
  return r;
}

/** Decodes a PNG in the page and counts its pixels: all, not white, and of the pass and fail cell fills. */
function pixelCensus(page: Page, png: Buffer) {
  return page.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const g = new OffscreenCanvas(bmp.width, bmp.height).getContext('2d')!;
    g.drawImage(bmp, 0, 0);
    const d = g.getImageData(0, 0, bmp.width, bmp.height).data;
    const census = { width: bmp.width, height: bmp.height, ink: 0, pass: 0, fail: 0 };
    for (let i = 0; i < d.length; i += 4) {
      const [r, gr, b] = [d[i], d[i + 1], d[i + 2]];
      if (r < 250 || gr < 250 || b < 250) census.ink++;
      if (r === 0xc8 && gr === 0xf0 && b === 0xc8) census.pass++;
      if (r === 0xf4 && gr === 0xc0 && b === 0xc0) census.fail++;
    }
    return census;
  }, png.toString('base64'));
}

// Under CI a missing browser is a failure, not a skip.
describe.runIf(haveChromium || process.env.CI)('in headless Chromium', () => {
  let dir: string;
  let browser: Browser;
  let isolated: StaticSite;
  let plain: StaticSite;
  let nodeWasm: Float32Array;
  let node: NodeResult;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plumbline-browser-'));
    const model = syntheticModel(BROWSER_MODEL);
    ({ json: node, wasm: nodeWasm } = await nodeResult(model));
    const files = await siteFiles(dir, node, model);
    isolated = await serveStatic(files, { isolated: true });
    plain = await serveStatic(files, { isolated: false });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await isolated?.close();
    await plain?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(
    'runs the model on wasm over 2 Web Workers, bit-identical to Node, and renders the parity table',
    async () => {
      const page = await browser.newPage();
      const logs: string[] = [];
      page.on('console', (m) => logs.push(m.text()));
      page.on('pageerror', (e) => logs.push(String(e)));
      try {
        await page.goto(`${isolated.url}/index.html`);
        const r = await pageResult(page).catch((e: Error) => {
          throw new Error(`${e.message}\npage console:\n${logs.join('\n')}`);
        });
        expect(r.crossOriginIsolated).toBe(true);
        const [simd, best] = r.runs;
        expect(simd).toMatchObject({ backend: 'wasm-simd', threads: 2, bitIdentical: true, maxUlp: 0 });
        // Checked here too, not only on the page's word: the bytes that came back are Node's bytes.
        expect(Buffer.from(base64ToF32(simd.logits).buffer).equals(Buffer.from(nodeWasm.buffer))).toBe(true);
        expect(simd.tokens).toEqual(node.wasmTokens);
        expect(simd.referencePass, simd.referenceReason).toBe(true);
        // The best build this browser validates (relaxed SIMD in Chromium): within the f32 forward bound.
        expect(best.backend).toMatch(/^wasm-(relaxed-)?simd$/);
        expect(best.threads).toBe(2);
        expect(best.referencePass, best.referenceReason).toBe(true);
        expect(best.tokens).toEqual(node.wasmTokens);
        if (best.backend === 'wasm-simd') expect(best.bitIdentical).toBe(true);

        expect(r.parity).toHaveLength(1);
        const { rows } = r.parity[0];
        expect(rows.filter((p) => !p.pass)).toEqual([]);
        expect(new Set(rows.map((p) => p.op.split(' ')[0]))).toEqual(new Set(PARITY_OPS));

        const tables = page.locator('#tables');
        const png = await tables.screenshot();
        if (process.env.PLUMBLINE_SCREENSHOT) await writeFile(process.env.PLUMBLINE_SCREENSHOT, png);
        const census = await pixelCensus(page, png);
        const pixels = census.width * census.height;
        expect(pixels).toBeGreaterThan(200 * 200);
        // Text, rules and fills cover well over a tenth of a table's area; a blank capture covers none.
        expect(census.ink / pixels).toBeGreaterThan(0.1);
        expect(census.pass).toBeGreaterThan(0);
        expect(census.fail).toBe(0);
      } finally {
        await page.close();
      }
    },
    TEST_TIMEOUT,
  );

  it('without cross-origin isolation runs on one thread and says why', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${plain.url}/blank.html`);
      // A string, so that vitest's transform leaves the page's dynamic import alone.
      const r = (await page.evaluate(`(async () => {
        const { createEngine } = await import('${plain.url}/plumbline.js');
        const e = await createEngine({ backend: 'wasm', threads: 2 });
        const out = { isolated: crossOriginIsolated, threads: e.threads, reason: e.threadsReason };
        await e.dispose();
        return out;
      })()`)) as { isolated: boolean; threads: number; reason?: string };
      expect(r.isolated).toBe(false);
      expect(r.threads).toBe(1);
      expect(r.reason).toMatch(/cross-origin isolation: COOP same-origin and COEP require-corp/);
    } finally {
      await page.close();
    }
  });

  it(
    'runs the model and the parity matrix on WebGPU (SwiftShader), every op on the GPU',
    async (ctx) => {
      const page = await browser.newPage();
      const logs: string[] = [];
      page.on('console', (m) => logs.push(m.text()));
      page.on('pageerror', (e) => logs.push(String(e)));
      try {
        await page.goto(`${isolated.url}/blank.html`);
        const hasAdapter = await page.evaluate(async () => Boolean(await navigator.gpu?.requestAdapter()));
        // Under CI no adapter is a failure (skipped GPU tests don't count); elsewhere a skip that says why.
        if (!hasAdapter && !process.env.CI) ctx.skip('this Chromium offers no WebGPU adapter');
        await page.goto(`${isolated.url}/index.html?webgpu=1`);
        const r = await pageResult(page).catch((e: Error) => {
          throw new Error(`${e.message}\npage console:\n${logs.join('\n')}`);
        });
        expect(r.webgpuAdapter).toMatch(/swiftshader/);
        const gpu = r.runs.find((x) => x.label === 'webgpu')!;
        expect(gpu.backend).toBe('webgpu');
        // WGSL fixes no rounding (sums reordered, exp and division to a few ULP): judged against the
        // float64 reference at the f32 forward bound, not bit for bit against wasm.
        expect(gpu.referencePass, gpu.referenceReason).toBe(true);
        expect(gpu.tokens).toEqual(node.wasmTokens);
        // A fallback to the CPU would make this a wasm test: every op of the model ran on the GPU.
        expect(Object.entries(gpu.opReport!).filter(([, n]) => n.cpu > 0)).toEqual([]);
        const matrix = r.parity.find((m) => m.backend === 'webgpu')!;
        expect(matrix.rows.filter((p) => !p.pass)).toEqual([]);
        expect(new Set(matrix.rows.map((p) => p.op.split(' ')[0]))).toEqual(new Set(PARITY_OPS));
        // Every case on the GPU, held to the WGSL-derived bounds, but ggml-numerics attention, which
        // promises ggml's CPU bits and so runs on the CPU by design (test/backends/webgpu/parity.test.ts).
        const casesOnCpu = matrix.rows.filter((p) => p.ranOn === 'cpu').map((p) => p.op);
        expect(new Set(casesOnCpu)).toEqual(new Set(['attention (ggml)']));
        const png = await page.locator('#tables').screenshot();
        if (process.env.PLUMBLINE_SCREENSHOT)
          await writeFile(`${process.env.PLUMBLINE_SCREENSHOT}.webgpu.png`, png);
        const census = await pixelCensus(page, png);
        expect(census.ink / (census.width * census.height)).toBeGreaterThan(0.1);
        expect(census.fail).toBe(0);
      } finally {
        await page.close();
      }
    },
    TEST_TIMEOUT,
  );

  it('offers a WebGPU adapter (SwiftShader) to the page', async (ctx) => {
    const page = await browser.newPage();
    try {
      await page.goto(`${isolated.url}/blank.html`);
      const adapter = await page.evaluate(async () => {
        if (!navigator.gpu) return null;
        const a = await navigator.gpu.requestAdapter();
        return a && { vendor: a.info.vendor, architecture: a.info.architecture, features: [...a.features] };
      });
      // Under CI no adapter is a failure (skipped GPU tests don't count); elsewhere a skip that says why.
      if (!adapter && !process.env.CI) ctx.skip('this Chromium offers no WebGPU adapter');
      expect(adapter).not.toBeNull();
      expect(adapter!.architecture).toBe('swiftshader');
    } finally {
      await page.close();
    }
  });
});
