/**
 * onnxruntime-web 1.30 (its WebAssembly build, MLAS kernels) as a peer, in
 * Node: f32 MatMul and com.microsoft MatMulNBits (4-bit), each a one-node
 * ONNX model built in memory (./onnx-model.ts). The .wasm/.mjs files load
 * from node_modules/onnxruntime-web/dist; no network access.
 *
 * Threads: ORT web sizes one global intra-op thread pool when its wasm module
 * initializes (`env.wasm.numThreads`, read once per JS realm; the session
 * option intraOpNumThreads does not change it). In Node the threaded build
 * works: emscripten's pthreads run on worker_threads over a shared
 * WebAssembly.Memory. So a process measures one thread count in-process and
 * any other in a worker thread with its own ORT instance (./ort-worker.ts);
 * `createOrtPeer` picks. A worker-hosted run() includes one postMessage round
 * trip (≈ 0.1 ms here), below 1% of every op the benchmarks time.
 */

import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type * as OrtNs from 'onnxruntime-web';
import { type MatmulPeer, transposeNK } from './common.js';
import { encodeOnnxModel, ONNX_FLOAT, ONNX_UINT8, type OnnxTensor } from './onnx-model.js';

export const ORT_VERSION = 'onnxruntime-web 1.30.0';

type Ort = typeof OrtNs;
let ortThreads: number | undefined;
let ortReady: Promise<Ort> | undefined;

/** The onnxruntime-web module of this thread, initialized with `threads` intra-op threads. */
export function initOrt(threads: number): Promise<Ort> {
  if (ortThreads !== undefined && ortThreads !== threads) {
    throw new Error(
      `onnxruntime-web is initialized with ${ortThreads} thread(s) in this thread, not ${threads}`,
    );
  }
  ortThreads = threads;
  ortReady ??= (async () => {
    const ort = (await import('onnxruntime-web')) as Ort;
    // The package entry lives in dist/, beside the .wasm and .mjs files (its exports hide package.json).
    const entry = createRequire(import.meta.url).resolve('onnxruntime-web');
    ort.env.wasm.wasmPaths = pathToFileURL(path.dirname(entry) + path.sep).href;
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.proxy = false;
    ort.env.logLevel = 'error';
    // Initialize now (with a trivial model) so a thread count ORT cannot honour surfaces here.
    const probe = await ort.InferenceSession.create(f32MatmulModel(1, 1, 1, new Float32Array(1)));
    await probe.release();
    if (ort.env.wasm.numThreads !== threads) {
      throw new Error(
        `onnxruntime-web fell back to ${ort.env.wasm.numThreads} thread(s) (asked for ${threads})`,
      );
    }
    return ort;
  })();
  return ortReady;
}

/** Threads of this thread's ORT instance, or undefined before initOrt. */
export function ortThreadCount(): number | undefined {
  return ortThreads;
}

// ---------------------------------------------------------------------------
// Models

/** Y[M,N] = A[M,K] · B[K,N] with B a constant initializer (ORT prepacks it at session creation). */
export function f32MatmulModel(M: number, N: number, K: number, bKN: Float32Array): Uint8Array {
  return encodeOnnxModel({
    opsets: [{ domain: '', version: 17 }],
    graph: {
      name: 'matmul_f32',
      nodes: [{ opType: 'MatMul', inputs: ['A', 'B'], outputs: ['Y'] }],
      initializers: [{ name: 'B', elemType: ONNX_FLOAT, dims: [K, N], data: bKN }],
      inputs: [{ name: 'A', elemType: ONNX_FLOAT, dims: [M, K] }],
      outputs: [{ name: 'Y', elemType: ONNX_FLOAT, dims: [M, N] }],
    },
  });
}

/** 4-bit block-quantized weights in MatMulNBits's layout (docs/ContribOperators.md, com.microsoft.MatMulNBits). */
export interface NBits4Weights {
  N: number;
  K: number;
  blockSize: number;
  /** [N, kBlocks, blockSize/2]: element 2j of a block in the low nibble of byte j, 2j+1 in the high nibble. */
  packed: Uint8Array;
  /** [N, kBlocks] f32. */
  scales: Float32Array;
  /** [N, ceil(kBlocks/2)] packed like B; absent: ORT's default zero point 8. */
  zeroPoints?: Uint8Array;
}

/**
 * Quantizes w [N,K] (K a multiple of blockSize) to 4 bits per weight, one
 * scale per block of K. Symmetric (no zero points): q = round(w/s) + 8 with
 * s = max|w|/7, so dequantization is (q − 8)·s. With zero points: min/max
 * affine, s = (max − min)/15, zp = round(−min/s). Our own quantizer: what the
 * peer computes is checked against dequantizeNBits4, not against ORT's tools.
 */
export function quantizeNBits4(
  w: Float32Array,
  N: number,
  K: number,
  blockSize = 32,
  withZeroPoints = false,
): NBits4Weights {
  if (K % blockSize !== 0 || blockSize % 2 !== 0)
    throw new RangeError('K must be a multiple of an even blockSize');
  const kBlocks = K / blockSize;
  const packed = new Uint8Array((N * K) / 2);
  const scales = new Float32Array(N * kBlocks);
  const zpRow = Math.ceil(kBlocks / 2);
  const zeroPoints = withZeroPoints ? new Uint8Array(N * zpRow) : undefined;
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const base = n * K + b * blockSize;
      // The range always holds 0, so a zero weight stays exactly zero.
      let lo = 0;
      let hi = 0;
      let amax = 0;
      for (let j = 0; j < blockSize; j++) {
        const v = w[base + j];
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
        amax = Math.max(amax, Math.abs(v));
      }
      let scale: number;
      let zp: number;
      if (zeroPoints) {
        scale = Math.fround((hi - lo) / 15);
        zp = scale > 0 ? Math.min(15, Math.max(0, Math.round(-lo / scale))) : 8;
        zeroPoints[n * zpRow + (b >> 1)] |= zp << ((b & 1) * 4);
      } else {
        scale = Math.fround(amax / 7);
        zp = 8;
      }
      scales[n * kBlocks + b] = scale;
      const inv = scale > 0 ? 1 / scale : 0;
      for (let j = 0; j < blockSize; j++) {
        const q = Math.min(15, Math.max(0, Math.round(w[base + j] * inv) + zp));
        packed[(base + j) >> 1] |= q << ((j & 1) * 4);
      }
    }
  }
  return { N, K, blockSize, packed, scales, zeroPoints };
}

/** The exact dequantized weights (q − zp)·scale, [N,K], in float64. */
export function dequantizeNBits4(q: NBits4Weights): Float64Array {
  const { N, K, blockSize, packed, scales, zeroPoints } = q;
  const kBlocks = K / blockSize;
  const zpRow = Math.ceil(kBlocks / 2);
  const w = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const b = (k / blockSize) | 0;
      const i = n * K + k;
      const nib = (packed[i >> 1] >> ((k & 1) * 4)) & 15;
      const zp = zeroPoints ? (zeroPoints[n * zpRow + (b >> 1)] >> ((b & 1) * 4)) & 15 : 8;
      w[i] = (nib - zp) * scales[n * kBlocks + b];
    }
  }
  return w;
}

/** Bytes of weight data one product streams: packed nibbles, scales, zero points. */
export function nbits4WeightBytes(q: NBits4Weights): number {
  return q.packed.byteLength + q.scales.byteLength + (q.zeroPoints?.byteLength ?? 0);
}

/** Y[M,N] = A[M,K] · dequant(B)ᵀ, com.microsoft MatMulNBits, bits 4, accuracy_level 0 (f32 A). */
export function matMulNBitsModel(M: number, q: NBits4Weights): Uint8Array {
  const { N, K, blockSize } = q;
  const kBlocks = K / blockSize;
  const initializers: OnnxTensor[] = [
    { name: 'B', elemType: ONNX_UINT8, dims: [N, kBlocks, blockSize / 2], data: q.packed },
    { name: 'scales', elemType: ONNX_FLOAT, dims: [N, kBlocks], data: q.scales },
  ];
  const inputs = ['A', 'B', 'scales'];
  if (q.zeroPoints) {
    initializers.push({
      name: 'zero_points',
      elemType: ONNX_UINT8,
      dims: [N, Math.ceil(kBlocks / 2)],
      data: q.zeroPoints,
    });
    inputs.push('zero_points');
  }
  return encodeOnnxModel({
    opsets: [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: {
      name: 'matmul_nbits',
      nodes: [
        {
          opType: 'MatMulNBits',
          domain: 'com.microsoft',
          inputs,
          outputs: ['Y'],
          attributes: { K, N, bits: 4, block_size: blockSize },
        },
      ],
      initializers,
      inputs: [{ name: 'A', elemType: ONNX_FLOAT, dims: [M, K] }],
      outputs: [{ name: 'Y', elemType: ONNX_FLOAT, dims: [M, N] }],
    },
  });
}

// ---------------------------------------------------------------------------
// Peers

/** What a peer computes; plain data, so it can cross to a worker thread. */
export type OrtPeerSpec =
  | { op: 'matmul'; M: number; N: number; K: number; x: Float32Array; w: Float32Array }
  | { op: 'nbits4'; M: number; x: Float32Array; q: NBits4Weights };

/** A peer on this thread's ORT instance (initOrt(threads)). */
export async function createOrtPeerInProcess(spec: OrtPeerSpec, threads: number): Promise<MatmulPeer> {
  const ort = await initOrt(threads);
  const { M } = spec;
  const K = spec.op === 'matmul' ? spec.K : spec.q.K;
  const model =
    spec.op === 'matmul'
      ? f32MatmulModel(M, spec.N, K, transposeNK(spec.w, spec.N, K))
      : matMulNBitsModel(M, spec.q);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const feeds = { A: new ort.Tensor('float32', spec.x, [M, K]) };
  let last: OrtNs.Tensor | undefined;
  const what = spec.op === 'matmul' ? 'MatMul f32' : `MatMulNBits 4-bit/${spec.q.blockSize}`;
  return {
    name: `ORT ${what} (${ORT_VERSION})`,
    threads,
    // Each run copies A into wasm memory and Y out (4 MiB each at 1024³, < 2% of the op).
    run: async () => {
      last?.dispose();
      last = (await session.run(feeds)).Y;
    },
    read: () => {
      if (!last) throw new Error('read() before run()');
      return Float32Array.from(last.data as Float32Array);
    },
    dispose: async () => {
      last?.dispose();
      await session.release();
    },
  };
}

/** Worker threads hosting ORT instances, one per thread count, shared by the peers created here. */
const hosts = new Map<number, OrtHost>();

class OrtHost {
  private next = 0;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private users = 0;
  readonly worker: Worker;

  constructor(readonly threads: number) {
    const entry = new URL('./ort-worker.ts', import.meta.url).href;
    this.worker = new Worker(new URL('./ts-worker.mjs', import.meta.url), { workerData: { entry, threads } });
    this.worker.on('message', (m: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.ok) p?.resolve(m.value);
      else p?.reject(new Error(m.error));
    });
    const fail = (e: Error) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      if (hosts.get(threads) === this) hosts.delete(threads);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`ORT worker exited (code ${code})`)));
  }

  call<T>(cmd: string, args: unknown = undefined): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, cmd, args });
    });
  }

  acquire(): void {
    this.users++;
  }
  async release(): Promise<void> {
    if (--this.users > 0) return;
    if (hosts.get(this.threads) === this) hosts.delete(this.threads);
    await this.worker.terminate();
  }
}

async function createOrtPeerInWorker(spec: OrtPeerSpec, threads: number): Promise<MatmulPeer> {
  let host = hosts.get(threads);
  if (!host) {
    host = new OrtHost(threads);
    hosts.set(threads, host);
  }
  host.acquire();
  const h = host;
  try {
    const { id, name } = await h.call<{ id: number; name: string }>('create', spec);
    return {
      name: `${name} [worker]`,
      threads,
      run: () => h.call<void>('run', id),
      read: () => h.call<Float32Array>('read', id),
      dispose: async () => {
        await h.call('dispose', id);
        await h.release();
      },
    };
  } catch (e) {
    await h.release();
    throw e;
  }
}

/**
 * An ORT peer with `threads` intra-op threads: in this thread when its ORT
 * instance has (or can still get) that thread count, else in a worker thread.
 */
export function createOrtPeer(spec: OrtPeerSpec, threads: number): Promise<MatmulPeer> {
  const mine = ortThreadCount();
  return mine === undefined || mine === threads
    ? createOrtPeerInProcess(spec, threads)
    : createOrtPeerInWorker(spec, threads);
}
