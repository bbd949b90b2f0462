/**
 * The benchmark peers compute what the benchmarks claim: each one on a tiny
 * ragged shape against a float64 reference, within the f32 bound
 * γ(K+2, 2⁻²⁴)·Σ|x||w| (src/oracle/tiers.ts). A peer that cannot load in Node
 * fails here with the library's own error.
 */
import { describe, expect, it } from 'vitest';
import { type MatmulPeer, randomF32, referenceMatmulF64 } from '../../bench/peers/common.js';
import { FMA_CHAINS, machineModules } from '../../bench/peers/machine.js';
import {
  createOrtPeer,
  dequantizeNBits4,
  nbits4WeightBytes,
  quantizeNBits4,
} from '../../bench/peers/onnxruntime.js';
import { createPlainJsMatmul, matmulF32PlainJs } from '../../bench/peers/plain-js.js';
import { createXnnpackMatmul } from '../../bench/peers/xnnpack.js';
import { dotBound, UNIT_ROUNDOFF } from '../../src/oracle/tiers.js';

const M = 3;
const N = 37;
const K = 96; // a multiple of the 4-bit block (32), not of any tile

function expectWithinBound(y: Float32Array, ref: { y: Float64Array; magnitude: Float64Array }): void {
  expect(y.length).toBe(ref.y.length);
  for (let i = 0; i < y.length; i++) {
    const bound = dotBound(K + 2, UNIT_ROUNDOFF.f32, ref.magnitude[i]);
    if (!(Math.abs(y[i] - ref.y[i]) <= bound)) {
      expect.fail(`element ${i}: ${y[i]} vs float64 ${ref.y[i]} (bound ${bound})`);
    }
  }
}

async function runPeer(create: () => MatmulPeer | Promise<MatmulPeer>): Promise<Float32Array> {
  const peer = await create();
  try {
    await peer.run();
    await peer.run(); // a second run on the same prepared inputs gives the same numbers
    return await peer.read();
  } finally {
    await peer.dispose();
  }
}

const x = randomF32(M * K, 11);
const w = randomF32(N * K, 12);
const ref = referenceMatmulF64(x, w, M, N, K);

describe('f32 matmul peers', () => {
  it('plain JS', async () => {
    expectWithinBound(await runPeer(() => createPlainJsMatmul(M, N, K, x, w)), ref);
    // The kernel itself: C = A·B with B [K,N]; a 1×1×1 product is exact.
    const c = new Float32Array(1);
    matmulF32PlainJs(new Float32Array([3]), new Float32Array([-2]), c, 1, 1, 1);
    expect(c[0]).toBe(-6);
  });

  it('XNNPACK (tfjs-backend-wasm), 1 thread in Node', async () => {
    const y = await runPeer(async () => {
      const p = await createXnnpackMatmul(M, N, K, x, w);
      expect(p.threads).toBe(1);
      return p;
    });
    expectWithinBound(y, ref);
  });

  it('onnxruntime-web MatMul, 1 thread in this thread and 2 threads in a worker', async () => {
    expectWithinBound(await runPeer(() => createOrtPeer({ op: 'matmul', M, N, K, x, w }, 1)), ref);
    const p2 = await createOrtPeer({ op: 'matmul', M, N, K, x, w }, 2);
    expect(p2.threads).toBe(2);
    expectWithinBound(await runPeer(() => p2), ref);
  });
});

describe('onnxruntime-web MatMulNBits (4-bit, block 32)', () => {
  for (const zeroPoints of [false, true]) {
    it(`matches float64 over the dequantized weights (${zeroPoints ? 'packed zero points' : 'default zero point 8'})`, async () => {
      const q = quantizeNBits4(w, N, K, 32, zeroPoints);
      expect(q.packed.length).toBe((N * K) / 2);
      expect(q.scales.length).toBe(N * (K / 32));
      expect(q.zeroPoints?.length).toBe(zeroPoints ? N * Math.ceil(K / 32 / 2) : undefined);
      expect(nbits4WeightBytes(q)).toBe(q.packed.length + q.scales.byteLength + (q.zeroPoints?.length ?? 0));
      const dq = dequantizeNBits4(q);
      // The quantizer is sane: every weight within half a step of the original (f32 scale rounding aside).
      for (let i = 0; i < N * K; i++) {
        const step = q.scales[Math.floor(i / 32)];
        expect(Math.abs(dq[i] - w[i])).toBeLessThanOrEqual(step * (0.5 + 1e-6));
      }
      const refQ = referenceMatmulF64(x, dq, M, N, K);
      const y = await runPeer(() => createOrtPeer({ op: 'nbits4', M, x, q }, 1));
      expectWithinBound(y, refQ);
    });
  }

  it('packs nibbles low-first within a block, as the contrib op docs say', () => {
    // One row, one block of distinct values: each nibble must be round(w/s) + 8 at its own position.
    const row = Float32Array.from({ length: 32 }, (_, k) => (k - 16) / 16);
    const q = quantizeNBits4(row, 1, 32, 32, false);
    const dq = dequantizeNBits4(q);
    const s = q.scales[0];
    for (let k = 0; k < 32; k++) {
      const nib = (q.packed[k >> 1] >> ((k & 1) * 4)) & 15;
      expect(dq[k]).toBe((nib - 8) * s);
      expect(nib).toBe(Math.min(15, Math.max(0, Math.round(row[k] / s) + 8)));
    }
  });
});

describe('machine-limit kernels', () => {
  it('the read loop sums every 16-byte lane, and the fma chains compute acc·m + c', () => {
    const pages = 2;
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    const { read: readBytes, fma: fmaBytes } = machineModules(pages);
    const read = new WebAssembly.Instance(new WebAssembly.Module(readBytes), { env: { mem: memory } }).exports
      .read as (p: number, n: number, reps: number) => number;
    const words = new Int32Array(memory.buffer);
    for (let i = 0; i < 1024; i++) words[256 + i] = i; // 4 KiB at byte 1024
    // Lane 0 of each 16-byte vector: words 0, 4, 8, ... of the range.
    let lane0 = 0;
    for (let i = 0; i < 1024; i += 4) lane0 += i;
    expect(read(1024, 4096, 3)).toBe(3 * lane0);
    const fma = new WebAssembly.Instance(new WebAssembly.Module(fmaBytes)).exports;
    for (const n of FMA_CHAINS) {
      // acc: 1 → 3 → 7 → 15 with m = 2, c = 1; the result sums lane 0 of every chain.
      expect((fma[`fma${n}`] as (r: number, m: number, c: number) => number)(3, 2, 1)).toBe(15 * n);
    }
  });
});
