/**
 * A browser build of plumbline: `npm run bundle:browser -- [outdir]`
 * (default dist/browser) writes, side by side,
 *   plumbline.js   src/index.ts as one ES module
 *   worker.js      the pool worker (spawn.ts starts `./worker.js` beside the bundle)
 *   plumbline.{simd,relaxed}.wasm   from build/ (run `npm run build:wasm` first)
 * Serve the folder from any static server; threads need the page to be
 * cross-origin isolated (COOP same-origin, COEP require-corp).
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions, Plugin } from 'esbuild';
import * as esbuild from 'esbuild';
import { BUILD_FILES } from '../src/backends/wasm/module.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The wasm builds lie beside the bundle, not in ../../../build/ as in the source tree. */
const wasmBesideBundle: Plugin = {
  name: 'plumbline-wasm-beside-bundle',
  setup(build) {
    build.onResolve({ filter: /[/\\]build-url\.js$/ }, () => ({
      path: 'build-url',
      namespace: 'plumbline-browser',
    }));
    build.onLoad({ filter: /.*/, namespace: 'plumbline-browser' }, () => ({
      contents: "export function buildFileUrl(file) { return new URL('./' + file, import.meta.url); }",
      loader: 'js',
    }));
  },
};

/** One ES module for the browser: the bundle's and the pages' that use it (./browser/page-site.ts). */
export const BROWSER_ESM: BuildOptions = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  // Top-level await (default-runtime.ts) and the wasm/worker APIs need a 2022 browser anyway.
  target: 'es2022',
  logLevel: 'warning',
};

/** Bundles into `outdir`; returns the files written (absolute paths). */
export async function bundleBrowser(outdir = join(root, 'dist', 'browser')): Promise<string[]> {
  const out = resolve(outdir);
  await mkdir(out, { recursive: true });
  const common: BuildOptions = {
    ...BROWSER_ESM,
    // Node built-ins are only imported dynamically, on Node-only paths (files, worker_threads);
    // Dawn's Node binding (the optional dependency `webgpu`) likewise: a browser has navigator.gpu.
    external: ['node:*', 'webgpu'],
    sourcemap: true,
    plugins: [wasmBesideBundle],
  };
  await esbuild.build({
    ...common,
    entryPoints: [join(root, 'src/index.ts')],
    outfile: join(out, 'plumbline.js'),
  });
  await esbuild.build({
    ...common,
    entryPoints: [join(root, 'src/scheduler/worker.ts')],
    outfile: join(out, 'worker.js'),
  });
  const written = [join(out, 'plumbline.js'), join(out, 'worker.js')];
  for (const f of Object.values(BUILD_FILES)) {
    await copyFile(join(root, 'build', f), join(out, f));
    written.push(join(out, f));
  }
  return written;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const files = await bundleBrowser(process.argv[2]);
  for (const f of files) console.log(f);
}
