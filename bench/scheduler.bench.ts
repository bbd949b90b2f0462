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
import { type Measured, measure, type SuiteResult } from './lib.js';

const REPEAT = 200; // ops per measured call: keeps tinybench's per-sample overhead out

async function opsPerCall(name: string, op: () => Promise<unknown>, timeMs: number): Promise<Measured> {
  const [m] = await measure(
    [
      {
        name,
        repeat: REPEAT,
        fn: async () => {
          for (let r = 0; r < REPEAT; r++) await op();
        },
      },
    ],
    timeMs,
  );
  return m;
}

/** A worker that echoes every message: the cost of a postMessage round trip, without comlink. */
async function echoRoundTrip(timeMs: number): Promise<Measured> {
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
    return await opsPerCall('postMessage round trip (bare worker)', ping, timeMs);
  } finally {
    await w.terminate();
  }
}

export async function schedulerBench(timeMs = 600): Promise<SuiteResult> {
  const rt = await WasmRuntime.create();
  const cores = availableParallelism();
  const rows: (string | number)[][] = [];
  const add = (path: string, threads: number, m: Measured) =>
    rows.push([path, String(threads), m.seconds * 1e6, m.rme]);

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
        add(path, pool.threads, await opsPerCall(path, () => pool.run('noop', noopEverywhere), timeMs));
        if (threads === 2 && spinMicros) {
          const comlink = 'callOnWorker(): one comlink call to 1 worker';
          add(comlink, 2, await opsPerCall(comlink, () => pool.callOnWorker(1, 'noop', [0]), timeMs));
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
      'Empty op (the noop kernel) on every thread; microseconds per op from publishing the job until every thread is done,',
      'the calling thread doing its own share. "spin then wait": workers and the caller spin up to 100 us (an adaptive',
      'budget) before Atomics.wait / Atomics.waitAsync. Threads above the core count oversubscribe the machine.',
    ],
    header: ['path', 'threads', 'us/op', 'rme %'],
    rows,
  };
}
