/**
 * Child-process check for nn-builds.test.ts (run with
 * `node --experimental-wasm-relaxed-simd --import tsx`): runs every nn kernel
 * in the SIMD128 and the relaxed-SIMD builds on the same inputs (special
 * values included) and prints, as JSON, whether their outputs are the same bits.
 */
import { compileKernels, WasmRuntime } from '../../../src/backends/wasm/module.js';
import {
  add,
  embedding,
  gelu,
  layerNorm,
  rmsNorm,
  rope,
  ropeCacheBytes,
  silu,
  softmax,
  swiglu,
  writeRopeCache,
} from '../../../src/backends/wasm/nn.js';
import { quantize } from '../../../src/ops/quantize.js';
import { validateRope } from '../../../src/ops/rope.js';
import { GGML_TYPES } from '../../../src/types/ggml-types.js';

const builds = [
  await WasmRuntime.create(await compileKernels(['wasm-simd'])),
  await WasmRuntime.create(await compileKernels(['wasm-relaxed-simd'])),
];

function values(n: number, seed: number): Float32Array {
  let s = seed;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    x[i] = ((s / 2 ** 32) * 2 - 1) * 2 ** (((s >>> 3) % 12) - 4);
  }
  x[3] = Number.NaN;
  x[7] = Number.NEGATIVE_INFINITY;
  x[n - 2] = Number.POSITIVE_INFINITY;
  x[n - 5] = 1e-41;
  return x;
}

type Run = (rt: WasmRuntime, put: (a: Float32Array | Int32Array | Uint8Array) => number, out: number) => void;

const dim = 67;
const rows = 5;
const n = rows * dim;
const x = values(n, 1);
const w = values(dim, 2);
const b = values(dim, 3);
const up = values(n, 4);
const q = validateRope({ shape: [rows, 2, 36], type: GGML_TYPES.f32 }, [0, 5, 900, 32768, 7], {
  mode: 'neox',
  nDims: 20,
  freqFactors: Array.from({ length: 10 }, (_, i) => 1 + i),
});
const qn = { ...q, mode: 'normal' as const };
const table = quantize(
  'q4_K',
  values(7 * 256, 5).map((v) => (Number.isFinite(v) ? v : 0)),
);

const cases: [string, number, Run][] = [
  ['rms_norm', n, (rt, put, y) => rmsNorm(rt, put(x), put(w), y, rows, dim, Math.fround(1e-5))],
  ['layer_norm', n, (rt, put, y) => layerNorm(rt, put(x), put(w), put(b), y, rows, dim, Math.fround(1e-5))],
  ['softmax', n, (rt, put, y) => softmax(rt, put(x), put(up), y, rows, dim, rows, Math.fround(0.3))],
  ['silu', n, (rt, put, y) => silu(rt, put(x), y, n)],
  ['gelu', n, (rt, put, y) => gelu(rt, put(x), y, n, 'tanh')],
  ['gelu_erf', n, (rt, put, y) => gelu(rt, put(x), y, n, 'erf')],
  ['swiglu', n, (rt, put, y) => swiglu(rt, put(x), put(up), y, n)],
  ['add', n, (rt, put, y) => add(rt, put(x), put(b), y, rows, dim, 1)],
  ...(['neox', 'normal'] as const).map((mode): [string, number, Run] => [
    `rope ${mode}`,
    rows * 72,
    (rt, put, y) => {
      const p = mode === 'neox' ? q : qn;
      const c = rt.arena.alloc(ropeCacheBytes(rows, 20));
      writeRopeCache(rt, c, [0, 5, 900, 32768, 7], p);
      rope(rt, put(values(rows * 72, 6)), c, y, p);
    },
  ]),
  [
    'embedding q4_K',
    3 * 256,
    (rt, put, y) => embedding(rt, GGML_TYPES.q4_K, put(table), put(Int32Array.of(6, 0, 3)), y, 3, 256, 7),
  ],
];

const report = cases.map(([name, len, run]) => {
  const outs = builds.map((rt) => {
    const put = (a: Float32Array | Int32Array | Uint8Array) => {
      const p = rt.arena.alloc(a.byteLength);
      rt.u8.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), p);
      return p;
    };
    const y = rt.arena.alloc(len * 4);
    run(rt, put, y);
    return Buffer.from(rt.u8.slice(y, y + len * 4));
  });
  return { kernel: name, same: outs[0].equals(outs[1]), relaxed: builds[1].build };
});
console.log(JSON.stringify(report));
