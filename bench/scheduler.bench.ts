/**
 * Per-op dispatch overhead of the worker pool: an empty kernel (`noop`) run on
 * every thread, so only the fan-out and the wait for completion are measured.
 * The data plane (a job in shared memory, Atomics) beside the control plane
 * (one comlink call per op) and a bare postMessage round trip to a worker.
 */
import { availableParallelism, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { WasmRuntime } from '../src/backends/wasm/module.js';
import { WorkerPool } from '../src/scheduler/pool.js';
import type { SuiteResult } from './lib.js';

const BATCH = 200; // ops per timed batch

interface OpTime {
  /** Median over batches, seconds per op: the typical cost under the machine's current load. */
  median: number;
  /** Best batch, seconds per op: the cost while no other process took the cores. */
  best: number;
}

/**
 * Times batches of BATCH awaited ops for about `timeMs`. Both the median and
 * the best batch are reported: on a shared machine the two can differ by 10x,
 * because a cross-thread hand-off needs both threads on a core at once.
 */
async function opTime(op: () => Promise<unknown>, timeMs: number): Promise<OpTime> {
  for (let i = 0; i < BATCH; i++) await op(); // warm-up
  const perOp: number[] = [];
  const end = performance.now() + timeMs;
  while (performance.now() < end || perOp.length < 5) {
    const t0 = performance.now();
    for (let i = 0; i < BATCH; i++) await op();
    perOp.push((performance.now() - t0) / 1000 / BATCH);
  }
  perOp.sort((a, b) => a - b);
  return { median: perOp[perOp.length >> 1], best: perOp[0] };
}

/** A worker that echoes every message: the cost of a postMessage round trip, without comlink. */
async function echoRoundTrip(timeMs: number): Promise<OpTime> {
  const w = new Worker(
    "const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));",
    { eval: true },
  );
  let resolve: (() => void) | undefined;
  w.on('message', () => resolve?.());
  const ping = () =>
    new Promise<void>((r) => {
      resolve = r;
      w.postMessage(0);
    });
  await ping();
  try {
    return await opTime(ping, timeMs);
  } finally {
    await w.terminate();
  }
}

export async function schedulerBench(timeMs = 1000): Promise<SuiteResult> {
  const rt = await WasmRuntime.create();
  const cores = availableParallelism();
  const rows: (string | number)[][] = [];
  const add = (path: string, threads: number, m: OpTime) =>
    rows.push([path, String(threads), m.median * 1e6, m.best * 1e6]);

  const noopEverywhere = () => [0];
  for (const threads of [1, ...new Set([2, Math.min(4, cores)])]) {
    for (const spinMicros of threads === 1 ? [0] : [100, 0]) {
      const pool = await WorkerPool.create({ threads, compiled: rt, memory: rt.memory, spinMicros });
      try {
        const path =
          threads === 1
            ? 'run(): calling thread only (no workers)'
            : spinMicros
              ? 'run(): Atomics job, workers spin then wait'
              : 'run(): Atomics job, workers always blocked in Atomics.wait';
        add(path, pool.threads, await opTime(() => pool.run('noop', noopEverywhere), timeMs));
        if (threads === 2 && spinMicros) {
          const comlink = 'callOnWorker(): one comlink call to 1 worker';
          add(comlink, 2, await opTime(() => pool.callOnWorker(1, 'noop', [0]), timeMs));
        }
      } finally {
        await pool.dispose();
      }
    }
  }
  add('postMessage round trip (bare worker, no comlink)', 2, await echoRoundTrip(timeMs));

  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  return {
    suite: 'scheduler',
    notes: [
      `${rt.build}; ${cores} cores; load average ${load} at the end of the run (other processes share these cores).`,
      `Empty op (the noop kernel) on every thread, awaited; microseconds per op over batches of ${BATCH} ops (median and best batch),`,
      'the calling thread doing its own share. "spin then wait": workers and the caller spin up to 100 us (an adaptive',
      'budget) before Atomics.wait / Atomics.waitAsync. Threads above the core count oversubscribe the machine.',
    ],
    header: ['path', 'threads', 'us/op median', 'us/op best batch'],
    rows,
  };
}
