/**
 * Quantized matmul, `ggml` numerics (activations quantized to q8_K / q8_0,
 * integer block dots), 1 thread, wasm kernels called directly:
 *
 * - decode matvec 1×4096×4096 and 1×4096×11008 for q4_K, q8_0, q6_K: ms per
 *   call including the activation quantization, and GB/s of weight bytes.
 *   "hot": the same weights every call (the 4096×4096 ones fit this machine's
 *   32 MiB L3); "cold": calls rotate over copies totalling ≥ 128 MiB, so the
 *   weights stream from DRAM, as in a real decode step over a whole model.
 * - prefill M = 64, 64×4096×4096: GFLOPS (2·M·N·K per call, quantization included).
 *
 * `npm run bench` runs the SIMD128 build (Node 20 needs --experimental-wasm-relaxed-simd for
 * the relaxed one: `node --experimental-wasm-relaxed-simd --import tsx bench/run.ts matmul-ggml`).
 *
 * Beside them: this machine's single-thread wasm read bandwidth (./peers/machine.ts)
 * and the peers the issue measured on this machine: onnxruntime-web MatMulNBits
 * ≈ 49 ms for 1×4096×4096 (4-bit), native ggml (AVX-512, 1 core) q4_K ≈ 8.4 GB/s
 * from cache and ≈ 4.7 GB/s from RAM, llama.cpp's wasm build (wllama) ≈ 2.1 GB/s.
 */
import {
  activationBytes,
  matmulGgml,
  quantizeActivations,
  vecDotType,
} from '../src/backends/wasm/matmul-ggml.js';
import { WasmRuntime } from '../src/backends/wasm/module.js';
import { quantize } from '../src/ops/quantize.js';
import { GGML_TYPES } from '../src/types/ggml-types.js';
import { measure, type SuiteResult } from './lib.js';
import { randomF32 } from './peers/common.js';
import { measureReadBandwidth } from './peers/machine.js';

const TYPES = ['q4_K', 'q8_0', 'q6_K'] as const;
const K = 4096;
const MIB = 1 << 20;
/** Peers on this machine (issue #3): ms for 1×4096×4096 and GB/s of weights. */
const ORT_NBITS_MS = 49;
const NATIVE_Q4K_GBPS = { hot: 8.4, cold: 4.7 };
const WLLAMA_GBPS = 2.1;

/** Seconds of the fastest of n calls, after one warm-up call. */
function bestOf(n: number, fn: () => void): number {
  fn();
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn();
    best = Math.min(best, (performance.now() - t) / 1e3);
  }
  return best;
}

export async function matmulGgmlBench(): Promise<SuiteResult> {
  const rt = await WasmRuntime.create();
  const bw = await measureReadBandwidth([8 * MIB, 256 * MIB]);
  const read = (bytes: number) => bw.find((r) => r.bytes === bytes && r.threads === 1)?.gbps ?? Number.NaN;
  const rows: (string | number)[][] = [];
  for (const type of TYPES) {
    const info = GGML_TYPES[type];
    const vdt = vecDotType(type);
    const rowBytes = (K / info.blockSize) * info.typeSize;
    // 64 quantize()d rows, repeated: realistic codes without quantizing 45M values in TypeScript.
    const tile = quantize(type, randomF32(64 * K, 7));
    for (const N of [4096, 11008]) {
      const wBytes = N * rowBytes;
      const copies = Math.max(1, Math.ceil((128 * MIB) / wBytes));
      const w = Array.from({ length: copies }, () => rt.arena.alloc(wBytes));
      for (const p of w)
        for (let n = 0; n < N; n += 64)
          rt.u8.set(tile.subarray(0, Math.min(64, N - n) * rowBytes), p + n * rowBytes);
      const x = rt.arena.alloc(K * 4);
      rt.f32(x, K).set(randomF32(K, 8));
      const xq = rt.arena.alloc(activationBytes(vdt, 1, K));
      const y = rt.arena.alloc(N * 4);
      let next = 0;
      const call = (wp: number) => {
        quantizeActivations(rt, vdt, x, xq, 1, K);
        matmulGgml(rt, type, xq, wp, y, 1, N, K);
      };
      const [hot, cold] = await measure([
        { name: 'hot', fn: () => call(w[0]) },
        { name: 'cold', fn: () => call(w[next++ % copies]) },
      ]);
      for (const p of w) rt.arena.release(p);
      const gbps = (s: number) => wBytes / s / 1e9;
      rows.push([
        `${type} 1×${K}×${N}`,
        hot.seconds * 1e3,
        gbps(hot.seconds),
        cold.seconds * 1e3,
        gbps(cold.seconds),
        N === 4096 ? (ORT_NBITS_MS * 1e-3) / cold.seconds : '-',
        type === 'q4_K' ? gbps(cold.seconds) / NATIVE_Q4K_GBPS.cold : '-',
        gbps(cold.seconds) / WLLAMA_GBPS,
        '-',
      ]);
      rt.arena.release(y);
      rt.arena.release(xq);
      rt.arena.release(x);
    }
    // Prefill: M = 64.
    const M = 64;
    const N = 4096;
    const w = rt.arena.alloc(N * rowBytes);
    for (let n = 0; n < N; n += 64) rt.u8.set(tile, w + n * rowBytes);
    const x = rt.arena.alloc(M * K * 4);
    rt.f32(x, M * K).set(randomF32(M * K, 9));
    const xq = rt.arena.alloc(activationBytes(vdt, M, K));
    const y = rt.arena.alloc(M * N * 4);
    // Hundreds of ms per call: best of a few timed calls (tinybench would run 64).
    const pre = bestOf(3, () => {
      quantizeActivations(rt, vdt, x, xq, M, K);
      matmulGgml(rt, type, xq, w, y, M, N, K);
    });
    rows.push([
      `${type} ${M}×${K}×${N}`,
      pre * 1e3,
      (N * rowBytes) / pre / 1e9,
      '-',
      '-',
      '-',
      '-',
      '-',
      (2 * M * N * K) / pre / 1e9,
    ]);
    for (const p of [y, xq, x, w]) rt.arena.release(p);
  }
  return {
    suite: 'matmul-ggml',
    notes: [
      `${rt.build}, 1 thread; ms per call including the activation quantization; GB/s of weight bytes.`,
      `hot: the same weights every call; cold: rotating over copies totalling >= 128 MiB (DRAM).`,
      `machine, 1 thread wasm v128.load: ${read(8 * MIB).toFixed(1)} GB/s at 8 MiB, ${read(256 * MIB).toFixed(1)} GB/s at 256 MiB.`,
      `peers (issue #3, this machine): onnxruntime-web MatMulNBits ${ORT_NBITS_MS} ms (1x4096x4096, 4-bit); native ggml q4_K ${NATIVE_Q4K_GBPS.hot} GB/s hot, ${NATIVE_Q4K_GBPS.cold} GB/s cold (1 core); wllama ${WLLAMA_GBPS} GB/s.`,
      'Targets: >= 10x MatMulNBits; >= 1/2.5 of native ggml per core; >= 1.5x wllama.',
    ],
    header: [
      'shape',
      'hot ms',
      'hot GB/s',
      'cold ms',
      'cold GB/s',
      'x ORT NBits',
      'x native',
      'x wllama',
      'GFLOPS',
    ],
    rows,
  };
}
