/**
 * plumbline's f32 GEMM / GEMV (assembly/matmul/f32.ts), 1 thread, weights
 * packed once: GFLOPS of 1024³, of a cache-resident GEMM, of a prefill-sized
 * GEMM and of decode GEMVs (with GB/s of f32 weights streamed), for the
 * SIMD128 build and the relaxed-SIMD build (measured in a child node started
 * with --experimental-wasm-relaxed-simd when this one runs without it), plus
 * the one-time packing cost. The peers (XNNPACK, onnxruntime-web) are in the
 * matmul-peers suite; the targets are relative to XNNPACK there.
 *
 * Run alone: `npm run bench -- matmul-f32`.
 */
import {
  f32ScratchBytes,
  matmulF32,
  type PackedWeightType,
  packWeights,
} from '../src/backends/wasm/matmul-f32.js';
import { compileKernels, type WasmBuild, WasmRuntime } from '../src/backends/wasm/module.js';
import { measureRelaxedBuild, type SuiteResult } from './lib.js';
import { randomF32 } from './peers/common.js';
import { measureWithCpu } from './peers/contention.js';

interface Case {
  label: string;
  M: number;
  N: number;
  K: number;
}

const CASES: Case[] = [
  { label: 'GEMM 1024³', M: 1024, N: 1024, K: 1024 },
  { label: 'GEMM, cache-resident (L2)', M: 128, N: 256, K: 256 },
  { label: 'GEMM, prefill', M: 64, N: 4096, K: 4096 },
  { label: 'GEMV, decode', M: 1, N: 4096, K: 4096 },
  { label: 'GEMV, L3-resident', M: 1, N: 1024, K: 1024 },
  { label: 'GEMV, 4 rows', M: 4, N: 4096, K: 4096 },
];

interface Result {
  label: string;
  shape: string;
  build: WasmBuild;
  seconds: number;
  /** Process CPU seconds per call: the uncontended time estimate when other processes share the machine. */
  cpuSeconds: number;
  cpuShare: number;
  /** GFLOPS (GEMM/GEMV rows; none for packing). */
  gflops?: number;
  /** GFLOPS by CPU time. */
  cpuGflops?: number;
  /** Bytes of packed f32 weights per second (GEMV rows). */
  weightGbps?: number;
}

function shape(c: { M: number; N: number; K: number }): string {
  return `${c.M}×${c.N}×${c.K}`;
}

async function measureBuild(build: WasmBuild, timeMs: number): Promise<Result[]> {
  const rt = await WasmRuntime.create(await compileKernels([build]));
  const out: Result[] = [];
  for (const c of CASES) {
    const { M, N, K } = c;
    const packed = packWeights(rt, 'f32', randomF32(N * K, 2), N, K);
    const x = rt.arena.alloc(M * K * 4);
    const y = rt.arena.alloc(M * N * 4);
    const scratch = rt.arena.alloc(f32ScratchBytes(rt, M, K));
    rt.f32(x, M * K).set(randomF32(M * K, 1));
    const m = await measureWithCpu(c.label, () => matmulF32(rt, x, packed, y, M, 0, N, scratch), 1, timeMs);
    out.push({
      label: c.label,
      shape: shape(c),
      build: rt.build,
      seconds: m.seconds,
      cpuSeconds: m.cpuSeconds,
      cpuShare: m.cpuShare,
      gflops: (2 * M * N * K) / m.seconds / 1e9,
      cpuGflops: (2 * M * N * K) / m.cpuSeconds / 1e9,
      weightGbps: M <= 4 ? packed.bytes / m.seconds / 1e9 : undefined,
    });
    rt.arena.release(scratch);
    rt.arena.release(y);
    rt.arena.release(x);
    packed.dispose();
  }
  // Packing (once per weight): W [4096, 4096] from f32, f16 and bf16 bytes.
  const P = 4096;
  const wf = randomF32(P * P, 3);
  for (const type of ['f32', 'f16', 'bf16'] as PackedWeightType[]) {
    const bytes = type === 'f32' ? new Uint8Array(wf.buffer) : new Uint8Array(P * P * 2).fill(0x3c);
    const m = await measureWithCpu(
      `pack ${type}`,
      () => packWeights(rt, type, bytes, P, P).dispose(),
      1,
      timeMs,
    );
    out.push({
      label: `pack ${type} weights (incl. copy in)`,
      shape: `${P}×${P}`,
      build: rt.build,
      seconds: m.seconds,
      cpuSeconds: m.cpuSeconds,
      cpuShare: m.cpuShare,
      weightGbps: bytes.byteLength / m.seconds / 1e9,
    });
  }
  return out;
}

/** The relaxed build: here if this node validates it, else in a child node with the flag. */
function measureRelaxed(timeMs: number): Promise<Result[] | string> {
  return measureRelaxedBuild(
    () => measureBuild('wasm-relaxed-simd', timeMs),
    import.meta.url,
    [String(timeMs)],
    300_000,
  );
}

export async function matmulF32Bench(timeMs = 1000): Promise<SuiteResult> {
  const simd = await measureBuild('wasm-simd', timeMs);
  const relaxed = await measureRelaxed(timeMs);
  const all = typeof relaxed === 'string' ? simd : [...simd, ...relaxed];
  const rows = all.map((r) => [
    r.label,
    r.shape,
    r.build,
    r.seconds * 1e3,
    r.cpuSeconds * 1e3,
    `${Math.round(r.cpuShare * 100)}%`,
    r.gflops ?? '-',
    r.cpuGflops ?? '-',
    r.weightGbps ?? '-',
  ]);
  return {
    suite: 'matmul-f32',
    notes: [
      'plumbline f32 GEMM/GEMV, 1 thread, weights packed once (8-feature K-major panels); x, y and the packed weights in wasm memory.',
      'GEMM: 4×8 register tiles over x packed per block, K blocks of 512, M blocks of 128; GEMV (M ≤ 4): 1×24, 2×16, 3×8, 4×8 tiles, no K blocking.',
      'ms = median wall time per call; cpu ms = process CPU time per call; cpu % = cpu ms / wall (below 100%: other',
      'processes had the core, and GFLOPS (cpu), from cpu ms, estimates the uncontended speed).',
      'GB/s: packed f32 weight bytes per second (GEMV rows; the decode shape streams 64 MiB from memory), or input bytes (pack rows).',
      'Targets (issue #3, XNNPACK 1024³ ≈ 21 GFLOPS on this machine, see the matmul-peers suite): ≥ 1.3× on SIMD128, ≥ 2× relaxed.',
      ...(typeof relaxed === 'string' ? [relaxed] : []),
    ],
    header: ['case', 'M×N×K', 'build', 'ms', 'cpu ms', 'cpu %', 'GFLOPS', 'GFLOPS (cpu)', 'GB/s'],
    rows,
  };
}

if (process.argv[2] === '--relaxed-child') {
  const results = await measureBuild('wasm-relaxed-simd', Number(process.argv[3] ?? 1000));
  process.stdout.write(JSON.stringify(results));
}
