/**
 * Matmul beside the libraries a user would pick instead, in this process:
 *
 * - f32 1024³ (y = x·wᵀ, x [1024,1024], w [1024,1024]), GFLOPS: XNNPACK via
 *   tfjs-backend-wasm (1 thread, all it has in Node), onnxruntime-web MatMul
 *   on 1 and 2 threads, plumbline's f32 GEMM, and plain JS (i-k-j) at 256³
 *   (1024³ would take seconds per call; its GFLOPS at 256³ flatter it, as
 *   256³ sits in cache).
 * - 4-bit matvec (decode) 1×4096×4096 and 1×4096×11008: onnxruntime-web
 *   MatMulNBits (bits 4, block 32, f32 scales, default zero point), ms and
 *   GB/s of weight bytes streamed (nibbles + scales).
 *
 * Every row is checked before it is timed: 64 sampled outputs against a
 * float64 dot of the same inputs, within the f32 bound γ(K+2, 2⁻²⁴)·Σ|x||w|
 * (src/oracle/tiers.ts; +2 covers the one rounding of a dequantized weight).
 * Beside the rows: this machine's read bandwidth and SIMD peak (./peers/machine.ts).
 */
import { dotBound, UNIT_ROUNDOFF } from '../src/oracle/tiers.js';
import type { SuiteResult } from './lib.js';
import { type MatmulPeer, randomF32 } from './peers/common.js';
import { type CpuTimed, measureWithCpu } from './peers/contention.js';
import { formatMachine, measureMachine } from './peers/machine.js';
import {
  createOrtPeer,
  dequantizeNBits4,
  type NBits4Weights,
  nbits4WeightBytes,
  quantizeNBits4,
} from './peers/onnxruntime.js';
import { createPlainJsMatmul } from './peers/plain-js.js';
import { createXnnpackMatmul } from './peers/xnnpack.js';

type Row = (string | number)[];

/**
 * Checks `samples` outputs of y (row-major [M,N]) against float64 dots of x [M,K] and w [N,K]
 * (w given per element, so a quantized peer can be checked against its exact dequantized weights).
 */
function checkSamples(
  name: string,
  y: Float32Array,
  x: Float32Array,
  wAt: (n: number, k: number) => number,
  M: number,
  N: number,
  K: number,
  samples = 64,
): void {
  let s = 0x9e3779b9;
  for (let t = 0; t < samples; t++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const i = s % M;
    const n = (s >>> 8) % N;
    let ref = 0;
    let mag = 0;
    for (let k = 0; k < K; k++) {
      const p = x[i * K + k] * wAt(n, k);
      ref += p;
      mag += Math.abs(p);
    }
    const got = y[i * N + n];
    const bound = dotBound(K + 2, UNIT_ROUNDOFF.f32, mag);
    if (!(Math.abs(got - ref) <= bound)) {
      throw new Error(
        `${name}: y[${i},${n}] = ${got}, float64 reference ${ref} (bound ${bound.toExponential(2)})`,
      );
    }
  }
}

interface Timed extends Partial<CpuTimed> {
  label: string;
  name: string;
  threads: number | string;
  /** Why the peer did not run. */
  why?: string;
}

/** Creates a peer, checks it, times it; a peer that cannot run comes back with why. */
async function timePeer(
  label: string,
  create: () => Promise<MatmulPeer>,
  check: (y: Float32Array, name: string) => void,
  timeMs: number,
): Promise<Timed> {
  let peer: MatmulPeer | undefined;
  try {
    peer = await create();
    await peer.run();
    check(await peer.read(), peer.name);
    const p = peer;
    const m = await measureWithCpu(p.name, () => p.run(), p.threads, timeMs);
    return { label, name: p.name, threads: p.threads, ...m };
  } catch (e) {
    return { label, name: peer?.name ?? label, threads: peer?.threads ?? '-', why: (e as Error).message };
  } finally {
    await peer?.dispose();
  }
}

/**
 * plumbline's f32 GEMM (src/backends/wasm/matmul-f32.ts) on 1 thread, over
 * weights packed once. Loaded dynamically so this suite runs (and says so)
 * while that module is missing.
 */
async function createPlumblineF32(
  M: number,
  N: number,
  K: number,
  x: Float32Array,
  w: Float32Array,
): Promise<MatmulPeer> {
  const { WasmRuntime } = await import('../src/backends/wasm/module.js');
  const f32 = await import('../src/backends/wasm/matmul-f32.js');
  const rt = await WasmRuntime.create();
  const packed = f32.packWeights(rt, 'f32', w, N, K);
  const xp = rt.arena.alloc(M * K * 4);
  const yp = rt.arena.alloc(M * N * 4);
  // The x-block scratch, allocated once as an engine would (not per call).
  const scratchBytes = f32.f32ScratchBytes(rt, M, K);
  const scratch = scratchBytes > 0 ? rt.arena.alloc(scratchBytes) : undefined;
  rt.f32(xp, M * K).set(x);
  return {
    name: `plumbline f32 GEMM (${rt.build})`,
    threads: 1,
    run: () => f32.matmulF32(rt, xp, packed, yp, M, 0, N, scratch),
    read: () => rt.f32(yp, M * N).slice(),
    dispose: () => {
      if (scratch !== undefined) rt.arena.release(scratch);
      rt.arena.release(yp);
      rt.arena.release(xp);
      packed.dispose();
    },
  };
}

export async function matmulPeersBench(): Promise<SuiteResult> {
  const rows: Row[] = [];
  const failures: string[] = [];
  /**
   * One table row: flops and weight bytes per call; `ref` is the row "vs ref" compares with, `scale` its
   * work relative to this row's. The cpu ratio is only given between 1-thread rows (see ./peers/contention.ts).
   */
  const addRow = (
    what: string,
    r: Timed,
    flop: number,
    bytes: number | undefined,
    ref?: Timed,
    scale = 1,
  ) => {
    if (r.seconds === undefined || r.cpuSeconds === undefined || r.cpuShare === undefined) {
      failures.push(`${r.name}: ${r.why}`);
      rows.push([what, r.name, `${r.threads}`, 'failed', '-', '-', '-', '-', '-', '-']);
      return;
    }
    const oneThread = r.threads === 1 && ref?.threads === 1;
    rows.push([
      what,
      r.name,
      `${r.threads}`,
      r.seconds * 1e3,
      r.cpuSeconds * 1e3,
      `${Math.round(r.cpuShare * 100)}%`,
      flop / r.seconds / 1e9,
      bytes === undefined ? '-' : bytes / r.seconds / 1e9,
      ref?.seconds === undefined ? '-' : (ref.seconds * scale) / r.seconds,
      oneThread && ref?.cpuSeconds !== undefined ? (ref.cpuSeconds * scale) / r.cpuSeconds : '-',
    ]);
  };

  // f32 1024³.
  const S = 1024;
  const x = randomF32(S * S, 1);
  const w = randomF32(S * S, 2);
  const checkF32 =
    (M: number, N: number, K: number, xx: Float32Array, ww: Float32Array) => (y: Float32Array, n: string) =>
      checkSamples(n, y, xx, (j, k) => ww[j * K + k], M, N, K);
  const f32Cases: [string, () => Promise<MatmulPeer>][] = [
    ['XNNPACK', () => createXnnpackMatmul(S, S, S, x, w)],
    ['ORT 1T', () => createOrtPeer({ op: 'matmul', M: S, N: S, K: S, x, w }, 1)],
    ['ORT 2T', () => createOrtPeer({ op: 'matmul', M: S, N: S, K: S, x, w }, 2)],
    ['plumbline', () => createPlumblineF32(S, S, S, x, w)],
    // PLUMBLINE 2 WORKERS: plug the engine's f32 matmul on 2 workers in here once the scheduler lands.
  ];
  const f32Rows: Timed[] = [];
  for (const [label, create] of f32Cases) {
    f32Rows.push(await timePeer(label, create, checkF32(S, S, S, x, w), 1500));
  }
  const xnn = f32Rows.find((r) => r.label === 'XNNPACK');
  for (const r of f32Rows) addRow(`f32 ${S}³`, r, 2 * S ** 3, undefined, xnn);

  // Plain JS at 256³; "vs ref" compares its GFLOPS with XNNPACK's at 1024³.
  const P = 256;
  const px = randomF32(P * P, 3);
  const pw = randomF32(P * P, 4);
  const plain = await timePeer(
    'plain JS',
    async () => createPlainJsMatmul(P, P, P, px, pw),
    checkF32(P, P, P, px, pw),
    1000,
  );
  addRow(`f32 ${P}³`, plain, 2 * P ** 3, undefined, xnn, P ** 3 / S ** 3);

  // 4-bit matvec, decode shapes.
  const K = 4096;
  const xv = randomF32(K, 5);
  for (const N of [4096, 11008]) {
    const q: NBits4Weights = quantizeNBits4(randomF32(N * K, 6), N, K, 32, false);
    const dq = dequantizeNBits4(q);
    const check = (y: Float32Array, n: string) => checkSamples(n, y, xv, (j, k) => dq[j * K + k], 1, N, K);
    let base: Timed | undefined;
    for (const threads of [1, 2]) {
      const create = () => createOrtPeer({ op: 'nbits4', M: 1, x: xv, q }, threads);
      const r = await timePeer(`ORT ${threads}T`, create, check, 1500);
      base ??= r;
      addRow(`q4 1×${K}×${N}`, r, 2 * N * K, nbits4WeightBytes(q), base);
    }
    // PLUMBLINE QUANTIZED MATVEC: the Q4_K / Q8_0 / Q6_K matvec rows belong beside these (same N, K; GB/s of
    // their own weight bytes); their suites import createOrtPeer + quantizeNBits4 from ./peers/onnxruntime.js.
  }

  const machine = await measureMachine();
  return {
    suite: 'matmul-peers',
    notes: [
      'f32: y = x·wᵀ, inputs prepared once (weights packed/prepacked by each library at setup).',
      'ms = median wall time per call; cpu ms = process CPU time per call; cpu % = cpu ms / (wall · threads): below',
      "100% other processes took CPU from the peer (then a 1-thread row's cpu ms estimates its uncontended time).",
      'XNNPACK = @tensorflow/tfjs-backend-wasm 4.22 (1 thread: its threaded build is browser-only); ORT = onnxruntime-web 1.30',
      '(2T runs in a worker thread with its own ORT instance: ORT fixes its thread pool once per realm; +1 postMessage per call).',
      'ORT times include copying A into wasm memory and Y out (4 MiB each at 1024³).',
      'q4: MatMulNBits bits=4 block=32, weights GB/s = (nibbles + f32 scales) / time: 5 bits per weight (Q4_K has 4.5).',
      'plumbline runs the best build this node validates (Node 20: relaxed SIMD needs NODE_OPTIONS=--experimental-wasm-relaxed-simd).',
      '"vs ref": speed relative to XNNPACK (f32 rows) or ORT MatMulNBits 1 thread (q4 rows), by wall time and, between',
      '1-thread rows, by cpu time (the fairer one when cpu % is low). Each row is checked against float64 before it is timed.',
      ...formatMachine(machine),
      ...failures.map((f) => `NOT RUN: ${f}`),
    ],
    header: [
      'case',
      'implementation',
      'threads',
      'ms',
      'cpu ms',
      'cpu %',
      'GFLOPS',
      'weights GB/s',
      'vs ref',
      'vs ref (cpu)',
    ],
    rows,
  };
}
