/**
 * Attention and the KV cache on the WebGPU engine against the float64
 * reference, within the bounds src/oracle/attention-bound.ts derives (WGSL_F32)
 * from WGSL's accuracy (the worst error/bound ratio is printed; ≤ 1 means the
 * difference is explained by the precision). Mirrors
 * test/backends/wasm/attention.test.ts at shapes SwiftShader runs fast.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type ReferenceAttention, referenceAttention } from '../../../src/backends/reference/attention.js';
import { GGML_ATTENTION_WHY, usesDecodePath } from '../../../src/backends/webgpu/ops/attention.js';
import { ATTN_CHUNK, ATTN_MAX_HEAD_DIM } from '../../../src/backends/webgpu/wgsl/attention.js';
import { createEngine } from '../../../src/engine/engine.js';
import type { Tensor } from '../../../src/engine/tensor.js';
import { ContextOverflowError, ShapeError } from '../../../src/errors.js';
import type { AttentionDims, AttentionOptions } from '../../../src/ops/attention.js';
import {
  attentionOutputGpuBound,
  attentionScoresGpuBound,
  attentionSoftmaxGpuBound,
} from '../../../src/oracle/attention-bound.js';
import { f16ToF32, f32ToF16 } from '../../../src/types/half.js';
import { dimsOf, type Inputs, makeInputs, type Shape } from '../../helpers/attention-cases.js';
import { webgpuEngine } from '../../helpers/webgpu.js';
import { sameBits, uniform } from '../wasm/nn-helpers.js';

const gpu = await webgpuEngine();
const KV_TYPES = ['f32', 'f16'] as const;
afterAll(() => gpu?.dispose());
const bytes = (a: Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe.skipIf(!gpu)('WebGPU attention', () => {
  const e = gpu!;

  function upload(s: Shape, kv: 'f32' | 'f16', x: Inputs) {
    const kvShape = [s.nKv, s.nHeadKv, s.headDim];
    return {
      q: e.tensor(x.q, [s.nQ, s.nHead, s.headDim]),
      k: kv === 'f16' ? e.tensor(bytes(x.kBits), kvShape, 'f16') : e.tensor(x.k, kvShape),
      v: kv === 'f16' ? e.tensor(bytes(x.vBits), kvShape, 'f16') : e.tensor(x.v, kvShape),
    };
  }

  async function run(s: Shape, kv: 'f32' | 'f16', x: Inputs, opts: AttentionOptions) {
    const t = upload(s, kv, x);
    const r = await e.attention(t.q, t.k, t.v, opts);
    const got = {
      out: await r.out.read(),
      scores: r.scores && (await r.scores.read()),
      softmax: r.softmax && (await r.softmax.read()),
    };
    for (const z of [t.q, t.k, t.v, r.out, r.scores, r.softmax]) z?.dispose();
    return got;
  }

  function check(dims: AttentionDims, got: Float32Array, ref: ReferenceAttention) {
    const bound = attentionOutputGpuBound(ref, dims, usesDecodePath(dims) ? 'decode' : 'prefill');
    let ratio = 0;
    const failures: string[] = [];
    for (let i = 0; i < got.length; i++) {
      const err = Math.abs(got[i] - ref.out[i]);
      if (Number.isNaN(got[i]) || err > bound[i]) {
        if (failures.length < 5)
          failures.push(`out[${i}] = ${got[i]}, reference ${ref.out[i]}, bound ${bound[i]}`);
      }
      if (err > 0) ratio = Math.max(ratio, bound[i] > 0 ? err / bound[i] : Number.POSITIVE_INFINITY);
    }
    return { ratio, failures };
  }

  async function checkCase(s: Shape, kv: 'f32' | 'f16', seed: number, opts: AttentionOptions, qScale = 1) {
    const x = makeInputs(s, seed, kv, qScale);
    const dims = dimsOf(s, kv, opts);
    const got = await run(s, kv, x, opts);
    const ref = referenceAttention(x.q, x.k, x.v, dims);
    return { got, ref, dims, ...check(dims, got.out, ref) };
  }

  it('f16 K widens exactly: the scores of a one-hot query are every half bit pattern', async () => {
    const n = 65536;
    const halves = Uint16Array.from({ length: n }, (_, i) => i);
    const q = e.tensor(Float32Array.of(1), [1, 1, 1]);
    const k = e.tensor(bytes(halves), [n, 1, 1], 'f16');
    const r = await e.attention(q, k, k, { causal: false, scale: 1, scores: true });
    const s = await r.scores!.read();
    for (let i = 0; i < n; i++) {
      const want = f16ToF32(i);
      const ok = Number.isNaN(want) ? Number.isNaN(s[i]) : s[i] === want; // 0 + (−0) is +0: === equates them
      if (!ok) expect.fail(`half 0x${i.toString(16)} → ${s[i]}, want ${want}`);
    }
    for (const t of [q, k, r.out, r.scores]) t?.dispose();
  });

  it('ragged shapes, GQA, f32 and f16 K/V: outputs within the derived bound', async () => {
    const worst: string[] = [];
    let idx = 0;
    for (const headDim of [5, 64]) {
      for (const nKv of [1, 7, 33, 300]) {
        for (const nQ of [1, 17]) {
          const ratio = [1, 2, 4][idx++ % 3];
          const s: Shape = { nQ, nKv, nHead: 4, nHeadKv: 4 / ratio, headDim };
          const positions = Array.from({ length: nQ }, (_, i) => (i * 7919 + nKv) % (nKv + 2));
          for (const kv of KV_TYPES) {
            const c = await checkCase(s, kv, 1000 + idx, { positions });
            expect(c.failures, `hd ${headDim} kv ${nKv} q ${nQ} ${kv}`).toEqual([]);
            worst.push(c.ratio.toExponential(1));
          }
        }
      }
    }
    console.log(`attention worst error/bound per case: ${worst.join(' ')}`);
  });

  it('causal with unsorted positions, sliding windows, not causal', async () => {
    const s: Shape = { nQ: 9, nKv: 50, nHead: 4, nHeadKv: 1, headDim: 32 };
    const positions = [49, 0, 17, 20, 3, 48, 25, 1, 33];
    for (const opts of [{}, { window: 1 }, { window: 7 }, { window: 1000 }, { causal: false }]) {
      for (const kv of KV_TYPES) {
        const c = await checkCase(s, kv, 6, { positions, ...opts });
        expect(c.failures, JSON.stringify(opts)).toEqual([]);
      }
    }
  });

  it('rows that see nothing are exactly zero (and n_kv = 0)', async () => {
    const s: Shape = { nQ: 9, nKv: 50, nHead: 2, nHeadKv: 1, headDim: 8 };
    for (const [shape, positions] of [
      [s, [60, 52, 53, 10, 70, 49, 52, 100, 5]],
      [{ ...s, nKv: 0 }, [0, 1, 2, 3, 4, 5, 6, 7, 8]],
      [{ ...s, nQ: 1 }, [53]],
    ] as const) {
      for (const kv of KV_TYPES) {
        const c = await checkCase(shape, kv, 7, { positions: [...positions], window: 4, softmax: true });
        expect(c.failures).toEqual([]);
        for (let row = 0; row < shape.nQ * shape.nHead; row++) {
          if (c.ref.stats.hi[row] > c.ref.stats.lo[row]) continue;
          const o = c.got.out.subarray(row * shape.headDim, (row + 1) * shape.headDim);
          expect(o.every((y) => Object.is(y, 0))).toBe(true);
        }
        expect(c.got.softmax!.every((y, j) => y === 0 || c.ref.softmax![j] > 0)).toBe(true);
      }
    }
  });

  it('decode (n_q = 1) over many chunks, every GQA ratio, windows and positions, within the bound', async () => {
    for (const ratio of [1, 4]) {
      const s: Shape = { nQ: 1, nKv: 5 * ATTN_CHUNK + 77, nHead: 2 * ratio, nHeadKv: 2, headDim: 32 };
      for (const kv of KV_TYPES) {
        for (const opts of [{}, { window: 700 }, { positions: [900] }]) {
          const dims = dimsOf(s, kv, opts);
          expect(usesDecodePath(dims)).toBe(true);
          const c = await checkCase(s, kv, 40 + ratio, opts, 0.5);
          expect(c.failures, `${ratio} ${kv} ${JSON.stringify(opts)}`).toEqual([]);
        }
      }
    }
  });

  it('scores and softmax, when asked, within their bounds; masked weights exactly 0', async () => {
    const s: Shape = { nQ: 7, nKv: 90, nHead: 6, nHeadKv: 3, headDim: 20 };
    for (const kv of KV_TYPES) {
      const opts = { scores: true, softmax: true, window: 30, positions: [89, 3, 50, 50, 0, 77, 31] };
      const c = await checkCase(s, kv, 11, opts);
      expect(c.failures).toEqual([]);
      const dims = c.dims;
      const sb = attentionScoresGpuBound(c.ref, dims);
      const wb = attentionSoftmaxGpuBound(c.ref, dims);
      for (let i = 0; i < sb.length; i++) {
        if (Math.abs(c.got.scores![i] - c.ref.scores![i]) > sb[i]) expect.fail(`scores[${i}]`);
        if (Math.abs(c.got.softmax![i] - c.ref.softmax![i]) > wb[i]) expect.fail(`softmax[${i}]`);
        if (c.ref.softmax![i] === 0) expect(c.got.softmax![i]).toBe(0);
      }
    }
  });

  it('the same bits on every run (fixed orders: blocks, trees, the chunk combine)', async () => {
    for (const s of [
      { nQ: 23, nKv: 300, nHead: 8, nHeadKv: 2, headDim: 16 },
      { nQ: 1, nKv: 700, nHead: 4, nHeadKv: 4, headDim: 32 },
    ]) {
      const x = makeInputs(s, 17, 'f16');
      const a = await run(s, 'f16', x, {});
      const b = await run(s, 'f16', x, {});
      expect(sameBits(a.out, b.out)).toBe(true);
    }
  });

  it("numerics 'ggml' runs on the CPU engine and says why", async () => {
    const s: Shape = { nQ: 3, nKv: 5, nHead: 2, nHeadKv: 1, headDim: 8 };
    const x = makeInputs(s, 2, 'f16');
    const cpu = await createEngine({ backend: 'wasm', threads: 1 });
    try {
      const got = await run(s, 'f16', x, { numerics: 'ggml' });
      const t = {
        q: cpu.tensor(x.q, [3, 2, 8]),
        k: cpu.tensor(bytes(x.kBits), [5, 1, 8], 'f16'),
        v: cpu.tensor(bytes(x.vBits), [5, 1, 8], 'f16'),
      };
      const want = await (await cpu.attention(t.q, t.k, t.v, { numerics: 'ggml' })).out.read();
      expect(sameBits(got.out, want)).toBe(true);
      expect(e.opReport().attention.why).toBe(GGML_ATTENTION_WHY);
    } finally {
      await cpu.dispose();
    }
  });
  it('head_dim past ATTN_MAX_HEAD_DIM runs on the CPU engine, within the bound, and says why', async () => {
    const s: Shape = { nQ: 2, nKv: 3, nHead: 1, nHeadKv: 1, headDim: ATTN_MAX_HEAD_DIM + 8 };
    const c = await checkCase(s, 'f32', 4, {}, 0.05);
    expect(c.failures).toEqual([]);
    expect(e.opReport().attention.why).toMatch(/head_dim 520/);
  });
});

describe.skipIf(!gpu)('WebGPU KV cache (GPU buffers)', () => {
  const e = gpu!;
  const ref = createEngine({ backend: 'reference' });
  afterAll(async () => (await ref).dispose());

  for (const type of KV_TYPES) {
    it(`${type}: writes (appends, rewrites, odd offsets) hold what the CPU cache holds, bit for bit`, async () => {
      const opts = { nLayer: 2, nCtx: 12, nHeadKv: 1, headDim: 3, type }; // 3 values a row: f16 rows straddle words
      const r = await ref;
      const gc = e.kvCache(opts);
      const rc = r.kvCache(opts);
      const specials = Float32Array.of(
        65520,
        -65504,
        1e-8,
        6e-8,
        3e-8,
        Number.NaN,
        Number.NEGATIVE_INFINITY,
        1e30,
        -0,
      );
      const writes: [number, number, number][] = [
        [1, 0, 3],
        [1, 3, 1],
        [1, 2, 5],
        [0, 0, 2],
      ];
      for (const [layer, pos, n] of writes) {
        const k = uniform(n * 3, pos * 10 + n, 4);
        const v = uniform(n * 3, pos * 10 + n + 1, 4);
        if (layer === 1 && pos === 2) k.set(specials.subarray(0, Math.min(9, k.length)));
        const mk = (en: typeof e | Awaited<typeof ref>, a: Float32Array) => en.tensor(a, [n, 1, 3]);
        await e.kvWrite(gc, layer, pos, mk(e, k), mk(e, v));
        await r.kvWrite(rc, layer, pos, mk(r, k), mk(r, v));
      }
      for (const layer of [0, 1]) {
        expect(gc.length(layer)).toBe(rc.length(layer));
        const g = e.kvView(gc, layer);
        const c = r.kvView(rc, layer);
        expect(g.k.shape).toEqual(c.k.shape);
        expect(await (g.k as Tensor).readBytes()).toEqual(await c.k.readBytes());
        expect(await g.v.readBytes()).toEqual(await c.v.readBytes());
        if (type === 'f16') {
          const want = Float32Array.from(await c.k.read());
          expect([...(await g.k.read())].map((x) => (Number.isNaN(x) ? 'NaN' : x))).toEqual(
            [...want].map((x) => (Number.isNaN(x) ? 'NaN' : x)),
          );
        }
      }
      const k = e.tensor(new Float32Array(3 * 11), [11, 1, 3]);
      await expect(e.kvWrite(gc, 0, 2, k, k)).rejects.toThrow(ContextOverflowError);
      await expect(e.kvWrite(gc, 0, 3, k, k)).rejects.toThrow(ShapeError); // a gap
      expect(gc.length(0)).toBe(2); // nothing written by the refused calls
      expect(() => e.kvView(gc, 0, 3)).toThrow(ShapeError);
      expect(() => gc.read(0)).toThrow(/kvView/);
      gc.dispose();
      rc.dispose();
      expect(f32ToF16(65520)).toBe(0x7c00); // the RNE overflow case above is really exercised
    });
  }

  it('attention over a cache view equals attention over the same K/V uploaded', async () => {
    const s: Shape = { nQ: 2, nKv: 40, nHead: 4, nHeadKv: 2, headDim: 16 };
    const x = makeInputs(s, 9, 'f32');
    const cache = e.kvCache({ nLayer: 1, nCtx: 64, nHeadKv: 2, headDim: 16, type: 'f16' });
    const k = e.tensor(x.k, [40, 2, 16]);
    const v = e.tensor(x.v, [40, 2, 16]);
    await e.kvWrite(cache, 0, 0, k, v);
    const view = e.kvView(cache, 0);
    const q = e.tensor(x.q, [2, 4, 16]);
    const a = await (await e.attention(q, view.k, view.v)).out.read();
    const kh = e.tensor(bytes(x.kBits), [40, 2, 16], 'f16');
    const vh = e.tensor(bytes(x.vBits), [40, 2, 16], 'f16');
    const b = await (await e.attention(q, kh, vh)).out.read();
    expect(sameBits(a, b)).toBe(true);
    expect(e.opReport().kvWrite.cpu).toBe(0);
    cache.dispose();
  });
});
