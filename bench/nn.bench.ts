/**
 * The transformer's row and element-wise ops on the wasm kernels, one thread,
 * at model sizes (128 rows of 2048 and 4096), in GB/s of logical traffic
 * (each input read once, the output written once), beside a plain-JS loop
 * over Float32Array doing the same arithmetic in doubles.
 */
import { WasmRuntime } from '../src/backends/wasm/module.js';
import {
  type NnCall,
  rmsNormCall,
  ropeCache,
  ropeCacheBytes,
  ropeCall,
  runNnCall,
  softmaxCall,
  swigluCall,
  writeRopeCache,
} from '../src/backends/wasm/nn.js';
import { type RopeParams, validateRope } from '../src/ops/rope.js';
import { GGML_TYPES } from '../src/types/ggml-types.js';
import { measure, type SuiteResult } from './lib.js';

const ROWS = 128;

function input(n: number, seed: number, scale = 1): Float32Array {
  let s = seed;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    x[i] = (((s >>> 8) / 2 ** 24) * 2 - 1) * scale;
  }
  return x;
}

// ---- plain JS ----

function rmsNormJs(
  x: Float32Array,
  w: Float32Array,
  y: Float32Array,
  rows: number,
  dim: number,
  eps: number,
) {
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[o + i] * x[o + i];
    const s = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) y[o + i] = x[o + i] * s * w[i];
  }
}

function softmaxJs(x: Float32Array, y: Float32Array, rows: number, n: number) {
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) max = Math.max(max, x[o + i]);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += y[o + i] = Math.exp(x[o + i] - max);
    const inv = 1 / sum;
    for (let i = 0; i < n; i++) y[o + i] *= inv;
  }
}

function ropeJs(x: Float32Array, cache: Float32Array, y: Float32Array, q: RopeParams) {
  const half = q.nDims / 2;
  for (let t = 0; t < q.nTokens; t++) {
    const c = t * q.nDims;
    for (let h = 0; h < q.nHead; h++) {
      const o = (t * q.nHead + h) * q.headDim;
      for (let i = 0; i < half; i++) {
        const j0 = q.mode === 'normal' ? o + 2 * i : o + i;
        const j1 = q.mode === 'normal' ? j0 + 1 : j0 + half;
        const cs = cache[c + i];
        const sn = cache[c + half + i];
        const x0 = x[j0];
        const x1 = x[j1];
        y[j0] = x0 * cs - x1 * sn;
        y[j1] = x0 * sn + x1 * cs;
      }
    }
  }
}

function swigluJs(g: Float32Array, up: Float32Array, y: Float32Array) {
  for (let i = 0; i < g.length; i++) y[i] = (g[i] / (1 + Math.exp(-g[i]))) * up[i];
}

/** The fastest of `runs` calls, in seconds: on a shared machine, the run least disturbed by other work. */
function fastest(fn: () => void, runs = 20): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    best = Math.min(best, performance.now() - t);
  }
  return best / 1000;
}

interface Case {
  op: string;
  shape: string;
  bytes: number;
  wasm: NnCall;
  js: () => void;
}

export async function nnBench(): Promise<SuiteResult> {
  const rt = await WasmRuntime.create();
  const put = (a: Float32Array) => {
    const p = rt.arena.alloc(a.byteLength);
    rt.f32(p, a.length).set(a);
    return p;
  };
  const cases: Case[] = [];
  for (const dim of [2048, 4096]) {
    const n = ROWS * dim;
    const x = input(n, dim + 1, 3);
    const w = input(dim, dim + 2);
    const y = new Float32Array(n);
    const xp = put(x);
    const wp = put(w);
    const yp = rt.arena.alloc(n * 4);
    cases.push({
      op: 'rmsNorm',
      shape: `${ROWS}x${dim}`,
      bytes: 2 * n * 4,
      wasm: rmsNormCall(xp, wp, yp, ROWS, dim, Math.fround(1e-5)),
      js: () => rmsNormJs(x, w, y, ROWS, dim, 1e-5),
    });
    cases.push({
      op: 'softmax',
      shape: `${ROWS}x${dim}`,
      bytes: 2 * n * 4,
      wasm: softmaxCall(xp, 0, yp, ROWS, dim, 0, 1),
      js: () => softmaxJs(x, y, ROWS, dim),
    });
    const up = input(n, dim + 3, 2);
    const upp = put(up);
    cases.push({
      op: 'swiglu',
      shape: `${ROWS}x${dim}`,
      bytes: 3 * n * 4,
      wasm: swigluCall(xp, upp, yp, n),
      js: () => swigluJs(x, up, y),
    });
    for (const mode of ['normal', 'neox'] as const) {
      const nHead = dim / 128;
      const positions = Array.from({ length: ROWS }, (_, i) => i * 7);
      const q = validateRope({ shape: [ROWS, nHead, 128], type: GGML_TYPES.f32 }, positions, { mode });
      const cp = rt.arena.alloc(ropeCacheBytes(ROWS, 128));
      writeRopeCache(rt, cp, positions, q);
      const cache = ropeCache(positions, q);
      cases.push({
        op: `rope ${mode}`,
        shape: `${ROWS}x${nHead}x128`,
        bytes: 2 * n * 4,
        wasm: ropeCall(xp, cp, yp, q),
        js: () => ropeJs(x, cache, y, q),
      });
    }
  }
  const rows: (string | number)[][] = [];
  for (const c of cases) {
    const wasmCall = () => runNnCall(rt, c.wasm);
    const [wasm, js] = await measure(
      [
        { name: 'wasm', fn: wasmCall },
        { name: 'plain JS', fn: c.js },
      ],
      300,
    );
    const gbps = (s: number) => c.bytes / s / 1e9;
    const wasmMin = fastest(wasmCall);
    const jsMin = fastest(c.js);
    rows.push([
      c.op,
      c.shape,
      gbps(wasm.seconds),
      gbps(wasmMin),
      gbps(js.seconds),
      gbps(jsMin),
      jsMin / wasmMin,
      wasmMin * 1e6,
    ]);
  }
  return {
    suite: 'nn',
    notes: [
      `${rt.build}, 1 thread; GB/s of logical traffic: inputs read once + output written once (f32).`,
      'RoPE: the cos/sin cache (host-side, per token) is built outside the timed call, for both.',
      'plain JS: the same loops over Float32Array (Math.exp, doubles), no SIMD.',
      'p50: tinybench median; min: fastest of 20 calls (less sensitive to other load on a shared machine). Ratio and µs from min.',
    ],
    header: ['op', 'shape', 'wasm p50', 'wasm min', 'JS p50', 'JS min', 'x plain JS', 'wasm µs'],
    rows,
  };
}
