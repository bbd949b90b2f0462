/**
 * Worker thread hosting its own onnxruntime-web instance with
 * `workerData.threads` intra-op threads (see ./onnxruntime.ts: ORT's thread
 * count is fixed once per JS realm). Commands: create, run, read, dispose.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MatmulPeer } from './common.js';
import { createOrtPeerInProcess, type OrtPeerSpec } from './onnxruntime.js';

const threads = (workerData as { threads: number }).threads;
const peers = new Map<number, MatmulPeer>();
let nextId = 0;

function peer(id: number): MatmulPeer {
  const p = peers.get(id);
  if (!p) throw new Error(`no ORT peer ${id}`);
  return p;
}

parentPort!.on('message', async (m: { id: number; cmd: string; args: unknown }) => {
  try {
    let value: unknown;
    let transfer: ArrayBuffer[] = [];
    switch (m.cmd) {
      case 'create': {
        const p = await createOrtPeerInProcess(m.args as OrtPeerSpec, threads);
        const id = nextId++;
        peers.set(id, p);
        value = { id, name: p.name };
        break;
      }
      case 'run':
        await peer(m.args as number).run();
        break;
      case 'read': {
        const y = await peer(m.args as number).read();
        value = y;
        transfer = [y.buffer as ArrayBuffer];
        break;
      }
      case 'dispose':
        await peer(m.args as number).dispose();
        peers.delete(m.args as number);
        break;
      default:
        throw new Error(`unknown command ${m.cmd}`);
    }
    parentPort!.postMessage({ id: m.id, ok: true, value }, transfer);
  } catch (e) {
    parentPort!.postMessage({ id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) });
  }
});
