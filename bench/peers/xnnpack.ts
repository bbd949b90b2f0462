/**
 * XNNPACK through @tensorflow/tfjs-backend-wasm 4.22 (with @tensorflow/tfjs-core),
 * the f32 matmul a web developer reaches for first.
 *
 * In Node it runs on 1 thread: the backend hard-codes the flag
 * WASM_HAS_MULTITHREAD_SUPPORT to false under Node (a TODO in its
 * flags_wasm.ts, tfjs issue #3830) and loads the single-threaded SIMD build.
 * Forcing the flag does not help: the threaded build starts its pthreads with
 * `new Worker(blob: URL)`, which Node rejects (ERR_WORKER_PATH), and the
 * backend fails to initialize. The .wasm files load from node_modules; no
 * network access.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { type MatmulPeer, transposeNK } from './common.js';

export const XNNPACK_VERSION = '@tensorflow/tfjs-backend-wasm 4.22.0';

let ready: Promise<void> | undefined;

/** Selects tfjs's wasm backend once per thread, loading its .wasm from node_modules. */
export function initXnnpack(): Promise<void> {
  ready ??= (async () => {
    const pkg = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
    // A directory prefix (trailing separator): tfjs appends the .wasm file names it picks.
    setWasmPaths(path.join(path.dirname(pkg), 'dist') + path.sep);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend failed to initialize');
    await tf.ready();
    if (tf.getBackend() !== 'wasm') throw new Error(`tfjs: backend is ${tf.getBackend()}, not wasm`);
    if (!tf.env().getBool('WASM_HAS_SIMD_SUPPORT')) throw new Error('tfjs: wasm SIMD unavailable');
  })();
  return ready;
}

/** Threads XNNPACK uses here (1 in Node; see the file comment). */
export function xnnpackThreads(): number {
  return getThreadsCount();
}

/**
 * y = x · wᵀ, x [M,K], w [N,K] (the project's linear-layer convention), on
 * tensors created once. w is handed to tfjs as wᵀ [K,N] (transposed here, at
 * setup): plain tf.matMul(x, wᵀ) is the backend's XNNPACK fully-connected
 * path, while tf.matMul(x, w, false, true) takes ≈ 1 s for 1024³ on this
 * machine (off the fast path). The backend caches the XNNPACK operator with
 * its packed weights per weight tensor, as it does for a model's constant
 * weights, so after warm-up run() measures the product only. The wasm backend
 * executes kernels synchronously: the result sits in wasm memory when
 * tf.matMul returns, and run() reads nothing back.
 */
export async function createXnnpackMatmul(
  M: number,
  N: number,
  K: number,
  x: Float32Array,
  w: Float32Array,
): Promise<MatmulPeer> {
  await initXnnpack();
  const a = tf.tensor2d(x, [M, K], 'float32');
  const b = tf.tensor2d(transposeNK(w, N, K), [K, N], 'float32');
  let y: tf.Tensor | undefined;
  return {
    name: `XNNPACK (${XNNPACK_VERSION})`,
    threads: xnnpackThreads(),
    run: () => {
      y?.dispose();
      y = tf.matMul(a, b);
    },
    read: () => {
      if (!y) throw new Error('read() before run()');
      return Float32Array.from(y.dataSync() as Float32Array);
    },
    dispose: () => {
      y?.dispose();
      a.dispose();
      b.dispose();
    },
  };
}
