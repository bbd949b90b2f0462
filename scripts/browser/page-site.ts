/**
 * A page that uses plumbline, as the files of a static site: the browser
 * bundle (../bundle-browser.ts), the page's script bundled with `plumbline`
 * left to the page's import map, and its HTML. The browser test and the
 * browser bench each serve one (static-server.ts) to Chromium (chromium.ts).
 */
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { BROWSER_ESM, bundleBrowser } from '../bundle-browser.js';

/** URL path → bytes, or a file to read. */
export type SiteFiles = Map<string, string | Uint8Array>;

/**
 * Writes the bundles into `dir`; serves them with `html` (a file, or its
 * bytes) as /index.html and `script` (a file) bundled as /main.js.
 */
export async function pageSite(
  dir: string,
  page: { script: string; html: string | Uint8Array },
): Promise<SiteFiles> {
  const files: SiteFiles = new Map();
  for (const f of await bundleBrowser(dir)) files.set(`/${f.slice(dir.length + 1)}`, f);
  await esbuild.build({
    ...BROWSER_ESM,
    entryPoints: [page.script],
    outfile: join(dir, 'main.js'),
    external: ['plumbline'],
  });
  files.set('/main.js', join(dir, 'main.js'));
  files.set('/index.html', page.html);
  return files;
}
