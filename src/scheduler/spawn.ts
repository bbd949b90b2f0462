/**
 * Starting one pool worker: Node worker_threads or a browser module Worker,
 * behind one handle. The published package starts dist/scheduler/worker.js.
 * Under vitest and tsx the sources are TypeScript, which Node 20 cannot run
 * (and tsx's loader does not reach a worker's entry there): a `.ts` entry is
 * bundled once per process by esbuild (a devDependency) into an ES module
 * data: URL, which starts in ~25 ms where a tsx-registered worker takes ~300.
 */
import { type Remote, wrap } from 'comlink';
import type { WorkerApi } from './protocol.js';

export const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

export interface WorkerHandle {
  readonly remote: Remote<WorkerApi>;
  /** Resolves with why, once the worker has died (exited, crashed, failed to load). */
  readonly exited: Promise<string>;
  terminate(): Promise<void>;
  /** Node: whether the worker keeps the process alive (no-ops in browsers). */
  ref(): void;
  unref(): void;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** The worker entry next to this module: worker.ts when running from source, worker.js from dist/. */
export function defaultWorkerUrl(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);
}

export async function spawnWorker(url?: URL | string): Promise<WorkerHandle> {
  return isNode ? spawnNode(url ? new URL(url) : defaultWorkerUrl()) : spawnBrowser(url);
}

const bundles = new Map<string, Promise<URL>>();

function bundleSource(entry: URL): Promise<URL> {
  let b = bundles.get(entry.href);
  if (!b) {
    b = (async () => {
      const name = 'esbuild'; // hidden from bundlers: source mode only
      const esbuild = (await import(/* @vite-ignore */ name)) as typeof import('esbuild');
      const { fileURLToPath } = await import('node:url');
      const out = await esbuild.build({
        entryPoints: [fileURLToPath(entry)],
        bundle: true,
        format: 'esm',
        platform: 'node',
        target: 'node20',
        write: false,
        logLevel: 'silent',
      });
      const js = out.outputFiles[0].text;
      return new URL(`data:text/javascript;base64,${Buffer.from(js).toString('base64')}`);
    })();
    bundles.set(entry.href, b);
  }
  return b;
}

async function spawnNode(entry: URL): Promise<WorkerHandle> {
  const wt = 'node:worker_threads';
  const { Worker } = (await import(/* @vite-ignore */ wt)) as typeof import('node:worker_threads');
  const { default: nodeEndpoint } = await import('comlink/dist/esm/node-adapter.mjs');
  // Without execArgv the worker inherits the process's flags (e.g. --experimental-wasm-relaxed-simd).
  const w = new Worker(entry.pathname.endsWith('.ts') ? await bundleSource(entry) : entry);
  let lastError: string | undefined;
  w.on('error', (e) => {
    lastError = describe(e);
  });
  const exited = new Promise<string>((resolve) =>
    w.once('exit', (code) => resolve(lastError ?? `the worker exited with code ${code}`)),
  );
  return {
    remote: wrap<WorkerApi>(nodeEndpoint(w)),
    exited,
    terminate: async () => {
      await w.terminate();
    },
    ref: () => w.ref(),
    unref: () => w.unref(),
  };
}

function spawnBrowser(url?: URL | string): WorkerHandle {
  // The literal `new Worker(new URL('./worker.js', import.meta.url), ...)` form
  // is what bundlers (Vite, webpack) recognize and rewrite.
  const w = url
    ? new Worker(url, { type: 'module' })
    : new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  // The worker catches everything a job can throw, so an error event here is a
  // load failure or a crash: treat it as a death.
  const exited = new Promise<string>((resolve) => {
    w.addEventListener('error', (e) => resolve(`the worker failed: ${e.message || 'error event'}`));
    w.addEventListener('messageerror', () => resolve('the worker could not receive a message'));
  });
  return {
    remote: wrap<WorkerApi>(w),
    exited,
    terminate: async () => w.terminate(),
    ref: () => {},
    unref: () => {},
  };
}
