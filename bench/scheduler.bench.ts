/**
 * Per-op dispatch overhead of the worker pool: an empty kernel (`noop`) run on
 * every thread, so only the fan-out and the wait for completion are measured.
 * The data plane (a job in shared memory, Atomics) beside the control plane
 * (one comlink call per op) and a bare postMessage round trip to a worker.
 *
 * Every case runs at once and the timed batches take turns, so that all see
 * the same load: on a shared machine a cross-thread hand-off needs both
 * threads on a core at the same moment, and its cost swings 10x with the load.
 */
import { availableParallelism, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { WasmRuntime } from '../src/backends/wasm/module.js';
import { WorkerPool } from '../src/scheduler/pool.js';
import type { SuiteResult } from './lib.js';

const BATCH = 200; // awaited ops per timed batch

interface Case {
  path: string;
  threads: number;
  op: () => Promise<unknown>;
  /** Seconds per op, one entry per batch. */
  perOp: number[];
}

/** A worker that echoes every message: a postMessage round trip without comlink. */
function echoWorker(): { ping: () => Promise<void>; stop: () => Promise<number> } {
  const w = new Worker(
    "const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));",
    { eval: true },
  );
  let resolve: (() => void) | undefined;
  w.on('message', () => resolve?.());
  return {
    ping: () =>
      new Promise<void>((r) => {
        resolve = r;
        w.postMessage(0);
      }),
    stop: () => w.terminate(),
  };
}

export async function schedulerBench(timeMs = 4000): Promise<SuiteResult> {
  const rt = await WasmRuntime.create();
  const cores = availableParallelism();
  const pool = (threads: number, spinMicros?: number) =>
    WorkerPool.create({ threads, compiled: rt, memory: rt.memory, spinMicros });
  const noop = () => [0];
  const pools: WorkerPool[] = [];
  const cases: Case[] = [];
  const add = (path: string, threads: number, op: () => Promise<unknown>) =>
    cases.push({ path, threads, op, perOp: [] });

  const one = await pool(1);
  pools.push(one);
  add('run(): calling thread only (no workers)', 1, () => one.run('noop', noop));
  for (const threads of new Set([2, Math.min(4, cores)])) {
    const spin = await pool(threads);
    const block = await pool(threads, 0);
    pools.push(spin, block);
    add('run(): Atomics job, spin then wait', threads, () => spin.run('noop', noop));
    add('run(): Atomics job, no spin (always Atomics.wait)', threads, () => block.run('noop', noop));
  }
  const viaComlink = await pool(2);
  pools.push(viaComlink);
  add('callOnWorker(): one comlink call to 1 worker', 2, () => viaComlink.callOnWorker(1, 'noop', [0]));
  const echo = echoWorker();
  add('postMessage round trip (bare worker, no comlink)', 2, echo.ping);

  try {
    for (const c of cases) for (let i = 0; i < BATCH; i++) await c.op(); // warm-up
    const end = performance.now() + timeMs;
    while (performance.now() < end || cases[0].perOp.length < 5) {
      for (const c of cases) {
        const t0 = performance.now();
        for (let i = 0; i < BATCH; i++) await c.op();
        c.perOp.push((performance.now() - t0) / 1000 / BATCH);
      }
    }
  } finally {
    await echo.stop();
    for (const p of pools) await p.dispose();
  }

  const rows = cases.map((c) => {
    const t = [...c.perOp].sort((a, b) => a - b);
    return [c.path, String(c.threads), t[t.length >> 1] * 1e6, t[0] * 1e6];
  });
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  return {
    suite: 'scheduler',
    notes: [
      `${rt.build}; ${cores} cores; load average ${load} (other processes share these cores).`,
      `Empty op (the noop kernel) on every thread, awaited; microseconds per op over batches of ${BATCH} ops, the cases`,
      'taking turns: the median batch (typical under the current load) and the best (both threads had a core).',
      '"spin then wait": idle workers and the waiting caller spin (adaptive budget, up to 100 us) before blocking;',
      '"no spin": both block in Atomics.wait at once, so every op pays two thread wake-ups.',
    ],
    header: ['path', 'threads', 'us/op median', 'us/op best batch'],
    rows,
  };
}
