/**
 * Quantized matmul, `exact` numerics (f32 activations, weights decoded inside the
 * product: src/backends/wasm/matmul-quant.ts), 1 thread, for every weight type:
 *
 * - decode matvec 1×4096×4096 and 1×4096×11008: ms per call and GB/s of weight
 *   bytes. "hot": the same weights every call (4096×4096 of any type fits this
 *   machine's 32 MiB L3); "cold": calls rotate over copies totalling ≥ 128 MiB,
 *   so the weights stream from DRAM as in a decode step over a whole model.
 * - prefill M = 64, 64×4096×4096: GFLOPS (2·M·N·K per call).
 *
 * Both builds: SIMD128 here, relaxed SIMD in a child node started with
 * --experimental-wasm-relaxed-simd when this one runs without it. Each kernel is
 * checked against float64 on sampled outputs before it is timed. Beside them,
 * in the same run: onnxruntime-web MatMulNBits (4-bit, 1 thread, ./peers/) on
 * the same decode shapes, and this machine's wasm read bandwidth; the issue's
 * native ggml (1 core) and wllama figures as constants.
 *
 * Run alone: `npm run bench -- matmul-quant`.
 */
import { GGML_MATMUL_TYPES } from '../src/backends/wasm/matmul-ggml.js';
import { matmulQuantExact, matmulQuantExactScratchBytes } from '../src/backends/wasm/matmul-quant.js';
import { compileKernels, type WasmBuild, WasmRuntime } from '../src/backends/wasm/module.js';
import { dequantize } from '../src/ops/dequantize.js';
import { quantize } from '../src/ops/quantize.js';
import { dotBound, UNIT_ROUNDOFF } from '../src/oracle/tiers.js';
import { GGML_TYPES } from '../src/types/ggml-types.js';
import { measureRelaxedBuild, type SuiteResult } from './lib.js';
import { randomF32 } from './peers/common.js';
import { measureWithCpu } from './peers/contention.js';
import { measureReadBandwidth } from './peers/machine.js';
import { createOrtPeer, quantizeNBits4 } from './peers/onnxruntime.js';

/** The quantized weight types that have kernels in both numerics (q8_1/q8_K are activation types). */
const TYPES = GGML_MATMUL_TYPES.filter((t) => GGML_TYPES[t].quantized);
type BenchType = (typeof TYPES)[number];
const K = 4096;
const NS = [4096, 11008];
const PREFILL_M = 64;
const MIB = 1 << 20;
/** Issue #3, this machine: native ggml q4_K (AVX-512, 1 core) GB/s of weights; llama.cpp's wasm build (wllama). */
const NATIVE_Q4K_GBPS = { hot: 8.4, cold: 4.7 };
const WLLAMA_GBPS = 2.1;

interface Result {
  type: BenchType;
  build: WasmBuild;
  /** Per N: median wall seconds per call and process CPU seconds per call, hot and cold. */
  decode: { N: number; hot: number; hotCpu: number; cold: number; coldCpu: number; bytes: number }[];
  prefillSeconds: number;
  prefillCpu: number;
}

/** 64 quantize()d rows repeated to N rows: realistic codes without quantizing 45M values in TypeScript. */
function tileRows(type: BenchType): Uint8Array {
  return quantize(type, randomF32(64 * K, 7));
}

/** Sampled outputs of one call against float64 (dequantized weights, the f32 bound). */
function check(
  type: BenchType,
  tile: Uint8Array,
  x: Float32Array,
  y: Float32Array,
  M: number,
  N: number,
): void {
  const w = dequantize(type, tile);
  for (let s = 0; s < 32; s++) {
    const m = (s * 7) % M;
    const n = (s * 1237) % N;
    let ref = 0;
    let mag = 0;
    for (let k = 0; k < K; k++) {
      const p = x[m * K + k] * w[(n % 64) * K + k];
      ref += p;
      mag += Math.abs(p);
    }
    const got = y[m * N + n];
    if (!(Math.abs(got - ref) <= dotBound(K, UNIT_ROUNDOFF.f32, mag)))
      throw new Error(`${type}: y[${m},${n}] = ${got}, float64 reference ${ref}`);
  }
}

async function measureBuild(build: WasmBuild, timeMs: number): Promise<Result[]> {
  const rt = await WasmRuntime.create(await compileKernels([build]));
  const scratch = rt.arena.alloc(matmulQuantExactScratchBytes(rt, PREFILL_M));
  const out: Result[] = [];
  for (const type of TYPES) {
    const info = GGML_TYPES[type];
    const rowBytes = (K / info.blockSize) * info.typeSize;
    const tile = tileRows(type);
    const fill = (p: number, N: number) => {
      for (let n = 0; n < N; n += 64)
        rt.u8.set(tile.subarray(0, Math.min(64, N - n) * rowBytes), p + n * rowBytes);
    };
    const result: Result = { type, build: rt.build, decode: [], prefillSeconds: 0, prefillCpu: 0 };
    const x = rt.arena.alloc(PREFILL_M * K * 4);
    const xv = randomF32(PREFILL_M * K, 8);
    rt.f32(x, PREFILL_M * K).set(xv);
    for (const N of NS) {
      const wBytes = N * rowBytes;
      const copies = Math.max(1, Math.ceil((128 * MIB) / wBytes));
      const w = Array.from({ length: copies }, () => rt.arena.alloc(wBytes));
      for (const p of w) fill(p, N);
      const y = rt.arena.alloc(N * 4);
      const call = (wp: number) => matmulQuantExact(rt, type, x, wp, y, 1, N, K, 0, N, scratch);
      call(w[0]);
      check(type, tile, xv, rt.f32(y, N), 1, N);
      let next = 0;
      const hot = await measureWithCpu('hot', () => call(w[0]), 1, timeMs);
      const cold = await measureWithCpu('cold', () => call(w[next++ % copies]), 1, timeMs);
      result.decode.push({
        N,
        hot: hot.seconds,
        hotCpu: hot.cpuSeconds,
        cold: cold.seconds,
        coldCpu: cold.cpuSeconds,
        bytes: wBytes,
      });
      rt.arena.release(y);
      for (const p of w) rt.arena.release(p);
    }
    const N = 4096;
    const w = rt.arena.alloc(N * rowBytes);
    fill(w, N);
    const y = rt.arena.alloc(PREFILL_M * N * 4);
    const call = () => matmulQuantExact(rt, type, x, w, y, PREFILL_M, N, K, 0, N, scratch);
    call();
    check(type, tile, xv, rt.f32(y, PREFILL_M * N), PREFILL_M, N);
    const pre = await measureWithCpu('prefill', call, 1, timeMs);
    result.prefillSeconds = pre.seconds;
    result.prefillCpu = pre.cpuSeconds;
    for (const p of [y, w, x]) rt.arena.release(p);
    out.push(result);
  }
  rt.arena.release(scratch);
  return out;
}

/** The relaxed build: here if this node validates it, else in a child node with the flag. */
function measureRelaxed(timeMs: number): Promise<Result[] | string> {
  return measureRelaxedBuild(
    () => measureBuild('wasm-relaxed-simd', timeMs),
    import.meta.url,
    [String(timeMs)],
    600_000,
  );
}

/** onnxruntime-web MatMulNBits (bits 4, block 32), 1 thread, 1×K×N: seconds per call, or why not. */
async function ortNBits(N: number, timeMs: number): Promise<number | string> {
  const q = quantizeNBits4(randomF32(N * K, 6), N, K, 32, false);
  try {
    const peer = await createOrtPeer({ op: 'nbits4', M: 1, x: randomF32(K, 5), q }, 1);
    try {
      await peer.run();
      return (await measureWithCpu(peer.name, () => peer.run(), 1, timeMs)).seconds;
    } finally {
      await peer.dispose();
    }
  } catch (e) {
    return (e as Error).message;
  }
}

export async function matmulQuantBench(timeMs = 400): Promise<SuiteResult> {
  const simd = await measureBuild('wasm-simd', timeMs);
  const relaxed = await measureRelaxed(timeMs);
  const ort = new Map<number, number | string>();
  for (const N of NS) ort.set(N, await ortNBits(N, 1500));
  const bw = await measureReadBandwidth([8 * MIB, 256 * MIB]);
  const read = (bytes: number) => bw.find((r) => r.bytes === bytes && r.threads === 1)?.gbps ?? Number.NaN;

  const rows: (string | number)[][] = [];
  for (const r of typeof relaxed === 'string' ? simd : [...simd, ...relaxed]) {
    for (const d of r.decode) {
      const o = ort.get(d.N);
      const gbps = (s: number) => d.bytes / s / 1e9;
      rows.push([
        `${r.type} 1×${K}×${d.N}`,
        r.build,
        d.hot * 1e3,
        d.hotCpu * 1e3,
        gbps(d.hot),
        d.cold * 1e3,
        d.coldCpu * 1e3,
        gbps(d.cold),
        typeof o === 'number' ? o / d.cold : '-',
        r.type === 'q4_K' ? gbps(d.cold) / NATIVE_Q4K_GBPS.cold : '-',
        gbps(d.cold) / WLLAMA_GBPS,
        '-',
      ]);
    }
    rows.push([
      `${r.type} ${PREFILL_M}×${K}×4096`,
      r.build,
      r.prefillSeconds * 1e3,
      r.prefillCpu * 1e3,
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      (2 * PREFILL_M * 4096 * K) / r.prefillSeconds / 1e9,
    ]);
  }
  const ortNote = NS.map((N) => {
    const o = ort.get(N);
    return `1×${K}×${N} ${typeof o === 'number' ? `${(o * 1e3).toFixed(1)} ms` : `not run (${o})`}`;
  }).join(', ');
  return {
    suite: 'matmul-quant',
    notes: [
      'exact numerics: f32 x, weights decoded bit-identically to dequantize() inside the product, f32 sums; 1 thread.',
      'ms = median wall time per call; cpu ms = process CPU time per call (on this shared 2-core machine, the estimate of the',
      'uncontended time when it is well below ms); GB/s = weight bytes (GGUF blocks) per wall second.',
      'hot: same weights every call; cold: rotating over >= 128 MiB (DRAM).',
      `peers, this run: onnxruntime-web MatMulNBits (4-bit, block 32, 1 thread) ${ortNote}; "x ORT" = ORT ms / cold ms.`,
      `issue #3 constants: native ggml q4_K ${NATIVE_Q4K_GBPS.hot} GB/s hot, ${NATIVE_Q4K_GBPS.cold} GB/s cold (1 core, "x native" vs cold);`,
      `wllama ${WLLAMA_GBPS} GB/s of weights ("x wllama").`,
      `machine, 1 thread wasm v128.load: ${read(8 * MIB).toFixed(1)} GB/s at 8 MiB, ${read(256 * MIB).toFixed(1)} GB/s at 256 MiB.`,
      'Targets (decode q4_K, q8_0, q6_K): >= 10x MatMulNBits, >= 1/2.5 of native ggml per core, >= 1.5x wllama.',
      ...(typeof relaxed === 'string' ? [relaxed] : []),
    ],
    header: [
      'shape',
      'build',
      'hot ms',
      'hot cpu ms',
      'hot GB/s',
      'cold ms',
      'cold cpu ms',
      'cold GB/s',
      'x ORT',
      'x native',
      'x wllama',
      'GFLOPS',
    ],
    rows,
  };
}

if (process.argv[2] === '--relaxed-child') {
  const results = await measureBuild('wasm-relaxed-simd', Number(process.argv[3] ?? 400));
  process.stdout.write(JSON.stringify(results));
}
