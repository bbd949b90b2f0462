/**
 * Attention on the wasm kernels (assembly/attention) against the float64
 * reference, within the bounds oracle/attention-bound.ts derives (the worst
 * ratio error / bound is printed per group; ≤ 1 means the difference is
 * explained by the precision). ggml numerics are also checked bit for bit
 * against a scalar emulation of ggml's algorithm (test/helpers/ggml-attention.ts).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { referenceAttention } from '../../../src/backends/reference/attention.js';
import {
  type AttentionPhase,
  attentionOnPool,
  attentionScratchBytes,
  DECODE_CHUNK,
  prepareAttention,
  wasmKvMemory,
} from '../../../src/backends/wasm/attention.js';
import { SizeError } from '../../../src/errors.js';
import { KvCache } from '../../../src/ops/kv-cache.js';
import { attentionScoresBound, attentionSoftmaxBound } from '../../../src/oracle/attention-bound.js';
import { WorkerPool } from '../../../src/scheduler/pool.js';
import { f16ToF32, f32ToF16 } from '../../../src/types/half.js';
import {
  bitsEqual,
  checkOutput,
  dimsOf,
  makeInputs,
  runWasm,
  type Shape,
  sameValues,
  singleUnits,
  unevenSplit,
  wasmExp,
} from '../../helpers/attention-cases.js';
import { attentionRuntime } from '../../helpers/attention-runtime.js';
import { emulateExactDecode } from '../../helpers/exact-attention.js';
import { emulateGgmlAttention } from '../../helpers/ggml-attention.js';

const { rt, compiled } = await attentionRuntime();

const NUMERICS = ['exact', 'ggml'] as const;
const KV_TYPES = ['f32', 'f16'] as const;

const exp32 = wasmExp(rt);

describe('f16 K/V rows widen exactly', () => {
  it('every half, and rows with inf and NaN (the general path)', () => {
    const n = 65536;
    const p = rt.arena.alloc(n * 6);
    const h = new Uint16Array(rt.memory.buffer, p, n);
    for (let i = 0; i < n; i++) h[i] = i;
    rt.kernel('attn_widen_f16')(p, p + n * 2, n);
    const all = rt.f32(p + n * 2, n).slice();
    // Finite rows of 128 halves (the fast path), each row checked on its own.
    const finite = Uint16Array.from({ length: 128 }, (_, i) => ((i * 397) % 0x7c00) | (i & 1 ? 0x8000 : 0));
    new Uint16Array(rt.memory.buffer, p, 128).set(finite);
    rt.kernel('attn_widen_f16')(p, p + n * 2, 128);
    const row = rt.f32(p + n * 2, 128).slice();
    rt.arena.release(p);
    for (let i = 0; i < n; i++) {
      const want = f16ToF32(i);
      if (!(Object.is(all[i], want) || (Number.isNaN(want) && Number.isNaN(all[i]))))
        expect.fail(`half 0x${i.toString(16)} → ${all[i]}, want ${want}`);
    }
    expect([...row]).toEqual([...finite].map((x) => f16ToF32(x)));
  });
});

describe('outputs within the derived bound, ragged shapes', () => {
  const HEAD_DIMS = [64, 80, 128];
  const N_KV = [1, 7, 33, 1000];
  const N_Q = [1, 5, 64];
  const RATIOS = [1, 2, 4, 8];
  let idx = 0;
  for (const headDim of HEAD_DIMS) {
    for (const nKv of N_KV) {
      for (const nQ of N_Q) {
        const ratio = RATIOS[idx++ % RATIOS.length];
        const s: Shape = { nQ, nKv, nHead: 8, nHeadKv: 8 / ratio, headDim };
        it(`q ${nQ}, kv ${nKv}, head_dim ${headDim}, GQA ${ratio}:1`, () => {
          const worst: string[] = [];
          for (const kv of KV_TYPES) {
            const x = makeInputs(s, 1000 + idx, kv);
            // Queries at arbitrary positions (in [0, nKv + 2)), so rows see different spans.
            const positions = Array.from({ length: nQ }, (_, i) => (i * 7919 + nKv) % (nKv + 2));
            let ref: ReturnType<typeof referenceAttention> | undefined;
            for (const numerics of NUMERICS) {
              const dims = dimsOf(s, kv, { numerics, positions });
              ref ??= referenceAttention(x.q, x.k, x.v, dims);
              const got = runWasm(rt, dims, x);
              const c = checkOutput(dims, x, got.out, ref);
              expect(c.failures, `${numerics} ${kv}`).toEqual([]);
              worst.push(`${numerics}/${kv} ${c.ratio.toExponential(2)}`);
            }
          }
          console.log(`q ${nQ} kv ${nKv} hd ${headDim} GQA ${ratio}: worst error/bound ${worst.join(', ')}`);
        });
      }
    }
  }

  it('head dims that are not multiples of 4 or 16 (every tail path)', () => {
    for (const headDim of [1, 3, 5, 20, 36, 99]) {
      for (const nQ of [1, 6]) {
        const s: Shape = { nQ, nKv: 41, nHead: 4, nHeadKv: 2, headDim };
        for (const kv of KV_TYPES) {
          const x = makeInputs(s, headDim * 10 + nQ, kv);
          for (const numerics of NUMERICS) {
            const dims = dimsOf(s, kv, { numerics });
            const c = checkOutput(dims, x, runWasm(rt, dims, x).out);
            expect(c.failures, `hd ${headDim} q ${nQ} ${numerics} ${kv}`).toEqual([]);
          }
        }
      }
    }
  });
});

describe('masks', () => {
  const s: Shape = { nQ: 9, nKv: 50, nHead: 4, nHeadKv: 1, headDim: 64 };

  it('causal with arbitrary (unsorted, repeated) positions', () => {
    const positions = [49, 0, 17, 17, 3, 48, 25, 1, 33];
    for (const kv of KV_TYPES) {
      const x = makeInputs(s, 5, kv);
      for (const numerics of NUMERICS) {
        const dims = dimsOf(s, kv, { numerics, positions });
        const c = checkOutput(dims, x, runWasm(rt, dims, x).out);
        expect(c.failures).toEqual([]);
      }
    }
  });

  it('sliding window, and not causal', () => {
    const positions = [49, 0, 17, 20, 3, 48, 25, 1, 33];
    for (const opts of [{ window: 1 }, { window: 7 }, { window: 16 }, { window: 1000 }, { causal: false }]) {
      for (const kv of KV_TYPES) {
        const x = makeInputs(s, 6, kv);
        for (const numerics of NUMERICS) {
          const dims = dimsOf(s, kv, { numerics, positions, ...opts });
          const c = checkOutput(dims, x, runWasm(rt, dims, x).out);
          expect(c.failures, JSON.stringify(opts)).toEqual([]);
        }
      }
    }
  });

  it('rows that see nothing are exactly zero (and n_kv = 0)', () => {
    // Window 4 at positions ≥ n_kv + 3 sees no kv position; n_kv = 0 sees none at all.
    for (const [shape, positions] of [
      [s, [60, 52, 53, 10, 70, 49, 52, 100, 5]],
      [{ ...s, nKv: 0 }, [0, 1, 2, 3, 4, 5, 6, 7, 8]],
      [{ ...s, nQ: 1 }, [53]],
    ] as const) {
      for (const kv of KV_TYPES) {
        const x = makeInputs(shape, 7, kv);
        for (const numerics of NUMERICS) {
          const dims = dimsOf(shape, kv, { numerics, positions, window: 4, softmax: true });
          const got = runWasm(rt, dims, x);
          const ref = referenceAttention(x.q, x.k, x.v, dims);
          for (let row = 0; row < shape.nQ * shape.nHead; row++) {
            if (ref.stats.hi[row] > ref.stats.lo[row]) continue;
            const i = Math.floor(row / shape.nHead);
            const h = row % shape.nHead;
            const o = got.out.subarray(
              (i * shape.nHead + h) * shape.headDim,
              (i * shape.nHead + h + 1) * shape.headDim,
            );
            expect(o.every((y) => Object.is(y, 0))).toBe(true);
            const sm = got.softmax?.subarray(
              (h * shape.nQ + i) * shape.nKv,
              (h * shape.nQ + i + 1) * shape.nKv,
            );
            expect(sm?.every((y) => Object.is(y, 0))).toBe(true);
          }
          expect(checkOutput(dims, x, got.out, ref).failures).toEqual([]);
        }
      }
    }
  });
});

describe('decode over long caches', () => {
  it('many KV chunks, every GQA ratio, within the bound; one chunk equals prefill bit for bit', () => {
    for (const ratio of [1, 2, 4, 8]) {
      const s: Shape = { nQ: 1, nKv: 9 * DECODE_CHUNK + 77, nHead: 2 * ratio, nHeadKv: 2, headDim: 64 };
      for (const kv of KV_TYPES) {
        const x = makeInputs(s, 40 + ratio, kv, 0.5);
        for (const opts of [{}, { window: 700 }, { positions: [1300] }]) {
          const dims = dimsOf(s, kv, opts);
          const c = checkOutput(dims, x, runWasm(rt, dims, x).out);
          expect(c.failures, `${ratio} ${kv} ${JSON.stringify(opts)}`).toEqual([]);
        }
      }
    }
    // n_kv ≤ one chunk: the decode path (one partial, combined) and the prefill path agree exactly.
    const s: Shape = { nQ: 2, nKv: DECODE_CHUNK, nHead: 4, nHeadKv: 2, headDim: 80 };
    const x = makeInputs(s, 3, 'f16');
    const both = runWasm(rt, dimsOf(s, 'f16', { positions: [200, 255] }), x).out;
    for (const [i, p] of [200, 255].entries()) {
      const one = { ...s, nQ: 1 };
      const q = x.q.subarray(i * 4 * 80, (i + 1) * 4 * 80);
      const d = runWasm(rt, dimsOf(one, 'f16', { positions: [p] }), { ...x, q }).out;
      expect(bitsEqual(d, both.subarray(i * 320, (i + 1) * 320))).toBe(true);
    }
  });
});

describe('exact decode bit for bit against the emulation of its documented order', () => {
  // SIMD128 build only (no fused multiply-add); the relaxed build is held to the bound in a child process.
  const simd = rt.build === 'wasm-simd';

  it.runIf(simd)('every GQA ratio, ragged head dims, chunks, windows; f32 and f16 K/V', () => {
    const cases: [Shape, Record<string, unknown>][] = [
      [{ nQ: 1, nKv: 1000, nHead: 8, nHeadKv: 2, headDim: 128 }, {}],
      [{ nQ: 1, nKv: 600, nHead: 8, nHeadKv: 8, headDim: 128 }, { window: 333 }],
      [{ nQ: 1, nKv: 530, nHead: 6, nHeadKv: 2, headDim: 80 }, { positions: [300] }],
      [
        { nQ: 1, nKv: 300, nHead: 10, nHeadKv: 2, headDim: 36 },
        { causal: false, scale: 0.7 },
      ],
      [{ nQ: 1, nKv: 270, nHead: 16, nHeadKv: 2, headDim: 130 }, {}],
      [{ nQ: 1, nKv: 77, nHead: 4, nHeadKv: 2, headDim: 7 }, { window: 20 }],
      [{ nQ: 1, nKv: 40, nHead: 9, nHeadKv: 3, headDim: 12 }, {}],
      [{ nQ: 1, nKv: 3, nHead: 5, nHeadKv: 1, headDim: 5 }, {}],
      [{ nQ: 1, nKv: 50, nHead: 8, nHeadKv: 2, headDim: 3 }, { positions: [33] }],
      [{ nQ: 1, nKv: 20, nHead: 2, nHeadKv: 1, headDim: 2 }, {}],
    ];
    for (const [s, opts] of cases) {
      for (const kv of KV_TYPES) {
        const x = makeInputs(s, 61, kv, 1.5);
        const dims = dimsOf(s, kv, opts);
        const want = emulateExactDecode(x.q, x.k, x.v, dims, exp32);
        expect(bitsEqual(runWasm(rt, dims, x).out, want), `${JSON.stringify(s)} ${kv}`).toBe(true);
      }
    }
  });

  it.runIf(simd)('f16 zeros, subnormals, inf and NaN in K or V, and queries beyond 2^16', () => {
    const s: Shape = { nQ: 1, nKv: 300, nHead: 8, nHeadKv: 2, headDim: 64 };
    const patch = (bits: Uint16Array, at: number[], h: number) => {
      const b = bits.slice();
      for (const i of at) b[i] = h;
      return [b, Float32Array.from(b, (y) => f16ToF32(y))] as const;
    };
    const x = makeInputs(s, 67, 'f16');
    const tiny = Uint16Array.from(x.kBits, (h, i) =>
      i % 3 === 0 ? h & 0x83ff : i % 7 === 0 ? h & 0x8000 : h,
    );
    const variants: [string, Uint16Array, Uint16Array, Float32Array?][] = [
      ['subnormal and signed-zero K and V', tiny, tiny],
      ['inf in K', patch(x.kBits, [5000], 0x7c00)[0], x.vBits],
      ['-inf in V', x.kBits, patch(x.vBits, [20000], 0xfc00)[0]],
      ['NaN in V', x.kBits, patch(x.vBits, [130], 0x7e01)[0]],
      ['|q| ≥ 2^16', x.kBits, x.vBits, x.q.map((y, i) => (i === 9 ? 70000 : y * 3))],
    ];
    for (const [what, kBits, vBits, q] of variants) {
      const y = {
        ...x,
        q: q ?? x.q,
        kBits,
        vBits,
        k: Float32Array.from(kBits, (h) => f16ToF32(h)),
        v: Float32Array.from(vBits, (h) => f16ToF32(h)),
      };
      const dims = dimsOf(s, 'f16');
      const got = runWasm(rt, dims, y).out;
      expect(sameValues(got, emulateExactDecode(y.q, y.k, y.v, dims, exp32)), what).toBe(true);
    }
  });
});

describe('determinism', () => {
  const uneven = unevenSplit;
  const single = singleUnits;

  it('any split of the units gives the same bits (prefill, decode with chunks, ggml, scores)', () => {
    const cases: [Shape, Record<string, unknown>][] = [
      [{ nQ: 23, nKv: 300, nHead: 8, nHeadKv: 2, headDim: 64 }, {}],
      [{ nQ: 1, nKv: 3000, nHead: 8, nHeadKv: 4, headDim: 128 }, {}],
      [
        { nQ: 7, nKv: 90, nHead: 6, nHeadKv: 3, headDim: 80 },
        { scores: true, softmax: true, window: 30 },
      ],
    ];
    for (const [s, opts] of cases) {
      for (const kv of KV_TYPES) {
        const x = makeInputs(s, 11, kv);
        for (const numerics of NUMERICS) {
          const dims = dimsOf(s, kv, { numerics, ...opts });
          const base = runWasm(rt, dims, x);
          for (const split of [single, uneven(2), uneven(3), uneven(7)]) {
            const got = runWasm(rt, dims, x, split);
            expect(bitsEqual(got.out, base.out)).toBe(true);
            if (base.scores) expect(bitsEqual(got.scores as Float32Array, base.scores)).toBe(true);
            if (base.softmax) expect(bitsEqual(got.softmax as Float32Array, base.softmax)).toBe(true);
          }
        }
      }
    }
  });

  it('a worker pool of 1, 2 and 3 threads gives the same bits', async () => {
    const s: Shape = { nQ: 1, nKv: 2100, nHead: 16, nHeadKv: 4, headDim: 128 };
    const p: Shape = { nQ: 37, nKv: 300, nHead: 16, nHeadKv: 4, headDim: 128 };
    const results: Float32Array[][] = [];
    for (const threads of [1, 2, 3]) {
      const pool = await WorkerPool.create({ threads, compiled, memory: rt.memory });
      try {
        const outs: Float32Array[] = [];
        for (const shape of [s, p]) {
          for (const kv of KV_TYPES) {
            const x = makeInputs(shape, 17, kv);
            const dims = dimsOf(shape, kv);
            const f16 = kv === 'f16';
            const place = (a: Float32Array | Uint16Array) => {
              const ptr = rt.arena.alloc(a.byteLength);
              rt.u8.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), ptr);
              return ptr;
            };
            const q = place(x.q);
            const k = place(f16 ? x.kBits : x.k);
            const v = place(f16 ? x.vBits : x.v);
            const out = rt.arena.alloc(shape.nQ * shape.nHead * shape.headDim * 4);
            await attentionOnPool(rt, pool, dims, { q, k, v, out });
            outs.push(rt.f32(out, shape.nQ * shape.nHead * shape.headDim).slice());
            for (const ptr of [q, k, v, out]) rt.arena.release(ptr);
          }
        }
        results.push(outs);
      } finally {
        await pool.dispose();
      }
    }
    for (const r of results.slice(1))
      for (const [n, o] of r.entries()) expect(bitsEqual(o, results[0][n])).toBe(true);
  });
});

describe('ggml numerics', () => {
  it('bit-identical to the scalar emulation of ggml’s algorithm', () => {
    const shapes: [Shape, Record<string, unknown>][] = [
      [{ nQ: 5, nKv: 70, nHead: 4, nHeadKv: 2, headDim: 64 }, {}],
      [{ nQ: 1, nKv: 600, nHead: 8, nHeadKv: 2, headDim: 128 }, {}],
      [
        { nQ: 3, nKv: 33, nHead: 2, nHeadKv: 2, headDim: 36 },
        { window: 9, positions: [32, 10, 20] },
      ],
      [
        { nQ: 2, nKv: 21, nHead: 3, nHeadKv: 1, headDim: 99 },
        { causal: false, scale: 0.3 },
      ],
    ];
    for (const [s, opts] of shapes) {
      for (const kv of KV_TYPES) {
        const x = makeInputs(s, 23, kv, 2);
        const dims = dimsOf(s, kv, { numerics: 'ggml', ...opts });
        const got = runWasm(rt, dims, x).out;
        const want = emulateGgmlAttention(x.q, x.k, x.v, dims, exp32);
        expect(bitsEqual(got, want), `${JSON.stringify(s)} ${kv}`).toBe(true);
      }
    }
  });

  it('tiny, huge and non-finite values: the f16 accumulator’s every rounding path', () => {
    const s: Shape = { nQ: 3, nKv: 40, nHead: 4, nHeadKv: 2, headDim: 36 };
    // V scaled so the accumulator goes subnormal (1e-6), stays normal, or overflows f16 (3e4·…).
    for (const vScale of [1e-6, 1e-3, 3e4]) {
      for (const kv of KV_TYPES) {
        const x = makeInputs(s, 29, kv);
        const vh = Uint16Array.from(x.v, (y) => f32ToF16(y * vScale));
        const vals = kv === 'f16' ? Float32Array.from(vh, (h) => f16ToF32(h)) : x.v.map((y) => y * vScale);
        const y = { ...x, v: vals, vBits: vh };
        const dims = dimsOf(s, kv, { numerics: 'ggml' });
        const got = runWasm(rt, dims, y).out;
        const want = emulateGgmlAttention(x.q, x.k, vals, dims, exp32);
        expect(sameValues(got, want), `${vScale} ${kv}`).toBe(true);
        if (vScale > 1 && kv === 'f16') expect(got.some((o) => !Number.isFinite(o))).toBe(true);
      }
    }
  });

  it('Q is rounded to f16 exactly as ggml_fp32_to_fp16 does', () => {
    const n = 1 << 16;
    const x = new Float32Array(n);
    const bits = new Uint32Array(x.buffer);
    let i = 0;
    // Every exponent, with mantissas at the f16 rounding boundaries and random ones.
    const edges = [0, 1, 0xfff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000, 0x7fe000, 0x7ff000, 0x7fffff];
    for (let e = 0; e < 256 && i < n; e++) {
      for (const m of edges) {
        bits[i++] = (e << 23) | m;
        bits[i++] = 0x80000000 | (e << 23) | m;
      }
    }
    let seed = 12345;
    while (i < n) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      bits[i++] = seed;
    }
    const p = rt.arena.alloc(n * 8);
    rt.f32(p, n).set(x);
    rt.kernel('attn_round_f16')(p, p + n * 4, n);
    const got = rt.f32(p + n * 4, n).slice();
    rt.arena.release(p);
    for (let j = 0; j < n; j++) {
      const want = f16ToF32(f32ToF16(x[j]));
      if (!(Object.is(got[j], want) || (Number.isNaN(want) && Number.isNaN(got[j]))))
        expect.fail(`round(${x[j]}) = ${got[j]}, want ${want}`);
    }
  });
});

describe('scores and softmax when a trace asks for them', () => {
  it('within their bounds; the scores are the ones the output used', () => {
    for (const s of [
      { nQ: 6, nKv: 45, nHead: 4, nHeadKv: 2, headDim: 80 },
      { nQ: 1, nKv: 700, nHead: 8, nHeadKv: 1, headDim: 64 },
    ]) {
      for (const kv of KV_TYPES) {
        const x = makeInputs(s, 31, kv);
        for (const numerics of NUMERICS) {
          for (const ask of [{ scores: true, softmax: true }, { softmax: true }, { scores: true }]) {
            const dims = dimsOf(s, kv, { numerics, window: 20, ...ask });
            const got = runWasm(rt, dims, x);
            const ref = referenceAttention(x.q, x.k, x.v, dims);
            expect(checkOutput(dims, x, got.out, ref).failures).toEqual([]);
            if (ask.scores) {
              const b = attentionScoresBound(ref, dims);
              const sc = got.scores as Float32Array;
              for (let e = 0; e < sc.length; e++) {
                if (!(Math.abs(sc[e] - (ref.scores as Float64Array)[e]) <= b[e]))
                  expect.fail(`scores[${e}] ${sc[e]} vs ${(ref.scores as Float64Array)[e]} (bound ${b[e]})`);
              }
            } else expect(got.scores).toBeUndefined();
            if (ask.softmax) {
              const b = attentionSoftmaxBound(ref, dims);
              const sm = got.softmax as Float32Array;
              for (let e = 0; e < sm.length; e++) {
                if (!(Math.abs(sm[e] - (ref.softmax as Float64Array)[e]) <= b[e]))
                  expect.fail(
                    `softmax[${e}] ${sm[e]} vs ${(ref.softmax as Float64Array)[e]} (bound ${b[e]})`,
                  );
              }
            }
          }
        }
      }
    }
  });
});

describe('relaxed-SIMD build (child process)', () => {
  it('exact numerics within the bound and deterministic with f32x4.relaxed_madd; ggml path unchanged', () => {
    const script = fileURLToPath(new URL('./attention-relaxed.mts', import.meta.url));
    const out = execFileSync(
      process.execPath,
      ['--experimental-wasm-relaxed-simd', '--import', 'tsx', script],
      {
        encoding: 'utf8',
      },
    );
    const report = JSON.parse(out) as { build: string; relaxed: number; cases: number; failures: object };
    expect(report.build).toBe('wasm-relaxed-simd');
    expect(report.relaxed).toBe(1);
    expect(report.failures).toEqual({ bound: [], determinism: [], ggml: [] });
    expect(report.cases).toBe(8);
  });
});

describe('KV cache views and the wrapper', () => {
  it('appending to a wasm-memory KvCache and attending over its first n positions', () => {
    const s: Shape = { nQ: 1, nKv: 0, nHead: 4, nHeadKv: 2, headDim: 64 };
    for (const type of KV_TYPES) {
      const cache = new KvCache(wasmKvMemory(rt), { nLayer: 2, nCtx: 40, nHeadKv: 2, headDim: 64, type });
      const all = makeInputs({ ...s, nKv: 40 }, 50, 'f32');
      const row = 2 * 64;
      // Prefill 30 positions, then decode 5 one by one (layer 1 only), attending each time.
      cache.write(1, 0, all.k.subarray(0, 30 * row), all.v.subarray(0, 30 * row));
      for (let p = 30; p < 35; p++) {
        cache.write(1, p, all.k.subarray(p * row, (p + 1) * row), all.v.subarray(p * row, (p + 1) * row));
        const n = cache.length(1);
        const dims = dimsOf({ ...s, nKv: n }, type, { positions: [p] });
        const q = all.q.subarray(0, 4 * 64);
        const qp = rt.arena.alloc(q.byteLength);
        rt.f32(qp, q.length).set(q);
        const out = rt.arena.alloc(4 * 64 * 4);
        const scratch = rt.arena.alloc(attentionScratchBytes(rt, dims));
        const call = prepareAttention(rt, dims, { q: qp, k: cache.kOffset(1), v: cache.vOffset(1), out });
        for (const ph of call.phases) rt.kernel(ph.kernel)(call.params, scratch, 0, ph.units);
        call.dispose();
        const { k, v } = cache.read(1);
        const c = checkOutput(
          dims,
          { q, k, v, kBits: new Uint16Array(), vBits: new Uint16Array() },
          rt.f32(out, 256),
        );
        expect(c.failures).toEqual([]);
        for (const ptr of [qp, out, scratch]) rt.arena.release(ptr);
      }
      cache.dispose();
    }
  });

  it('rejects pointers outside the memory and missing side outputs', () => {
    const dims = dimsOf({ nQ: 2, nKv: 3, nHead: 2, nHeadKv: 1, headDim: 8 }, 'f32', { scores: true });
    const end = rt.memory.buffer.byteLength;
    expect(() => prepareAttention(rt, dims, { q: end - 8, k: 0, v: 0, out: 0, scores: 0 })).toThrow(
      SizeError,
    );
    expect(() => prepareAttention(rt, dims, { q: 64, k: 64, v: 64, out: 64 })).toThrow(/scores pointer/);
    expect(() => prepareAttention(rt, dims, { q: 66, k: 64, v: 64, out: 64, scores: 64 })).toThrow(/aligned/);
  });

  it('phases and units follow the sizes only', () => {
    const phases = (opts: Record<string, unknown>, s: Shape): AttentionPhase[] => {
      const call = prepareAttention(rt, dimsOf(s, 'f32', opts), {
        q: 64,
        k: 64,
        v: 64,
        out: 64,
        scores: 64,
        softmax: 64,
      });
      call.dispose();
      return [...call.phases];
    };
    const dec = { nQ: 1, nKv: 1000, nHead: 8, nHeadKv: 2, headDim: 8 };
    expect(phases({}, dec)).toEqual([
      { kernel: 'attn_decode', units: 2 * Math.ceil(1000 / DECODE_CHUNK) },
      { kernel: 'attn_decode_combine', units: 8 },
    ]);
    expect(phases({}, { ...dec, nQ: 9 })).toEqual([{ kernel: 'attn_prefill', units: 2 * 3 }]);
    expect(phases({ numerics: 'ggml', softmax: true }, { ...dec, nQ: 9 })).toEqual([
      { kernel: 'attn_scores', units: 8 * 9 },
      { kernel: 'attn_ggml', units: 2 * 9 },
    ]);
  });
});
