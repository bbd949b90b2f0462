/**
 * A static server for the browser test and bench, on 127.0.0.1 (a secure context, as
 * WebGPU and SharedArrayBuffer need). `isolated` sends the headers that make
 * a page cross-origin isolated — COOP same-origin and COEP require-corp —
 * without which a browser gives no SharedArrayBuffer and so no threads.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
};

export interface StaticSite {
  /** The origin, e.g. http://127.0.0.1:40123 */
  url: string;
  close(): Promise<void>;
}

/** Serves `files` (URL path → bytes, or a file to read) and nothing else. */
export async function serveStatic(
  files: ReadonlyMap<string, Uint8Array | string>,
  opts: { isolated: boolean },
): Promise<StaticSite> {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const entry = files.get(path);
    if (entry === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = typeof entry === 'string' ? await readFile(entry) : entry;
      res.writeHead(200, {
        'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
        'content-length': body.byteLength,
        'cache-control': 'no-store',
        ...(opts.isolated
          ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }
          : {}),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
