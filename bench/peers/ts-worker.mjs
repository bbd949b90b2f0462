// Entry for worker threads that run TypeScript: Node 20 does not apply the
// parent's `--import tsx` hooks to a worker's own entry module, so register
// tsx here, then load the real entry (workerData.entry, a file URL).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
