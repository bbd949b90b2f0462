/**
 * The model bench in a browser: big-q4_k.gguf on plumbline's browser bundle
 * (scripts/bundle-browser.ts) in headless Chromium (the system's, through
 * playwright-core; CHROMIUM_PATH), served from localhost with COOP/COEP so
 * the wasm engine gets its Web Workers. Prompt (128 tokens) and decode
 * (64 tokens) tokens/s with 1 and 2 threads, both numerics, on the wasm-simd
 * and relaxed-SIMD builds, each beside wllama (llama.cpp in wasm, measured in
 * headless Chromium on this machine) and beside Node running the same
 * measurement (model-run.ts) in the same run, configuration by configuration.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { CHROMIUM_PATH, haveChromium, launchChromium } from '../scripts/browser/chromium.js';
import { pageSite } from '../scripts/browser/page-site.js';
import { serveStatic } from '../scripts/browser/static-server.js';
import type { WasmBuild } from '../src/backends/wasm/module.js';
import type { Numerics } from '../src/model/model.js';
import type { PageEngine } from './browser-page/main.js';
import type { SuiteResult } from './lib.js';
import { figures, MODEL, type ModelFigures, measureModelInNodeBuild, type Phase } from './model.bench.js';
import { DECODE, PROMPT, RUNS, WLLAMA } from './model-run.js';
import { descendantsCpuSeconds, haveProcCpu } from './proc-cpu.js';

const PAGE_SCRIPT = new URL('./browser-page/main.ts', import.meta.url).pathname;
const HTML = new TextEncoder().encode(
  '<!doctype html><meta charset="utf-8"><title>plumbline model bench</title>' +
    '<script type="importmap">{ "imports": { "plumbline": "./plumbline.js" } }</script>' +
    '<script type="module" src="./main.js"></script>',
);
const BUILDS: WasmBuild[] = ['wasm-simd', 'wasm-relaxed-simd'];

/** CPU seconds of Chromium's processes (browser, renderer with its Web Workers, GPU): NaN without /proc. */
const browserCpu = () => (haveProcCpu ? descendantsCpuSeconds((cmd) => cmd.includes('chrom')) : Number.NaN);

/** One page call, timed by the page (wall) and by /proc (CPU). */
async function phase(page: Page, call: 'prefill' | 'decode'): Promise<Phase> {
  const c0 = browserCpu();
  // A string, so that no transpiler helper leaks into the page.
  const wall = (await page.evaluate(`window.modelBench.${call}()`)) as number;
  return { wall, cpu: browserCpu() - c0 };
}

/** One configuration in the page: load, a warm-up run, RUNS timed runs. */
async function measureInPage(
  page: Page,
  opts: { threads: number; numerics: Numerics; wasmBuild: WasmBuild },
): Promise<ModelFigures | string> {
  let engine: PageEngine;
  try {
    engine = (await page.evaluate(`window.modelBench.load(${JSON.stringify(opts)})`)) as PageEngine;
  } catch (e) {
    return `not measured: ${(e as Error).message.split('\n')[0]}`;
  }
  if (!engine.crossOriginIsolated || engine.threads !== opts.threads)
    throw new Error(
      `the page runs ${engine.threads} thread(s), not ${opts.threads} (crossOriginIsolated ${engine.crossOriginIsolated}: ${engine.threadsReason ?? ''})`,
    );
  try {
    const runs: { prompt: Phase; decode: Phase }[] = [];
    for (let i = 0; i <= RUNS; i++) {
      const run = { prompt: await phase(page, 'prefill'), decode: await phase(page, 'decode') };
      if (i > 0) runs.push(run); // run 0 warms up: JIT, worker spin-up
    }
    return figures(engine.threads, engine.backend, runs);
  } finally {
    await page.evaluate('window.modelBench.dispose()');
  }
}

const HEADER = [
  'where',
  'build',
  'threads',
  'numerics',
  'prompt tok/s',
  'decode tok/s',
  'prompt (CPU)',
  'decode (CPU)',
  'prompt × wllama',
  'decode × wllama',
  'prompt browser/Node',
  'decode browser/Node',
];

function row(
  where: string,
  build: WasmBuild,
  threads: number,
  numerics: Numerics,
  f: ModelFigures | string,
  node?: ModelFigures | string,
): (string | number)[] {
  const head = [where, build, String(threads), numerics];
  if (typeof f === 'string') return [...head, f, '', '', '', '', '', '', ''];
  const w = WLLAMA[threads];
  const vsNode = node && typeof node !== 'string';
  return [
    ...head,
    f.prompt,
    f.decode,
    f.promptCpu,
    f.decodeCpu,
    f.prompt / w.prompt,
    f.decode / w.decode,
    vsNode ? f.prompt / node.prompt : '',
    vsNode ? f.decode / node.decode : '',
  ];
}

export async function browserBench(): Promise<SuiteResult> {
  const absent = !haveChromium
    ? `no Chromium at ${CHROMIUM_PATH} (set CHROMIUM_PATH; nothing is downloaded)`
    : !existsSync(MODEL)
      ? `${MODEL} is absent`
      : undefined;
  if (absent) return { suite: 'browser', notes: [`${absent}: nothing measured`], header: HEADER, rows: [] };

  const dir = await mkdtemp(join(tmpdir(), 'plumbline-browser-bench-'));
  const files = await pageSite(dir, { script: PAGE_SCRIPT, html: HTML });
  files.set('/model.gguf', MODEL);
  const site = await serveStatic(files, { isolated: true });
  const browser = await launchChromium();
  const rows: (string | number)[][] = [];
  let chromium = '';
  try {
    chromium = browser.version();
    const page = await browser.newPage();
    const logs: string[] = [];
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(String(e)));
    await page.goto(`${site.url}/index.html`);
    await page.waitForFunction('window.modelBench !== undefined', null, { timeout: 60_000 }).catch((e) => {
      throw new Error(`${(e as Error).message}\npage console:\n${logs.join('\n')}`);
    });
    // Browser and Node one configuration after the other, so that both see the same load on this shared machine.
    for (const wasmBuild of BUILDS)
      for (const threads of [1, 2])
        for (const numerics of ['exact', 'ggml'] as Numerics[]) {
          const opts = { threads, numerics, wasmBuild };
          const inPage = await measureInPage(page, opts);
          const inNode = await measureModelInNodeBuild(opts);
          rows.push(row('Chromium', wasmBuild, threads, numerics, inPage, inNode));
          rows.push(row('Node', wasmBuild, threads, numerics, inNode));
        }
  } finally {
    await browser.close();
    await site.close();
    await rm(dir, { recursive: true, force: true });
  }
  return {
    suite: 'browser',
    notes: [
      `big-q4_k.gguf in headless Chromium ${chromium} (cross-origin isolated page, wasm engine on Web Workers) and in Node ${process.version}, configuration by configuration in one run.`,
      `Both run model-run.ts: ${PROMPT}-token prompt in one pass, then ${DECODE} greedy decode passes; median of ${RUNS} runs after a warm-up; the page times each phase with performance.now().`,
      'wllama 3.8.1 (llama.cpp in wasm) ran the same file on this machine in headless Chromium; × wllama = wall tok/s / wllama (target ≥ 1.2).',
      "(CPU): tokens per (CPU seconds / threads) — Chromium's from /proc over all its processes (renderer with the workers, browser, GPU), Node's from process.cpuUsage; the rate if every thread had a core to itself (the machine is shared; wall time counts the waits).",
      'Node 20 validates relaxed SIMD only with --experimental-wasm-relaxed-simd: its relaxed rows run in a child node with that flag.',
      `load average at the end: ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')} (the machine is shared)`,
    ],
    header: HEADER,
    rows,
  };
}
