/**
 * Recurrent scans: the linear scan h_t = a_t·h_{t−1} + b_t, sequential
 * (channels split over threads) vs chunked over time (64 chunks; reduce,
 * carry, fix-up), on 1 and 2 threads of a WorkerPool; and one GRU step
 * (recurrent product + gates, one thread) per structure of U, the int8
 * kernels beside the f32 ones, and GRU scans over 1 and 2 threads.
 *
 * Scan figures: median wall ms and mean process CPU ms per scan, effective GB/s over the 12 bytes
 * each element moves (read a and b, write h), speedup over the sequential
 * scan on one thread. GRU: median µs per step, GFLOPS of the recurrent
 * product (recurrenceFlops in src/ops/gru.ts), time relative to the dense step.
 */
import {
  gruGates,
  gruGatesI8,
  gruMatvec,
  gruMatvecI8,
  gruMatvecScratchBytes,
  gruScanOnPool,
  gruScanScratchBytes,
  type WasmInt8Recurrence,
  type WasmRecurrence,
} from '../src/backends/wasm/gru.js';
import { WasmRuntime } from '../src/backends/wasm/module.js';
import { chunkedScanOnPool, linearScanOnPool, scanChunkScratchBytes } from '../src/backends/wasm/scan.js';
import { GRU_STRUCTURES, recurrenceFlops, recurrenceLayout } from '../src/ops/gru.js';
import { scanChunkLength } from '../src/ops/scan.js';
import { WorkerPool } from '../src/scheduler/pool.js';
import { measure, type SuiteResult } from './lib.js';

function fill(rt: WasmRuntime, p: number, n: number, seed: number, lo: number, hi: number): void {
  const v = rt.f32(p, n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    v[i] = lo + ((s >>> 0) / 2 ** 32) * (hi - lo);
  }
}

/** Median wall ms of `reps` runs, and the process's mean CPU ms per run (every thread: user + system). */
async function median(reps: number, fn: () => Promise<void>): Promise<{ ms: number; cpuMs: number }> {
  await fn();
  const t: number[] = [];
  const c0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  const c = process.cpuUsage(c0);
  return { ms: t.sort((a, b) => a - b)[Math.floor(reps / 2)], cpuMs: (c.user + c.system) / 1000 / reps };
}

const SCAN_SHAPES: [number, number][] = [
  [65536, 1024],
  [65536, 64],
  [65536, 4],
  [4096, 1024],
  [8192, 4096],
];

const GRU_SIZES = [256, 1024, 4096];

export async function scanBench(): Promise<SuiteResult> {
  const rt = await WasmRuntime.create();
  const pools = [await WorkerPool.create({ threads: 1, compiled: rt, memory: rt.memory })];
  pools.push(await WorkerPool.create({ threads: 2, compiled: rt, memory: rt.memory }));
  const rows: (string | number)[][] = [];
  for (const [T, D] of SCAN_SHAPES) {
    const n = T * D;
    const [a, b, h] = [rt.arena.alloc(n * 4), rt.arena.alloc(n * 4), rt.arena.alloc(n * 4)];
    const h0 = rt.arena.alloc(D * 4);
    fill(rt, a, n, 1, 0.9, 1);
    fill(rt, b, n, 2, -1, 1);
    fill(rt, h0, D, 3, -1, 1);
    const L = scanChunkLength(T);
    const scratch = rt.arena.alloc(scanChunkScratchBytes(T, D, L));
    const reps = n >= 2 ** 24 ? 5 : 15;
    let base = 0;
    for (const form of ['sequential', 'chunked'] as const)
      for (const pool of pools) {
        const { ms, cpuMs } = await median(reps, () =>
          form === 'sequential'
            ? linearScanOnPool(pool, a, b, h0, h, T, D)
            : chunkedScanOnPool(pool, a, b, h0, h, scratch, T, D, L),
        );
        if (!base) base = ms;
        rows.push([
          `scan T ${T} D ${D}`,
          `${form}, ${pool.threads} thread(s)`,
          ms,
          cpuMs,
          (n * 12) / ms / 1e6,
          base / ms,
        ]);
      }
    for (const p of [a, b, h, h0, scratch]) rt.arena.release(p);
  }
  for (const p of pools) await p.dispose();

  for (const H of GRU_SIZES) {
    let dense = 0;
    for (const kind of GRU_STRUCTURES) {
      const { sizes } = recurrenceLayout(kind, H);
      const ptr: Record<string, number> = {};
      let seed = 10;
      for (const [name, cnt] of Object.entries(sizes)) {
        ptr[name] = rt.arena.alloc(cnt * 4);
        fill(rt, ptr[name], cnt, seed++, -0.05, 0.05);
      }
      const rec = { kind, H, ...ptr } as WasmRecurrence;
      const [gx, bh, hp, gh, out] = [3 * H, 3 * H, H, 3 * H, H].map((k) => rt.arena.alloc(k * 4));
      fill(rt, gx, 3 * H, 20, -1, 1);
      fill(rt, bh, 3 * H, 21, -0.1, 0.1);
      fill(rt, hp, H, 22, -1, 1);
      const s = rt.arena.alloc(gruMatvecScratchBytes(kind, H) + 4);
      const [m] = await measure(
        [
          {
            name: kind,
            fn: () => {
              gruMatvec(rt, rec, hp, gh, s);
              gruGates(rt, gx, gh, bh, hp, out, H);
            },
          },
        ],
        300,
      );
      if (kind === 'dense') dense = m.seconds;
      rows.push([
        `GRU step H ${H}`,
        kind,
        m.seconds * 1e6,
        '',
        recurrenceFlops(kind, H) / m.seconds / 1e9,
        m.seconds / dense,
      ]);
      for (const p of [...Object.values(ptr), gx, bh, hp, gh, out, s]) rt.arena.release(p);
      {
        // int8: random codes and per-row scales of the same structure (the step's cost does not depend on the values).
        const { sizes, fanIn } = recurrenceLayout(kind, H);
        const owned: number[] = [];
        const arrays = Object.values(sizes).map((cnt) => {
          const q = rt.arena.alloc(cnt);
          for (let i = 0; i < cnt; i++) rt.u8[q + i] = (i * 37 + 11) & 0xff;
          const sc = rt.arena.alloc((cnt / fanIn) * 4);
          fill(rt, sc, cnt / fanIn, 30, 1e-4, 1e-3);
          owned.push(q, sc);
          return [q, sc];
        });
        const rec8: WasmInt8Recurrence =
          kind === 'dense' || kind === 'diagonal'
            ? { kind, H, qu: arrays[0][0], su: arrays[0][1] }
            : kind === 'monarch'
              ? { kind, H, q1: arrays[0][0], s1: arrays[0][1], q2: arrays[1][0], s2: arrays[1][1] }
              : { kind, H, qw: arrays[0][0], sw: arrays[0][1] };
        const [gx8, gh8] = [3 * H, 3 * H].map((k) => rt.arena.alloc(k * 4));
        fill(rt, gx8, 3 * H, 31, -1, 1);
        const [q0, q1] = [rt.arena.alloc(H), rt.arena.alloc(H)];
        const s8 = rt.arena.alloc(gruMatvecScratchBytes(kind, H) + 4);
        const [m8] = await measure(
          [
            {
              name: `${kind} int8`,
              fn: () => {
                gruMatvecI8(rt, rec8, q0, 0.01, gh8, s8);
                gruGatesI8(rt, gx8, gh8, 0, q0, 0.01, q1, H);
              },
            },
          ],
          300,
        );
        rows.push([
          `GRU step H ${H}`,
          `${kind} int8`,
          m8.seconds * 1e6,
          '',
          recurrenceFlops(kind, H) / m8.seconds / 1e9,
          m8.seconds / dense,
        ]);
        for (const p of [...owned, gx8, gh8, q0, q1, s8]) rt.arena.release(p);
      }
    }
  }
  // The GRU scan over a pool (product split by units, gates by elements, two pool rounds per step).
  const gruPools = await Promise.all(
    [1, 2].map((threads) => WorkerPool.create({ threads, compiled: rt, memory: rt.memory })),
  );
  for (const [kind, H] of [
    ['dense', 1024],
    ['monarch', 4096],
    ['butterfly', 4096],
  ] as const) {
    const T = 16;
    const { sizes } = recurrenceLayout(kind, H);
    const ptr: Record<string, number> = {};
    let seed = 40;
    for (const [name, cnt] of Object.entries(sizes)) {
      ptr[name] = rt.arena.alloc(cnt * 4);
      fill(rt, ptr[name], cnt, seed++, -0.05, 0.05);
    }
    const rec = { kind, H, ...ptr } as WasmRecurrence;
    const [gx, hs] = [rt.arena.alloc(T * 3 * H * 4), rt.arena.alloc(T * H * 4)];
    fill(rt, gx, T * 3 * H, 41, -1, 1);
    const scratch = rt.arena.alloc(gruScanScratchBytes(kind, H));
    let one = 0;
    for (const pool of gruPools) {
      const { ms, cpuMs } = await median(5, () => gruScanOnPool(pool, rt, rec, gx, 0, 0, hs, T, scratch));
      one ||= ms;
      rows.push([
        `GRU scan T ${T} H ${H}`,
        `${kind}, ${pool.threads} thread(s)`,
        ms,
        cpuMs,
        (T * recurrenceFlops(kind, H)) / ms / 1e6,
        one / ms,
      ]);
    }
    for (const p of [...Object.values(ptr), gx, hs, scratch]) rt.arena.release(p);
  }
  for (const p of gruPools) await p.dispose();

  return {
    suite: 'scan',
    notes: [
      `wasm build: ${rt.build}. Scan rows: wall ms per scan | process CPU ms per scan (all threads) | GB/s (12 B/element) | speedup over the sequential scan on 1 thread.`,
      'GRU step rows (one thread): µs per step | GFLOPS of the recurrent product | time / dense f32 time (int8 rows: the int8 kernels, random codes).',
      'GRU scan rows: wall ms per 16-step scan over a pool | CPU ms | GFLOPS | speedup over 1 thread.',
      'The chunked scan does ~2x the memory traffic of the sequential one (the reduce pass reads a and b, the fix-up re-runs the chunk);',
      'it pays off where D is too small to split channels over threads.',
    ],
    header: ['case', 'variant', 'ms | µs', 'CPU ms', 'GB/s | GFLOPS', 'speedup | ratio'],
    rows,
  };
}
