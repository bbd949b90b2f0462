/**
 * Attention kernels (assembly/attention), over the worker pool like the engine
 * runs them:
 *
 * - decode (n_q = 1) over a 4096-position KV cache: ms per call and GB/s of
 *   K and V read, against this machine's wasm read bandwidth for the same
 *   thread count (./peers/machine.ts; the target is ≥ 60% of it).
 *   "hot": the same cache every call (it may sit in L3); "cold": calls rotate
 *   over copies totalling ≥ 128 MiB, so K and V stream from DRAM as in a real
 *   decode step over a whole model. Shapes: big-q4_k's (16 heads over 4 KV
 *   heads, head_dim 128: 4 query heads per K/V row, 2 flop per f32 byte) and
 *   plain multi-head (8/8, 0.5 flop per f32 byte).
 * - prefill at n_q = 128: a fresh prompt (n_kv = 128) and a chunk after 3968
 *   cached positions (n_kv = 4096), causal: GFLOP/s counting 4·head_dim per
 *   (query head, visible position).
 * - peer: the same decode in plain JS (f32 loops over Float32Array), 1 thread.
 *
 * cpu ms (1-thread rows) is this process's CPU time per call: on a shared
 * machine it estimates the uncontended time when wall ms is inflated.
 */
import { attentionOnPool } from '../src/backends/wasm/attention.js';
import { compileKernels, WasmRuntime } from '../src/backends/wasm/module.js';
import { type AttentionNumerics, type KvType, validateAttention } from '../src/ops/attention.js';
import { WorkerPool } from '../src/scheduler/pool.js';
import { f32ToF16 } from '../src/types/half.js';
import { measure, type SuiteResult } from './lib.js';
import { randomF32 } from './peers/common.js';
import { measureReadBandwidth } from './peers/machine.js';

const MIB = 1 << 20;
const N_CTX = 4096;
const HEAD_DIM = 128;
const SHAPES = [
  { label: '16/4 heads', nHead: 16, nHeadKv: 4 },
  { label: '8/8 heads', nHead: 8, nHeadKv: 8 },
];
const KINDS: { kv: KvType; numerics: AttentionNumerics }[] = [
  { kv: 'f32', numerics: 'exact' },
  { kv: 'f16', numerics: 'exact' },
  { kv: 'f16', numerics: 'ggml' },
];

function dims(
  nQ: number,
  nKv: number,
  nHead: number,
  nHeadKv: number,
  kv: KvType,
  numerics: AttentionNumerics,
) {
  return validateAttention(
    { shape: [nQ, nHead, HEAD_DIM], type: { name: 'f32' } },
    { shape: [nKv, nHeadKv, HEAD_DIM], type: { name: kv } },
    { shape: [nKv, nHeadKv, HEAD_DIM], type: { name: kv } },
    { numerics },
  );
}

/** K or V values N(0, 1)-like, stored as `kv`. */
function kvBytes(n: number, kv: KvType, seed: number): Uint8Array {
  const x = randomF32(n, seed);
  if (kv === 'f32') return new Uint8Array(x.buffer);
  const h = new Uint16Array(n);
  for (let i = 0; i < n; i++) h[i] = f32ToF16(x[i]);
  return new Uint8Array(h.buffer);
}

/** Process CPU seconds per call of fn (fn runs on this thread only). */
async function cpuSeconds(fn: () => Promise<void>, calls: number): Promise<number> {
  const c0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) await fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6 / calls;
}

/** Decode attention over f32 Float32Arrays, the way one writes it without a library. */
function plainJsDecode(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  out: Float32Array,
  nKv: number,
  nHead: number,
  nHeadKv: number,
  scale: number,
): void {
  const rep = nHead / nHeadKv;
  const s = new Float32Array(nKv);
  for (let h = 0; h < nHead; h++) {
    const hk = Math.floor(h / rep);
    let m = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < nKv; j++) {
      let dot = 0;
      const ko = (j * nHeadKv + hk) * HEAD_DIM;
      for (let d = 0; d < HEAD_DIM; d++) dot += q[h * HEAD_DIM + d] * k[ko + d];
      s[j] = dot * scale;
      if (s[j] > m) m = s[j];
    }
    let l = 0;
    for (let j = 0; j < nKv; j++) {
      s[j] = Math.exp(s[j] - m);
      l += s[j];
    }
    const o = h * HEAD_DIM;
    out.fill(0, o, o + HEAD_DIM);
    for (let j = 0; j < nKv; j++) {
      const w = s[j] / l;
      const vo = (j * nHeadKv + hk) * HEAD_DIM;
      for (let d = 0; d < HEAD_DIM; d++) out[o + d] += w * v[vo + d];
    }
  }
}

export async function attentionBench(): Promise<SuiteResult> {
  const compiled = await compileKernels();
  const rt = await WasmRuntime.create(compiled);
  const bw = await measureReadBandwidth([8 * MIB, 256 * MIB]);
  const dram = (threads: number) =>
    bw.find((r) => r.bytes === 256 * MIB && r.threads === threads)?.gbps ?? Number.NaN;
  const l3 = (threads: number) =>
    bw.find((r) => r.bytes === 8 * MIB && r.threads === threads)?.gbps ?? Number.NaN;
  const pools = new Map<number, WorkerPool>();
  for (const t of [1, 2]) pools.set(t, await WorkerPool.create({ threads: t, compiled, memory: rt.memory }));
  const rows: (string | number)[][] = [];
  const notes: string[] = [];
  try {
    // ---------------------------------------------------------------- decode
    for (const shape of SHAPES) {
      const values = N_CTX * shape.nHeadKv * HEAD_DIM;
      for (const { kv, numerics } of KINDS.filter((c) => shape === SHAPES[0] || c.numerics === 'exact')) {
        const d = dims(1, N_CTX, shape.nHead, shape.nHeadKv, kv, numerics);
        const bytes = values * (kv === 'f16' ? 2 : 4);
        const copies = Math.max(2, Math.ceil((128 * MIB) / (2 * bytes)));
        const k = kvBytes(values, kv, 1);
        const v = kvBytes(values, kv, 2);
        const caches = Array.from({ length: copies }, () => {
          const kp = rt.arena.alloc(bytes);
          const vp = rt.arena.alloc(bytes);
          rt.u8.set(k, kp);
          rt.u8.set(v, vp);
          return [kp, vp];
        });
        const q = rt.arena.alloc(shape.nHead * HEAD_DIM * 4);
        rt.f32(q, shape.nHead * HEAD_DIM).set(randomF32(shape.nHead * HEAD_DIM, 3));
        const out = rt.arena.alloc(shape.nHead * HEAD_DIM * 4);
        for (const threads of [1, 2]) {
          const pool = pools.get(threads) as WorkerPool;
          let next = 0;
          const call = (c: number[]) => attentionOnPool(rt, pool, d, { q, k: c[0], v: c[1], out });
          const [hot, cold] = await measure(
            [
              { name: 'hot', fn: () => call(caches[0]) },
              { name: 'cold', fn: () => call(caches[next++ % copies]) },
            ],
            600,
          );
          const cpu = threads === 1 ? await cpuSeconds(() => call(caches[next++ % copies]), 20) : Number.NaN;
          const gbps = (s: number) => (2 * bytes) / s / 1e9;
          rows.push([
            `decode ${shape.label} ${kv} ${numerics}, ${N_CTX} kv`,
            threads,
            hot.seconds * 1e3,
            gbps(hot.seconds),
            `${Math.round((100 * gbps(hot.seconds)) / l3(threads))}%`,
            cold.seconds * 1e3,
            gbps(cold.seconds),
            `${Math.round((100 * gbps(cold.seconds)) / dram(threads))}%`,
            threads === 1 ? cpu * 1e3 : '-',
            threads === 1 ? `${gbps(cpu).toFixed(2)} GB/s` : '-',
            '-',
          ]);
        }
        for (const c of caches) for (const p of c) rt.arena.release(p);
        rt.arena.release(q);
        rt.arena.release(out);
      }
    }

    // ---------------------------------------------------------------- plain-JS peer
    {
      const shape = SHAPES[0];
      const values = N_CTX * shape.nHeadKv * HEAD_DIM;
      const k = randomF32(values, 1);
      const v = randomF32(values, 2);
      const q = randomF32(shape.nHead * HEAD_DIM, 3);
      const out = new Float32Array(shape.nHead * HEAD_DIM);
      const scale = dims(1, N_CTX, shape.nHead, shape.nHeadKv, 'f32', 'exact').scale;
      const [r] = await measure(
        [{ name: 'js', fn: () => plainJsDecode(q, k, v, out, N_CTX, shape.nHead, shape.nHeadKv, scale) }],
        600,
      );
      const gb = (8 * values) / r.seconds / 1e9;
      rows.push([
        `peer: plain JS decode ${shape.label} f32, ${N_CTX} kv`,
        1,
        r.seconds * 1e3,
        gb,
        `${Math.round((100 * gb) / l3(1))}%`,
        '-',
        '-',
        '-',
        '-',
        '-',
        '-',
      ]);
    }

    // ---------------------------------------------------------------- prefill
    const shape = SHAPES[0];
    for (const nKv of [128, N_CTX]) {
      // ggml's per-position path at 4096 takes seconds per call: timed at n_kv = 128 only.
      for (const { kv, numerics } of KINDS.filter((c) => nKv < N_CTX || c.numerics === 'exact')) {
        const nQ = 128;
        const d = dims(nQ, nKv, shape.nHead, shape.nHeadKv, kv, numerics);
        const values = nKv * shape.nHeadKv * HEAD_DIM;
        const kp = rt.arena.alloc(values * (kv === 'f16' ? 2 : 4));
        const vp = rt.arena.alloc(values * (kv === 'f16' ? 2 : 4));
        rt.u8.set(kvBytes(values, kv, 4), kp);
        rt.u8.set(kvBytes(values, kv, 5), vp);
        const q = rt.arena.alloc(nQ * shape.nHead * HEAD_DIM * 4);
        rt.f32(q, nQ * shape.nHead * HEAD_DIM).set(randomF32(nQ * shape.nHead * HEAD_DIM, 6));
        const out = rt.arena.alloc(nQ * shape.nHead * HEAD_DIM * 4);
        let visible = 0;
        for (const p of d.positions) visible += Math.min(p + 1, nKv);
        const flop = 4 * HEAD_DIM * shape.nHead * visible;
        for (const threads of [1, 2]) {
          const pool = pools.get(threads) as WorkerPool;
          const call = () => attentionOnPool(rt, pool, d, { q, k: kp, v: vp, out });
          const [r] = await measure([{ name: 'prefill', fn: call }], nKv > 1000 ? 1500 : 600);
          const cpu = threads === 1 ? await cpuSeconds(call, nKv > 1000 ? 2 : 10) : Number.NaN;
          rows.push([
            `prefill ${shape.label} ${kv} ${numerics}, q ${nQ}, kv ${nKv}`,
            threads,
            r.seconds * 1e3,
            '-',
            '-',
            '-',
            '-',
            '-',
            threads === 1 ? cpu * 1e3 : '-',
            threads === 1 ? `${(flop / cpu / 1e9).toFixed(2)} GFLOP/s` : '-',
            flop / r.seconds / 1e9,
          ]);
        }
        for (const p of [kp, vp, q, out]) rt.arena.release(p);
      }
    }
  } finally {
    for (const p of pools.values()) await p.dispose();
  }
  notes.push(
    `machine read bandwidth (wasm v128 loads): L3-sized 8 MiB ${l3(1).toFixed(1)} / ${l3(2).toFixed(1)} GB/s, DRAM 256 MiB ${dram(1).toFixed(1)} / ${dram(2).toFixed(1)} GB/s (1 / 2 threads)`,
    'hot % is of the L3-sized read bandwidth, cold % of the DRAM one, for the same thread count (issue target: ≥ 60% of memory bandwidth)',
    'decode 16/4: each K/V row serves 4 query heads (4·head_dim flop per f16 K/V byte pair), so f16 decode is compute-bound on one core',
    `${rt.build}; cpu ms: process CPU time per call (1 thread) and the rate it gives: on a shared machine, the uncontended estimate`,
  );
  return {
    suite: 'attention',
    notes,
    header: [
      'case',
      'threads',
      'hot ms',
      'GB/s',
      '% L3',
      'cold ms',
      'GB/s',
      '% DRAM',
      'cpu ms',
      'GB/s (cpu)',
      'GFLOP/s',
    ],
    rows,
  };
}
